"""The claim statement, per database. Shared by the service and the raw-SQL benchmark.

The SQL is assembled from constants in this module only; every value is a bound parameter.
"""
# ruff: noqa: S608

from __future__ import annotations

from sqlalchemy import TextClause, TextualSelect, Uuid, bindparam, text

from tandem.db import UTCDateTime

_ORDER = "due_at, priority DESC, received_at, id"
_SET_LEASED = (
    "state = 'leased', version = version + 1, attempt = attempt + 1, "
    "lease_owner = :agent_id, lease_expires_at = :lease_expires_at, updated_at = :now"
)
_RETURNING = (
    "client_id, id, process_id, version, attempt, due_at, lease_expires_at, payload, routing_key"
)

# One index probe per routing key on the partial index of claimable rows, SKIP LOCKED so that
# concurrent claimers pass each other; then the earliest of those candidates is leased.
CLAIM_POSTGRES_SQL = f"""
WITH candidates AS MATERIALIZED (
    SELECT c.client_id, c.id
    FROM unnest(CAST(:client_ids AS integer[]), CAST(:routing_keys AS text[]))
        AS k(client_id, routing_key)
    CROSS JOIN LATERAL (
        SELECT w.client_id, w.id, w.due_at, w.priority, w.received_at
        FROM work_items w
        WHERE w.client_id = k.client_id AND w.routing_key = k.routing_key
          AND w.state = 'queued'
        ORDER BY w.due_at, w.priority DESC, w.received_at, w.id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) c
    ORDER BY c.{_ORDER.replace(", ", ", c.")}
    LIMIT 1
)
UPDATE work_items w SET {
    _SET_LEASED.replace("version + 1", "w.version + 1").replace("attempt + 1", "w.attempt + 1")
}
FROM candidates c
WHERE w.client_id = c.client_id AND w.id = c.id
RETURNING {", ".join("w." + col for col in _RETURNING.split(", "))}
"""


def claim_postgres() -> TextualSelect:
    return _typed(text(CLAIM_POSTGRES_SQL))


def claim_sqlite(queue_count: int) -> TextualSelect:
    """SQLite has no SKIP LOCKED; its single writer (BEGIN IMMEDIATE) makes this safe."""
    probes = " UNION ALL ".join(
        f"SELECT * FROM (SELECT client_id, id, due_at, priority, received_at FROM work_items "
        f"WHERE client_id = :c{i} AND routing_key = :k{i} AND state = 'queued' "
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
    from tandem.work.models import WorkItem

    columns = WorkItem.__table__.c
    return statement.bindparams(
        bindparam("agent_id", type_=Uuid()),
        bindparam("lease_expires_at", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
    ).columns(*(columns[name] for name in _RETURNING.split(", ")))
