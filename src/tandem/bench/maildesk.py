"""`tandem bench maildesk` (PostgreSQL): the service desk's email in and out under load.

A retailer with a support brand (one conversation process, an agent on shift around the
clock) on a scratch database; Tandem connects as an ordinary role, so row-level security
applies as in production.

- **In.** Tandem's own SMTP server (tandem.servicedesk.smtp, as `tandem serve` starts it) runs
  in a process of its own; 10 concurrent SMTP connections (Python's smtplib, in this process)
  send it messages: four in five begin a conversation (a new customer each), one in five
  answers an earlier one, threaded by In-Reply-To and carrying the quoted history a mail
  program writes. `inbound_per_s`: messages accepted per second over the whole run. The
  server answers 250 only once the message's conversation and its work item are committed,
  so a message is claimable when its sender hears 250: `p99_accept_to_claimable_ms` is the
  99th percentile of the whole SMTP exchange for one message as its sender sees it (MAIL,
  RCPT, DATA, each answer), which bounds the time from the message being handed over to it
  being claimable from above. Afterwards every conversation is checked to have its one
  queued work item, and the agent claims one of them. `server_cpu_ms_per_message`: the SMTP
  server process's CPU time (user and system, all its threads) over the run, per message:
  on a machine shared with other work the rate says how much of the CPU the run got, this
  what a message costs (Linux only: read from /proc; absent elsewhere).
- **Out.** Agents answer conversations (each reply queued in the outbox under the lease, as
  the desk does); then the outbox is sent (tandem.servicedesk.outgoing.send_due, as the
  background worker runs it) to a local SMTP sink in a process of its own, which counts
  what it is given. `outbound_per_s`: replies handed to the sink per second.

Targets: `inbound_per_s` at least 200, `p99_accept_to_claimable_ms` at most 1000,
`outbound_per_s` at least 200.
"""

from __future__ import annotations

import multiprocessing
import os
import smtplib
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from multiprocessing.synchronize import Event
from typing import Any

from sqlalchemy import func, select

from tandem.bench.console import application_role
from tandem.bench.dispatch import busy_cores_now, scratch_database
from tandem.bench.intake import Log
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import TENANT, make_engine, make_sessionmaker, transaction
from tandem.servicedesk import outgoing, replies
from tandem.servicedesk.brands import CONVERSATION_INPUT, BrandDefinition, create_brand
from tandem.servicedesk.models import Conversation, OutgoingMail
from tandem.tenancy.principal import SYSTEM, Principal
from tandem.tenancy.service import create_client, create_user
from tandem.work.models import WorkItem
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentSkill,
    DeliveryCenter,
    Shift,
    Skill,
)

ADDRESS = "support@shop.bench.example"
CONNECTIONS = 10
REPLY_SHARE = 5  # one message in five answers an earlier one
TARGET_IN_PER_S = 200.0
TARGET_P99_MS = 1000.0
TARGET_OUT_PER_S = 200.0
REPLY_FORM = {"type": "object", "properties": {"reply": {"type": "string"}}}
BODY = (
    "Hello,\n\nmy order {n} has not arrived yet. The tracking page says it left the "
    "warehouse a week ago and nothing since. Could you tell me where it is, or send it "
    "again?\n\nThank you,\nCustomer {n}\n"
)


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    server = postgres_url or os.environ.get("TANDEM_POSTGRES_URL") or None
    if not server:
        raise RuntimeError(
            "the maildesk benchmark runs on PostgreSQL: give --postgres-url or set "
            "TANDEM_POSTGRES_URL"
        )
    inbound_count = 600 if quick else 4000
    outbound_count = 300 if quick else 2000
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "benchmark": "maildesk",
        "quick": quick,
        "messages_in": inbound_count,
        "connections": CONNECTIONS,
        "replies_out": outbound_count,
        "busy_cores_before": busy_cores_now(),
    }
    with scratch_database(server, "tandem_bench_maildesk", log) as database:
        with _container(database.sqlalchemy_url) as owner:
            agent = _retailer(owner)
        app_url = application_role(server, database)
        with _container(app_url) as container:
            figures.update(_inbound(app_url, container, inbound_count, log))
            figures.update(_outbound(container, agent, outbound_count, log))
    missed = [
        name
        for name, ok in (
            (
                f"inbound_per_s >= {TARGET_IN_PER_S:.0f}",
                figures["inbound_per_s"] >= TARGET_IN_PER_S,
            ),
            (
                f"p99_accept_to_claimable_ms <= {TARGET_P99_MS:.0f}",
                figures["p99_accept_to_claimable_ms"] <= TARGET_P99_MS,
            ),
            (
                f"outbound_per_s >= {TARGET_OUT_PER_S:.0f}",
                figures["outbound_per_s"] >= TARGET_OUT_PER_S,
            ),
        )
        if not ok
    ]
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


