"""What quality control measured: accuracy per client, process, agent or field over time,
and the outgoing-quality report per process against its promise (1 - AOQL).

Field accuracy counts field checks (every field of every reviewed, scored or compared
item); item accuracy counts reviews (an item passes when no field failed). Both come with
Wilson intervals. Reads only; every query is scoped to the caller's client.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Integer, case, cast, func, select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.core import paging
from tandem.core.db import is_postgres
from tandem.core.errors import Forbidden
from tandem.quality.accuracy import AgentOutput, Rate, estimated_escapes, wilson
from tandem.quality.models import FieldCheck, QualityAlert, Review
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.workforce.zones import UTC_ZONE, zone_of

GROUPINGS = ("client", "process", "agent", "field")
INTERVALS = ("none", "day", "week", "month")
# Reviews by a person of one agent's own work (not comparisons, gold, or client rejections).
HUMAN_REVIEWS = ("screening", "sample", "full", "rework", "adjudication")
EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AccuracyRow:
    group: str  # the client id, process id, agent id, or "process id/field"
    period: date | None  # the first day of the interval; None over the whole window
    fields: Rate
    items: Rate | None  # None when grouped by field


def _day(session: Session, column: Any, zone: ZoneInfo) -> ColumnElement[Any]:
    """The local day in `zone` of a time: PostgreSQL's own zone rules; SQLite has none, so
    it groups by the quarter hour in UTC (every zone's offset is whole quarters), which
    `_local_day` turns into the zone's day."""
    if is_postgres(session):
        return cast(func.timezone(zone.key, column), Date)
    minute = cast(func.strftime("%M", column), Integer)
    return func.strftime("%Y-%m-%dT%H:", column).concat(func.printf("%02d", minute - minute % 15))


def _local_day(day: Any, zone: ZoneInfo) -> date:
    if isinstance(day, date):
        return day
    return datetime.fromisoformat(f"{day}+00:00").astimezone(zone).date()


def _period(day: Any, interval: str, zone: ZoneInfo = UTC_ZONE) -> date | None:
    """The first day of the interval a time's day falls in, days being `zone`'s."""
    if interval == "none":
        return None
    value = _local_day(day, zone)
    if interval == "week":
        return value - timedelta(days=value.weekday())
    if interval == "month":
        return value.replace(day=1)
    return value


def window(
    now: datetime, since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime]:
    """The period a measure covers: the last 30 days (up to now) unless told."""
    until = until or now + timedelta(seconds=1)
    month = timedelta(days=30)
    return since or max(until, EARLIEST + month) - month, until


def accuracy(
    ctx: Context,
    *,
    by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    interval: str = "none",
    process_id: uuid.UUID | None = None,
) -> list[AccuracyRow]:
    """Field and item accuracy per group (and per interval, of days in the reader's time
    zone), over `window`. Per agent only for those who may see agents' quality."""
    session, principal = ctx.session, ctx.principal
    zone = zone_of(session, principal)
    if by == "agent" and Permission.AGENT_QUALITY_READ not in principal.permissions:
        raise Forbidden(f"accuracy per agent needs {Permission.AGENT_QUALITY_READ.value}")
    since, until = window(ctx.now, since, until)
    keys = {
        "client": (FieldCheck.client_id,),
        "process": (FieldCheck.process_id,),
        "agent": (FieldCheck.agent_id,),
        "field": (FieldCheck.process_id, FieldCheck.field),
    }[by]
    where = [
        principal.client_condition(FieldCheck.client_id),
        FieldCheck.at >= since,
        FieldCheck.at < until,
    ]
    if process_id is not None:
        where.append(FieldCheck.process_id == process_id)
    day = _day(session, FieldCheck.at, zone).label("day")
    fields: dict[tuple[str, date | None], list[int]] = defaultdict(lambda: [0, 0])
    for row in session.execute(
        select(*keys, day, func.count(), func.sum(case((FieldCheck.passed, 1), else_=0)))
        .where(*where)
        .group_by(*keys, day)
    ):
        values: tuple[Any, ...] = tuple(row)
        group = "/".join(str(value) for value in values[: len(keys)])
        counts = fields[(group, _period(row.day, interval, zone))]
        counts[0] += values[-2]
        counts[1] += int(values[-1] or 0)
    items: dict[tuple[str, date | None], list[int]] = defaultdict(lambda: [0, 0])
    if by != "field":
        review_key = getattr(Review, keys[0].key)
        review_day = _day(session, Review.at, zone).label("day")
        review_where = [
            principal.client_condition(Review.client_id),
            Review.at >= since,
            Review.at < until,
            Review.agent_id.is_not(None),
        ]
        if process_id is not None:
            review_where.append(Review.process_id == process_id)
        for row in session.execute(
            select(
                review_key, review_day, func.count(), func.sum(case((Review.defect, 0), else_=1))
            )
            .where(*review_where)
            .group_by(review_key, review_day)
        ):
            key, day_of, checked, passed = tuple(row)
            counts = items[(str(key), _period(day_of, interval, zone))]
            counts[0] += checked
            counts[1] += int(passed or 0)
    return [
        AccuracyRow(
            group,
            period,
            wilson(correct, checked),
            None if by == "field" else wilson(*reversed(items.get((group, period), [0, 0]))),
        )
        for (group, period), (checked, correct) in sorted(
            fields.items(), key=lambda kv: (kv[0][0], kv[0][1] or date.min)
        )
    ]


@dataclass(frozen=True)
class ProcessQuality:
    process_id: uuid.UUID
    code: str
    mode: str
    target_accuracy: float  # 1 - AOQL: what the SLA promises leaves right
    delivered: int
    submitted: int
    reviewed: int  # by a person
    review_fraction: float | None
    defects_found: int
    sent_back: int  # reviews that sent the work back for rework
    estimated_escapes: float  # expected defects among what left unreviewed
    estimated_accuracy: float | None  # 1 - estimated escapes / delivered
    rejected_by_client: int  # escapes the client found
    observed_accuracy: float | None  # 1 - rejected / delivered
    meets_target: bool | None


def report(
    ctx: Context, *, since: datetime | None = None, until: datetime | None = None
) -> list[ProcessQuality]:
    """Per process: the estimated outgoing accuracy against the target, the review effort
    spent, and the client's rejections (escapes the estimate should have foreseen); over
    `window`."""
    session, principal = ctx.session, ctx.principal
    since, until = window(ctx.now, since, until)
    processes = session.scalars(
        select(Process).where(principal.client_condition(Process.client_id)).order_by(Process.code)
    ).all()
    theirs = principal.client_condition(WorkItem.client_id)
    delivered = dict(
        session.execute(
            select(WorkItem.process_id, func.count())
            .where(
                theirs,
                WorkItem.state == State.DELIVERED.value,
                WorkItem.delivered_at >= since,
                WorkItem.delivered_at < until,
            )
            .group_by(WorkItem.process_id)
        ).all()
    )
    submitted: dict[tuple[uuid.UUID, str], int] = dict(
        ((process, actor), count)
        for process, actor, count in session.execute(
            select(WorkItem.process_id, WorkItemEvent.actor, func.count())
            .join(
                WorkItem,
                (WorkItem.client_id == WorkItemEvent.client_id)
                & (WorkItem.id == WorkItemEvent.work_item_id),
            )
            .where(
                theirs,
                WorkItem.gold.is_(False),
                WorkItemEvent.to_state == State.SUBMITTED.value,
                WorkItemEvent.at >= since,
                WorkItemEvent.at < until,
            )
            .group_by(WorkItem.process_id, WorkItemEvent.actor)
        )
    )
    reviews: dict[tuple[uuid.UUID, str], dict[str, list[int]]] = defaultdict(dict)
    for process, agent, kind, count, defects in session.execute(
        select(
            Review.process_id,
            Review.agent_id,
            Review.kind,
            func.count(),
            func.sum(case((Review.defect, 1), else_=0)),
        )
        .where(principal.client_condition(Review.client_id), Review.at >= since, Review.at < until)
        .group_by(Review.process_id, Review.agent_id, Review.kind)
    ):
        reviews[(process, f"agent:{agent}")][kind] = [count, int(defects or 0)]
    sent_back = dict(
        session.execute(
            select(Review.process_id, func.count())
            .where(
                principal.client_condition(Review.client_id),
                Review.verdict == "rework",
                Review.at >= since,
                Review.at < until,
            )
            .group_by(Review.process_id)
        ).all()
    )
    return [
        _process_quality(
            process, delivered.get(process.id, 0), sent_back.get(process.id, 0), submitted, reviews
        )
        for process in processes
    ]


def _process_quality(
    process: Process,
    delivered: int,
    sent_back: int,
    submitted: dict[tuple[uuid.UUID, str], int],
    reviews: dict[tuple[uuid.UUID, str], dict[str, list[int]]],
) -> ProcessQuality:
    actors = {actor for (pid, actor) in [*submitted, *reviews] if pid == process.id}
    outputs: list[AgentOutput] = []
    agreed = keyer_checks = keyer_defects = rejected = found = 0
    for actor in actors:
        kinds = reviews.get((process.id, actor), {})
        human = [kinds.get(kind, [0, 0]) for kind in HUMAN_REVIEWS if kind != "adjudication"]
        sample = kinds.get("sample", [0, 0])
        compared = [kinds.get(kind, [0, 0]) for kind in ("double_entry", "adjudication")]
        agreed += kinds.get("double_entry", [0, 0])[0]
        keyer_checks += sum(count for count, _ in compared)
        keyer_defects += sum(defects for _, defects in compared)
        rejected += kinds.get("acceptance", [0, 0])[0]
        found += sum(defects for _, defects in human) + kinds.get("adjudication", [0, 0])[1]
        outputs.append(
            AgentOutput(
                submitted=submitted.get((process.id, actor), 0),
                # keyings compared with another are looked at too, by the comparison
                reviewed=sum(count for count, _ in (*human, *compared)),
                sampled=sample[0],
                sampled_defects=sample[1],
                defects=sum(defects for _, defects in human),
            )
        )
    escapes, _ = estimated_escapes(outputs)
    if keyer_checks:  # two keyings that agree are both wrong the same way rarely: p squared
        keyer_rate = (keyer_defects + 0.5) / (keyer_checks + 1)
        escapes += (agreed / 2) * keyer_rate**2  # each agreed item has two keyer reviews
    human_reviews = sum(
        reviews.get((process.id, actor), {}).get(kind, [0, 0])[0]
        for actor in actors
        for kind in HUMAN_REVIEWS
    )
    total_submitted = sum(output.submitted for output in outputs)
    estimated = 1 - escapes / delivered if delivered else None
    target = 1 - process.qa_aoql
    return ProcessQuality(
        process_id=process.id,
        code=process.code,
        mode=process.qa_mode,
        target_accuracy=round(target, 6),
        delivered=delivered,
        submitted=total_submitted,
        reviewed=human_reviews,
        review_fraction=round(human_reviews / total_submitted, 4) if total_submitted else None,
        defects_found=found,
        sent_back=sent_back,
        estimated_escapes=round(escapes, 3),
        estimated_accuracy=round(estimated, 6) if estimated is not None else None,
        rejected_by_client=rejected,
        observed_accuracy=round(1 - rejected / delivered, 6) if delivered else None,
        meets_target=None if estimated is None else estimated >= target,
    )


def open_alerts(
    ctx: Context,
    *,
    process_id: uuid.UUID | None = None,
    window: paging.Window = paging.Window(),
) -> paging.Page[QualityAlert]:
    """A page of the agents fallen below a process's accuracy threshold (on every process the
    caller sees, or one), not yet acknowledged, the latest first."""
    query = select(QualityAlert).where(
        ctx.principal.client_condition(QualityAlert.client_id),
        QualityAlert.acknowledged_at.is_(None),
    )
    if process_id is not None:
        query = query.where(QualityAlert.process_id == process_id)
    return paging.read(ctx.session, query.order_by(QualityAlert.at.desc(), QualityAlert.id), window)
