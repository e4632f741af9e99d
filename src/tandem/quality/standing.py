"""Each agent's standing on a process: its CSP-1 phase and plan (tandem.quality.sampling),
which decides whether their next submitted item is reviewed; every review of their work,
whatever its kind, moves it. Falling below the process's accuracy threshold sends the agent
back to full review and alerts the team lead, who acknowledges the alert."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, case, func, insert, select, update

from tandem.catalog.models import Process
from tandem.catalog.service import get_process
from tandem.core import metrics, paging
from tandem.core.db import insert_unless_present, new_id
from tandem.core.errors import Forbidden, NotFound
from tandem.quality.accuracy import Rate, below_threshold, wilson
from tandem.quality.models import AgentQuality, QualityAlert, Review
from tandem.quality.policy import Db, Policy
from tandem.quality.sampling import CspState, Standing, Terms, after_outcome, first_standing
from tandem.tenancy.context import Context

# How many of an agent's latest reviews on a process the accuracy threshold looks at.
THRESHOLD_WINDOW = 50

_STANDING_KEY = (
    AgentQuality.client_id == bindparam("k_client"),
    AgentQuality.process_id == bindparam("k_process"),
    AgentQuality.agent_id == bindparam("k_agent"),
)
_STANDING = select(AgentQuality.__table__).where(*_STANDING_KEY)
_LOCK_STANDING = _STANDING.with_for_update()  # concurrent reviews of one agent queue here
_SAVE_STANDING = update(AgentQuality).where(*_STANDING_KEY)
_RECENT_DEFECTS = (
    select(Review.defect)
    .where(
        Review.client_id == bindparam("k_client"),
        Review.process_id == bindparam("k_process"),
        Review.agent_id == bindparam("k_agent"),
    )
    .order_by(Review.at.desc())
    .limit(THRESHOLD_WINDOW)
)


def _standing_key(policy: Policy, agent_id: uuid.UUID) -> dict[str, Any]:
    return {"k_client": policy.client_id, "k_process": policy.process_id, "k_agent": agent_id}


def review_kind(db: Db, policy: Policy, agent_id: uuid.UUID, rng: random.Random) -> str | None:
    """The review an agent's submitted item gets under the policy, if any: every item in
    full review; under sampling, every item of an agent being screened (new, or below the
    threshold), otherwise a random sample at their plan's fraction."""
    if policy.mode == "full_review":
        return "full"
    if policy.mode != "sampling":
        return None
    row = db.execute(_STANDING, _standing_key(policy, agent_id)).one_or_none()
    if row is None:
        return "screening"  # a new agent: every item until they clear
    if row.screening or row.below_threshold:
        return "screening"
    return "sample" if rng.random() < row.fraction else None


def record_outcome(
    db: Db, policy: Policy, agent_id: uuid.UUID, defect: bool, now: datetime
) -> Standing:
    """One more reviewed item of the agent's (tandem.quality.sampling.after_outcome), then
    the accuracy threshold over their latest reviews: falling below it sends the agent back
    to full review until they recover, and alerts the team lead once."""
    key = _standing_key(policy, agent_id)
    row = db.execute(_LOCK_STANDING, key).one_or_none()
    if row is None:
        first = first_standing(policy.aoql)
        insert_unless_present(
            db,
            AgentQuality,
            {
                "client_id": policy.client_id,
                "process_id": policy.process_id,
                "agent_id": agent_id,
                "clearance": first.plan.clearance,
                "fraction": first.plan.fraction,
                "updated_at": now,
            },
        )
        row = db.execute(_LOCK_STANDING, key).one()
    before = Standing(
        CspState(row.screening, row.passes_in_a_row),
        Terms(row.clearance, row.fraction),
        row.reviewed,
        row.defects,
    )
    standing = after_outcome(before, defect, policy.aoql)
    defects = [bool(d) for d in db.execute(_RECENT_DEFECTS, key).scalars()]
    rate = wilson(defects.count(False), len(defects))
    below = below_threshold(rate, policy.min_accuracy)
    if below:
        standing = replace(standing, state=CspState(screening=True, passes_in_a_row=0))
        if not row.below_threshold:
            _alert(db, policy, agent_id, rate, now)
    db.execute(
        _SAVE_STANDING,
        {
            **key,
            "screening": standing.state.screening,
            "passes_in_a_row": standing.state.passes_in_a_row,
            "reviewed": standing.reviewed,
            "defects": standing.defects,
            "clearance": standing.plan.clearance,
            "fraction": standing.plan.fraction,
            "below_threshold": below,
            "updated_at": now,
        },
    )
    return standing


def _alert(db: Db, policy: Policy, agent_id: uuid.UUID, rate: Rate, now: datetime) -> None:
    db.execute(
        insert(QualityAlert).values(
            client_id=policy.client_id,
            id=new_id(),
            process_id=policy.process_id,
            agent_id=agent_id,
            accuracy=rate.value,
            low=rate.low,
            high=rate.high,
            threshold=policy.min_accuracy,
            reviewed=rate.checked,
            at=now,
        )
    )
    metrics.QUALITY_ALERTS.inc()


def acknowledge_alert(ctx: Context, alert_id: uuid.UUID) -> QualityAlert:
    """The team lead has seen the alert: it leaves the open alerts."""
    found = ctx.session.scalar(
        select(QualityAlert).where(
            QualityAlert.id == alert_id, ctx.principal.client_condition(QualityAlert.client_id)
        )
    )
    if found is None:
        raise NotFound(f"alert {alert_id} not found")
    found.acknowledged_by = ctx.principal.actor
    found.acknowledged_at = ctx.now
    return found


# -- what the console and the API read --------------------------------------------------------


@dataclass(frozen=True)
class AgentStanding:
    """One agent's standing on a process as team leads read it."""

    agent_id: uuid.UUID
    screening: bool  # every item reviewed (new, after an error, or below the threshold)
    below_threshold: bool
    passes_in_a_row: int  # of the screening run under way
    clearance: int  # the plan's i: passes in a row that end screening
    fraction: float  # the plan's f: the share of items sampled once cleared
    reviewed: int  # every review of their work on the process, ever
    defects: int
    recent: Rate  # items without an error among the latest THRESHOLD_WINDOW reviews
    open_alerts: int
    updated_at: datetime


Phase = Literal["screening", "sampling", "below_threshold"]


def standings(
    ctx: Context,
    process_id: uuid.UUID,
    *,
    phase: Phase | None = None,
    window: paging.Window = paging.Window(),
) -> tuple[Process, paging.Page[AgentStanding]]:
    """A page of the agents' standings on the process (or of those in one phase): those below
    the threshold first, then those being screened, then the rest. Provider staff only (a
    client's people never see agents); NotFound for a process the caller may not see."""
    if ctx.principal.client_id is not None:
        raise Forbidden("agents' standing is for the provider's staff")
    session = ctx.session
    process = get_process(ctx, process_id)
    key = (AgentQuality.client_id == process.client_id) & (AgentQuality.process_id == process.id)
    screened = AgentQuality.screening | AgentQuality.below_threshold
    query = select(AgentQuality).where(key)
    if phase == "below_threshold":
        query = query.where(AgentQuality.below_threshold)
    elif phase == "screening":
        query = query.where(screened)
    elif phase == "sampling":
        query = query.where(~screened)
    order = (AgentQuality.below_threshold.desc(), screened.desc(), AgentQuality.agent_id)
    page = paging.read(session, query.order_by(*order), window)
    rows: list[AgentQuality] = page.items
    if not rows:
        return process, paging.Page([], page.total)
    agent_ids = [row.agent_id for row in rows]
    ranked = (
        select(
            Review.agent_id,
            Review.defect,
            func.row_number()
            .over(partition_by=Review.agent_id, order_by=Review.at.desc())
            .label("n"),
        )
        .where(
            Review.client_id == process.client_id,
            Review.process_id == process.id,
            Review.agent_id.in_(agent_ids),
        )
        .subquery()
    )
    recent = {
        agent_id: (int(checked), int(failed or 0))
        for agent_id, checked, failed in session.execute(
            select(
                ranked.c.agent_id,
                func.count(),
                func.sum(case((ranked.c.defect.is_(True), 1), else_=0)),
            )
            .where(ranked.c.n <= THRESHOLD_WINDOW)
            .group_by(ranked.c.agent_id)
        )
    }
    alerts = dict(
        session.execute(
            select(QualityAlert.agent_id, func.count())
            .where(
                QualityAlert.client_id == process.client_id,
                QualityAlert.process_id == process.id,
                QualityAlert.acknowledged_at.is_(None),
                QualityAlert.agent_id.in_(agent_ids),
            )
            .group_by(QualityAlert.agent_id)
        ).all()
    )
    found = []
    for row in rows:
        checked, failed = recent.get(row.agent_id, (0, 0))
        found.append(
            AgentStanding(
                agent_id=row.agent_id,
                screening=row.screening or row.below_threshold,
                below_threshold=row.below_threshold,
                passes_in_a_row=row.passes_in_a_row,
                clearance=row.clearance,
                fraction=row.fraction,
                reviewed=row.reviewed,
                defects=row.defects,
                recent=wilson(checked - failed, checked),
                open_alerts=int(alerts.get(row.agent_id, 0)),
                updated_at=row.updated_at,
            )
        )
    return process, paging.Page(found, page.total)
