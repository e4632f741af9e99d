"""`tandem bench intake`: one CSV file through the real intake service, on both databases.

A 100,000-row CSV (5,000 with --quick) of a process whose input form has eight fields
(strings, an e-mail, a number, an integer, a date, a boolean, an enum) is generated in a
temporary directory, then queued with `tandem.intake.service.ingest_file` (streaming,
validation, all_or_nothing) into a scratch PostgreSQL database and into a SQLite file, each
migrated first. The rows and event rows written are counted afterwards. The same file is also
read and validated without any database, to tell the cost of parsing and validation from the
cost of writing.

With TANDEM_BENCH_INTAKE_COLLECTOR=compare, the same file is then queued again on each
database with the cyclic garbage collector paused while it streams (as the product runs:
tandem.core.runtime.paused_cycle_collection) and left running, back to back, three times
each in alternating order, each in a fresh database: `<db>_rows_per_s_collector_paused` and
`_running` (best of three each) and `<db>_collector_share`, the share of the intake's time
the collector's passes take when it runs (1 - running / paused).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import itertools
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tandem.bench.dispatch import (
    busy_cores_now,
    cpu_busy_seconds,
    require_postgres_url,
    scratch_database,
)
from tandem.catalog.forms import Form
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.core.migrate import upgrade
from tandem.intake.readers import read_rows
from tandem.intake.service import ingest_file
from tandem.tenancy.principal import SYSTEM
from tandem.tenancy.service import create_client
from tandem.vault.sealing import Keyring
from tandem.work import chunks
from tandem.work.models import Batch, WorkItem, WorkItemEvent

Log = Callable[[str], None]

TARGET_ROWS_PER_S = 20_000
COLLECTOR_SWITCH = "TANDEM_BENCH_INTAKE_COLLECTOR"  # "compare": collector paused vs running
COLLECTOR_ROUNDS = 3
_PAUSE = "paused_cycle_collection"  # what tandem.work.chunks pauses the collector with
CATEGORIES = ["auto", "home", "health", "travel", "life"]
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["claim_no", "customer", "amount", "lines", "incident_date", "urgent", "category"],
    "additionalProperties": False,
    "properties": {
        "claim_no": {"type": "string", "pattern": "^CLM-[0-9]{8}$"},
        "customer": {"type": "string", "minLength": 2, "maxLength": 120},
        "email": {"type": "string", "format": "email", "maxLength": 200},
        "amount": {"type": "number", "minimum": 0},
        "lines": {"type": "integer", "minimum": 1, "maximum": 500},
        "incident_date": {"type": "string", "format": "date"},
        "urgent": {"type": "boolean"},
        "category": {"type": "string", "enum": CATEGORIES},
    },
}
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["decision"],
    "properties": {"decision": {"type": "string", "enum": ["pay", "deny", "investigate"]}},
}
FIRST = ["Maria", "Jose", "Ana", "Priya", "Arjun", "Piotr", "Kasia", "Grace", "Paolo", "Zofia"]
LAST = ["Santos", "Reyes", "Sharma", "Iyer", "Kowalski", "Nowak", "Garcia", "Patel", "Rao"]


def write_csv(path: Path, rows: int, seed: int = 5) -> None:
    """Rows valid for INPUT_SCHEMA, as a spreadsheet would export them (all text)."""
    rng = random.Random(seed)
    start = date(2023, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(INPUT_SCHEMA["properties"])
        for n in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow(
                [
                    f"CLM-{n:08d}",
                    f"{first} {last}",
                    f"{first.lower()}.{last.lower()}{n}@example.com" if n % 7 else "",
                    f"{rng.uniform(50, 25_000):.2f}",
                    str(rng.randint(1, 40)),
                    (start + timedelta(days=rng.randrange(700))).isoformat(),
                    rng.choice(("true", "false")),
                    rng.choice(CATEGORIES),
                ]
            )


def _validate_only(path: Path) -> tuple[int, int, float]:
    """Read and validate every row as ingest_file does, writing nothing: (rows, bad, s)."""
    form = Form(INPUT_SCHEMA)
    rows = bad = 0
    start = time.perf_counter()
    with path.open("rb") as stream:
        for row in read_rows(stream, "csv"):
            _, errors = form.validate(row.values, row.number)
            rows += 1
            bad += bool(errors)
    return rows, bad, time.perf_counter() - start


def ingest(
    url: str, path: Path, label: str, log: Log, input_schema: dict[str, Any] = INPUT_SCHEMA
) -> dict[str, Any]:
    """Define the process, then time ingest_file on the file and count what was written."""
    settings = Settings(database_url=url)
    engine = make_engine(settings.sqlalchemy_url)
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    try:
        with transaction(sessions) as session:
            now = clock.now()
            client = create_client(
                session, code="bench", name="Bench Insurance", timezone="America/New_York", now=now
            )
            process = define_process(
                session,
                client.id,
                ProcessDefinition(
                    code="claims-keying",
                    name="First notice of loss keying",
                    kind="data_entry",
                    input_schema=input_schema,
                    form_schema=FORM_SCHEMA,
                    sla_minutes=480,
                    sla_mode="business_hours",
                ),
                now=now,
            )
        log(f"{label}: ingesting {path.name}")
        machine_before, cpu_before = cpu_busy_seconds(), time.process_time()
        start = time.perf_counter()
        with path.open("rb") as stream:
            report = ingest_file(
                sessions,
                SYSTEM,
                process.id,
                stream,
                filename=path.name,
                clock=clock,
                at_risk_fraction=settings.at_risk_fraction,
                keyring=Keyring(*settings.master_keys),
                mode="all_or_nothing",
            )
        elapsed = time.perf_counter() - start
        python_cores = (time.process_time() - cpu_before) / elapsed if elapsed else 0.0
        machine_after = cpu_busy_seconds()
        rest_cores = None
        if machine_before is not None and machine_after is not None and elapsed:
            rest_cores = max(0.0, (machine_after - machine_before) / elapsed - python_cores)
        with sessions() as session:
            items = (
                session.scalar(
                    select(func.count())
                    .select_from(WorkItem)
                    .where(
                        WorkItem.client_id == client.id,
                        WorkItem.batch_id == report.id,
                        WorkItem.state == "queued",
                    )
                )
                or 0
            )
            events = (
                session.scalar(
                    select(func.count())
                    .select_from(WorkItemEvent)
                    .where(
                        WorkItemEvent.client_id == client.id,
                        WorkItemEvent.actor == f"batch:{report.id}",
                        WorkItemEvent.seq == 1,
                    )
                )
                or 0
            )
            batch = session.get_one(Batch, (client.id, report.id))
            accepted = batch.rows_accepted
    finally:
        engine.dispose()
    rate = report.rows_total / elapsed if elapsed > 0 else 0.0
    log(
        f"{label}: {report.rows_total:,} rows in {elapsed:.2f} s = {rate:,.0f} rows/s "
        f"({report.status}; {items:,} items and {events:,} events in the database)"
    )
    return {
        "rows_per_s": round(rate, 1),
        "seconds": round(elapsed, 2),
        "status": report.status,
        "rows_accepted": report.rows_accepted,
        "rows_rejected": report.rows_rejected,
        "rows_verified": int(items),
        "events_verified": int(events),
        "batch_rows_accepted": accepted,
        # Cores used while ingesting: this process (Python and, for SQLite, the database
        # engine too), and the rest of the machine (the PostgreSQL server, anything else).
        "python_cores": round(python_cores, 2),
        "rest_cores": None if rest_cores is None else round(rest_cores, 2),
    }


@contextlib.contextmanager
def sqlite_file(path: Path) -> Iterator[str]:
    """A migrated SQLite database at `path`, removed afterwards (100,000 rows take 100 MB)."""
    url = f"sqlite:///{path}"
    upgrade(url)
    try:
        yield url
    finally:
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            file.unlink(missing_ok=True)


@contextlib.contextmanager
def collector_running() -> Iterator[None]:
    """Intake with the cyclic garbage collector left running while a file streams: the
    chunk writer's pause (tandem.work.chunks.ChunkWriter) is replaced by nothing."""
    if not gc.isenabled():
        raise RuntimeError("the cyclic garbage collector is disabled: nothing to compare")
    pause = getattr(chunks, _PAUSE)
    setattr(chunks, _PAUSE, contextlib.nullcontext)
    try:
        yield
    finally:
        setattr(chunks, _PAUSE, pause)


