"""The hot path's statements: the claim, per database, and the fenced heartbeat and submit.
Executed by tandem.work.transitions only (and by the benchmarks' raw-SQL ceiling).

The SQL is assembled from constants in this module only; every value is a bound parameter.
"""
# ruff: noqa: S608

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import cast

from sqlalchemy import (
    Table,
    TextClause,
    TextualSelect,
    Uuid,
    bindparam,
    case,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)

from tandem.catalog.models import Process
from tandem.core.db import UTCDateTime
from tandem.delivery import outbox
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem, WorkItemEvent

items = cast(Table, WorkItem.__table__)
events = cast(Table, WorkItemEvent.__table__)
processes = cast(Table, Process.__table__)

_ORDER = "due_at, priority DESC, received_at, id"
_SET_LEASED = (
    "state = 'leased', version = version + 1, attempt = attempt + 1, "
    "lease_owner = :agent_id, lease_expires_at = :lease_expires_at, updated_at = :now"
)
_RETURNING = (
    "client_id, id, process_id, version, attempt, due_at, lease_expires_at, payload, sealed, "
    "routing_key"
)

# Claiming on PostgreSQL, in one statement:
# 1. candidates: a short probe per routing key on the partial index of claimable rows (an
#    index-only scan, which also passes over items excluded for this agent: the index
#    carries excluded_agent_id), taking its first few rows WITHOUT locking them (locking every key's
#    head row would cost one WAL record per key per claim and make claimers block each
#    other's probes), all of them in claim order;
# 2. picked: walking those candidates in that order, lock the first one no other claim
#    holds (LIMIT sits above the row locks, so exactly one row is locked and, the candidates
#    being ordered already, only the rows walked are looked up; a row another transaction
#    has meanwhile leased fails the re-check of state = 'queued' and is passed over);
# 3. leased: the picked row is leased;
# 4. its event row (queued -> leased) is written by the same statement: one round trip.
# {per_key} candidates per routing key keep enough spares for concurrent claimers; should
# every candidate be taken by others at that instant, the claim finds nothing and the
# agent asks again. It is written into the SQL, not bound: with a bound LIMIT PostgreSQL
# re-plans the prepared claim on every execution (its generic plan looks costlier), which
# cost about 0.9 ms of server CPU per claim; with a constant it keeps the generic plan.
_CLAIM_POSTGRES_SQL = f"""
WITH candidates AS (
    SELECT c.client_id, c.id, c.due_at, c.priority, c.received_at
    FROM json_to_recordset(CAST(:queues AS json)) AS k(client_id integer, routing_key text)
    CROSS JOIN LATERAL (
        SELECT w.client_id, w.id, w.due_at, w.priority, w.received_at
        FROM work_items w
        WHERE w.client_id = k.client_id AND w.routing_key = k.routing_key
          AND w.state = 'queued' AND w.excluded_agent_id IS DISTINCT FROM :agent_id
        ORDER BY w.due_at, w.priority DESC, w.received_at, w.id
        LIMIT {{per_key}}
    ) c
    ORDER BY c.{_ORDER.replace(", ", ", c.")}
),
picked AS MATERIALIZED (
    SELECT w.client_id, w.id
    FROM candidates c
    JOIN work_items w ON w.client_id = c.client_id AND w.id = c.id
    WHERE w.state = 'queued'
    ORDER BY c.{_ORDER.replace(", ", ", c.")}
    LIMIT 1
    FOR UPDATE OF w SKIP LOCKED
),
leased AS (
    UPDATE work_items w SET {
    _SET_LEASED.replace("version + 1", "w.version + 1").replace("attempt + 1", "w.attempt + 1")
}
    FROM picked c
    WHERE w.client_id = c.client_id AND w.id = c.id
    RETURNING {", ".join("w." + col for col in _RETURNING.split(", "))}
),
event AS (
    INSERT INTO work_item_events
        (client_id, work_item_id, seq, at, from_state, to_state, actor, attempt)
    SELECT client_id, id, version, :now, 'queued', 'leased', :actor, attempt FROM leased
)
SELECT {_RETURNING} FROM leased
"""


def queues_param(queues: Sequence[tuple[int, str]]) -> str:
    """The (client, routing key) pairs as the claim's :queues parameter: one JSON text, which
    the driver sends as it is (arrays of 50 keys cost more to adapt than the claim's SQL)."""
    return json.dumps([{"client_id": client, "routing_key": key} for client, key in queues])


