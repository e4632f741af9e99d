"""`tandem bench dispatch`: claim and submit throughput and claim latency on PostgreSQL.

What it measures, in scratch databases of its own on the given server:

* 64 claimers (threads, one agent each, spread over one process per core as the API runs one
  worker process per core) claiming and submitting through the service layer
  (`Dispatcher.claim` then `Dispatcher.submit`, one transaction each) with 1,000,000 items
  queued over 50 routing keys;
* the ceiling: the same statements (the service's own, compiled: claim with its event row, the
  fenced update, the event rows, the subscriptions read) driven by 64 plain psycopg
  connections in the same processes, without the Python service layer. Service and raw runs
  alternate (A B A B), so that drift on a shared machine falls on both;
* claim latency (the claim transaction, commit included) with 16 claimers at 1,000,000 queued,
  through the service and as raw SQL (`p50_claim_ms`, `p99_claim_ms`: the target), and at
  the headline's 64 claimers, from the throughput runs (`p50_claim_ms_64`, `p99_claim_ms_64`);
* the 64-claimer service throughput at 10,000 queued items, in rounds that stop once half the
  queue is taken, the queue being topped up before each round: it is never measured dry;
* errors, which fail the run whatever the rates (`targets_met` false, the reason in
  `targets_missed`): exceptions in the claimers (a claim or a submit that raised), items
  leased twice, delivered twice or by two agents (`double_assignments`, from the event
  rows), items left leased at the end (claimed, never submitted), items lost (seeded but
  neither queued, leased nor delivered at the end), deliveries the claimers counted that the
  database lacks or the other way round, and rows that disagree with their events.

Every run starts after a VACUUM and a CHECKPOINT and has a warm-up whose pairs are not
counted; before the first run on each database, a whole phase just after the bulk load warms
the caches, not counted either (its rate is reported as `cold_start_per_s` at 1,000,000
queued, `cold_start_10k_per_s` at 10,000), so that neither side of `ratio_1m_vs_10k` pays
for cold caches. Besides pairs per second it records CPU (of the claimer processes, of the
server processes serving the benchmark when PostgreSQL is local, and of the whole machine)
and WAL per pair, which is what says what bounds the rates. The helpers for scratch
databases are shared with the intake benchmark.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import typer
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, new_id_hex, transaction
from tandem.core.migrate import upgrade
from tandem.delivery import outbox
from tandem.tenancy.service import create_client
from tandem.work import statements
from tandem.work.statements import candidates_per_key, claim_postgres_sql, queues_param
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentSkill,
    DeliveryCenter,
    Shift,
    Skill,
)

Log = Callable[[str], None]

# -- PostgreSQL scratch databases (shared with the intake benchmark) -----------------------------


def require_postgres_url(postgres_url: str | None, benchmark: str) -> str:
    """The server to benchmark on: the option, else TANDEM_POSTGRES_URL, else a clear error."""
    url = postgres_url or os.environ.get("TANDEM_POSTGRES_URL", "")
    if not url:
        raise typer.BadParameter(
            f"the {benchmark} benchmark needs a PostgreSQL server: pass --postgres-url "
            "postgresql://USER@HOST:PORT/DB or set TANDEM_POSTGRES_URL (it creates and drops "
            "scratch databases of its own there)",
            param_hint="'--postgres-url' / TANDEM_POSTGRES_URL",
        )
    if not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise typer.BadParameter(
            f"expected a postgresql:// URL, got {url!r}",
            param_hint="'--postgres-url' / TANDEM_POSTGRES_URL",
        )
    return url


def _libpq_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    conninfo: str  # for psycopg
    sqlalchemy_url: str  # postgresql+psycopg://, as Settings.sqlalchemy_url gives it


def _admin_connect(server_url: str) -> psycopg.Connection[Any]:
    """An autocommit connection to the server's maintenance database."""
    base = _libpq_url(server_url)
    last: Exception | None = None
    for dbname in ("postgres", "template1"):
        try:
            return psycopg.connect(make_conninfo(base, dbname=dbname), autocommit=True)
        except psycopg.OperationalError as exc:
            last = exc
    raise RuntimeError(f"cannot reach the PostgreSQL server at {server_url}: {last}")


@contextlib.contextmanager
def scratch_database(server_url: str, name: str, log: Log) -> Iterator[ScratchDatabase]:
    """Drop and create database `name` on the server, migrate it, and drop it at the end.

    Refuses to drop a database someone is connected to: that is another benchmark running
    on the same server, whose figures (and database) this one would ruin."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
    with _admin_connect(server_url) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
        if row and row[0]:
            raise RuntimeError(
                f"database {name} is in use ({row[0]} connection(s)): is another benchmark "
                "running on this server? Wait for it, or end those sessions"
            )
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url("postgresql+psycopg://" + _libpq_url(server_url).removeprefix("postgresql://"))
    database = ScratchDatabase(
        name,
        make_conninfo(_libpq_url(server_url), dbname=name),
        url.set(database=name).render_as_string(hide_password=False),
    )
    try:
        log(f"created database {name}; migrating")
        upgrade(database.sqlalchemy_url)
        yield database
    finally:
        # FORCE: connections of ours that an error left open must not keep it alive.
        with _admin_connect(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        log(f"dropped database {name}")


# -- sizes and shapes ----------------------------------------------------------------------------

ROUTING_KEYS = 50
CLAIMERS = 64
LATENCY_CLAIMERS = 16
# Claimers run as threads in one process per core, as the API runs one worker process per
# core: a single Python process would measure its GIL, not the service layer.
CLAIMER_PROCESSES = os.cpu_count() or 1
SKILL = "data_entry"

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["document_ref"],
    "properties": {
        "document_ref": {"type": "string", "minLength": 1},
        "pages": {"type": "integer", "minimum": 1},
    },
}
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["outcome"],
    "properties": {
        "outcome": {"type": "string", "enum": ["keyed", "illegible", "duplicate"]},
        "fields_keyed": {"type": "integer", "minimum": 0},
        "notes": {"type": "string", "maxLength": 500},
    },
}
RESULT: dict[str, Any] = {"outcome": "keyed", "fields_keyed": 14}


@dataclass(frozen=True)
class Sizes:
    items: int
    items_small: int
    warmup_s: float
    duration_s: float  # measured per run
    repeats: int  # runs of each throughput measurement (and rounds at the small queue)
    small_rounds_max: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(20_000, 2_000, 1.0, 5.0, 2, 6)
        return cls(1_000_000, 10_000, 3.0, 20.0, 2, 8)


@dataclass(frozen=True)
class Queue:
    process_id: uuid.UUID
    routing_key: str
    sla_s: int
    at_risk_s: int


@dataclass(frozen=True)
class Operation:
    client_id: int
    queues: tuple[Queue, ...]
    agents: tuple[uuid.UUID, ...]


def _create_operation(url: str, agents: int) -> Operation:
    """One client with 24x7 processes (one routing key each) and agents cleared for it, with
    the skill and a shift covering the whole week, made through the real use cases."""
    engine = make_engine(url, pool_size=2)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    rng = random.Random(11)
    try:
        with transaction(sessions) as session:
            client = create_client(
                session, code="bench", name="Bench Client", timezone="UTC", now=now
            )
            session.add(Skill(code=SKILL, name="Data entry"))
            session.add(
                DeliveryCenter(
                    code="BNC",
                    name="Bench center",
                    country="PH",
                    timezone="UTC",
                    hourly_cost=Decimal("9.50"),
                    currency="USD",
                    holidays=[],
                )
            )
            session.flush()
            queues = []
            for n in range(ROUTING_KEYS):
                sla_minutes = rng.choice((60, 240, 480, 960, 1440))
                process = define_process(
                    session,
                    client.id,
                    ProcessDefinition(
                        code=f"keying-{n:02d}",
                        name=f"Document keying {n}",
                        kind="data_entry",
                        input_schema=INPUT_SCHEMA,
                        form_schema=FORM_SCHEMA,
                        sla_minutes=sla_minutes,
                        sla_mode="24x7",
                        required_skills={SKILL: 2},
                    ),
                    now=now,
                )
                queues.append(
                    Queue(process.id, process.routing_key, sla_minutes * 60, sla_minutes * 45)
                )
            agent_ids = []
            for n in range(agents):
                agent = Agent(center_code="BNC", name=f"Bench agent {n}", tier="agent")
                session.add(agent)
                session.flush()
                agent_ids.append(agent.id)
                session.add(AgentSkill(agent_id=agent.id, skill_code=SKILL, level=3))
                session.add(AgentClearance(client_id=client.id, agent_id=agent.id))
                for day in range(7):
                    session.add(
                        Shift(agent_id=agent.id, weekday=day, start_minute=0, duration_minutes=1440)
                    )
            return Operation(client.id, tuple(queues), tuple(agent_ids))
    finally:
        engine.dispose()


# -- seeding with COPY ---------------------------------------------------------------------------

_COPY_ITEMS = (
    "COPY work_items (client_id, id, process_id, state, version, priority, routing_key, "
    "received_at, due_at, at_risk_at, at_risk, breached, attempt, payload, updated_at) "
    "FROM STDIN"
)
_COPY_EVENTS = (
    "COPY work_item_events (client_id, work_item_id, seq, at, to_state, actor, attempt) FROM STDIN"
)
_CHUNK = 20_000
_PRIORITIES = (0, 0, 0, 0, 0, 1, 1, 2, 5)


def _seed(database: ScratchDatabase, operation: Operation, count: int, seed: int) -> None:
    """Queue `count` items and their creation events (seq 1, -> queued), spread over the
    routing keys, received over the last two days, so due times spread from hours ago to a
    day ahead. Two connections stream the two COPYs side by side; per-row foreign-key
    triggers are off for the load (session_replication_role), the rows being consistent by
    construction."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    base = int(now.timestamp())
    stamps: dict[int, str] = {}

    def stamp(second: int) -> str:
        text = stamps.get(second)
        if text is None:
            text = stamps[second] = datetime.fromtimestamp(second, UTC).isoformat()
        return text

    now_text = now.isoformat()
    client = operation.client_id
    queues = operation.queues
    with (
        psycopg.connect(database.conninfo) as items_conn,
        psycopg.connect(database.conninfo) as events_conn,
    ):
        for conn in (items_conn, events_conn):
            conn.execute("SET session_replication_role = replica")
        with (
            items_conn.cursor().copy(_COPY_ITEMS) as items_copy,
            events_conn.cursor().copy(_COPY_EVENTS) as events_copy,
        ):
            done = 0
            while done < count:
                size = min(_CHUNK, count - done)
                item_lines = []
                event_lines = []
                for n in range(done, done + size):
                    queue = queues[rng.randrange(len(queues))]
                    item_id = new_id_hex()  # as the service makes them: time-ordered
                    received = base - rng.randrange(2 * 86_400)
                    item_lines.append(
                        f"{client}\t{item_id}\t{queue.process_id}\tqueued\t1\t"
                        f"{rng.choice(_PRIORITIES)}\t{queue.routing_key}\t{stamp(received)}\t"
                        f"{stamp(received + queue.sla_s)}\t{stamp(received + queue.at_risk_s)}\t"
                        f'f\tf\t0\t{{"document_ref": "scan-{seed}-{n:08d}.pdf", "pages": '
                        f"{1 + n % 12}}}\t{now_text}\n"
                    )
                    event_lines.append(
                        f"{client}\t{item_id}\t1\t{stamp(received)}\tqueued\tsystem:bench\t0\n"
                    )
                items_copy.write("".join(item_lines))
                events_copy.write("".join(event_lines))
                done += size
        items_conn.commit()
        events_conn.commit()