def _collector_comparison(
    label: str, database: Callable[[], AbstractContextManager[str]], path: Path, log: Log
) -> dict[str, Any]:
    """The same intake with the collector paused and running, back to back, alternating
    which goes first, each in a fresh database: best of COLLECTOR_ROUNDS each."""
    rates: dict[str, list[float]] = {"paused": [], "running": []}
    order: list[tuple[str, Callable[[], AbstractContextManager[None]]]] = [
        ("paused", contextlib.nullcontext),
        ("running", collector_running),
    ]
    for round_ in range(COLLECTOR_ROUNDS):
        for kind, setting in order if round_ % 2 == 0 else order[::-1]:
            with database() as url, setting():
                result = ingest(url, path, f"{label}, collector {kind}", log)
            if result["rows_verified"] != result["rows_accepted"]:
                raise RuntimeError(f"{label}, collector {kind}: rows missing after intake")
            rates[kind].append(result["rows_per_s"])
    paused, running = max(rates["paused"]), max(rates["running"])
    share = 1 - running / paused if paused else None
    log(
        f"{label}: {paused:,.0f} rows/s with the collector paused, {running:,.0f} with it "
        f"running: its passes take {'?' if share is None else f'{share:.1%}'} of the time"
    )
    return {
        f"{label}_rows_per_s_collector_paused": paused,
        f"{label}_rows_per_s_collector_running": running,
        f"{label}_collector_share": None if share is None else round(share, 3),
        f"{label}_rows_per_s_collector_paused_all": rates["paused"],
        f"{label}_rows_per_s_collector_running_all": rates["running"],
    }


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    server = require_postgres_url(postgres_url, "intake")
    compare_collector = os.environ.get(COLLECTOR_SWITCH, "") == "compare"
    collector: dict[str, Any] = {}
    rows = 5_000 if quick else 100_000
    figures: dict[str, Any] = {
        "benchmark": "intake",
        "quick": quick,
        "rows": rows,
        "fields": len(INPUT_SCHEMA["properties"]),
        "mode": "all_or_nothing",
    }
    figures["busy_cores_before"] = busy_cores_now()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-intake-") as tmp:
        path = Path(tmp) / "claims.csv"
        write_csv(path, rows)
        figures["file_mb"] = round(path.stat().st_size / 1e6, 2)
        log(f"wrote {rows:,} rows to {path} ({figures['file_mb']} MB)")

        read, bad, seconds = _validate_only(path)
        figures["validate_only_rows_per_s"] = round(read / seconds, 1) if seconds else None
        figures["validate_only_bad_rows"] = bad
        log(
            f"read and validated without a database: {figures['validate_only_rows_per_s']:,} rows/s"
        )

        with scratch_database(server, "tandem_bench_intake", log) as database:
            postgres = ingest(database.sqlalchemy_url, path, "PostgreSQL", log)

        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(sqlite_url)
        sqlite = ingest(sqlite_url, path, "SQLite", log)

        if compare_collector:
            runs = itertools.count()

            @contextlib.contextmanager
            def fresh_sqlite() -> Iterator[str]:
                with sqlite_file(Path(tmp) / f"collector-{next(runs)}.db") as url:
                    yield url

            @contextlib.contextmanager
            def fresh_postgres() -> Iterator[str]:
                with scratch_database(server, "tandem_bench_intake", log) as database:
                    yield database.sqlalchemy_url

            collector["collector_rounds"] = COLLECTOR_ROUNDS
            collector.update(_collector_comparison("postgres", fresh_postgres, path, log))
            collector.update(_collector_comparison("sqlite", fresh_sqlite, path, log))

    for prefix, result in (("postgres", postgres), ("sqlite", sqlite)):
        for key, value in result.items():
            figures[f"{prefix}_{key}"] = value
    missed = [
        f"{prefix}_rows_per_s >= {TARGET_ROWS_PER_S:,}"
        for prefix, result in (("postgres", postgres), ("sqlite", sqlite))
        if result["rows_per_s"] < TARGET_ROWS_PER_S
    ]
    wrong = [
        f"{prefix}: {result['rows_verified']} rows written of {rows}"
        for prefix, result in (("postgres", postgres), ("sqlite", sqlite))
        if result["rows_verified"] != rows or result["events_verified"] != rows
    ]
    figures.update(collector)
    figures["rows_verified"] = not wrong
    figures["verification_problems"] = "; ".join(wrong)
    figures["targets_met"] = not missed and not wrong
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures
