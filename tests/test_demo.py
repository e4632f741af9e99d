"""`tandem demo` seeds a working operation through the real use cases."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.decisions.measures import measures
from tandem.decisions.models import Decision
from tandem.demo import mail_hint, seed
from tandem.quality.models import Review
from tandem.reports import adherence, forecasting
from tandem.servicedesk import smtp
from tandem.servicedesk.models import Attachment, Conversation, Message
from tandem.tenancy.principal import SYSTEM
from tandem.work.models import WorkItem
from tandem.workforce import rosters
from tandem.workforce.models import Agent
from tests.conftest import ROOT
from tests.servicedesk.conftest import _free_port


def test_demo_seed_builds_an_operation_in_many_states(container: Container) -> None:
    replay_start = container.clock.now() - timedelta(days=3)
    tokens = seed(container, items_per_process=40)
    with transaction(container.sessions) as session:
        history = session.scalar(
            select(func.count()).where(
                WorkItem.received_at < replay_start - timedelta(minutes=1),
                WorkItem.gold.is_(False),
            )
        )
        states: dict[str, Any] = dict(
            session.execute(select(WorkItem.state, func.count()).group_by(WorkItem.state)).all()
        )
        agents = session.scalar(select(func.count()).select_from(Agent))
        gold = session.scalar(select(func.count()).where(WorkItem.gold.is_(True))) or 0
    assert agents == 60 + 1  # and the service desk's agent
    # The latest, unworked arrivals; gold; the service desk's conversations' items (one
    # answered and solved, one answered then reopened by the customer: two, two waiting).
    assert sum(states.values()) == 160 + 4 * 8 + gold + 5 + history
    assert history >= 3 * 15  # four weeks of the keying's weekdays before the replay
    assert {"queued", "delivered", "waiting", "cancelled"} <= set(states)
    assert set(tokens) >= {"ops", "agent", "northwind"}
    with container.context(SYSTEM) as ctx:
        session = ctx.session
        by = dict(session.execute(select(Decision.by, func.count()).group_by(Decision.by)).all())
        underwriting = session.scalar(select(Process.id).where(Process.code == "underwriting"))
        stp = measures(ctx, underwriting)
    # The underwriting rules decided every application; analysts judged referrals, and
    # a second analyst confirmed declines.
    assert by["rules"] == 40 + 8
    assert by["analyst"] > 0 and by.get("confirmation", 0) > 0
    assert stp.stp_rate is not None and 0.2 < stp.stp_rate < 0.8
    assert stp.referral_reasons and stp.overrides > 0
    with transaction(container.sessions) as session:
        reviews = dict(
            session.execute(select(Review.kind, func.count()).group_by(Review.kind)).all()
        )
    # New agents are screened; litigation review is reviewed in full; gold items were slipped
    # into the keying queue.
    assert reviews["screening"] > 0 and reviews["full"] > 0
    assert gold > 0
    _shows_a_forecast_a_published_roster_and_adherence(container)


def _shows_a_forecast_a_published_roster_and_adherence(container: Container) -> None:
    """Issue 18: the planner's loop on the demo: the keying's forecast learnt from its weeks,
    next week's roster published for it, each center's day of adherence."""
    idle = timedelta(minutes=container.settings.session_idle_minutes)
    with container.context(SYSTEM) as ctx:
        keying = ctx.session.scalar(select(Process.id).where(Process.code == "app-keying"))
        assert keying is not None
        found = forecasting.process_forecast(ctx, keying, weeks=4)
        assert all(score.wape is not None for score in found.main.forecast.scores)
        assert found.handle_times.overall_seconds
        published = rosters.list_rosters(ctx, state="published").items
        assert len(published) == 1 and published[0].shifts > 0
        assert set(published[0].centers) == {"MNL", "BLR", "KRK"}  # following the sun
        for center, zone in (
            ("MNL", "Asia/Manila"),
            ("BLR", "Asia/Kolkata"),
            ("KRK", "Europe/Warsaw"),
        ):
            # the local day holding most of the last 24 hours, for which the demo has presence
            local = (ctx.now - timedelta(hours=12)).astimezone(ZoneInfo(zone)).date()
            day = adherence.center_day(ctx, center, local, idle=idle)
            assert day.totals.scheduled_minutes > 0
            assert day.totals.adherence is not None and 0.3 < day.totals.adherence < 1.0


def test_demo_support_brand_has_conversations_under_way_and_takes_the_printed_mail(
    container: Container, tmp_path: Any
) -> None:
    seed(container, items_per_process=8)
    with transaction(container.sessions) as session:
        shown = {
            (c.subject, c.state): [
                m.direction
                for m in session.scalars(
                    select(Message)
                    .where(Message.conversation_id == c.id)
                    .order_by(Message.received_at, Message.id)
                )
            ]
            for c in session.scalars(select(Conversation))
        }
        attached = session.scalars(select(Attachment.filename)).all()
    assert shown == {
        ("Wrong size", "solved"): ["in", "out"],
        ("Where is my order SW-1048213?", "open"): ["in", "note", "out", "in"],
        ("Refund request", "new"): ["in"],
        ("Exchange label not received", "new"): ["in"],
    }
    assert attached == ["receipt.txt"]
    # What `tandem demo` prints sends a message Tandem's SMTP server takes.
    port = _free_port()
    server = smtp.start(
        container.settings, container.sessions, container.context, "127.0.0.1", port
    )
    try:
        hint = mail_hint("127.0.0.1", port)
        [command] = [line.strip() for line in hint if line.strip().startswith("python3 -c")]
        sent = subprocess.run(
            ["sh", "-c", command.replace("python3", sys.executable, 1)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sent.returncode == 0, sent.stderr
    finally:
        server.stop()
    with transaction(container.sessions) as session:
        subjects = session.scalars(select(Conversation.subject)).all()
    assert len(subjects) == 5 and "Where is my order?" in subjects
    assert mail_hint("0.0.0.0", 0) == [
        "The service desk's SMTP server is off (TANDEM_SMTP_PORT=0)."
    ]


def test_cli_migrate_and_clear_config_errors(tmp_path: Any) -> None:
    env = {"TANDEM_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PATH": ""}
    ok = subprocess.run(
        [sys.executable, "-m", "tandem.cli", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "tandem.cli", "migrate"],
        cwd=ROOT,
        env={**env, "TANDEM_DATABASE_URL": "oracle://x"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "TANDEM_DATABASE_URL" in bad.stderr


def test_serve_runs_worker_processes_that_share_the_port(tmp_path: Any) -> None:
    """`tandem serve --workers 2`: two API processes behind one port, each with its own app."""
    import os
    import re
    import socket
    import threading
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TANDEM_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db"}
    subprocess.run([sys.executable, "-m", "tandem.cli", "migrate"], env=env, cwd=ROOT, check=True)
    command = ["serve", "--workers", "2", "--no-with-worker", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "tandem.cli", *command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []  # the server's log so far, read as it is written

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # Up once both processes have started an app (uvicorn logs each process's
        # application startup) and the port answers.
        deadline = time.monotonic() + 60
        while True:
            started = sum("Application startup complete." in line for line in lines)
            try:
                if (
                    started >= 2
                    and httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                ):
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the server did not come up: " + "".join(lines)
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)
    parent = re.findall(r"Started parent process \[(\d+)\]", output)
    workers = re.findall(r"Started server process \[(\d+)\]", output)
    assert len(parent) == 1 and parent[0] not in workers, output
    assert len(workers) == len(set(workers)) == 2, output
    # Each process ran an app of its own: two startups and two shutdowns, and each of the
    # two processes finished.
    assert output.count("Application startup complete.") == 2, output
    assert output.count("Application shutdown complete.") == 2, output
    assert sorted(re.findall(r"Finished server process \[(\d+)\]", output)) == sorted(workers)
