"""Comparing a draft's verdicts with the published version's and with analysts' judgments.
Pure: tandem.decisions.backtesting reads the past items and evaluates; this only counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("approve", "decline", "refer")


@dataclass(frozen=True)
class Case:
    """One past item: what the published rules said, what the draft says, and what the
    analysts finally decided (None if no analyst judged it)."""

    published: str
    draft: str
    draft_reasons: tuple[str, ...]
    analyst: str | None


@dataclass
class Report:
    items: int = 0
    changed: int = 0  # the draft's outcome differs from the published version's
    transitions: dict[str, int] = field(default_factory=dict)  # "refer->approve": n
    stp_published: int = 0
    stp_draft: int = 0
    judged: int = 0  # items an analyst decided
    agreement: int = 0  # of those, where the draft decided alone, it agreed with the analyst
    draft_decides_judged: int = 0  # judged items the draft would decide without an analyst
    per_reason: dict[str, dict[str, Any]] = field(default_factory=dict)
    # how many items each outcome decides: by the published version, and by the draft
    outcomes_published: dict[str, int] = field(default_factory=dict)
    outcomes_draft: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def rate(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "items": self.items,
            "changed": self.changed,
            "transitions": self.transitions,
            "stp_rate_published": rate(self.stp_published, self.items),
            "stp_rate_draft": rate(self.stp_draft, self.items),
            "stp_rate_change": (
                round((self.stp_draft - self.stp_published) / self.items, 4) if self.items else None
            ),
            "judged": self.judged,
            "draft_decides_judged": self.draft_decides_judged,
            "agreement_with_analysts": rate(self.agreement, self.draft_decides_judged),
            "per_reason": self.per_reason,
            "outcomes": {"published": self.outcomes_published, "draft": self.outcomes_draft},
        }


def compare(cases: Iterable[Case]) -> Report:
    report = Report()
    transitions: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    published: Counter[str] = Counter()
    draft: Counter[str] = Counter()
    for case in cases:
        report.items += 1
        published[case.published] += 1
        draft[case.draft] += 1
        report.stp_published += case.published != "refer"
        report.stp_draft += case.draft != "refer"
        if case.draft != case.published:
            report.changed += 1
            transitions[f"{case.published}->{case.draft}"] += 1
        agrees = None
        if case.analyst is not None:
            report.judged += 1
            if case.draft != "refer":
                report.draft_decides_judged += 1
                agrees = case.draft == case.analyst
                report.agreement += agrees
        for code in case.draft_reasons or ("(none)",):
            counts = reasons.setdefault(code, Counter())
            counts["items"] += 1
            counts[case.draft] += 1
            counts["changed"] += case.draft != case.published
            if agrees is not None:
                counts["judged"] += 1
                counts["agreed"] += agrees
    report.transitions = dict(transitions.most_common())
    report.outcomes_published = {o: published[o] for o in OUTCOMES if published[o]}
    report.outcomes_draft = {o: draft[o] for o in OUTCOMES if draft[o]}
    report.per_reason = {code: dict(counts) for code, counts in sorted(reasons.items())}
    return report