def _vacuum(admin: psycopg.Connection[Any], analyze: bool = True) -> None:
    admin.execute("SET maintenance_work_mem = '256MB'")
    admin.execute("VACUUM (ANALYZE) work_items" if analyze else "VACUUM work_items")
    admin.execute("VACUUM (ANALYZE) work_item_events" if analyze else "VACUUM work_item_events")


def _checkpoint(admin: psycopg.Connection[Any]) -> None:
    """Each phase starts right after a checkpoint, so that each pays the same full-page
    writes; skipped (not fatal) without the privilege."""
    with contextlib.suppress(psycopg.Error):
        admin.execute("CHECKPOINT")


def _queued(admin: psycopg.Connection[Any]) -> int:
    row = admin.execute("SELECT count(*) FROM work_items WHERE state = 'queued'").fetchone()
    return int(row[0]) if row else 0


# -- measuring -----------------------------------------------------------------------------------

Pair = Callable[[], float | None]  # one claim + submit; the claim's seconds, None if no item


_TICK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
# The server processes whose CPU counts as this benchmark's: its own backends, and the WAL
# writer, checkpointer and background writer (shared with other databases, mostly ours here).
_SERVER_PIDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "OR backend_type IN ('walwriter', 'checkpointer', 'background writer')"
)


def _process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a local process, None when it is not visible."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (float(fields[11]) + float(fields[12])) / _TICK
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class _Sample:
    """CPU and WAL counters at one instant."""

    at: float
    client_cpu: float  # the claimer processes
    cpu_busy: float | None  # seconds of all CPUs, machine-wide
    cpu_iowait: float | None
    server_cpu: dict[int, float]  # PostgreSQL processes of this benchmark, when local
    wal_lsn: int | None
    wal_syncs: int | None
    wal_records: int | None

    @classmethod
    def take(cls, admin: psycopg.Connection[Any], clients: Sequence[int]) -> _Sample:
        busy = iowait = None
        with contextlib.suppress(OSError, ValueError):
            with open("/proc/stat", encoding="ascii") as stat:
                fields = [float(v) for v in stat.readline().split()[1:]]
            user, nice, system, _idle, io, irq, softirq, steal = (fields + [0.0] * 8)[:8]
            busy = (user + nice + system + irq + softirq + steal) / _TICK
            iowait = io / _TICK
        server: dict[int, float] = {}
        lsn = syncs = records = None
        with contextlib.suppress(psycopg.Error):
            for (pid,) in admin.execute(_SERVER_PIDS).fetchall():
                cpu = _process_cpu(int(pid))
                if cpu is not None:
                    server[int(pid)] = cpu
            # pg_stat_wal holds what backends reported (about once a second): close enough
            # over a phase of several seconds; the LSN is exact.
            row = admin.execute(
                "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, wal_sync, wal_records "
                "FROM pg_stat_wal"
            ).fetchone()
            if row:
                lsn, syncs, records = int(row[0]), int(row[1]), int(row[2])
        client = sum(_process_cpu(pid) or 0.0 for pid in clients)
        return cls(time.perf_counter(), client, busy, iowait, server, lsn, syncs, records)