def candidates_per_key(queue_count: int) -> int:
    """Enough spare candidates that 64+ concurrent claimers rarely all want the same rows."""
    return max(4, 128 // max(queue_count, 1))


@functools.lru_cache(maxsize=64)
def claim_postgres_sql(per_key: int) -> str:
    """The claim's SQL taking `per_key` candidates per routing key."""
    return _CLAIM_POSTGRES_SQL.format(per_key=int(per_key))


@functools.lru_cache(maxsize=64)
def claim_postgres(per_key: int) -> TextualSelect:
    """Writes the item's event too (SQLite's claim leaves that to the caller)."""
    return _typed(text(claim_postgres_sql(per_key)))


@functools.lru_cache(maxsize=128)
def claim_sqlite(queue_count: int) -> TextualSelect:
    """SQLite has no SKIP LOCKED; its single writer (BEGIN IMMEDIATE) makes this safe."""
    probes = " UNION ALL ".join(
        f"SELECT * FROM (SELECT client_id, id, due_at, priority, received_at FROM work_items "
        f"WHERE client_id = :c{i} AND routing_key = :k{i} AND state = 'queued' "
        f"AND (excluded_agent_id IS NULL OR excluded_agent_id <> :agent_id) "
        f"ORDER BY {_ORDER} LIMIT 1)"
        for i in range(queue_count)
    )
    sql = (
        f"UPDATE work_items SET {_SET_LEASED} "
        f"WHERE (client_id, id) = (SELECT client_id, id FROM ({probes}) ORDER BY {_ORDER} LIMIT 1) "
        f"RETURNING {_RETURNING}"
    )
    return _typed(text(sql))


def _typed(statement: TextClause) -> TextualSelect:
    columns = items.c
    return statement.bindparams(
        bindparam("agent_id", type_=Uuid()),
        bindparam("lease_expires_at", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
    ).columns(*(columns[name] for name in _RETURNING.split(", ")))


# The hot path's statements, built once: a claim or submit only binds values.
FENCES = (
    items.c.id == bindparam("item_id"),
    items.c.state == State.LEASED.value,
    items.c.attempt == bindparam("held_attempt"),
    items.c.lease_owner == bindparam("agent_id"),
    items.c.lease_expires_at > bindparam("now"),
)
HEARTBEAT = update(items).where(*FENCES).values(lease_expires_at=bindparam("expires"))
SUBMITTED = (State.SUBMITTED, State.DELIVERED)
# Quality control decides what follows a submit when the process has a QA mode, the item is
# a gold item, or it was sent back to be redone; otherwise the submit delivers at once.
QA_MODE = (
    select(processes.c.qa_mode)
    .where(processes.c.client_id == items.c.client_id, processes.c.id == items.c.process_id)
    .scalar_subquery()
)
CHECKED = or_(items.c.gold, items.c.recheck, QA_MODE != "none")
# The fenced move leased -> submitted (-> delivered); it returns the item as it now is. The
# submitter knows the item's client (from the claim, or read to seal the result): bound, it
# keys the update on the primary key, and the subscriptions' check reads that client's alone.
SUBMIT = (
    update(items)
    .where(items.c.client_id == bindparam("item_client_id"), *FENCES)
    .values(
        state=case((CHECKED, State.SUBMITTED.value), else_=State.DELIVERED.value),
        version=items.c.version + case((CHECKED, 1), else_=len(SUBMITTED)),
        updated_at=bindparam("now"),
        result=bindparam("result_value"),
        result_sealed=bindparam("result_sealed"),
        delivered_at=case((CHECKED, None), else_=bindparam("now")),
        lease_expires_at=None,
        breached=or_(items.c.breached, items.c.due_at < bindparam("now")),
    )
    .returning(
        items.c.client_id,
        items.c.id,
        items.c.process_id,
        items.c.batch_id,
        items.c.external_ref,
        items.c.state,
        items.c.version,
        items.c.attempt,
        items.c.gold,
        items.c.recheck,
        outbox.has_subscribers(bindparam("item_client_id")).label("notify"),
    )
)
INSERT_EVENTS = insert(events)
# Submit's two event rows in one statement (an executemany costs a pipeline per call), as
# INSERT ... SELECT ... UNION ALL SELECT: a VALUES list would not be cacheable.
EVENT_COLUMNS = tuple(column for column in events.c if column.name != "data")
INSERT_SUBMIT_EVENTS = insert(events).from_select(
    [c.name for c in EVENT_COLUMNS],
    union_all(
        *(
            select(*(bindparam(f"{c.name}_{i}", type_=c.type) for c in EVENT_COLUMNS))
            for i in range(len(SUBMITTED))
        )
    ),
)


# The client and process of an item leased to the agent, read when this process did not
# lease it (only the holder's: anyone else is refused as the fenced update would be).
ORIGIN = select(items.c.client_id, items.c.process_id).where(
    items.c.id == bindparam("item_id"),
    items.c.lease_owner == bindparam("agent_id"),
    items.c.state == State.LEASED.value,
    items.c.lease_expires_at > bindparam("now"),
)
