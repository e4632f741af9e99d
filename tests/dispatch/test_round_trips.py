"""The README's words on the hot path, counted. "On PostgreSQL the claim is one statement in
its own implicit transaction" (and "claims stay one round trip"); "Submit is one fenced
`UPDATE ... RETURNING`".

Counted on a Core connection, as the API's routes run them (tandem.api.dispatch), once the
agent's queues and the process's result form are cached (an agent's first claim in a while
reads its queues first: 6 SELECTs; a process's first submit reads its form: 1 SELECT), for a
client without webhooks (with them a delivery adds an INSERT into the outbox) and a process
without a QA mode (quality control's statements come after the submit's own).

- Statements: what SQLAlchemy hands the driver (`before_cursor_execute`: SQLite's
  `BEGIN IMMEDIATE` is one, issued by tandem.core.db; PostgreSQL's BEGIN is not, psycopg
  sends it itself), and each COMMIT (the Connection's `commit` event).
- Round trips (PostgreSQL): the messages psycopg sends the server, from libpq's trace of the
  protocol; each Sync (extended query protocol) or Query (simple protocol: psycopg's BEGIN
  and COMMIT) waits for the server's answer once.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import make_engine, transaction
from tandem.delivery.models import WebhookSubscription
from tandem.dispatch.service import Lease
from tests.conftest import RESULT, World

# What each statement of the hot path looks like (whitespace collapsed).
SHAPES = {
    "BEGIN IMMEDIATE": r"BEGIN IMMEDIATE",
    "COMMIT": r"COMMIT",
    # PostgreSQL: probe, lock (SKIP LOCKED), lease and write the event, in one statement.
    "claim with its event": (
        r"WITH candidates AS \(.*\), picked AS MATERIALIZED \(.*FOR UPDATE OF w SKIP LOCKED \),"
        r" leased AS \( UPDATE work_items w SET state = 'leased'.*RETURNING .*\),"
        r" event AS \( INSERT INTO work_item_events .* FROM leased \)"
        r" SELECT .* FROM leased"
    ),
    # SQLite: the same choice as one UPDATE ... RETURNING; the event is written next.
    "claim": r"UPDATE work_items SET state = 'leased'.* WHERE \(client_id, id\) = \(SELECT .*"
    r"RETURNING .*",
    "events": r"INSERT INTO work_item_events .*",
    # The fences: the item (by its primary key), leased, this attempt, this agent, not expired.
    "fenced submit": r"UPDATE work_items SET state=CASE .* WHERE work_items\.client_id = [^ ]+"
    r" AND work_items\.id = [^ ]+"
    r" AND work_items\.state = [^ ]+ AND work_items\.attempt = [^ ]+"
    r" AND work_items\.lease_owner = [^ ]+ AND work_items\.lease_expires_at > [^ ]+"
    r"(?: WITH TIME ZONE)? RETURNING .*",
}


def _shape(statement: str) -> str:
    flat = " ".join(statement.split())
    for name, pattern in SHAPES.items():
        if re.fullmatch(pattern, flat):
            return name
    return f"unexpected: {flat[:120]}"


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The statements the engine sends and its commits, in order, while the block runs."""
    seen: list[str] = []

    def sent(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(_shape(statement))

    def committed(_conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", sent)
    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", sent)
        event.remove(engine, "commit", committed)


@contextmanager
def _messages(connection: Connection) -> Iterator[list[str]]:
    """The protocol messages psycopg sends the server (F lines of libpq's trace) while the
    block runs, by type: Parse, Bind, Describe, Execute, Sync, Query."""
    from psycopg.pq import Trace

    pgconn = connection.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
    sent: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "libpq.trace")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        try:
            pgconn.trace(fd)
            pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
            try:
                yield sent
            finally:
                pgconn.untrace()  # flushes the trace
        finally:
            os.close(fd)
        with open(path) as trace:
            sent += re.findall(r"^F\t\d+\t(\w+)", trace.read(), re.MULTILINE)


def _round_trips(messages: list[str]) -> int:
    return sum(1 for m in messages if m in ("Sync", "Query"))


@pytest.fixture
def hot(container: Container, world: World, database_url: str) -> Iterator[Engine]:
    """An engine of one pooled connection (so round trips are counted on a connection in a
    known state), with items queued, the agent's queues and the form cached by one claim and
    submit through it."""
    for n in range(20):
        world.submit(container, f"scan-{n}")
    engine = make_engine(database_url, pool_size=1)
    _submit(container, engine, world, _claim(container, engine, world))
    yield engine
    engine.dispose()


def _claim(container: Container, engine: Engine, world: World) -> Lease:
    with engine.connect() as connection:
        lease = container.dispatcher.claim(connection, world.agent_id)
    assert lease is not None
    return lease


def _submit(container: Container, engine: Engine, world: World, lease: Lease) -> None:
    with engine.connect() as connection:
        ref = container.dispatcher.submit(
            connection, world.agent_id, lease.item_id, lease.attempt, RESULT
        )
    assert ref.state.value == "delivered"


@pytest.mark.postgres_only
def test_on_postgresql_a_claim_is_one_statement_in_one_round_trip(
    container: Container, world: World, hot: Engine
) -> None:
    with (
        _statements(hot) as statements,
        hot.connect() as connection,
        _messages(connection) as messages,
    ):
        lease = container.dispatcher.claim(connection, world.agent_id)
    assert lease is not None
    assert statements == ["claim with its event"]  # no COMMIT: an implicit transaction
    # No BEGIN, no COMMIT: the statement, parsed, bound, described, run, and one wait.
    assert messages == ["Parse", "Bind", "Describe", "Execute", "Sync"]
    assert _round_trips(messages) == 1


@pytest.mark.postgres_only
def test_on_postgresql_a_claim_stays_one_round_trip_once_psycopg_prepares_it(
    container: Container, world: World, hot: Engine
) -> None:
    """psycopg prepares a statement run `prepare_threshold` times on a connection: that one
    execution sends the named Parse and waits for it first (a round trip more, once per
    connection); after it a claim is Bind, Describe, Execute, Sync."""
    trips = []
    with hot.connect() as connection:
        threshold = connection.connection.dbapi_connection.prepare_threshold  # type: ignore[union-attr]
    assert threshold is not None
    for _ in range(threshold + 3):
        with hot.connect() as connection, _messages(connection) as messages:
            lease = container.dispatcher.claim(connection, world.agent_id)
        assert lease is not None
        trips.append(_round_trips(messages))
        _submit(container, hot, world, lease)
    assert messages == ["Bind", "Describe", "Execute", "Sync"]
    assert sorted(trips) == [1] * (len(trips) - 1) + [2]


@pytest.mark.postgres_only
def test_on_postgresql_a_submit_is_one_fenced_update_and_its_events_in_four_round_trips(
    container: Container, world: World, hot: Engine
) -> None:
    lease = _claim(container, hot, world)
    with (
        _statements(hot) as statements,
        hot.connect() as connection,
        _messages(connection) as messages,
    ):
        container.dispatcher.submit(
            connection, world.agent_id, lease.item_id, lease.attempt, RESULT
        )
    assert statements == ["fenced submit", "events", "COMMIT"]
    assert messages == [
        "Query",  # BEGIN
        *("Parse", "Bind", "Describe", "Execute", "Sync"),  # the fenced UPDATE ... RETURNING
        *("Parse", "Bind", "Describe", "Execute", "Sync"),  # its two events, one INSERT
        "Query",  # COMMIT
    ]
    assert _round_trips(messages) == 4


def test_on_sqlite_a_claim_is_begin_immediate_one_update_its_event_and_commit(
    container: Container, world: World, hot: Engine, is_postgres: bool
) -> None:
    if is_postgres:
        pytest.skip("SQLite's claim")
    with _statements(hot) as statements:
        _claim(container, hot, world)
    assert statements == ["BEGIN IMMEDIATE", "claim", "events", "COMMIT"]


def test_on_sqlite_a_submit_is_begin_immediate_one_fenced_update_its_events_and_commit(
    container: Container, world: World, hot: Engine, is_postgres: bool
) -> None:
    if is_postgres:
        pytest.skip("SQLite's submit")
    lease = _claim(container, hot, world)
    with _statements(hot) as statements:
        _submit(container, hot, world, lease)
    assert statements == ["BEGIN IMMEDIATE", "fenced submit", "events", "COMMIT"]


def test_a_submit_for_a_client_without_webhooks_reads_no_subscriptions(
    container: Container,
    world: World,
    hot: Engine,
    is_postgres: bool,
    clock: ManualClock,
) -> None:
    """The fenced update returns whether the item's client has webhooks, so that a client
    without them costs no read of the subscriptions (tandem.delivery.outbox.has_subscribers),
    even while another client has some."""
    with transaction(container.sessions) as session:
        session.add(
            WebhookSubscription(
                client_id=world.other_client_id,
                url="https://retailer.example/hook",
                secret="s" * 32,
                events=["work_item.delivered"],
                created_at=clock.now(),
            )
        )
    lease = _claim(container, hot, world)
    with _statements(hot) as statements:
        _submit(container, hot, world, lease)
    begin = [] if is_postgres else ["BEGIN IMMEDIATE"]
    assert statements == [*begin, "fenced submit", "events", "COMMIT"]
