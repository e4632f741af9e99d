"""The `tandem` command."""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tandem.config import ConfigError, Settings, load_settings

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
    from tandem.migrate import upgrade

    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    console.print(f"schema up to date on {settings.database_url}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default TANDEM_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default TANDEM_PORT")] = None,
    with_worker: Annotated[bool, typer.Option(help="Run the background jobs too")] = True,
    workers: Annotated[int, typer.Option(min=0, help="API worker processes; 0: one per core")] = 0,
) -> None:
    """Serve the API from one worker process per core (Python runs one thread at a time per
    process), and the background jobs, once, beside them."""
    import threading

    import uvicorn

    from tandem.app import build_container, create_app
    from tandem.worker import run_forever

    settings = _settings()
    container = build_container(settings)
    count = workers or os.cpu_count() or 1
    stop = threading.Event()
    if with_worker:
        threading.Thread(target=run_forever, args=(container, stop), daemon=True).start()
    host, port = host or settings.host, port or settings.port
    try:
        if count == 1:
            uvicorn.run(create_app(container), host=host, port=port)
        else:  # each worker builds its own app from the same TANDEM_* environment
            uvicorn.run("tandem.app:create_app", factory=True, workers=count, host=host, port=port)
    finally:
        stop.set()


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="One pass, then exit")] = False,
) -> None:
    """Run the reaper, SLA escalation and webhook delivery."""
    import httpx

    from tandem.app import build_container
    from tandem.worker import run_forever, run_once

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    container = build_container(_settings())
    if once:
        with httpx.Client() as http:
            console.print(run_once(container, http))
        return
    run_forever(container)


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    items: Annotated[int, typer.Option(help="Work items per process")] = 500,
) -> None:
    """Create a fresh embedded database with a realistic operation, then serve it."""
    from tandem.app import build_container
    from tandem.demo import seed
    from tandem.migrate import upgrade

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
    console.print(f"API docs: {url}/docs   (Authorize with a token above)")
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
) -> None:
    """Queue every row of a CSV, JSONL or XLSX file (as the provider, on a client's process)."""
    from tandem.app import build_container
    from tandem.errors import TandemError
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
                    mode="accept_valid" if accept_valid else "all_or_nothing",
                    on_progress=lambda n: progress.update(task, completed=n),
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


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="dispatch or intake")],
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
    postgres_url: Annotated[str | None, typer.Option(envvar="TANDEM_POSTGRES_URL")] = None,
    quick: Annotated[bool, typer.Option(help="Smaller sizes, for a smoke run")] = False,
) -> None:
    """Run a benchmark and print its figures."""
    from tandem.bench import BENCHMARKS

    runner = BENCHMARKS.get(name)
    if runner is None:
        console.print(f"[red]unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}[/red]")
        raise typer.Exit(2)
    figures = runner(postgres_url=postgres_url, quick=quick, log=console.print)
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        for key, value in figures.items():
            console.print(f"{key:28} {value}")


if __name__ == "__main__":
    app()
