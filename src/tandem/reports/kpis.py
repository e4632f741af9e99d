"""What a client sees of its service at a glance: SLA attainment, turnaround, accuracy,
straight-through rate and cost over a period, and the work open now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.core.db import is_postgres
from tandem.decisions.models import Decision
from tandem.quality.models import FieldCheck
from tandem.tenancy.context import Context
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem

FINAL = (State.DELIVERED.value, State.CANCELLED.value)


@dataclass(frozen=True)
class Kpis:
    since: datetime
    delivered: int
    on_time: int
    turnaround_hours: float | None  # mean, received to delivered
    checks: int  # fields checked by quality control
    checks_passed: int
    decided_by_rules: int
    straight_through: int
    cost: Decimal
    open_items: int
    at_risk: int
    breached: int

    @property
    def sla_attainment(self) -> float | None:
        return self.on_time / self.delivered if self.delivered else None

    @property
    def accuracy(self) -> float | None:
        return self.checks_passed / self.checks if self.checks else None

    @property
    def straight_through_rate(self) -> float | None:
        return self.straight_through / self.decided_by_rules if self.decided_by_rules else None


def _hours(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if is_postgres(session):
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def client_kpis(ctx: Context, client_id: int, *, period: timedelta) -> Kpis:
    """The client's service over the `period` up to now, and its work open now.

    An item counts once, among the items delivered in the period, when its result is
    delivered (and not while the client's rejection has it redone). Its punctuality is
    its first delivery's: a result the client rejected and that was delivered again
    counts on time or late as it was first delivered, not by its redo, which runs on a
    clock of its own (tandem.quality.rejection)."""
    session, since = ctx.session, ctx.now - period
    delivered = (
        (WorkItem.client_id == client_id)
        & (WorkItem.state == State.DELIVERED.value)
        & (WorkItem.delivered_at >= since)
        & ~WorkItem.gold  # as ix_work_items_delivered's predicate says it
    )
    per_process = session.execute(
        select(
            WorkItem.process_id,
            func.count(),
            func.sum(case((WorkItem.delivered_at <= WorkItem.due_at, 1), else_=0)),
            func.sum(_hours(session, WorkItem.received_at, WorkItem.delivered_at)),
        )
        .where(delivered)
        .group_by(WorkItem.process_id)
    ).all()
    prices = dict(
        session.execute(
            select(Process.id, Process.price_per_item).where(Process.client_id == client_id)
        ).all()
    )
    # The few delivered again after a rejection (an index of their own): their first
    # delivery's punctuality instead of the redo's.
    first_on_time, redo_on_time = session.execute(
        select(
            func.sum(case((WorkItem.first_delivered_at <= WorkItem.first_due_at, 1), else_=0)),
            func.sum(case((WorkItem.delivered_at <= WorkItem.due_at, 1), else_=0)),
        ).where(delivered & WorkItem.first_due_at.is_not(None))
    ).one()
    count = sum(row[1] for row in per_process)
    hours = sum(float(row[3] or 0) for row in per_process)
    checks, passed = session.execute(
        select(func.count(), func.sum(case((FieldCheck.passed, 1), else_=0))).where(
            FieldCheck.client_id == client_id, FieldCheck.at >= since
        )
    ).one()
    by_rules, straight = session.execute(
        select(func.count(), func.sum(case((Decision.outcome != "refer", 1), else_=0))).where(
            Decision.client_id == client_id, Decision.by == "rules", Decision.at >= since
        )
    ).one()
    open_count, at_risk, breached = session.execute(
        select(
            func.count(),
            func.sum(case((WorkItem.at_risk, 1), else_=0)),
            func.sum(case((WorkItem.breached, 1), else_=0)),
        ).where(
            WorkItem.client_id == client_id,
            WorkItem.state.not_in(FINAL),
            WorkItem.gold.is_(False),
        )
    ).one()
    return Kpis(
        since=since,
        delivered=count,
        on_time=sum(int(row[2] or 0) for row in per_process)
        + int(first_on_time or 0)
        - int(redo_on_time or 0),
        turnaround_hours=hours / count if count else None,
        checks=checks,
        checks_passed=int(passed or 0),
        decided_by_rules=by_rules,
        straight_through=int(straight or 0),
        cost=sum((Decimal(prices.get(row[0]) or 0) * row[1] for row in per_process), Decimal(0)),
        open_items=open_count,
        at_risk=int(at_risk or 0),
        breached=int(breached or 0),
    )
