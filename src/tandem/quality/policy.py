"""A process's QA policy: its mode (tandem.catalog.models.QA_MODES), the outgoing-quality
target (AOQL), the accuracy threshold, the gold rate, and what reviews check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.models import Process
from tandem.catalog.service import form_of, get_process
from tandem.quality.models import SCORECARD
from tandem.tenancy.context import Context

Db = Session | Connection


@dataclass(frozen=True)
class Policy:
    """A process's QA policy, with what reviews check: its form fields, or for conversations
    the scorecard's criteria."""

    client_id: int
    process_id: uuid.UUID
    kind: str
    mode: str
    aoql: float
    min_accuracy: float
    form_schema: dict[str, Any]

    @property
    def criteria(self) -> tuple[str, ...]:
        if self.kind == "conversation":
            return SCORECARD
        return tuple(form_of(self.form_schema).fields)


_POLICY = select(
    Process.kind, Process.qa_mode, Process.qa_aoql, Process.qa_min_accuracy, Process.form_schema
).where(Process.client_id == bindparam("client_id"), Process.id == bindparam("process_id"))


def policy_of(db: Db, client_id: int, process_id: uuid.UUID) -> Policy:
    """Read at each use: a changed policy holds from the next submitted item."""
    row = db.execute(_POLICY, {"client_id": client_id, "process_id": process_id}).one()
    return Policy(client_id, process_id, *row)


def set_policy(
    ctx: Context,
    process_id: uuid.UUID,
    *,
    mode: str,
    aoql: float,
    min_accuracy: float,
    gold_rate: float,
) -> Process:
    """A process's new QA policy, audited. It takes effect for the next submitted item;
    agents' standings are kept."""
    process = get_process(ctx, process_id)
    process.qa_mode = mode
    process.qa_aoql = aoql
    process.qa_min_accuracy = min_accuracy
    process.qa_gold_rate = gold_rate
    ctx.session.flush()
    audit.record_in(
        ctx,
        client_id=process.client_id,
        action="quality_policy.set",
        subject=f"process:{process.id}",
        data={"mode": mode, "aoql": aoql, "min_accuracy": min_accuracy, "gold_rate": gold_rate},
    )
    return process
