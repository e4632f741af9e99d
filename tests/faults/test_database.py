"""The database fails: a lock held too long, an exhausted pool, a restart mid-load. Each
costs a request seconds and a retryable 503 problem (never a 500 or a hang), the probes keep
answering, and nothing is lost or written twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.config import load_settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.work.models import WorkItem
from tandem.worker import run_forever
from tests.conftest import T0, World, build_world, empty_tables, serving
from tests.faults.conftest import PrivatePostgres

pytestmark = pytest.mark.slow

BUDGET_S = 1.0  # the lock and pool budgets these tests give the app


@pytest.fixture
def faulty(private_postgres: PrivatePostgres) -> Iterator[Container]:
    """The app's pieces on the private server, with a small pool and one-second budgets."""
    settings = load_settings(
        database_url=private_postgres.url,
        cookie_secure=False,
        lease_seconds=60,
        db_pool_timeout_seconds=BUDGET_S,
        db_lock_timeout_ms=int(BUDGET_S * 1000),
    )
    engine = make_engine(settings.sqlalchemy_url, pool_size=2, budgets=settings.budgets)
    empty_tables(engine)
    container = Container(settings, engine, make_sessionmaker(engine), ManualClock(T0))
    yield container
    engine.dispose()


@pytest.fixture
def setting(faulty: Container) -> Iterator[tuple[Container, World, str]]:
    world = build_world(faulty)
    with serving(faulty) as url:
        yield faulty, world, url


def _client(url: str, world: World, name: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {world.tokens[name]}"}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _assert_retryable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1


def _probes_answer_quickly(url: str) -> None:
    for path in ("/healthz", "/readyz"):
        response, took = _timed(lambda path=path: httpx.get(url + path, timeout=5))
        assert response.status_code == 200 and took < 1.0, (path, response.status_code, took)


def test_a_held_lock_costs_seconds_and_a_retryable_503(
    setting: tuple[Container, World, str], private_postgres: PrivatePostgres
) -> None:
    container, world, url = setting
    ops = _client(url, world, "ops")
    item = world.submit(container, "locked")
    with psycopg.connect(private_postgres.url) as holder:  # another transaction's row lock
        holder.execute("SELECT id FROM work_items WHERE id = %s FOR UPDATE", (item.id,))
        hold = f"/api/v1/work-items/{item.id}/hold"
        response, took = _timed(lambda: ops.post(hold, json={"reason": "scan unreadable"}))
        _assert_retryable(response)
        assert took < BUDGET_S + 2, took
        _probes_answer_quickly(url)
        holder.rollback()
    retried = ops.post(hold, json={"reason": "scan unreadable"})
    assert retried.status_code == 200 and retried.json()["state"] == "waiting"
    events = ops.get(f"/api/v1/work-items/{item.id}/events").json()
    assert [e["to_state"] for e in events] == ["queued", "waiting"]  # the refused try left none


def test_an_exhausted_pool_answers_503_and_the_probes_still_answer(
    setting: tuple[Container, World, str],
) -> None:
    container, world, url = setting
    client = _client(url, world, "client")
    held = [container.engine.connect() for _ in range(4)]  # pool_size 2 + overflow 2
    try:
        response, took = _timed(lambda: client.get("/api/v1/work-items"))
        _assert_retryable(response)
        assert took < BUDGET_S + 2, took
        _probes_answer_quickly(url)
    finally:
        for connection in held:
            connection.close()
    assert client.get("/api/v1/work-items").status_code == 200


def test_a_restart_mid_load_loses_nothing_and_doubles_nothing(
    setting: tuple[Container, World, str], private_postgres: PrivatePostgres
) -> None:
    """Items handed over with idempotency keys while PostgreSQL restarts: every answer is a
    success or a 503 (retried with the same key), service comes back within seconds, each key
    has exactly one item; the background worker keeps running and reaps a lease afterwards."""
    container, world, url = setting
    client = _client(url, world, "client")
    keys = [f"restart-{i}" for i in range(80)]
    statuses: Counter[int] = Counter()
    successes: list[float] = []
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(container, stop), daemon=True)
    worker.start()

    def load() -> None:
        for key in keys:
            while True:
                try:
                    response = client.post(
                        f"/api/v1/processes/{world.process_id}/work-items",
                        headers={"Idempotency-Key": key},
                        json={"payload": {"document_ref": key}},
                    )
                except httpx.TransportError:  # never expected: the server answers
                    statuses[-1] += 1
                    continue
                statuses[response.status_code] += 1
                if response.status_code in (200, 201):
                    successes.append(time.monotonic())
                    break
                assert response.status_code == 503, response.text
                time.sleep(0.05)

    loader = threading.Thread(target=load)
    loader.start()
    while len(successes) < 20:
        time.sleep(0.01)
    private_postgres.stop()
    down_at = time.monotonic()
    time.sleep(1.0)
    private_postgres.start()
    up_at = time.monotonic()
    loader.join(timeout=120)
    assert not loader.is_alive()
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[503] > 0  # the restart was seen
    first_after = min(t for t in successes if t > down_at)
    assert first_after - up_at < 10, first_after - up_at  # back within seconds
    with transaction(container.sessions) as session:
        counts = Counter(
            session.scalars(
                select(WorkItem.idempotency_key).where(WorkItem.idempotency_key.in_(keys))
            ).all()
        )
    assert counts == Counter(dict.fromkeys(keys, 1))
    # The worker lived through it: a lease that expires now is reaped.
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
    assert lease is not None
    container.clock.advance(container.dispatcher.lease * 2)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with transaction(container.sessions) as session:
            state = session.scalar(select(WorkItem.state).where(WorkItem.id == lease.item_id))
        if state == "queued":
            break
        time.sleep(0.2)
    stop.set()
    worker.join(timeout=30)
    assert state == "queued"
    with transaction(container.sessions) as session:
        assert session.scalar(select(func.count()).select_from(WorkItem)) == len(keys)
