"""`tandem bench decisions`: applications through the whole straight-through path, the raw
engine beside it, and a backtest.

A 100,000-row CSV of insurance applications (5,000 with --quick; about 8% abroad, 3% with a
field missing, the rest spread over ages, habits and health) is generated. First, on a quiet
machine, zen-engine alone (no Tandem: no worker processes, no budget) decides those
applications with the demo underwriting graph, three ways: one `evaluate` per application
(its plain API), batched 2,000 per call in one thread, and batched on every core at once
(`raw_engine_all_cores_per_s`, the ceiling: the same work the pipeline's rules do, on the
same cores, without our layer; `pipeline_ratio` divides by it, and `*_ratio_bound` says what
the ratio could reach with every core busy, from the CPU the rules and Tandem's own process
spend per item). Then, on a scratch PostgreSQL
database and on a SQLite file, each migrated and given the ruleset (published, its test cases
passing), `ingest_file` reads, validates, decides (in the rules workers, under the budget)
and stores every item with its outcome, events and decision: approvals and declines
delivered, referrals queued. Last, on PostgreSQL, a backtest of a draft (which approves
applicants abroad) over the 100,000 decided items, the referred ones judged by analysts.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tandem.audit.chain import derive_key
from tandem.bench.dispatch import busy_cores_now, require_postgres_url, scratch_database
from tandem.catalog.service import ProcessDefinition, define_process, form_of
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.core.migrate import upgrade
from tandem.decisions import backtesting, evaluator, measures, rulesets
from tandem.decisions import underwriting as uw
from tandem.decisions.models import Decision
from tandem.intake.readers import read_rows
from tandem.intake.service import ingest_file
from tandem.tenancy.context import Context
from tandem.tenancy.principal import SYSTEM
from tandem.tenancy.service import create_client
from tandem.vault.sealing import Keyring
from tandem.work.models import WorkItem

Log = Callable[[str], None]
TARGET_PIPELINE_RATIO = 0.5
TARGET_BACKTEST_S = 10.0
KEYRING = Keyring("tandem bench master key, not a secret at all")
AUDIT_KEY = derive_key("tandem bench secret, not a secret at all")
COLUMNS = list(uw.INPUT_SCHEMA["properties"])


def write_csv(path: Path, rows: int, seed: int = 9) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for n in range(rows):
            income = rng.choice((18_000, 32_000, 45_000, 60_000, 85_000, 120_000, 250_000))
            row: dict[str, Any] = {
                "applicant_name": f"Applicant {n}",
                "age": min(85, max(16, int(rng.gauss(42, 14)))),
                "country": "US" if rng.random() > 0.08 else rng.choice(("GB", "CA", "MX", "PH")),
                "policy_type": rng.choice(("term_life", "whole_life", "health")),
                "coverage_amount": rng.choice((50_000, 100_000, 250_000, 500_000, 1_500_000)),
                "annual_income": income,
                "smoker": "true" if rng.random() < 0.18 else "false",
                "bmi": round(rng.uniform(17, 40), 1),
                "conditions": rng.choice((0, 0, 0, 0, 1, 1, 2, 3)),
                "claims_5y": rng.choice((0, 0, 0, 1, 2, 4)),
                "occupation_class": rng.choice((1, 1, 2, 2, 3, 4)),
            }
            if rng.random() < 0.03:
                row[rng.choice(("age", "annual_income", "bmi"))] = ""
            writer.writerow([row[c] for c in COLUMNS])


@contextmanager
def _as_provider(sessions: sessionmaker[Session]) -> Iterator[Context]:
    """A use case's context in one transaction, as the provider, now."""
    with transaction(sessions) as session:
        yield Context(session, SYSTEM, SystemClock().now(), KEYRING, AUDIT_KEY)


def _setup(url: str) -> tuple[Any, Any, Any]:
    """A client with the underwriting process and its ruleset published."""
    engine = make_engine(Settings(database_url=url).sqlalchemy_url)
    sessions = make_sessionmaker(engine)
    now = SystemClock().now()
    with transaction(sessions) as session:
        client = create_client(session, code="bench", name="Bench Life", timezone="UTC", now=now)
        process = define_process(
            session,
            client.id,
            ProcessDefinition(
                code="underwriting",
                name="Underwriting",
                kind="decision",
                input_schema=uw.INPUT_SCHEMA,
                form_schema=uw.RESULT_FORM,
                sla_minutes=480,
                sla_mode="24x7",
            ),
            now=now,
        )
        ctx = Context(session, SYSTEM, now, KEYRING, AUDIT_KEY)
        rulesets.publish_version(ctx, process.id, uw.graph(), uw.tests())
        return engine, sessions, process.id


def _pipeline(url: str, path: Path, rows: int, label: str, log: Log) -> dict[str, Any]:
    engine, sessions, process_id = _setup(url)
    try:
        log(f"{label}: intake, decision and storage of {rows:,} applications")
        start, cpu = time.perf_counter(), time.process_time()
        with path.open("rb") as stream:
            report = ingest_file(
                sessions,
                SYSTEM,
                process_id,
                stream,
                filename=path.name,
                clock=SystemClock(),
                at_risk_fraction=0.75,
                keyring=KEYRING,
            )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        with _as_provider(sessions) as ctx:
            states = dict(
                ctx.session.execute(
                    select(WorkItem.state, func.count())
                    .where(WorkItem.process_id == process_id)
                    .group_by(WorkItem.state)
                ).all()
            )
            decided = ctx.session.scalar(select(func.count()).select_from(Decision)) or 0
            measured = measures.measures(ctx, process_id)
        figures = {
            "per_s": round(rows / elapsed, 1),
            "s": round(elapsed, 2),
            # Tandem's own process (reading, forms, sealing, storing; not the rules workers)
            "main_cpu_us_per_item": round(cpu / rows * 1e6, 1),
            "accepted": report.rows_accepted,
            "delivered": states.get("delivered", 0),
            "queued": states.get("queued", 0),
            "decisions": decided,
            "stp_rate": measured.stp_rate,
            "top_referral_reasons": dict(list(measured.referral_reasons.items())[:5]),
        }
        log(f"{label}: {figures['per_s']:,} applications/s; STP rate {figures['stp_rate']}")
        return {"figures": figures, "sessions": sessions, "engine": engine, "process": process_id}
    except BaseException:
        engine.dispose()
        raise


def _payloads(path: Path) -> list[dict[str, Any]]:
    form = form_of(uw.INPUT_SCHEMA)
    with path.open("rb") as stream:
        return [form.validate(row.values, row.number)[0] for row in read_rows(stream, "csv")]


def _raw_engine(payloads: list[dict[str, Any]], log: Log) -> dict[str, Any]:
    """zen-engine alone on the same applications, three ways: one call per application (its
    plain API, the compiled decision reused), batched calls in one thread, and batched calls
    on every core at once (its asynchronous API, which runs them on its own threads)."""
    compiled = evaluator.Compiled(json.dumps(uw.graph()))
    sample = payloads[:20_000]
    start = time.perf_counter()
    for data in sample:
        compiled.one.evaluate(data)
    per_call = len(sample) / (time.perf_counter() - start)
    batches = [json.dumps({"items": payloads[i : i + 2000]}) for i in range(0, len(payloads), 2000)]
    start = time.perf_counter()
    for batch in batches:
        compiled.many.evaluate(batch)
    batched = len(payloads) / (time.perf_counter() - start)

    async def every_core() -> None:
        await asyncio.gather(*(compiled.many.async_evaluate(batch) for batch in batches))

    start = time.perf_counter()
    asyncio.run(every_core())
    all_cores = len(payloads) / (time.perf_counter() - start)
    log(
        f"zen-engine alone: {per_call:,.0f}/s one call per application, {batched:,.0f}/s "
        f"batched, {all_cores:,.0f}/s batched on every core (the ceiling)"
    )
    return {
        "raw_engine_per_s": round(per_call, 1),
        "raw_engine_batched_per_s": round(batched, 1),
        "raw_engine_all_cores_per_s": round(all_cores, 1),
    }


def _backtest(run: dict[str, Any], log: Log) -> dict[str, Any]:
    """Analysts judge every referral (about 11 in 16 approved); then a draft that approves
    applicants abroad is backtested over every decided item."""
    sessions, process_id = run["sessions"], run["process"]
    with _as_provider(sessions) as ctx:
        ctx.session.execute(
            text(
                "INSERT INTO decisions (client_id, id, work_item_id, process_id, by, outcome,"
                " reasons, ruleset_id, ruleset_version, recommended, override, actor, at) "
                "SELECT client_id, work_item_id, work_item_id, process_id, 'analyst', "
                "CASE WHEN right(CAST(work_item_id AS text), 1) IN ('0', '1', '2', '3', '4')"
                " THEN 'decline' ELSE 'approve' END, reasons,"
                " ruleset_id, ruleset_version, 'refer', true, 'agent:bench', at "
                "FROM decisions WHERE outcome = 'refer'"
            )
        )
        draft = copy.deepcopy(uw.graph())
        outcome = next(n for n in draft["nodes"] if n["id"] == "outcome")
        outcome["content"]["rules"][2]["out0"] = "'approve'"
        outcome["content"]["rules"][2]["out1"] = "['ABROAD_OK']"
        ruleset = rulesets.create_version(ctx, process_id, draft)
    start = time.perf_counter()
    with _as_provider(sessions) as ctx:
        report = backtesting.backtest(ctx, ruleset.id).as_dict()
    elapsed = time.perf_counter() - start
    log(f"backtest of {report['items']:,} items in {elapsed:.1f} s")
    return {
        "backtest_s": round(elapsed, 2),
        "backtest_items": report["items"],
        "backtest_changed": report["changed"],
        "backtest_stp_rate_change": report["stp_rate_change"],
        "backtest_agreement_with_analysts": report["agreement_with_analysts"],
    }


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    server = require_postgres_url(postgres_url, "decisions")
    rows = 5_000 if quick else 100_000
    figures: dict[str, Any] = {"benchmark": "decisions", "quick": quick, "rows": rows}
    figures["busy_cores_before"] = busy_cores_now()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-decisions-") as tmp:
        path = Path(tmp) / "applications.csv"
        write_csv(path, rows)
        log(f"wrote {rows:,} applications to {path}")
        figures.update(_raw_engine(_payloads(path), log))  # first: on a quiet machine
        with scratch_database(server, "tandem_bench_decisions", log) as database:
            postgres = _pipeline(database.sqlalchemy_url, path, rows, "PostgreSQL", log)
            try:
                figures.update(_backtest(postgres, log))
            finally:
                postgres["engine"].dispose()
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(sqlite_url)
        sqlite = _pipeline(sqlite_url, path, rows, "SQLite", log)
        sqlite["engine"].dispose()
    for prefix, result in (("postgres", postgres), ("sqlite", sqlite)):
        for key, value in result["figures"].items():
            figures[f"{prefix}_{key}"] = value
    figures["pipeline_per_s"] = figures["postgres_per_s"]
    ceiling = figures["raw_engine_all_cores_per_s"]
    figures["pipeline_ratio"] = round(figures["pipeline_per_s"] / ceiling, 3)
    figures["sqlite_pipeline_ratio"] = round(figures["sqlite_per_s"] / ceiling, 3)
    # What the ratio can reach at best: the rules cost e of CPU per item (the ceiling's cores
    # over its rate) and Tandem's process m more, on the same cores, so even with every core
    # busy all the time the pipeline runs at cores / (m + e), the ceiling's e / (m + e) (less
    # on PostgreSQL, whose server shares the cores too).
    engine_us = len(os.sched_getaffinity(0)) / ceiling * 1e6
    figures["engine_cpu_us_per_item"] = round(engine_us, 1)
    for prefix in ("postgres", "sqlite"):
        main_us = figures[f"{prefix}_main_cpu_us_per_item"]
        figures[f"{prefix}_ratio_bound"] = round(engine_us / (main_us + engine_us), 3)
    figures["stp_rate"] = figures["postgres_stp_rate"]
    wrong = [
        f"{p}: {r['figures']['decisions']} decisions, {r['figures']['accepted']} accepted"
        for p, r in (("postgres", postgres), ("sqlite", sqlite))
        if r["figures"]["decisions"] != rows or r["figures"]["accepted"] != rows
    ]
    missed = []
    for ratio in ("pipeline_ratio", "sqlite_pipeline_ratio"):
        if figures[ratio] < TARGET_PIPELINE_RATIO:
            missed.append(f"{ratio} >= {TARGET_PIPELINE_RATIO}")
    if figures["backtest_s"] > TARGET_BACKTEST_S:
        missed.append(f"backtest_s <= {TARGET_BACKTEST_S}")
    figures["verification_problems"] = "; ".join(wrong)
    figures["targets_met"] = not missed and not wrong
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures
