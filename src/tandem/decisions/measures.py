"""The measures of a decision process's rules: the straight-through rate, referral reasons,
and how often analysts override the rules, per version and reason code; and the rules'
decisions day by day, in the client's time zone."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Subquery, case, func, select

from tandem.decisions.models import Decision
from tandem.decisions.rulesets import decision_process
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client

DAYS = 14  # the days the day-by-day measures cover, today included


@dataclass
class Measures:
    decided_by_rules: int = 0
    straight_through: int = 0
    referred: int = 0
    referral_reasons: dict[str, int] = field(default_factory=dict)
    judged: int = 0
    overrides: int = 0
    # per (version, reason code of the referral): judgments and overrides
    overrides_by_rule: list[dict[str, Any]] = field(default_factory=list)
    # the rules' decisions per day (each decision, an item evaluated again counting again),
    # oldest first: {"day": "2026-03-04", "approve": n, "decline": n, "refer": n}
    per_day: list[dict[str, Any]] = field(default_factory=list)
    timezone: str = "UTC"  # the client's, whose days per_day counts

    @property
    def stp_rate(self) -> float | None:
        return (
            round(self.straight_through / self.decided_by_rules, 4)
            if self.decided_by_rules
            else None
        )

    @property
    def override_rate(self) -> float | None:
        return round(self.overrides / self.judged, 4) if self.judged else None


def measures(ctx: Context, process_id: uuid.UUID) -> Measures:
    """The process's measures, counting items, not decision rows: each item by its latest
    rules decision (one evaluated again on demand counts once, with its latest outcome) and,
    if analysts judged it, by its latest judgment (one judged again after a second analyst
    disagreed counts once)."""
    session = ctx.session
    process = decision_process(ctx, process_id)
    scope = (Decision.client_id == process.client_id, Decision.process_id == process.id)
    ruled = latest_per_item(scope, "rules")
    result = Measures()
    for outcome, count in session.execute(
        select(ruled.c.outcome, func.count()).group_by(ruled.c.outcome)
    ):
        result.decided_by_rules += count
        if outcome == "refer":
            result.referred += count
        else:
            result.straight_through += count
    reasons: Counter[str] = Counter()
    for codes, count in session.execute(
        select(ruled.c.reasons, func.count())
        .where(ruled.c.outcome == "refer")
        .group_by(ruled.c.reasons)
    ):
        for code in codes or []:
            reasons[code] += count
    result.referral_reasons = dict(reasons.most_common())
    # Each item's latest judgment against the referral it answered (its reasons and version).
    judged = latest_per_item(scope, "analyst")
    answered = _answered(scope, judged)
    per_rule: Counter[tuple[int | None, str]] = Counter()
    overridden: Counter[tuple[int | None, str]] = Counter()
    for version, codes, count, overrides in session.execute(
        select(
            judged.c.ruleset_version,
            answered.c.reasons,
            func.count(),
            func.count().filter(judged.c.override),
        )
        .select_from(judged)
        .outerjoin(answered, answered.c.work_item_id == judged.c.work_item_id)
        .group_by(judged.c.ruleset_version, answered.c.reasons)
    ):
        result.judged += count
        result.overrides += overrides
        for code in codes or ["(none)"]:
            per_rule[(version, code)] += count
            overridden[(version, code)] += overrides
    result.timezone, result.per_day = _per_day(ctx, process.client_id, scope)
    result.overrides_by_rule = [
        {
            "version": version,
            "reason": code,
            "judged": count,
            "overrides": overridden[(version, code)],
            "override_rate": round(overridden[(version, code)] / count, 4),
        }
        for (version, code), count in sorted(per_rule.items(), key=_by_version)
    ]
    return result


def _per_day(
    ctx: Context, client_id: int, scope: Sequence[ColumnElement[bool]]
) -> tuple[str, list[dict[str, Any]]]:
    """The rules' decisions of each of the last DAYS days by outcome, the days the client's
    (midnight to midnight in its time zone), counted in one query."""
    timezone = ctx.session.scalar(select(Client.timezone).where(Client.id == client_id)) or "UTC"
    zone = ZoneInfo(timezone)
    today = ctx.now.astimezone(zone).date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    starts = [datetime.combine(day, time(), zone) for day in days]
    end = datetime.combine(today + timedelta(days=1), time(), zone)
    bucket = case(
        *((Decision.at >= start, n) for n, start in reversed(list(enumerate(starts)))),
        else_=None,
    ).label("day")
    counts: dict[int, Counter[str]] = {n: Counter() for n in range(len(days))}
    decided = (
        select(bucket, Decision.outcome)
        .where(*scope, Decision.by == "rules", Decision.at >= starts[0], Decision.at < end)
        .subquery()
    )
    for n, outcome, count in ctx.session.execute(
        select(decided.c.day, decided.c.outcome, func.count()).group_by(
            decided.c.day, decided.c.outcome
        )
    ):
        if n is not None:
            counts[n][outcome] += count
    return timezone, [
        {
            "day": day.isoformat(),
            **{outcome: counts[n][outcome] for outcome in ("approve", "decline", "refer")},
        }
        for n, day in enumerate(days)
    ]


def latest_per_item(scope: Sequence[ColumnElement[bool]], by: str) -> Subquery:
    """Each item's latest decision by the rules or an analyst, within `scope`. Decisions made
    at the same moment (one transaction, a test's clock) come in the order of their ids,
    which are time-ordered UUIDv7s."""
    rank = (
        func.row_number()
        .over(
            partition_by=Decision.work_item_id,
            order_by=(Decision.at.desc(), Decision.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            Decision.id,
            Decision.work_item_id,
            Decision.at,
            Decision.outcome,
            Decision.reasons,
            Decision.ruleset_version,
            Decision.override,
            rank,
        )
        .where(*scope, Decision.by == by)
        .subquery()
    )
    return select(ranked).where(ranked.c.rank == 1).subquery()


def _answered(scope: Sequence[ColumnElement[bool]], judged: Subquery) -> Subquery:
    """The referral each of the `judged` judgments answered: the item's latest rules referral
    made before it (the rules may refer an item again after a judgment a second analyst
    did not confirm)."""
    before = (Decision.at < judged.c.at) | (
        (Decision.at == judged.c.at) & (Decision.id < judged.c.id)
    )
    rank = (
        func.row_number()
        .over(
            partition_by=Decision.work_item_id,
            order_by=(Decision.at.desc(), Decision.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(Decision.work_item_id, Decision.reasons, rank)
        .join(judged, judged.c.work_item_id == Decision.work_item_id)
        .where(*scope, Decision.by == "rules", Decision.outcome == "refer", before)
        .subquery()
    )
    return select(ranked.c.work_item_id, ranked.c.reasons).where(ranked.c.rank == 1).subquery()


def _by_version(entry: tuple[tuple[int | None, str], int]) -> tuple[int, str]:
    (version, code), _ = entry
    return version or 0, code