@dataclass
class PhaseResult:
    name: str
    claimers: int
    pairs: int = 0  # completed inside the measured window
    window_s: float = 0.0
    consumed: int = 0  # every completed pair, warm-up included
    empty_claims: int = 0
    errors: int = 0
    first_error: str | None = None
    latencies: list[float] = field(default_factory=list)  # claims begun and done in the window
    # Averages over the window, in cores: the claimer processes, PostgreSQL's processes serving the
    # benchmark (None when the server is not local), the whole machine, and iowait.
    client_cores: float = 0.0
    server_cores: float | None = None
    machine_cores: float | None = None
    iowait_cores: float | None = None
    wal_bytes: int | None = None
    wal_syncs: int | None = None
    wal_records: int | None = None

    @property
    def rate(self) -> float:
        return self.pairs / self.window_s if self.window_s > 0 else 0.0

    @property
    def other_cores(self) -> float | None:
        """CPU used by neither the claimers nor the benchmark's PostgreSQL processes."""
        if self.machine_cores is None or self.server_cores is None:
            return None
        return max(0.0, self.machine_cores - self.client_cores - self.server_cores)

    def server_side_cores(self) -> float | None:
        """PostgreSQL's cores, or failing that everything but the claimers."""
        if self.server_cores is not None:
            return self.server_cores
        if self.machine_cores is not None:
            return max(0.0, self.machine_cores - self.client_cores)
        return None

    def percentile_ms(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 2)

    def measure(self, before: _Sample, after: _Sample) -> None:
        """Fill the CPU and WAL figures from counters taken around the window."""
        span = after.at - before.at
        if span <= 0 or self.window_s <= 0:
            return
        self.client_cores = (after.client_cpu - before.client_cpu) / span
        if after.cpu_busy is not None and before.cpu_busy is not None:
            self.machine_cores = (after.cpu_busy - before.cpu_busy) / span
        if after.cpu_iowait is not None and before.cpu_iowait is not None:
            self.iowait_cores = (after.cpu_iowait - before.cpu_iowait) / span
        if after.server_cpu:
            used = sum(
                cpu - before.server_cpu.get(pid, cpu) for pid, cpu in after.server_cpu.items()
            )
            self.server_cores = used / span
        scale = self.window_s / span  # the counters cover `span`, the pairs the window
        for name, first, last in (
            ("wal_bytes", before.wal_lsn, after.wal_lsn),
            ("wal_syncs", before.wal_syncs, after.wal_syncs),
            ("wal_records", before.wal_records, after.wal_records),
        ):
            if first is not None and last is not None:
                setattr(self, name, int((last - first) * scale))

    def add(self, other: PhaseResult) -> None:
        """Fold another run of the same phase into this one (figures weighted by time)."""
        total = self.window_s + other.window_s
        for name in ("client_cores", "server_cores", "machine_cores", "iowait_cores"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if self.window_s == 0:
                setattr(self, name, theirs)
            elif mine is None or theirs is None or total == 0:
                setattr(self, name, None if name != "client_cores" else 0.0)
            else:
                setattr(self, name, (mine * self.window_s + theirs * other.window_s) / total)
        for name in ("wal_bytes", "wal_syncs", "wal_records"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if self.window_s == 0:
                setattr(self, name, theirs)
            else:
                setattr(self, name, None if mine is None or theirs is None else mine + theirs)
        self.pairs += other.pairs
        self.window_s = total
        self.consumed += other.consumed
        self.empty_claims += other.empty_claims
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.latencies.extend(other.latencies)


@dataclass(frozen=True)
class _Shard:
    """The claimers one process runs: `driver` is "service" or "raw"."""

    driver: str
    database: ScratchDatabase
    agents: tuple[uuid.UUID, ...]
    queues: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class _Shared:
    """What the claimer processes share: start gates, the run's instants, the stop."""

    ready: Any  # barrier: every process has its connections
    go: Any  # barrier: the instants are set
    instants: Any  # double[3]: end of warm-up, deadline, stopped at (0 until stopped)
    consumed: Any  # pairs completed by all processes, warm-up included
    stop: Any
    results: Any  # queue of one _ShardResult per process


@dataclass
class _ShardResult:
    pairs: int = 0
    consumed: int = 0
    empty_claims: int = 0
    errors: int = 0
    first_error: str | None = None
    latencies: list[float] = field(default_factory=list)


def _run_shard(shard: _Shard, shared: _Shared, max_consumed: int) -> None:
    """A claimer process: one thread per agent, looping claim + submit until the deadline
    or until `max_consumed` items were taken by all processes together. Pairs completed in
    [end of warm-up, stop] count; claims begun and done in that window give latencies."""
    container: Container | None = None
    raw: list[_RawClaimer] = []
    if shard.driver == "service":
        container = _container(shard.database.sqlalchemy_url, pool_size=len(shard.agents))
        pairs = [_service_pair(container, agent) for agent in shard.agents]
    else:
        raw = [_RawClaimer(shard.database.conninfo, agent, shard.queues) for agent in shard.agents]
        pairs = [claimer.pair for claimer in raw]
    result = _ShardResult()
    lock = threading.Lock()
    instants, consumed, stop = shared.instants, shared.consumed, shared.stop

    def loop(pair: Pair) -> None:
        latencies: list[float] = []
        warm_end, deadline = instants[0], instants[1]
        while not stop.is_set():
            start = time.perf_counter()
            if start >= deadline:
                break
            try:
                claim_s = pair()
            except Exception as exc:  # counted and reported, the run goes on
                with lock:
                    result.errors += 1
                    result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                time.sleep(0.01)
                continue
            end = time.perf_counter()
            if claim_s is None:
                with lock:
                    result.empty_claims += 1
                time.sleep(0.002)
                continue
            with consumed.get_lock():
                consumed.value += 1
                if consumed.value >= max_consumed and not instants[2]:
                    instants[2] = end
                    stop.set()
            with lock:
                result.consumed += 1
                if warm_end <= end <= (instants[2] or deadline):
                    result.pairs += 1
                    if start >= warm_end:
                        latencies.append(claim_s)
        with lock:
            result.latencies.extend(latencies)

    try:
        shared.ready.wait()
        shared.go.wait()
        threads = [threading.Thread(target=loop, args=(pair,), daemon=True) for pair in pairs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        shared.results.put(result)
        if container is not None:
            container.engine.dispose()
        for claimer in raw:
            claimer.close()


def _drive(
    name: str,
    shards: Sequence[_Shard],
    admin: psycopg.Connection[Any],
    *,
    warmup_s: float,
    duration_s: float,
    max_consumed: int,
) -> PhaseResult:
    """Run the shards, one process each, and fold what they counted. CPU of the claimer
    processes, of PostgreSQL and of the machine is sampled around the measured window."""
    context = multiprocessing.get_context("spawn")
    parties = len(shards) + 1
    shared = _Shared(
        ready=context.Barrier(parties),
        go=context.Barrier(parties),
        instants=context.Array("d", 3),
        consumed=context.Value("q", 0),
        stop=context.Event(),
        results=context.Queue(),
    )
    processes = [
        context.Process(target=_run_shard, args=(shard, shared, max_consumed), daemon=True)
        for shard in shards
    ]
    for process in processes:
        process.start()
    pids = [process.pid for process in processes if process.pid is not None]
    result = PhaseResult(name, sum(len(shard.agents) for shard in shards))
    try:
        shared.ready.wait(timeout=300)
        start = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in every process
        shared.instants[0] = warm_end = start + warmup_s
        shared.instants[1] = deadline = warm_end + duration_s
        shared.go.wait(timeout=60)
        if not shared.stop.wait(warmup_s):
            before = _Sample.take(admin, pids)
            shared.stop.wait(max(0.0, deadline - time.perf_counter()))
            after = _Sample.take(admin, pids)
        else:
            before = after = _Sample.take(admin, pids)
        shared.stop.set()
        for _ in processes:
            part: _ShardResult = shared.results.get(timeout=300)
            result.pairs += part.pairs
            result.consumed += part.consumed
            result.empty_claims += part.empty_claims
            result.errors += part.errors
            result.first_error = result.first_error or part.first_error
            result.latencies.extend(part.latencies)
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    end = min(shared.instants[2] or deadline, deadline)
    result.window_s = max(0.0, end - warm_end)
    result.measure(before, after)
    return result


# -- the two drivers: service layer and raw SQL ------------------------------------------------


def _container(url: str, pool_size: int) -> Container:
    """As app.build_container, with a pool for every claimer. Leases of 300 s: no lease may
    expire during a run (a pair takes milliseconds)."""
    settings = Settings(database_url=url)
    engine = make_engine(settings.sqlalchemy_url, pool_size=pool_size)
    clock = SystemClock()
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock,
    )


def _service_pair(container: Container, agent_id: uuid.UUID) -> Pair:
    """As the API's claim and submit routes: each on a pooled Core connection."""
    engine, dispatcher = container.engine, container.dispatcher

    def pair() -> float | None:
        start = time.perf_counter()
        with engine.connect() as connection:
            lease = dispatcher.claim(connection, agent_id)
        claim_s = time.perf_counter() - start
        if lease is None:
            return None
        with engine.connect() as connection:
            dispatcher.submit(connection, agent_id, lease.item_id, lease.attempt, RESULT)
        return claim_s

    return pair


def _pyformat(statement: str) -> str:
    """:name placeholders as psycopg's %(name)s."""
    if "::" in statement or "%" in statement:
        raise ValueError("the claim statement has '::' or '%': convert it by hand")
    return re.sub(r"(?<![\w:]):([A-Za-z_]\w*)", r"%(\1)s", statement)


def _compiled(statement: Any) -> tuple[str, dict[str, Any]]:
    """A statement of the service as the SQL psycopg gets, with its constant parameters."""
    compiled = statement.compile(dialect=PGDialect_psycopg())  # type: ignore[no-untyped-call]
    return compiled.string, dict(compiled.params)


# The service's own statements (work.statements and delivery.outbox), compiled once.
RAW_SUBMIT_EVENTS, _ = _compiled(statements.INSERT_SUBMIT_EVENTS)
RAW_SUBMIT, RAW_SUBMIT_CONSTANTS = _compiled(statements.SUBMIT)
RAW_SUBSCRIPTIONS, _ = _compiled(outbox._ACTIVE_SUBSCRIPTIONS)


class _RawClaimer:
    """A claimer on a plain psycopg connection: the service's statements, no service layer."""

    def __init__(
        self,
        conninfo: str,
        agent_id: uuid.UUID,
        queues: Sequence[tuple[int, str]],
        lease_s: int = 300,
    ) -> None:
        self.conn = psycopg.connect(conninfo)
        self.agent_id = agent_id
        self.actor = f"agent:{agent_id}"
        self.queues = queues_param(queues)
        self.claim = _pyformat(claim_postgres_sql(candidates_per_key(len(queues))))
        self.lease_s = lease_s

    def close(self) -> None:
        self.conn.close()

    def _event(
        self,
        row: dict[str, Any],
        n: int,
        seq: int,
        at: datetime,
        steps: tuple[str, str],
        attempt: int,
    ) -> dict[str, Any]:
        """Row `n` of submit's two-row event insert, as its parameters."""
        return {
            f"client_id_{n}": row["client_id"],
            f"work_item_id_{n}": row["id"],
            f"seq_{n}": seq,
            f"at_{n}": at,
            f"from_state_{n}": steps[0],
            f"to_state_{n}": steps[1],
            f"actor_{n}": self.actor,
            f"attempt_{n}": attempt,
        }

    def pair(self) -> float | None:
        conn = self.conn
        start = time.perf_counter()
        now = datetime.now(UTC)
        conn.autocommit = True  # the claim is one statement, its own transaction, as in the service
        with conn.cursor() as cur:
            row = cur.execute(
                self.claim,
                {
                    "agent_id": self.agent_id,
                    "lease_expires_at": datetime.fromtimestamp(now.timestamp() + self.lease_s, UTC),
                    "now": now,
                    "queues": self.queues,
                    "actor": self.actor,
                },
            ).fetchone()
        conn.autocommit = False
        if row is None:
            return None
        attempt = row[4]
        claim_s = time.perf_counter() - start
        now = datetime.now(UTC)
        with conn.cursor(row_factory=dict_row) as cur:
            item = cur.execute(
                RAW_SUBMIT,
                RAW_SUBMIT_CONSTANTS
                | {
                    "now": now,
                    "result_value": Jsonb(RESULT),
                    "item_client_id": row[0],
                    "item_id": row[1],
                    "held_attempt": attempt,
                    "agent_id": self.agent_id,
                },
            ).fetchone()
            if item is None:
                raise RuntimeError(f"lease lost on {row[1]}")
            if item["state"] != "delivered":
                raise RuntimeError("the benchmark's process has no QA: submit must deliver")
            before = item["version"] - 2  # it returns the item as it now is
            cur.execute(
                RAW_SUBMIT_EVENTS,
                self._event(item, 0, before + 1, now, ("leased", "submitted"), attempt)
                | self._event(item, 1, before + 2, now, ("submitted", "delivered"), attempt),
            )
            if item["notify"]:  # the client has subscriptions: what the outbox reads
                cur.execute(RAW_SUBSCRIPTIONS, {"client_id": item["client_id"]}).fetchall()
        conn.commit()
        return claim_s


# -- correctness ---------------------------------------------------------------------------------

_VIOLATIONS = """
SELECT count(*) FROM (
    SELECT work_item_id,
           count(*) FILTER (WHERE to_state = 'leased') AS leases,
           count(DISTINCT attempt) FILTER (WHERE to_state = 'leased') AS attempts,
           count(*) FILTER (WHERE to_state = 'delivered') AS deliveries,
           count(DISTINCT actor) AS actors
    FROM work_item_events
    WHERE to_state IN ('leased', 'submitted', 'delivered')
    GROUP BY client_id, work_item_id
) per_item
WHERE leases > 1 OR attempts <> leases OR deliveries > 1
   OR (deliveries = 1 AND leases <> 1) OR actors > 1
"""


@dataclass(frozen=True)
class Audit:
    violations: int  # items leased twice, delivered twice, or touched by two agents
    delivered: int
    left_leased: int
    inconsistent_rows: int  # work_items rows that disagree with their events
    lost: int = 0  # items seeded but neither queued, leased nor delivered (or gone)


def _audit(admin: psycopg.Connection[Any], seeded: int) -> Audit:
    """No lease expires and none is released in these runs, so every item an agent took must
    show exactly one lease (attempt 1), at most one delivery, and one agent throughout: a
    second lease of an item while another agent held it would break one of these. Every one
    of the `seeded` items must still be there, queued, leased or delivered."""
    violations = admin.execute(_VIOLATIONS).fetchone()
    counts = admin.execute(
        "SELECT count(*) FILTER (WHERE state = 'delivered'), "
        "count(*) FILTER (WHERE state = 'leased'), "
        "count(*) FILTER (WHERE state IN ('delivered', 'leased') AND attempt <> 1) "
        "+ count(*) FILTER (WHERE state = 'delivered' AND version <> 4) "
        "+ count(*) FILTER (WHERE state = 'queued' AND attempt <> 0), "
        "count(*) FILTER (WHERE state IN ('queued', 'leased', 'delivered')) "
        "FROM work_items"
    ).fetchone()
    delivered_events = admin.execute(
        "SELECT count(*) FROM work_item_events WHERE to_state = 'delivered'"
    ).fetchone()
    assert violations and counts and delivered_events
    mismatch = abs(int(counts[0]) - int(delivered_events[0]))
    return Audit(
        int(violations[0]),
        int(counts[0]),
        int(counts[1]),
        int(counts[2]) + mismatch,
        lost=max(0, seeded - int(counts[3])),
    )


# -- the benchmark -------------------------------------------------------------------------------


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    server = require_postgres_url(postgres_url, "dispatch")
    sizes = Sizes.of(quick)
    figures: dict[str, Any] = {
        "benchmark": "dispatch",
        "quick": quick,
        "items_queued": sizes.items,
        "items_queued_small": sizes.items_small,
        "routing_keys": ROUTING_KEYS,
        "claimers": CLAIMERS,
        "latency_claimers": LATENCY_CLAIMERS,
        "duration_s": sizes.duration_s,
        "repeats": sizes.repeats,
        "warmup_s": sizes.warmup_s,
        "cpu_cores": os.cpu_count(),
        "busy_cores_before": _busy_cores_before(log),
    }
    _check_connections(server, log)
    audits: list[Audit] = []
    started = time.perf_counter()
    service = PhaseResult("service, 64 claimers", CLAIMERS)
    raw = PhaseResult("raw SQL, 64 claimers", CLAIMERS)

    with scratch_database(server, "tandem_bench_dispatch", log) as database:
        operation = _create_operation(database.sqlalchemy_url, CLAIMERS)
        log(f"seeding {sizes.items:,} queued items over {ROUTING_KEYS} routing keys (COPY)")
        seed_start = time.perf_counter()
        _seed(database, operation, sizes.items, seed=1)
        with psycopg.connect(database.conninfo, autocommit=True) as admin:
            _vacuum(admin)
            figures["seed_s"] = round(time.perf_counter() - seed_start, 1)
            log(f"seeded in {figures['seed_s']} s (COPY, VACUUM ANALYZE included)")
            budget = max(1, sizes.items // 8)  # binds only in quick runs: never run dry

            def measure(name: str, driver: str, claimers: int = CLAIMERS) -> PhaseResult:
                return _phase(
                    name,
                    driver,
                    database,
                    operation,
                    admin,
                    claimers,
                    sizes.warmup_s,
                    sizes.duration_s,
                    budget,
                    log,
                )

            # Just after the bulk load the caches are cold and the first phase runs about a
            # fifth slower than the ones after it (measured: 280 pairs/s, then 320-410): a
            # phase of its own, reported as cold_start_per_s and not counted, warms them.
            cold = measure("cold start (not counted)", "service")
            figures["cold_start_per_s"] = round(cold.rate, 1)
            # Service and raw SQL alternate (A B A B), so that drift on a shared machine
            # falls on both alike.
            for repeat in range(1, sizes.repeats + 1):
                for total, driver in ((service, "service"), (raw, "raw")):
                    total.add(measure(f"{total.name}, {repeat} of {sizes.repeats}", driver))
            latency, raw_latency = (
                # The same at 16 claimers without the service layer: how much of the claim
                # latency is PostgreSQL's.
                measure(f"{label}, {LATENCY_CLAIMERS} claimers", driver, LATENCY_CLAIMERS)
                for label, driver in (("service", "service"), ("raw SQL", "raw"))
            )
            figures["queued_at_end"] = _queued(admin)
            audits.append(_audit(admin, sizes.items))

    with scratch_database(server, "tandem_bench_dispatch_small", log) as database:
        operation = _create_operation(database.sqlalchemy_url, CLAIMERS)
        log(f"seeding {sizes.items_small:,} queued items")
        _seed(database, operation, sizes.items_small, seed=2)
        with psycopg.connect(database.conninfo, autocommit=True) as admin:
            _vacuum(admin)
            rounds_small = _small_queue_rounds(database, operation, admin, sizes, log)
            cold_small, small = rounds_small.cold, rounds_small.total
            figures["cold_start_10k_per_s"] = round(cold_small.rate, 1)
            figures["queue_min_small"] = rounds_small.lowest
            figures["rounds_small"] = rounds_small.rounds
            audits.append(_audit(admin, rounds_small.seeded))

    phases = (cold, service, raw, latency, raw_latency, cold_small, small)
    figures.update(
        {
            "throughput_per_s": round(service.rate, 1),
            "throughput_10k_per_s": round(small.rate, 1),
            "ratio_1m_vs_10k": _ratio(service.rate, small.rate),
            "raw_sql_per_s": round(raw.rate, 1),
            "service_ratio": _ratio(service.rate, raw.rate),
            "p50_claim_ms": latency.percentile_ms(0.50),
            "p99_claim_ms": latency.percentile_ms(0.99),
            "latency_throughput_per_s": round(latency.rate, 1),
            "p50_claim_ms_64": service.percentile_ms(0.50),
            "p99_claim_ms_64": service.percentile_ms(0.99),
            "raw_p50_claim_ms": raw.percentile_ms(0.50),
            "raw_p99_claim_ms": raw.percentile_ms(0.99),
            "raw_p50_claim_ms_16": raw_latency.percentile_ms(0.50),
            "raw_p99_claim_ms_16": raw_latency.percentile_ms(0.99),
            "raw_latency_throughput_per_s": round(raw_latency.rate, 1),
            "double_assignments": sum(a.violations for a in audits),
            "inconsistent_rows": sum(a.inconsistent_rows for a in audits),
            "delivered_in_db": sum(a.delivered for a in audits),
            "pairs_completed": sum(p.consumed for p in phases),
            "leases_left_open": sum(a.left_leased for a in audits),
            "lost_items": sum(a.lost for a in audits),
            "empty_claims": sum(p.empty_claims for p in phases),
            "errors": sum(p.errors for p in phases),
            "first_error": next((p.first_error for p in phases if p.first_error), None),
        }
    )
    for key, phase in (("service", service), ("raw", raw), ("10k", small), ("latency", latency)):
        figures.update(_resources(key, phase))
    figures["bound_by"] = _bound_by(service, raw)
    missed = _missed_targets(figures)
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def _resources(key: str, phase: PhaseResult) -> dict[str, Any]:
    """CPU (in cores, and in ms per claim+submit pair) and WAL figures of one phase."""
    out: dict[str, Any] = {}

    def cores(name: str, value: float | None) -> None:
        if value is None:
            return
        out[f"{name}_cores_{key}"] = round(value, 2)
        if phase.rate and name in ("client_cpu", "server_cpu"):
            out[f"{name}_ms_per_pair_{key}"] = round(value / phase.rate * 1000, 2)

    cores("client_cpu", phase.client_cores)
    cores("server_cpu", phase.server_side_cores())
    cores("other_cpu", phase.other_cores)
    cores("machine_cpu", phase.machine_cores)
    cores("iowait", phase.iowait_cores)
    if phase.pairs:
        if phase.wal_bytes is not None:
            out[f"wal_bytes_per_pair_{key}"] = phase.wal_bytes // phase.pairs
        if phase.wal_records is not None:
            out[f"wal_records_per_pair_{key}"] = round(phase.wal_records / phase.pairs, 1)
        if phase.wal_syncs:
            out[f"commits_per_wal_sync_{key}"] = round(2 * phase.pairs / phase.wal_syncs, 1)
    return out


def _phase(
    name: str,
    driver: str,
    database: ScratchDatabase,
    operation: Operation,
    admin: psycopg.Connection[Any],
    claimers: int,
    warmup_s: float,
    duration_s: float,
    budget: int,
    log: Log,
) -> PhaseResult:
    """One measured run of `claimers` threads, through the service layer or as raw SQL, after
    a VACUUM (the dead rows of earlier runs) and a CHECKPOINT (so each run pays the same
    full-page writes)."""
    _vacuum(admin, analyze=False)
    _checkpoint(admin)
    agents = operation.agents[:claimers]
    log(f"{name}: {warmup_s:g} s warm-up, {duration_s:g} s measured")
    queues = tuple(sorted((operation.client_id, q.routing_key) for q in operation.queues))
    shards = [
        _Shard(driver, database, tuple(agents[i::CLAIMER_PROCESSES]), queues)
        for i in range(min(CLAIMER_PROCESSES, len(agents)))
    ]
    result = _drive(
        name,
        shards,
        admin,
        warmup_s=warmup_s,
        duration_s=duration_s,
        max_consumed=budget,
    )
    _report(result, log)
    return result


@dataclass(frozen=True)
class SmallQueueRounds:
    cold: PhaseResult  # the discarded phase just after the bulk load
    total: PhaseResult  # the counted rounds, folded
    lowest: int  # the lowest queue depth a counted round reached
    rounds: int  # counted rounds
    seeded: int  # items queued in all, top-ups included


def _small_queue_rounds(
    database: ScratchDatabase,
    operation: Operation,
    admin: psycopg.Connection[Any],
    sizes: Sizes,
    log: Log,
) -> SmallQueueRounds:
    """64 claimers at the small queue, in rounds of at most `duration_s` that also stop once
    half the queue was taken; before each round the queue is topped up to its size (COPY), so
    it is measured between full and half full, never empty. As at 1,000,000 queued, a whole
    round just after the bulk load warms the caches and is not counted."""
    total = PhaseResult("service, 64 claimers, small queue", CLAIMERS)
    budget = sizes.items_small // 2
    wanted = sizes.repeats * sizes.duration_s
    lowest = sizes.items_small
    seeded = sizes.items_small
    rounds = 0

    def one_round(name: str, duration_s: float) -> tuple[PhaseResult, int]:
        nonlocal seeded
        depth = _queued(admin)
        if depth < sizes.items_small:
            _seed(database, operation, sizes.items_small - depth, seed=100 + rounds)
            seeded += sizes.items_small - depth
            _vacuum(admin)
            depth = _queued(admin)
        one = _phase(
            name.format(depth=depth),
            "service",
            database,
            operation,
            admin,
            CLAIMERS,
            sizes.warmup_s,
            duration_s,
            budget,
            log,
        )
        return one, depth

    cold, _ = one_round("cold start, 64 claimers, {depth:,} queued (not counted)", sizes.duration_s)
    while total.window_s < wanted - 0.5 and rounds < sizes.small_rounds_max:
        rounds += 1
        one, depth = one_round(
            f"service, 64 claimers, {{depth:,}} queued, round {rounds}",
            min(sizes.duration_s, wanted - total.window_s),
        )
        lowest = min(lowest, depth - one.consumed)
        total.add(one)
    return SmallQueueRounds(cold, total, lowest, rounds, seeded)


def _report(result: PhaseResult, log: Log) -> None:
    server = result.server_side_cores()
    other = result.other_cores
    log(
        f"  {result.rate:,.0f} pairs/s ({result.pairs:,} in {result.window_s:.1f} s), claim "
        f"p50 {result.percentile_ms(0.5)} ms p99 {result.percentile_ms(0.99)} ms; CPU cores: "
        f"claimers {result.client_cores:.2f}, PostgreSQL "
        f"{'?' if server is None else f'{server:.2f}'}, other "
        f"{'?' if other is None else f'{other:.2f}'}; errors {result.errors}, empty claims "
        f"{result.empty_claims}"
    )
    if result.first_error:
        log(f"  first error: {result.first_error}")
    if other is not None and other > 0.25:
        log(f"  note: {other:.2f} cores went to other processes during this run")


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def cpu_busy_seconds() -> float | None:
    """Seconds all CPUs have been busy since boot (Linux /proc/stat); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _io, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / float(os.sysconf("SC_CLK_TCK"))


def busy_cores_now(seconds: float = 1.0) -> float | None:
    """Cores busy machine-wide over a short pause: other load skews every figure."""
    before = cpu_busy_seconds()
    time.sleep(seconds)
    after = cpu_busy_seconds()
    return None if before is None or after is None else round((after - before) / seconds, 2)


def _busy_cores_before(log: Log) -> float | None:
    busy = busy_cores_now()
    if busy is not None and busy > 0.25:
        log(f"note: {busy:.2f} cores were busy before the benchmark started")
    return busy


def _check_connections(server: str, log: Log) -> None:
    """64 claimers need 64 connections (and the pool must not be short): say so up front."""
    with _admin_connect(server) as admin:
        row = admin.execute(
            "SELECT current_setting('max_connections')::int, "
            "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        ).fetchone()
    if row is None:
        return
    limit, used = int(row[0]), int(row[1])
    if limit - used < CLAIMERS + 3:
        raise RuntimeError(
            f"the server allows {limit} connections and {used} are in use: the benchmark "
            f"needs {CLAIMERS + 3} free"
        )
    if used > 1:
        log(
            f"note: {used - 1} other connection(s) are open on the server; other load skews "
            "the figures"
        )


def _bound_by(service: PhaseResult, raw: PhaseResult) -> str:
    """What limited the absolute rates, read from the counters measured during the runs."""
    cores = os.cpu_count() or 1
    parts = []
    for label, phase in (("service layer", service), ("raw SQL", raw)):
        server = phase.server_side_cores() or 0.0
        busy = phase.machine_cores
        if phase.client_cores >= 0.9 * CLAIMER_PROCESSES:
            limit = (
                f"the Python clients at {phase.client_cores:.2f} cores, the one core each of "
                f"the {CLAIMER_PROCESSES} claimer processes gets under the GIL"
            )
        elif busy is not None and busy >= 0.85 * cores:
            limit = f"the machine's {cores} cores, saturated ({busy:.2f} busy)"
        else:
            limit = "neither CPU nor fsync (lock waits and commit round trips)"
        per_pair = ""
        if phase.rate:
            per_pair = (
                f"; CPU per claim+submit pair {phase.client_cores / phase.rate * 1000:.1f} ms "
                f"in Python + {server / phase.rate * 1000:.1f} ms in PostgreSQL"
            )
        parts.append(f"{label}: {limit}{per_pair}")
    notes = []
    if raw.wal_records is not None and raw.pairs:
        records = raw.wal_records / raw.pairs
        if records >= ROUTING_KEYS:
            notes.append(
                f"{records:.0f} WAL records per pair: the claim statement locks the head row "
                f"of each of the {ROUTING_KEYS} routing keys it probes and skips rows other "
                "open claims hold, so its cost grows with the claims in flight"
            )
    iowaits = [p.iowait_cores for p in (service, raw) if p.iowait_cores is not None]
    if iowaits and max(iowaits) < 0.1:
        notes.append(f"fsync is not the limit (iowait {max(iowaits):.2f} cores)")
    others = [p.other_cores for p in (service, raw) if p.other_cores is not None]
    if others and max(others) > 0.25:
        notes.append(f"other processes took up to {max(others):.2f} cores during the runs")
    return "; ".join([*parts, *notes])


def _missed_targets(figures: dict[str, Any]) -> list[str]:
    def at_least(key: str, floor: float) -> bool:
        value = figures.get(key)
        return value is not None and value >= floor

    def at_most(key: str, ceiling: float) -> bool:
        value = figures.get(key)
        return value is not None and value <= ceiling

    checks = (
        (at_least("service_ratio", 0.6), "service_ratio >= 0.6"),
        (at_least("ratio_1m_vs_10k", 0.8), "ratio_1m_vs_10k >= 0.8"),
        (at_most("p99_claim_ms", 50), "p99_claim_ms <= 50"),
        (at_most("double_assignments", 0), "double_assignments == 0"),
    )
    missed = [label for ok, label in checks if not ok]
    return missed + _failures(figures)


def _failures(figures: dict[str, Any]) -> list[str]:
    """What went wrong during the run, whatever the rates: each fails it."""
    failures = []
    if errors := figures.get("errors"):
        failures.append(f"errors == 0 (got {errors}; first: {figures.get('first_error')})")
    for key, what in (
        ("leases_left_open", "items claimed and never submitted"),
        ("lost_items", "items seeded but neither queued, leased nor delivered"),
        ("inconsistent_rows", "items whose row disagrees with their events"),
    ):
        if value := figures.get(key):
            failures.append(f"{key} == 0 (got {value}: {what})")
    completed, delivered = figures.get("pairs_completed"), figures.get("delivered_in_db")
    if completed is not None and delivered is not None and completed != delivered:
        failures.append(
            f"pairs_completed == delivered_in_db (got {completed} and {delivered}: deliveries "
            "the claimers counted and the database holds differ)"
        )
    return failures