# -- the retailer ------------------------------------------------------------------------------


@contextmanager
def _container(url: str) -> Iterator[Container]:
    settings = Settings(database_url=url, smtp_hostname="tandem.bench.example")
    engine = make_engine(settings.sqlalchemy_url)
    try:
        yield Container(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            clock=SystemClock(),
        )
    finally:
        engine.dispose()


def _retailer(container: Container) -> Principal:
    """The retailer, its support brand and process, and an agent on shift around the clock
    (made as the database's owner, as an operator would)."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        client = create_client(session, code="shop", name="Shop", timezone="Europe/London", now=now)
        session.add(Skill(code="email_support", name="Email support"))
        session.add(
            DeliveryCenter(
                code="MNL",
                name="Manila",
                country="PH",
                timezone="Asia/Manila",
                hourly_cost=9.5,
                currency="USD",
                holidays=[],
            )
        )
        process = define_process(
            session,
            client.id,
            ProcessDefinition(
                code="email",
                name="Customer email",
                kind="conversation",
                input_schema=CONVERSATION_INPUT,
                form_schema=REPLY_FORM,
                required_skills={"email_support": 2},
                sla_minutes=240,
                sla_mode="24x7",
            ),
            now=now,
        )
        user = create_user(session, email="agent@bench.example", name="A", role="agent", now=now)
        agent = Agent(center_code="MNL", name="Bench Agent", tier="agent", user_id=user.id)
        session.add(agent)
        session.flush()
        session.add(AgentSkill(agent_id=agent.id, skill_code="email_support", level=3))
        session.add(AgentLanguage(agent_id=agent.id, language="en", cefr="C1"))
        session.add(AgentClearance(client_id=client.id, agent_id=agent.id))
        for weekday in range(7):
            session.add(
                Shift(agent_id=agent.id, weekday=weekday, start_minute=0, duration_minutes=1440)
            )
        principal = Principal(user.id, "agent", None, agent.id)
        process_id = process.id
    with container.context(SYSTEM) as ctx:
        create_brand(
            ctx,
            BrandDefinition(
                code="shop",
                name="Shop",
                process_id=process_id,
                support_addresses=[ADDRESS],
                reply_from_name="Shop Customer Care",
                reply_from_address=ADDRESS,
                signature="-- \nShop Customer Care",
            ),
        )
    return principal


# -- in ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_mail(url: str, port: int, ready: Event, stop: Event) -> None:
    """Tandem's SMTP server, as `tandem serve` starts it, until `stop` (a child process)."""
    from tandem.servicedesk import smtp

    with _container(url) as container:
        mail = smtp.start(
            container.settings, container.sessions, container.context, "127.0.0.1", port
        )
        ready.set()
        stop.wait()
        mail.stop()


def _serve_sink(port: int, count: Any, ready: Event, stop: Event) -> None:
    """An SMTP sink that counts the messages it is given (a child process)."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 2.0.0 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _cpu_seconds(pid: int | None) -> float | None:
    """User and system CPU seconds of a process so far (Linux's /proc); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def _process(target: Any, *args: Any) -> Iterator[int | None]:
    """`target` in a child process of its own, started and ready; yields its pid."""
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    child = spawn.Process(target=target, args=(*args, ready, stop), daemon=True)
    child.start()
    try:
        if not ready.wait(60):
            raise RuntimeError(f"{target.__name__} did not start")
        yield child.pid
    finally:
        stop.set()
        child.join(30)
        if child.is_alive():
            child.kill()


def _message(n: int, answering: tuple[str, str] | None) -> EmailMessage:
    mail = EmailMessage()
    sender = f"customer-{n if answering is None else answering[1]}@example.com"
    mail["From"], mail["To"] = f"Customer {n} <{sender}>", ADDRESS
    mail["Message-ID"] = make_msgid(domain="example.com")
    if answering is None:
        mail["Subject"] = f"Where is order {n}?"
        mail.set_content(BODY.format(n=n))
    else:
        parent, _ = answering
        mail["Subject"], mail["In-Reply-To"], mail["References"] = "Re: order", parent, parent
        quoted = "\n".join("> " + line for line in BODY.format(n=n).splitlines())
        mail.set_content(f"Any news?\n\nOn Monday, Shop wrote:\n{quoted}\n")
    return mail


def _send_all(port: int, count: int) -> tuple[list[float], float]:
    """`count` messages over CONNECTIONS connections; each one's SMTP exchange in ms, and
    the seconds the whole took."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def connection(worker: int) -> None:
        sent: list[tuple[str, str]] = []  # (Message-ID, customer) this connection began
        mine: list[float] = []
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for n in range(worker, count, CONNECTIONS):
                answering = sent[-1] if sent and n % REPLY_SHARE == 0 else None
                mail = _message(n, answering)
                start = time.perf_counter()
                try:
                    client.send_message(mail)
                except smtplib.SMTPException as exc:
                    with lock:
                        failures.append(f"message {n}: {exc}")
                    return
                mine.append((time.perf_counter() - start) * 1000)
                if answering is None:
                    sent.append((str(mail["Message-ID"]), str(n)))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=connection, args=(w,)) for w in range(CONNECTIONS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} messages were refused, the first: {failures[0]}")
    return latencies, elapsed


def _inbound(url: str, container: Container, count: int, log: Log) -> dict[str, Any]:
    port = _free_port()
    with _process(_serve_mail, url, port) as server:
        _send_all(port, 40)  # warm: connections, caches, the first plans
        with transaction(container.sessions) as session:
            before = session.scalar(select(func.count()).select_from(Conversation)) or 0
        log(f"sending {count} messages over {CONNECTIONS} SMTP connections")
        cpu_before = _cpu_seconds(server)
        latencies, elapsed = _send_all(port, count)
        cpu_after = _cpu_seconds(server)
    began = count - len(range(0, count, REPLY_SHARE))  # replies thread into earlier ones
    with transaction(container.sessions) as session:
        conversations = (session.scalar(select(func.count()).select_from(Conversation)) or 0) - (
            before
        )
        queued = session.scalar(
            select(func.count()).select_from(WorkItem).where(WorkItem.state == "queued")
        )
    expected_at_least = began
    if conversations < expected_at_least or (queued or 0) < conversations:
        raise RuntimeError(
            f"{conversations} conversations and {queued} queued items after {count} messages "
            f"(at least {expected_at_least} conversations expected, each with its item)"
        )
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    figures = {
        "inbound_per_s": round(count / elapsed, 1),
        "p99_accept_to_claimable_ms": round(p99, 1),
        "median_accept_to_claimable_ms": round(statistics.median(latencies), 1),
        "conversations_made": conversations,
    }
    if cpu_before is not None and cpu_after is not None:
        figures["server_cpu_ms_per_message"] = round((cpu_after - cpu_before) * 1000 / count, 1)
    median, p99 = figures["median_accept_to_claimable_ms"], figures["p99_accept_to_claimable_ms"]
    log(
        f"in: {figures['inbound_per_s']} messages/s, SMTP exchange median {median} ms, "
        f"p99 {p99} ms; {conversations} conversations, {queued} queued items"
    )
    return figures


# -- out ---------------------------------------------------------------------------------------


def _answer(container: Container, agent: Principal, count: int) -> int:
    """The agent claims and answers `count` conversations (each reply queued in the outbox)."""
    assert agent.agent_id is not None
    answered = 0
    while answered < count:
        with transaction(container.sessions) as session:
            lease = container.dispatcher.claim(session, agent.agent_id)
        if lease is None:
            break
        token = TENANT.set(lease.client_id)
        try:
            with container.context(agent) as ctx:
                replies.reply(
                    ctx,
                    container.dispatcher,
                    uuid.UUID(str(lease.payload["conversation_id"])),
                    lease.attempt,
                    "Your parcel leaves again today; you get its tracking number by email.",
                )
        finally:
            TENANT.reset(token)
        answered += 1
    return answered


def _outbound(container: Container, agent: Principal, count: int, log: Log) -> dict[str, Any]:
    log(f"answering {count} conversations")
    answered = _answer(container, agent, count)
    if answered < count:
        raise RuntimeError(f"only {answered} conversations could be claimed and answered")
    port = _free_port()
    spawn = multiprocessing.get_context("spawn")
    delivered = spawn.Value("i", 0)
    relay = outgoing.Relay("127.0.0.1", port, starttls=False, timeout_s=30)
    settings = container.settings
    with _process(_serve_sink, port, delivered):
        log(f"sending {answered} replies to a local SMTP sink")
        start = time.perf_counter()
        sent = 0
        while True:
            tried = outgoing.send_due(
                container.sessions,
                container.clock,
                relay,
                container.keyring,
                marker=settings.smtp_hostname,
                max_attempts=settings.mail_max_attempts,
            )
            if not tried:
                break
            sent += tried
        elapsed = time.perf_counter() - start
        with transaction(container.sessions) as session:
            waiting = session.scalar(
                select(func.count()).select_from(OutgoingMail).where(OutgoingMail.status != "sent")
            )
    if waiting or delivered.value != answered:
        raise RuntimeError(
            f"{delivered.value} of {answered} replies reached the sink; {waiting} not sent"
        )
    figures = {"outbound_per_s": round(answered / elapsed, 1)}
    log(f"out: {figures['outbound_per_s']} replies/s ({sent} sent)")
    return figures
