"""`tandem bench console`: server time to render the operations floor and the client portal
with 1,000,000 work items in PostgreSQL (20,000 with --quick).

A scratch database gets the demo's three clients, four processes, three delivery centers and
60 agents with their shifts (tandem.demo), then the items, written by the database itself
(generate_series): spread over the last 60 days, 85 % delivered, the rest queued, leased,
waiting or in review, some at risk or breached, each with its arrival event and, once
delivered, its delivery event. After VACUUM ANALYZE, the real app (create_app) answers
`GET /console/operations` as an ops manager and `GET /console/portal` as the insurer's admin,
in process through its ASGI interface (no socket: the server's time, not the network's);
warm-up requests first, then the median and the slowest of the timed ones.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from tandem.app import create_app
from tandem.bench.dispatch import busy_cores_now, require_postgres_url, scratch_database
from tandem.bench.intake import Log
from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.demo import _clients, _processes, _workforce
from tandem.tenancy.service import create_user, issue_token

TARGET_MS = 300.0
WARM_UP = 3
TIMED = 15

# Items by the database: client and process from the row number, a state from its last two
# digits, times spread evenly over DAYS back from now.
_ITEMS = """
INSERT INTO work_items (client_id, id, process_id, state, version, priority, routing_key,
    received_at, due_at, at_risk_at, at_risk, breached, attempt, payload, gold, recheck,
    delivered_at, updated_at)
SELECT p.client_id, lpad(to_hex(n), 32, '0')::uuid, p.id, s.state, 2, 0, p.routing_key,
       r.received_at, r.received_at + interval '4 hours', r.received_at + interval '3 hours',
       s.state <> 'delivered' AND r.received_at + interval '3 hours' < :now,
       s.state <> 'delivered' AND r.received_at + interval '4 hours' < :now,
       1, '{}'::jsonb, false, false,
       CASE WHEN s.state = 'delivered'
            THEN r.received_at + (n % 6) * interval '1 hour' + interval '20 minutes' END,
       r.received_at
FROM generate_series(1, :count) AS n
JOIN LATERAL (SELECT client_id, id, code AS routing_key FROM processes
              ORDER BY client_id, code OFFSET n % :processes LIMIT 1) AS p ON true
CROSS JOIN LATERAL (SELECT CASE WHEN n % 100 < 85 THEN 'delivered'
                                WHEN n % 100 < 95 THEN 'queued'
                                WHEN n % 100 < 97 THEN 'leased'
                                WHEN n % 100 < 99 THEN 'waiting'
                                ELSE 'in_review' END AS state) AS s
CROSS JOIN LATERAL (SELECT :now - (:count - n) * (:days * interval '1 day') / :count
                    AS received_at) AS r
"""
_EVENTS = """
INSERT INTO work_item_events (client_id, work_item_id, seq, at, from_state, to_state, actor,
    attempt)
SELECT client_id, id, 1, received_at, NULL, 'queued', 'system:bench', 0 FROM work_items
UNION ALL
SELECT client_id, id, 2, delivered_at, 'submitted', 'delivered', 'system:bench', 1
FROM work_items WHERE state = 'delivered'
"""
DAYS = 60


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    from fastapi.testclient import TestClient  # here: every benchmark imports this module

    server = require_postgres_url(postgres_url, "console")
    count = 20_000 if quick else 1_000_000
    figures: dict[str, Any] = {"benchmark": "console", "quick": quick, "items": count}
    figures["busy_cores_before"] = busy_cores_now()
    started = time.perf_counter()
    with scratch_database(server, "tandem_bench_console", log) as database:
        container = _container(database.sqlalchemy_url)
        try:
            tokens = _operation(container)
            seed_s = _seed(container, count, log)
            figures["seed_s"] = round(seed_s, 1)
            with TestClient(create_app(container)) as client:
                for name, url, token in (
                    ("ops_floor", "/console/operations", tokens["ops"]),
                    ("portal", "/console/portal", tokens["client"]),
                ):
                    times = _render(client, url, token)
                    figures[f"{name}_ms"] = round(statistics.median(times), 1)
                    figures[f"{name}_max_ms"] = round(max(times), 1)
                    median, slowest = statistics.median(times), max(times)
                    log(f"{url}: median {median:.0f} ms, slowest {slowest:.0f} ms")
        finally:
            container.engine.dispose()
    missed = [
        f"{name}_ms <= {TARGET_MS:.0f}"
        for name in ("ops_floor", "portal")
        if figures[f"{name}_ms"] > TARGET_MS
    ]
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def _container(url: str) -> Container:
    settings = Settings(database_url=url)
    engine = make_engine(settings.sqlalchemy_url)
    clock = SystemClock()
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock,
    )


def _operation(container: Container) -> dict[str, str]:
    """The demo's clients, processes and workforce; an ops manager and the insurer's admin."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        clients = _clients(session, now)
        _processes(session, clients, now)
        _workforce(session, clients, random.Random(3))
        ops = create_user(
            session, email="ops@bench.example", name="Ops", role="ops_manager", now=now
        )
        admin = create_user(
            session,
            email="admin@bench.example",
            name="Admin",
            role="client_admin",
            client_id=clients["northwind"],
            now=now,
        )
        return {
            "ops": issue_token(session, ops.id, "bench", now),
            "client": issue_token(session, admin.id, "bench", now),
        }


def _seed(container: Container, count: int, log: Log) -> float:
    log(f"writing {count:,} items and their events")
    start = time.perf_counter()
    now = container.clock.now()
    with container.engine.begin() as connection:
        processes = connection.execute(text("SELECT count(*) FROM processes")).scalar_one()
        connection.execute(
            text(_ITEMS),
            {"count": count, "processes": processes, "now": now, "days": DAYS},
        )
        connection.execute(text(_EVENTS))
    with container.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    seconds = time.perf_counter() - start
    log(f"seeded in {seconds:.0f} s")
    return seconds


def _render(client: Any, url: str, token: str) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for n in range(WARM_UP + TIMED):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
        if n >= WARM_UP:
            times.append(elapsed)
    return times
