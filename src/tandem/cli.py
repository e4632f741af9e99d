"""The `tandem` command.

Each command imports what it runs inside its own function: `tandem --help` and a quick
command should not load the web app, the rules engine and Presidio (seconds) first. None of
these imports dodges a cycle (the import contracts in pyproject.toml hold either way)."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tandem.core.config import ConfigError, Settings, load_settings

app = typer.Typer(
    help="Tandem: the delivery platform of an outsourcing provider.", no_args_is_help=True
)
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from tandem.core.migrate import upgrade

    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    console.print(f"schema up to date on {settings.database_url}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default TANDEM_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default TANDEM_PORT")] = None,
    with_worker: Annotated[bool, typer.Option(help="Run the background jobs too")] = True,
    workers: Annotated[
        int,
        typer.Option(min=0, envvar="TANDEM_WORKERS", help="API worker processes; 0: one per core"),
    ] = 0,
) -> None:
    """Serve the API from one worker process per core (Python runs one thread at a time per
    process), and the background jobs, once, beside them."""
    import threading

    import uvicorn

    from tandem.app import create_app
    from tandem.container import build_container
    from tandem.core import logs
    from tandem.worker import run_forever

    settings = _settings()
    logs.configure(settings.log_level, settings.log_format)
    container = build_container(settings)
    count = workers or os.cpu_count() or 1
    stop = threading.Event()
    if with_worker:
        threading.Thread(target=run_forever, args=(container, stop), daemon=True).start()
    host, port = host or settings.host, port or settings.port
    mail = None
    if settings.smtp_port:  # the service desk's email in, once, beside the API
        from tandem.servicedesk import smtp

        mail = smtp.start(settings, container.sessions, container.context, host, settings.smtp_port)
        console.print(f"SMTP: taking mail for the brands on {host}:{mail.port}")
    # Every API process logs as this one (uvicorn configures each from log_config), one
    # access line per request written by the app (uvicorn's names the query and the address);
    # the client's address and scheme are taken from X-Forwarded-* of trusted proxies only.
    web: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": logs.dict_config(settings.log_level, settings.log_format),
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    try:
        if count == 1:
            uvicorn.run(create_app(container), **web)
        else:  # each worker builds its own app from the same TANDEM_* environment
            uvicorn.run("tandem.app:create_app", factory=True, workers=count, **web)
    finally:
        stop.set()
        if mail is not None:
            mail.stop()


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="One pass, then exit")] = False,
) -> None:
    """Run the reaper, SLA escalation and webhook delivery."""
    import httpx

    from tandem.container import build_container
    from tandem.core import logs
    from tandem.worker import run_forever, run_once

    settings = _settings()
    logs.configure(settings.log_level, settings.log_format)
    container = build_container(settings)
    if once:
        with httpx.Client() as http:
            console.print(run_once(container, http))
        return
    run_forever(container)


@app.command()
def check(
    deploy: Annotated[
        bool, typer.Option("--deploy", help="Check this configuration and its database")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
    workers: Annotated[
        int, typer.Option(min=0, help="API processes `tandem serve` runs; 0: one per core")
    ] = 0,
) -> None:
    """Name each problem of a production deployment with its fix: keys, cookies, the
    database's role and schema, the worker, rate limits, clocks, the proxy. Exits 1 when
    anything is wrong (warnings alone do not fail)."""
    from rich.markup import escape
    from rich.table import Table

    from tandem.core.deploycheck import check_deployment

    if not deploy:
        console.print("[red]say what to check: --deploy[/red]")
        raise typer.Exit(2)
    report = check_deployment(_settings(), api_processes=workers or os.cpu_count() or 1)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    elif report.findings:
        table = Table(title="Deployment check", show_lines=True)
        for column in ("Severity", "Check", "Problem", "Fix"):
            table.add_column(column)
        for finding in report.findings:
            style = "red" if finding.severity == "error" else "yellow"
            table.add_row(
                f"[{style}]{finding.severity}[/{style}]",
                finding.id,
                escape(finding.message),
                escape(finding.fix),
            )
        Console().print(table)
    else:
        console.print("[green]no problem found[/green]")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    items: Annotated[int, typer.Option(help="Work items per process")] = 500,
) -> None:
    """Create a fresh embedded database with a realistic operation, then serve it."""
    from tandem.container import build_container
    from tandem.core.migrate import upgrade
    from tandem.demo import DEMO_PASSWORD, mail_hint, seed

    # The demo is served over plain HTTP on this machine: session cookies without "Secure"
    # (set before the settings are read, so `serve` below and its workers see it too).
    os.environ.setdefault("TANDEM_COOKIE_SECURE", "false")
    settings = _settings()
    if settings.database_url.startswith("sqlite:///"):
        path = Path(settings.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        console.print(
            "[red]tandem demo resets its database: point TANDEM_DATABASE_URL at a "
            "SQLite file (the default) to run it[/red]"
        )
        raise typer.Exit(2)
    upgrade(settings.sqlalchemy_url)
    container = build_container(settings)
    with console.status("seeding the demo operation...") as status:
        tokens = seed(container, items_per_process=items, progress=status.update)
    console.print(f"[green]demo operation ready[/green] in {settings.database_url}")
    console.print("Sign in to the API with one of these tokens (Authorization: Bearer <token>):")
    for name, token in tokens.items():
        console.print(f"  {name:10} {token}")
    url = f"http://{settings.host}:{settings.port}"
    console.print(
        f"The console: {url}/console. Its users have the password {DEMO_PASSWORD!r}: "
        "agent@tandem.example, desk@tandem.example, it@northwind.example, ops@tandem.example, "
        "qa@tandem.example, admin@tandem.example, security@tandem.example, ..."
    )
    console.print(f"API docs: {url}/docs   (Authorize with a token above)")
    for line in mail_hint(settings.host, settings.smtp_port):  # one line each: copied whole
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"Try: curl -H 'Authorization: Bearer {tokens['ops']}' {url}/api/v1/operations/queues"
    )
    if serve_after:
        serve(None, None, True, 0)


@app.command()
def intake(
    process_id: Annotated[uuid.UUID, typer.Argument(help="The process the rows belong to")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    accept_valid: Annotated[bool, typer.Option(help="Queue the good rows, report the bad")] = False,
    document_column: Annotated[
        str | None,
        typer.Option(help="A ZIP archive's column naming each row's document (its path in it)"),
    ] = None,
    reference_column: Annotated[
        str, typer.Option(help="The column of your own reference for each row")
    ] = "external_ref",
) -> None:
    """Queue every row of a CSV, JSONL or XLSX file (as the provider, on a client's process),
    or of a ZIP archive of one with the documents its rows name (--document-column)."""
    from tandem.container import build_container
    from tandem.core.errors import TandemError
    from tandem.documents.service import limits
    from tandem.intake.service import ingest_file
    from tandem.tenancy.principal import SYSTEM

    container = build_container(_settings())
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(file.name, total=None)
        try:
            with file.open("rb") as stream:
                report = ingest_file(
                    container.sessions,
                    SYSTEM,
                    process_id,
                    stream,
                    filename=file.name,
                    clock=container.clock,
                    at_risk_fraction=container.settings.at_risk_fraction,
                    keyring=container.keyring,
                    mode="accept_valid" if accept_valid else "all_or_nothing",
                    on_progress=lambda n: progress.update(task, completed=n),
                    document_column=document_column,
                    document_limits=limits(container.settings),
                    reference_column=reference_column,
                )
        except TandemError as exc:
            console.print(f"[red]{exc.detail}[/red]")
            for error in exc.extra.get("errors", [])[:20]:
                console.print(f"  {error}")
            raise typer.Exit(1) from None
    console.print(
        f"batch {report.id}: {report.status}, {report.rows_accepted:,} queued, "
        f"{report.rows_rejected:,} rejected"
    )
    for error in report.errors[:20]:
        console.print(f"  row {error['row']}, {error['field'] or '(row)'}: {error['message']}")
    if report.rows_rejected:
        raise typer.Exit(1)


audit = typer.Typer(help="The tamper-evident audit trail: check it, export it.")
app.add_typer(audit, name="audit")


@audit.command("verify")
def audit_verify(
    client: Annotated[int | None, typer.Option(help="Only this client's chain")] = None,
) -> None:
    """Check every chain from its first record; names each edited, deleted, out-of-order
    or truncated record, and each sealed window of item state changes that no longer
    matches its seal. Exits 1 when anything is wrong."""
    from tandem.audit.chain import derive_key
    from tandem.core.db import make_engine, make_sessionmaker
    from tandem.work.trail import verify_trail

    settings = _settings()
    engine = make_engine(settings.sqlalchemy_url)
    with make_sessionmaker(engine)() as session:
        found = verify_trail(session, derive_key(settings.secret_key), client)
    engine.dispose()
    broken = 0
    for client_id, findings in found.items():
        for finding in findings:
            broken += 1
            console.print(
                f"[red]client {client_id}, record {finding.seq}: {finding.problem}[/red]: "
                f"{finding.detail}"
            )
    if broken:
        raise typer.Exit(1)
    console.print(f"[green]{len(found)} chain(s) intact[/green]")


@audit.command("export")
def audit_export(
    client: Annotated[int, typer.Argument(help="The client's id (0: the provider's chain)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write")],
    file_format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
) -> None:
    """One chain, in order, with its links, for auditors."""
    from tandem.audit.service import export
    from tandem.core.db import make_engine, make_sessionmaker

    if file_format not in ("jsonl", "csv"):
        raise typer.BadParameter("jsonl or csv", param_hint="--format")
    settings = _settings()
    engine = make_engine(settings.sqlalchemy_url)
    with make_sessionmaker(engine)() as session, output.open("w", encoding="utf-8") as out:
        for line in export(session, client, file_format):
            out.write(line)
    engine.dispose()
    console.print(f"wrote {output}")


keys = typer.Typer(help="The keys of personal data at rest: rotate them, follow re-encryption.")
app.add_typer(keys, name="keys")


@keys.command("rotate")
def keys_rotate(
    client: Annotated[
        list[int] | None, typer.Option(help="This client's key (repeatable; default: all)")
    ] = None,
) -> None:
    """Seal new personal data under a new key (after a new TANDEM_MASTER_KEY, or to retire
    a client's key); the worker re-encrypts older data in the background."""
    from sqlalchemy import select

    from tandem.custody.keys import rotate
    from tandem.tenancy.models import Client

    def start(ctx: Any) -> list[tuple[int, str]]:
        active = select(Client.id).where(Client.ended_at.is_(None))
        ids = client or list(ctx.session.scalars(active))
        return [(id_, rotate(ctx, id_, actor="system:cli").target) for id_ in ids]

    for client_id, target in _rules_call(start):  # one transaction, as the provider
        console.print(f"client {client_id}: new data sealed as {target}…; re-encrypting the rest")


@keys.command("status")
def keys_status() -> None:
    """Each rotation: re-encrypted so far, finished or not."""
    from tandem.custody.keys import status

    def show(session: Any, _: Any) -> None:
        for rotation in status(session):
            done = rotation.finished_at and f"finished {rotation.finished_at:%Y-%m-%d %H:%M}"
            console.print(
                f"client {rotation.client_id}: {rotation.target}… started "
                f"{rotation.started_at:%Y-%m-%d %H:%M}, {rotation.resealed:,} re-encrypted, "
                f"{done or 'running'}"
            )

    _in_transaction(show)


@app.command("client-exit")
def client_exit(
    client: Annotated[int, typer.Argument(help="The client's id")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for the export")],
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking")] = False,
) -> None:
    """End a contract: export everything the client owns (JSON Lines per table and a
    manifest with SHA-256 digests), then delete it. The audit trail stays, as evidence."""
    from tandem.custody.retention import end_contract, export_client

    def export(session: Any, container: Any) -> dict[str, Any]:
        return export_client(session, container.keyring, client, output)

    manifest = _in_transaction(export)
    total = sum(entry["rows"] for entry in manifest["files"].values())
    console.print(f"exported {total:,} rows to {output} (manifest.json lists them)")
    if not yes and not typer.confirm(f"Delete all of client {client}'s data now?"):
        raise typer.Exit(1)

    def purge(session: Any, container: Any) -> dict[str, int]:
        report = end_contract(
            session,
            client,
            manifest,
            actor="system:cli",
            now=container.clock.now(),
            key=container.audit_key,
        )
        return dict(report.counts)

    counts = _in_transaction(purge)
    console.print(f"deleted {sum(counts.values()):,} rows; the purge report is in the audit trail")


def _in_transaction(call: Any) -> Any:
    """Run call(session, container) in one transaction."""
    from tandem.container import build_container
    from tandem.core.db import transaction

    container = build_container(_settings())
    try:
        with _refusals(), transaction(container.sessions) as session:
            return call(session, container)
    finally:
        container.engine.dispose()


rules = typer.Typer(help="Rulesets of decision processes: upload, test, publish, backtest.")
app.add_typer(rules, name="rules")


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """A use case's refusal (bad input, conflict) is printed with its details: exit 1."""
    from tandem.core.errors import TandemError

    try:
        yield
    except TandemError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        for error in exc.extra.get("errors", [])[:20]:
            console.print(f"  {error['field']}: {error['message']}")
        for failure in exc.extra.get("failures", [])[:20]:
            console.print(
                f"  {failure['name']}: expected {failure['expected']}, got {failure['actual']}"
            )
        raise typer.Exit(1) from None


def _rules_call(call: Any) -> Any:
    """Run call(ctx), a use case, in one transaction, as the provider."""
    from tandem.container import build_container
    from tandem.tenancy.principal import SYSTEM

    container = build_container(_settings())
    try:
        with _refusals(), container.context(SYSTEM) as ctx:
            return call(ctx)
    finally:
        container.engine.dispose()


@rules.command("upload")
def rules_upload(
    process_id: Annotated[uuid.UUID, typer.Argument(help="The decision process")],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="A JDM graph (.json) or a decision table (.xlsx)"
        ),
    ],
    tests: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help='Test cases: [{"name", "input", "expected"}]'
        ),
    ] = None,
    hit_policy: Annotated[str, typer.Option(help="For a .xlsx table: first or collect")] = "first",
    four_eyes_declines: Annotated[
        bool, typer.Option(help="A second analyst confirms declines")
    ] = False,
) -> None:
    """Store a new draft version (checked first), with its test cases."""
    from tandem.decisions import excel, rulesets

    catalogue = None  # a spreadsheet's sheet Reasons, if it has one
    if file.suffix.lower() == ".xlsx":
        with _refusals(), file.open("rb") as stream:
            graph, catalogue = excel.read_rules(stream, hit_policy=hit_policy)
    else:
        try:
            graph = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as exc:
            console.print(f"[red]{file}: not JSON: {exc}[/red]")
            raise typer.Exit(1) from None
    cases = json.loads(tests.read_text(encoding="utf-8")) if tests else []

    def upload(ctx: Any) -> Any:
        ruleset = rulesets.create_version(
            ctx,
            process_id,
            graph,
            four_eyes={"declines": True} if four_eyes_declines else {},
            note=file.name,
            reasons=catalogue,
        )
        for case in cases:
            rulesets.add_test(
                ctx,
                ruleset.id,
                name=case["name"],
                data=case["input"],
                expected=case["expected"],
            )
        return ruleset.id, ruleset.version

    ruleset_id, version = _rules_call(upload)
    console.print(f"draft version {version} stored with {len(cases)} test case(s): {ruleset_id}")
    print(ruleset_id)


@rules.command("download")
def rules_download(
    ruleset_id: uuid.UUID,
    output: Annotated[
        Path | None, typer.Option("-o", help=".json (default: stdout) or .xlsx")
    ] = None,
) -> None:
    """Write a version's graph: JDM JSON, or a one-table graph as a spreadsheet."""
    from tandem.decisions import excel, rulesets

    graph = _rules_call(lambda ctx: rulesets.get_ruleset(ctx, ruleset_id).graph)
    if output is None:
        print(json.dumps(graph, indent=2))
    elif output.suffix.lower() == ".xlsx":
        with _refusals():
            output.write_bytes(excel.write_table(graph))
    else:
        output.write_text(json.dumps(graph, indent=2), encoding="utf-8")


@rules.command("test")
def rules_test(ruleset_id: uuid.UUID) -> None:
    """Run a version's test cases."""
    from tandem.decisions import rulesets

    runs = _rules_call(lambda ctx: rulesets.run_tests(ctx, ruleset_id))
    for run in runs:
        mark = "[green]pass[/green]" if run.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {run.name}" + ("" if run.passed else f": got {run.actual}"))
    if not runs or not all(run.passed for run in runs):
        raise typer.Exit(1)


@rules.command("publish")
def rules_publish(ruleset_id: uuid.UUID) -> None:
    """Publish a draft whose test cases all pass; the version before it is retired."""
    from tandem.decisions import rulesets

    version = _rules_call(lambda ctx: rulesets.publish(ctx, ruleset_id).version)
    console.print(f"version {version} published")


@rules.command("backtest")
def rules_backtest(
    ruleset_id: uuid.UUID,
    limit: Annotated[int, typer.Option(help="The most recent past items to run")] = 100_000,
) -> None:
    """How outcomes would change on past items (JSON on stdout)."""
    from tandem.decisions import backtesting

    report = _rules_call(lambda ctx: backtesting.backtest(ctx, ruleset_id, limit=limit))
    print(json.dumps(report.as_dict(), indent=2))


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="dispatch, intake, decisions, quality, ...")],
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
    postgres_url: Annotated[str | None, typer.Option(envvar="TANDEM_POSTGRES_URL")] = None,
    quick: Annotated[bool, typer.Option(help="Smaller sizes, for a smoke run")] = False,
    instances: Annotated[
        Path | None,
        typer.Option(help="Solve every instance file in this folder (benchmarks that take it)"),
    ] = None,
    only_instances: Annotated[
        bool, typer.Option(help="Only the instance files, no other case (benchmarks that take it)")
    ] = False,
) -> None:
    """Run a benchmark and print its figures."""
    benchmarks = {point.name: point for point in entry_points(group="tandem.benchmarks")}
    point = benchmarks.get(name)
    if point is None:
        known = ", ".join(sorted(benchmarks))
        console.print(f"[red]unknown benchmark {name!r}; known: {known}[/red]")
        raise typer.Exit(2)
    runner = point.load()
    extra: dict[str, object] = {}
    if instances is not None:  # only benchmarks that solve instance files take --instances
        if "instances" not in inspect.signature(runner).parameters:
            console.print(f"[red]benchmark {name!r} takes no --instances[/red]")
            raise typer.Exit(2)
        extra["instances"] = instances
    if only_instances:
        if "only_instances" not in inspect.signature(runner).parameters:
            console.print(f"[red]benchmark {name!r} takes no --only-instances[/red]")
            raise typer.Exit(2)
        extra["only_instances"] = True
    figures = runner(postgres_url=postgres_url, quick=quick, log=console.print, **extra)
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        for key, value in figures.items():
            console.print(f"{key:28} {value}")
    if figures.get("targets_met") is False:  # a missed target or an error fails the run
        raise typer.Exit(1)


wfm = typer.Typer(help="Workforce management: staffing, from the command line.")
app.add_typer(wfm, name="wfm")


@wfm.command("staffing")
def wfm_staffing(
    arrivals: Annotated[float, typer.Option(help="Contacts offered in the interval")],
    aht_seconds: Annotated[float, typer.Option(help="Average handle time")],
    interval_minutes: Annotated[float, typer.Option(help="The interval's length")] = 30,
    target_seconds: Annotated[float, typer.Option(help="Answered within this counts")] = 20,
    service_level: Annotated[
        float, typer.Option(help="The share to answer within the target (0 to 1)")
    ] = 0.8,
    patience_seconds: Annotated[
        float | None, typer.Option(help="Mean patience: Erlang A (default: Erlang C)")
    ] = None,
    agents: Annotated[
        int | None, typer.Option(help="Evaluate this many agents instead of finding the least")
    ] = None,
    shrinkage: Annotated[
        float, typer.Option(help="Share of paid time off the phones (breaks, training, absence)")
    ] = 0.0,
    max_occupancy: Annotated[float, typer.Option(help="The agents' busy share, at most")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
) -> None:
    """The agents one interval of live work needs (Erlang C, or Erlang A with --patience-seconds),
    or how many agents (--agents) would do: service level, speed of answer, abandonment,
    occupancy; and the people to schedule after shrinkage."""
    import math

    from rich.table import Table

    from tandem.core.errors import InvalidInput
    from tandem.workforce import erlang

    try:
        traffic = erlang.Traffic(arrivals, interval_minutes, aht_seconds, patience_seconds)
        if agents is None:
            found = erlang.least_agents(
                traffic,
                target_seconds,
                service_level,
                max_occupancy=max_occupancy,
                shrinkage=shrinkage,
            )
            result, scheduled = found.performance, found.scheduled
        else:
            result = erlang.performance(traffic, agents, target_seconds)
            scheduled = erlang.scheduled_people(agents, shrinkage)
    except InvalidInput as exc:  # one line, naming the option
        error = exc.extra["errors"][0]
        option = "--" + error["field"].replace("_", "-")
        console.print(f"{option}: {error['message']}", style="red", markup=False)
        raise typer.Exit(1) from None

    def number(value: float) -> float | None:
        return value if math.isfinite(value) else None  # JSON has no infinity

    figures = {
        "agents": result.agents,
        "service_level": result.service_level,
        "asa_seconds": number(result.asa_seconds),
        "abandon_rate": result.abandon_rate,
        "occupancy": result.occupancy,
        "model": result.model,
        "offered_load": result.offered_load,
        "probability_of_waiting": result.probability_of_waiting,
        "mean_wait_seconds": number(result.mean_wait_seconds),
        "target_seconds": target_seconds,
        "shrinkage": shrinkage,
        "scheduled": scheduled,
    }
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    model = "Erlang A" if result.model == "erlang_a" else "Erlang C"
    table = Table(title=f"{model}, {result.offered_load:.2f} Erlangs offered")
    table.add_column("Measure")
    table.add_column("Value", justify="right")
    asa = f"{result.asa_seconds:.2f} s" if math.isfinite(result.asa_seconds) else "never"
    for label, value in (
        ("agents", f"{result.agents}"),
        (f"service level ({target_seconds:g} s)", f"{result.service_level:.2%}"),
        ("average speed of answer", asa),
        ("abandoned", f"{result.abandon_rate:.2%}"),
        ("occupancy", f"{result.occupancy:.2%}"),
        ("probability of waiting", f"{result.probability_of_waiting:.2%}"),
        (f"people to schedule ({shrinkage:.0%} shrinkage)", f"{scheduled}"),
    ):
        table.add_row(label, value)
    Console().print(table)


@wfm.command("forecast")
def wfm_forecast(
    process_id: Annotated[uuid.UUID, typer.Argument(help="The process to forecast")],
    interval_minutes: Annotated[int, typer.Option(help="15 or 30")] = 30,
    weeks: Annotated[
        int,
        typer.Option(help="Weeks of history read, at most (3 or more)"),
    ] = 8,
    days: Annotated[int, typer.Option(help="Days forecast, from today")] = 7,
    country: Annotated[
        str | None,
        typer.Option(help="Add this country's public holidays (default: the client's own country)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Last line: the full series as one JSON object")
    ] = False,
) -> None:
    """Arrivals per interval for the days ahead, from the process's last weeks: the model
    chosen (seasonal profile or Holt-Winters) by its error on the held-back week (WAPE),
    today reforecast from its arrivals so far, and handle times."""
    from rich.table import Table

    from tandem.reports import forecasting

    figures = _rules_call(
        lambda ctx: forecasting.figures(
            forecasting.process_forecast(
                ctx,
                process_id,
                interval_minutes=interval_minutes,
                weeks=weeks,
                days=days,
                country=country,
            )
        )
    )
    scores = ", ".join(
        f"{s['model']} {s['wape']:.1%}" if s["wape"] is not None else f"{s['model']} -"
        for s in figures["scores"]
    )
    console.print(f"model: {figures['model']} (WAPE on the held-back week: {scores})")
    handle = figures["handle_seconds"]
    console.print(
        f"today so far x{figures['today_factor']:.2f}; handle time "
        + (f"{handle:.0f} s ({figures['handled']} handled)" if handle else "unknown")
    )
    table = Table(title=f"Arrivals per day ({figures['timezone']})")
    table.add_column("Day")
    table.add_column("Arrivals", justify="right")
    table.add_column("Busiest interval", justify="right")
    per_day = 1440 // figures["interval_minutes"]
    for index, day in enumerate(figures["days"]):
        intervals = figures["intervals"][index * per_day : (index + 1) * per_day]
        busiest = max(intervals, key=lambda i: i["arrivals"])
        holiday = " (holiday)" if day["date"] in figures["holidays"] else ""
        table.add_row(
            day["date"] + holiday,
            f"{day['arrivals']:.0f}",
            f"{busiest['start'][11:16]} {busiest['arrivals']:.1f}",
        )
    console.print(table)
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")


@wfm.command("roster")
def wfm_roster(
    process_id: Annotated[uuid.UUID, typer.Argument(help="The process whose forecast to staff")],
    first_date: Annotated[str, typer.Option(help="The first local date, a Monday (YYYY-MM-DD)")],
    days: Annotated[int, typer.Option(help="Local dates planned, 1 to 28")] = 7,
    name: Annotated[str | None, typer.Option(help="The roster's name")] = None,
    center: Annotated[
        list[str] | None, typer.Option(help="A center to plan (repeat; default: all cleared)")
    ] = None,
    time_limit: Annotated[float, typer.Option(help="The solver's seconds, at most")] = 30.0,
    weeks: Annotated[int, typer.Option(help="Weeks of history the forecast reads")] = 8,
    aht_seconds: Annotated[
        float | None, typer.Option(help="Handle time (default: the one measured)")
    ] = None,
    cost_currency: Annotated[
        str | None,
        typer.Option(help="The currency costs are weighed in, when centers pay in several"),
    ] = None,
    rate: Annotated[
        list[str] | None,
        typer.Option(help="Another currency's value in it, as PHP=0.0172 (repeat)"),
    ] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish the roster planned")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: the summary as JSON")] = False,
) -> None:
    """Plan a roster from the process's forecast (CP-SAT under the labour rules, at the
    centers of the agents cleared for its client), store it as a draft, and print its
    summary; --publish makes dispatch honour it."""
    import dataclasses
    from contextlib import contextmanager
    from datetime import date as date_
    from decimal import Decimal

    from tandem.container import build_container
    from tandem.reports import rosterplans
    from tandem.tenancy.principal import SYSTEM
    from tandem.workforce import rosters

    try:
        first = date_.fromisoformat(first_date)
    except ValueError:
        console.print("--first-date: not a date (YYYY-MM-DD)", style="red", markup=False)
        raise typer.Exit(1) from None
    rates = {}
    for given in rate or []:
        code, _, value = given.partition("=")
        try:
            rates[code.strip().upper()] = Decimal(value)
        except ArithmeticError:
            console.print(f"--rate {given}: not CODE=VALUE", style="red", markup=False)
            raise typer.Exit(1) from None
    container = build_container(_settings())

    @contextmanager
    def contexts() -> Any:
        with container.context(SYSTEM) as ctx:
            yield ctx

    try:
        with _refusals():
            summary = rosterplans.plan(
                contexts,
                rosterplans.PlanRequest(
                    name=name or f"{first.isoformat()} +{days}",
                    first_date=first,
                    days=days,
                    process_id=process_id,
                    centers=center or None,
                    weeks=weeks,
                    aht_seconds=aht_seconds,
                    time_limit_seconds=time_limit,
                    cost_currency=cost_currency,
                    exchange_rates=rates,
                ),
            )
            if publish:
                with container.context(SYSTEM) as ctx:
                    summary = rosters.publish_roster(ctx, summary.id).roster
    finally:
        container.engine.dispose()
    console.print(
        f"roster {summary.id} ({summary.state}): {summary.shifts} shifts for {summary.agents} "
        f"agents at {', '.join(summary.centers)}; coverage {summary.coverage:.1%}, cost "
        f"{summary.cost_cents / 100:,.2f}, {summary.short_agent_intervals} agent-intervals "
        f"short; {summary.solver_status} in {summary.solver_seconds:.1f} s",
        markup=False,
    )
    if as_json:
        sys.stdout.write(json.dumps(dataclasses.asdict(summary), default=str) + "\n")


if __name__ == "__main__":
    app()
