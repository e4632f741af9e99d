"""`tandem bench quality`: CSP-1 sampling through Tandem's real quality control.

40 synthetic agents with known error rates (20 at 0.5 %, 8 at 1 %, 5 at 2 %, 3 at 3 %, 2 at
5 %, 2 at 8 %) work 200,000 items (20,000 with --quick), about 5,000 each, of a keying process
whose QA policy is sampling at an AOQL of 1 %, in a migrated database (a SQLite file; a
scratch PostgreSQL database with --postgres-url). Each item, leased to an agent picked at
random, is submitted through `Dispatcher.submit`, so quality control decides as in
production whether it is reviewed: every item of a new agent until they clear, then a
random fraction, per each agent's plan (re-chosen for their measured error rate when a
defect starts a screening run); the accuracy threshold sends agents back to full review. A
reviewer who catches every defect reviews what comes to review (through
`quality.reviews.review`) and corrects the defects found; the rest is delivered as keyed.

Counted afterwards from the database: the delivered results that are wrong (the outgoing
error rate), reviews per item (the review fraction), and the report's estimate of the
outgoing error rate beside the truth; each per group of agents too. The AOQL is promised to
every client whatever its agents' error rate, so it is checked per group, not on the blend.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from tandem.audit.chain import derive_key
from tandem.bench.dispatch import scratch_database
from tandem.catalog.models import Process
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, new_id, transaction
from tandem.core.migrate import upgrade
from tandem.dispatch.service import Dispatcher
from tandem.quality import report, reviews
from tandem.quality.models import Review
from tandem.tenancy.context import Context
from tandem.tenancy.principal import SYSTEM, Principal
from tandem.tenancy.service import create_client
from tandem.vault.sealing import Keyring
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem
from tandem.work.statements import items as items_table
from tandem.workforce.models import Agent, DeliveryCenter

Log = Callable[[str], None]
AOQL_TARGET = 0.01
MAX_REVIEW_FRACTION = 0.40
GROUPS = ((20, 0.005), (8, 0.01), (5, 0.02), (3, 0.03), (2, 0.05), (2, 0.08))
FORM = {
    "type": "object",
    "required": ["invoice_number", "supplier", "total"],
    "additionalProperties": False,
    "properties": {
        "invoice_number": {"type": "string"},
        "supplier": {"type": "string", "x-normalize": "name"},
        "total": {"type": "number"},
    },
}
RIGHT = {"invoice_number": "INV-20931", "supplier": "Maria Santos", "total": 1234.5}
WRONG = {**RIGHT, "total": 1243.5}  # two digits swapped
MISKEYED = [reviews.Failure("total", "wrong_value")]


def run(
    *, postgres_url: str | None, quick: bool, log: Log, items: int | None = None
) -> dict[str, Any]:
    """`items` overrides the size (tests run a small one)."""
    count = items or (20_000 if quick else 200_000)
    with _database(postgres_url, log) as (url, kind):
        engine = make_engine(Settings(database_url=url).sqlalchemy_url)
        try:
            figures = _run(engine, count, log)
        finally:
            engine.dispose()
    figures.update(database=kind, quick=quick)
    return figures


@contextlib.contextmanager
def _database(postgres_url: str | None, log: Log) -> Iterator[tuple[str, str]]:
    if postgres_url:
        with scratch_database(postgres_url, "tandem_bench_quality", log) as scratch:
            yield scratch.sqlalchemy_url, "postgresql"
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'quality.db'}"
        upgrade(url)
        yield url, "sqlite"


def _run(engine: Engine, count: int, log: Log) -> dict[str, Any]:
    clock = SystemClock()
    sessions = make_sessionmaker(engine)
    settings = Settings()
    keys = Keys(Keyring(*settings.master_keys), derive_key(settings.secret_key))
    dispatcher = Dispatcher(clock, keys.keyring)
    dispatcher.rng = random.Random(7)
    rng = random.Random(42)
    process, agents = _setup(sessions, clock.now())
    rates = {agent: rate for agent, rate in agents}
    leased_to = _lease_items(engine, process, [a for a, _ in agents], count, rng, clock.now())
    reviewer = Principal(uuid.uuid4(), "qa_reviewer", None, None)
    started = time.perf_counter()
    reviewed = 0
    # One connection throughout, one transaction per submit and per review, as a worker
    # process of the API would hold a pooled connection.
    with engine.connect() as connection:
        for n, (item_id, agent) in enumerate(leased_to, start=1):
            miskeyed = rng.random() < rates[agent]
            keyed = WRONG if miskeyed else RIGHT
            ref = dispatcher.submit(connection, agent, item_id, 1, keyed)
            if ref.state is State.IN_REVIEW:
                reviewed += 1
                with Session(bind=connection) as session, session.begin():
                    reviews.review(
                        keys.context(session, reviewer, clock.now()),
                        item_id,
                        failures=MISKEYED if miskeyed else [],
                        verdict="correct" if miskeyed else "deliver",
                        corrected=RIGHT if miskeyed else None,
                        lease=dispatcher.lease,
                    )
            if n % max(count // 10, 1) == 0:
                rate = n / (time.perf_counter() - started)
                log(f"{n:,} items submitted, {reviewed:,} reviewed ({rate:,.0f} items/s)")
    elapsed = time.perf_counter() - started
    return _figures(sessions, keys, process, rates, count, elapsed, clock.now())


@dataclass(frozen=True)
class Keys:
    """The keys a use case's Context carries (the benchmark has no Container)."""

    keyring: Keyring
    audit_key: bytes

    def context(self, session: Session, principal: Principal, now: datetime) -> Context:
        return Context(session, principal, now, self.keyring, self.audit_key)


def _setup(sessions: Any, now: datetime) -> tuple[Process, list[tuple[uuid.UUID, float]]]:
    with transaction(sessions) as session:
        client = create_client(session, code="bench", name="Bench", timezone="UTC", now=now)
        process = define_process(
            session,
            client.id,
            ProcessDefinition(
                code="invoices",
                name="Invoice keying",
                kind="data_entry",
                input_schema={"type": "object", "properties": {"scan": {"type": "string"}}},
                form_schema=FORM,
                sla_minutes=60,
                sla_mode="24x7",
            ),
            now=now,
        )
        process.qa_mode = "sampling"
        process.qa_aoql = AOQL_TARGET
        session.add(
            DeliveryCenter(
                code="BENCH", name="Bench", country="PH", timezone="Asia/Manila", hourly_cost=9
            )
        )
        session.flush()
        agents = []
        for group, rate in GROUPS:
            for _ in range(group):
                agent = Agent(center_code="BENCH", name=f"Agent at {rate}", tier="agent")
                session.add(agent)
                session.flush()
                agents.append((agent.id, rate))
        session.expunge(process)
    return process, agents


def _lease_items(
    engine: Engine,
    process: Process,
    agents: list[uuid.UUID],
    count: int,
    rng: random.Random,
    now: datetime,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The items, each already leased to an agent picked at random (claiming is the
    dispatch benchmark's subject, not this one's)."""
    leased_to = [(new_id(), agents[rng.randrange(len(agents))]) for _ in range(count)]
    expires = now + timedelta(days=1)
    with engine.begin() as connection:
        for start in range(0, count, 5_000):
            connection.execute(
                insert(items_table),
                [
                    {
                        "client_id": process.client_id,
                        "id": item_id,
                        "process_id": process.id,
                        "state": State.LEASED.value,
                        "version": 2,
                        "priority": 0,
                        "routing_key": process.routing_key,
                        "received_at": now,
                        "due_at": expires,
                        "at_risk_at": expires,
                        "attempt": 1,
                        "lease_owner": agent,
                        "lease_expires_at": expires,
                        "payload": {"scan": f"scan-{n}"},
                        "updated_at": now,
                    }
                    for n, (item_id, agent) in enumerate(
                        leased_to[start : start + 5_000], start=start
                    )
                ],
            )
    return leased_to


def _figures(
    sessions: Any,
    keys: Keys,
    process: Process,
    rates: dict[uuid.UUID, float],
    count: int,
    elapsed: float,
    now: datetime,
) -> dict[str, Any]:
    wrong: Counter[float] = Counter()
    worked: Counter[float] = Counter()
    looked_at: Counter[float] = Counter()
    with transaction(sessions) as session:
        for agent, result in session.execute(
            select(WorkItem.lease_owner, WorkItem.result).where(
                WorkItem.state == State.DELIVERED.value
            )
        ):
            worked[rates[agent]] += 1
            wrong[rates[agent]] += result != RIGHT
        for agent, reviews in session.execute(
            select(Review.agent_id, func.count())
            .where(Review.agent_id.is_not(None))
            .group_by(Review.agent_id)
        ):
            looked_at[rates[agent]] += reviews  # type: ignore[index]
        (estimate,) = report.report(
            keys.context(session, SYSTEM, now),
            since=now - timedelta(days=1),
            until=now + timedelta(seconds=1),
        )
    delivered = sum(worked.values())
    figures: dict[str, Any] = {
        "benchmark": "quality",
        "items": count,
        "delivered": delivered,
        "agents": len(rates),
        "aoql_target": AOQL_TARGET,
        "outgoing_error_rate": round(sum(wrong.values()) / delivered, 5),
        "review_fraction": round(sum(looked_at.values()) / count, 4),
        "estimated_outgoing_error_rate": round(1 - (estimate.estimated_accuracy or 0), 5),
        "items_per_s": round(count / elapsed, 1),
    }
    for _, rate in GROUPS:
        key = f"{rate:.3f}".rstrip("0")
        figures[f"review_fraction_at_{key}"] = round(looked_at[rate] / (worked[rate] or 1), 4)
        figures[f"outgoing_error_rate_at_{key}"] = round(wrong[rate] / (worked[rate] or 1), 5)
    missed = [
        f"{key} <= {AOQL_TARGET}"
        for key, value in figures.items()
        if key.startswith("outgoing_error_rate") and value > AOQL_TARGET
    ]
    if figures["review_fraction"] > MAX_REVIEW_FRACTION:
        missed.append(f"review_fraction <= {MAX_REVIEW_FRACTION}")
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(elapsed, 1)
    return figures
