"""Customer satisfaction (CSAT), pure: the answers a survey takes, and the figures counted from
surveys per brand, per agent and per ISO week.

The question has two answers, good and bad (Zendesk's CSAT): one tap, read alike in every
language and culture the desk serves, and the satisfied share is simply good / answered,
with no line to draw on a 1-5 scale (is a 3 satisfied?)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

GOOD, BAD = "good", "bad"
RATINGS = (GOOD, BAD)
RATING_LABELS = {GOOD: "Good, I'm satisfied", BAD: "Bad, I'm unsatisfied"}
MAX_COMMENT = 1000


@dataclass(frozen=True)
class Counted:
    """A survey as the figures count it: sent (not withdrawn), and its answer if any."""

    client_id: int
    brand_id: uuid.UUID
    agent_id: uuid.UUID | None
    sent_at: datetime
    rating: str | None  # None: not answered


@dataclass
class Figures:
    """Surveys sent, answered, answered good; the shares None while nothing is counted."""

    sent: int = 0
    answered: int = 0
    satisfied: int = 0

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.answered if self.answered else None

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    def add(self, survey: Counted) -> None:
        self.sent += 1
        if survey.rating is not None:
            self.answered += 1
            self.satisfied += survey.rating == GOOD


@dataclass
class Tally:
    total: Figures = field(default_factory=Figures)
    by_brand: dict[tuple[int, uuid.UUID], Figures] = field(default_factory=dict)
    by_agent: dict[uuid.UUID | None, Figures] = field(default_factory=dict)
    by_week: dict[str, Figures] = field(default_factory=dict)


def iso_week(at: datetime) -> str:
    """The ISO week of an instant (in UTC), as 2026-W10."""
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def tally(surveys: Iterable[Counted]) -> Tally:
    """Each survey counted in its brand, its credited agent and the ISO week it was sent
    (the week it was sent, not answered: the response rate of a week is then of its own
    surveys)."""
    found = Tally()
    for survey in surveys:
        found.total.add(survey)
        found.by_brand.setdefault((survey.client_id, survey.brand_id), Figures()).add(survey)
        found.by_agent.setdefault(survey.agent_id, Figures()).add(survey)
        found.by_week.setdefault(iso_week(survey.sent_at), Figures()).add(survey)
    return found


def normalized(rating: str, comment: str) -> tuple[str, str | None]:
    """The answer as posted, trimmed: (rating, comment or None)."""
    return rating.strip().lower(), (comment.replace("\r\n", "\n").strip() or None)


def answer_errors(rating: str, comment: str | None) -> list[dict[str, str]]:
    """What is wrong with a normalized answer, field by field (empty: nothing)."""
    errors: list[dict[str, str]] = []
    if rating not in RATINGS:
        errors.append({"field": "rating", "message": "good or bad"})
    if comment is not None and len(comment) > MAX_COMMENT:
        errors.append({"field": "comment", "message": f"at most {MAX_COMMENT} characters"})
    elif comment is not None and any(
        (ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in comment
    ):
        errors.append({"field": "comment", "message": "must not contain control characters"})
    return errors


def last_weeks(now: datetime, weeks: int) -> tuple[datetime, datetime]:
    """[since, until): the ISO weeks (UTC, Monday to Monday) of the last `weeks`, this one
    included."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday - timedelta(weeks=weeks - 1), monday + timedelta(weeks=1)
