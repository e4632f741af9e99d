"""`tandem demo`: a realistic small operation, built through the real use cases.

Three clients (an insurer, an online retailer, a law firm), delivery centers in Manila,
Bangalore and Krakow with 60 agents, and three days of work replayed on a simulated clock so
that items sit in every state the loop has reached: queued, leased, waiting, delivered,
cancelled, some at risk or breached. The retailer's support brand takes email (Tandem's SMTP
server, `mail_hint`), with some conversations under way: taken by the email-in use case,
answered and noted by an agent under the lease.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tandem.catalog.models import Process
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core import paging
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.core.errors import TandemError
from tandem.decisions import referrals, rulesets, underwriting
from tandem.dispatch.service import Dispatcher
from tandem.documents.service import limits
from tandem.intake.service import submit_item
from tandem.quality import reviews
from tandem.quality.gold import add_gold_item, seed_gold
from tandem.reports import rosterplans
from tandem.servicedesk import content, inbound, replies
from tandem.servicedesk.brands import CONVERSATION_INPUT, BrandDefinition, create_brand
from tandem.servicedesk.knowledge import articles as knowledge
from tandem.servicedesk.models import Brand, Conversation, Message
from tandem.sla.calendar import BusinessCalendar
from tandem.tenancy.context import Context
from tandem.tenancy.principal import SYSTEM, Principal
from tandem.tenancy.service import create_client, create_user, issue_token
from tandem.tenancy.signin import set_password
from tandem.work import transitions as work
from tandem.work.models import WorkItem
from tandem.work.transitions import escalate
from tandem.workforce import presence, rosters
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentSkill,
    DeliveryCenter,
    Shift,
    Skill,
)
from tandem.workforce.schedule import scheduled

CENTERS = [
    # code, name, country, time zone, hourly cost (USD), day shift start (local hour)
    ("MNL", "Manila", "PH", "Asia/Manila", Decimal("9.50"), 8),
    ("BLR", "Bangalore", "IN", "Asia/Kolkata", Decimal("8.00"), 18),  # serves US daytime
    ("KRK", "Krakow", "PL", "Europe/Warsaw", Decimal("22.00"), 9),
]
SKILLS = {
    "data_entry": "Data entry",
    "insurance": "Insurance underwriting",
    "customer_service": "Customer service",
    "legal_review": "Legal document review",
    "email_support": "Email support",
}
FIRST = [
    "Maria",
    "Jose",
    "Ana",
    "Ramon",
    "Priya",
    "Arjun",
    "Kavya",
    "Rahul",
    "Ola",
    "Piotr",
    "Kasia",
    "Tomasz",
    "Liza",
    "Mark",
    "Divya",
    "Anil",
    "Zofia",
    "Jan",
    "Grace",
    "Paolo",
]
LAST = [
    "Santos",
    "Reyes",
    "Cruz",
    "Sharma",
    "Iyer",
    "Nair",
    "Kowalski",
    "Nowak",
    "Wojcik",
    "Garcia",
    "Mendoza",
    "Rao",
    "Patel",
    "Lewandowska",
    "Bautista",
]

APP_FORM = {
    "type": "object",
    "required": ["applicant_name", "birth_date", "policy_type", "coverage_amount"],
    "additionalProperties": False,
    "properties": {
        "applicant_name": {
            "type": "string",
            "minLength": 2,
            "maxLength": 120,
            "x-personal": "name",
        },
        "birth_date": {"type": "string", "format": "date"},
        "policy_type": {"type": "string", "enum": ["term_life", "whole_life", "health", "home"]},
        "coverage_amount": {"type": "number", "minimum": 1000},
        "postcode": {"type": "string", "maxLength": 12, "x-personal": "address"},
        "smoker": {"type": "boolean"},
    },
}
DOCUMENT_INPUT = {
    "type": "object",
    "required": ["document_ref"],
    "properties": {
        "document_ref": {"type": "string", "minLength": 1},
        "document_text": {"type": "string"},
        "pages": {"type": "integer", "minimum": 1},
    },
}
TICKET_INPUT = {
    "type": "object",
    "required": ["customer", "subject", "message"],
    "properties": {
        "customer": {"type": "string", "x-personal": "name"},
        "channel": {"type": "string", "enum": ["email", "chat", "social"]},
        "order_id": {"type": "string"},
        "subject": {"type": "string"},
        "message": {"type": "string", "x-personal": "free_text"},
    },
}
# Ticket messages: personal data in free text, which agents see masked.
MESSAGES = [
    "Hello, I ordered last week and still have not received the parcel.",
    "Hi, please send the refund to my card 4111 1111 1111 1111, not to store credit.",
    "My parcel went to the old address. Call me on {phone} or write to {email}.",
    "The size is wrong. Can I exchange it? You can reach me at {email}.",
]
TICKET_FORM = {
    "type": "object",
    "required": ["reply", "resolution"],
    "properties": {
        "reply": {"type": "string", "minLength": 5},
        "resolution": {"type": "string", "enum": ["answered", "refunded", "escalated"]},
        "category": {"type": "string"},
    },
}
REVIEW_FORM = {
    "type": "object",
    "required": ["responsive", "privileged"],
    "properties": {
        "responsive": {"type": "boolean"},
        "privileged": {"type": "boolean"},
        "issues": {"type": "array", "items": {"type": "string"}},
    },
}

# Every demo user signs in to the console with this password (a demo, on one machine).
DEMO_PASSWORD = "tandem-demo-password"  # noqa: S105 - the demo's, printed for anyone to use
DEMO_TOKENS = {
    "ops": ("ops@tandem.example", "Olivia Ops", "ops_manager", None),
    "admin": ("admin@tandem.example", "Ada Admin", "provider_admin", None),
    "reviewer": ("qa@tandem.example", "Quinn Reviewer", "qa_reviewer", None),
    "security": ("security@tandem.example", "Sasha Security", "security_officer", None),
    "northwind": ("it@northwind.example", "Nora Northwind", "client_admin", "northwind"),
    "shopwave": ("cx@shopwave.example", "Sam Shopwave", "client_admin", "shopwave"),
    "hartley": ("lit@hartley.example", "Hal Hartley", "client_admin", "hartley"),
}

# The retailer's support brand: its address, the process its conversations are work of, and
# the agent of the tour who answers them (only them: the desk's queue).
SUPPORT_ADDRESS = "support@shopwave.example"
DESK_AGENT = ("desk@tandem.example", "Dana Desk")
REPLY_FORM = {
    "type": "object",
    "required": ["reply"],
    "properties": {"reply": {"type": "string", "minLength": 2, "maxLength": 50_000}},
}


def seed(
    container: Container,
    *,
    items_per_process: int = 500,
    seed: int = 7,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, str]:
    """Fill an empty, migrated database. Returns the demo API tokens by name."""
    rng = random.Random(seed)
    end = container.clock.now().replace(second=0, microsecond=0)
    clock = ManualClock(end - timedelta(days=3, weeks=HISTORY_WEEKS))
    dispatcher = Dispatcher(clock, container.keyring, container.settings.lease_seconds)
    tokens: dict[str, str] = {}
    owners: dict[int, Principal] = {}  # each client's admin hands over its work
    with transaction(container.sessions) as session:
        clients = _clients(session, clock.now())
        processes = _processes(session, clients, clock.now())
        agents = _workforce(session, clients, rng)
        for name, (email, full, role, client) in DEMO_TOKENS.items():
            user = create_user(
                session,
                email=email,
                name=full,
                role=role,
                now=clock.now(),
                client_id=clients[client] if client else None,
            )
            tokens[name] = issue_token(session, user.id, "demo", clock.now(), f"demo-{name}")
            set_password(session, user, DEMO_PASSWORD)
            if user.client_id is not None:
                owners[user.client_id] = Principal(user.id, user.role, user.client_id, None)
        agent_user = create_user(
            session, email="agent@tandem.example", name="Alex Agent", role="agent", now=clock.now()
        )
        session.get_one(Agent, agents[0]).user_id = agent_user.id
        # The tour's agent is on shift whenever someone tries the demo, and answers the
        # retailer's tickets too (their messages show the free-text masking).
        for model, values in (
            (AgentSkill, {"skill_code": "customer_service", "level": 3}),
            (AgentLanguage, {"language": "en", "cefr": "C1"}),
            (AgentClearance, {"client_id": clients["shopwave"]}),
        ):
            session.merge(model(agent_id=agents[0], **values))
        session.execute(delete(Shift).where(Shift.agent_id == agents[0]))
        session.add_all(
            Shift(agent_id=agents[0], weekday=day, start_minute=0, duration_minutes=1440)
            for day in range(7)
        )
        tokens["agent"] = issue_token(session, agent_user.id, "demo", clock.now(), "demo-agent")
        set_password(session, agent_user, DEMO_PASSWORD)
        for client_id, process_id, code in processes:
            if code == "underwriting":
                owner = owners[client_id]
                ctx = Context(session, owner, clock.now(), container.keyring, container.audit_key)
                _publish_underwriting_rules(ctx, process_id)
        system = Context(session, SYSTEM, clock.now(), container.keyring, container.audit_key)
        _quality_policies(system, processes)
    progress("clients, processes, rules, 3 centers and 60 agents created")

    total_hours = 72
    scans = random.Random(seed + 16)  # the scanned forms' own draws: the replay's stay as they were
    arrivals = sorted(
        (rng.uniform(0, total_hours), process)
        for process in processes
        for _ in range(items_per_process)
    )

    def arrive(process: Any, external_ref: str | None = None, *, scanned: bool = False) -> None:
        payload = _payload(process[2], rng)
        document = None
        if scanned and process[2] == "app-keying":  # the form itself, to key from
            data, payload["pages"] = _scanned_application(scans)
            document = (data, limits(container.settings))
        with transaction(container.sessions) as session:  # on the replay's clock
            ctx = Context(
                session, owners[process[0]], clock.now(), container.keyring, container.audit_key
            )
            submit_item(
                ctx,
                process[1],
                payload,
                at_risk_fraction=container.settings.at_risk_fraction,
                external_ref=external_ref,
                document=document,
            )
        with transaction(container.sessions) as session:  # as the worker would, soon after
            seed_gold(
                session,
                clock.now(),
                rng,
                container.settings.at_risk_fraction,
                keyring=container.keyring,
            )

    keying = next(p for p in processes if p[2] == "app-keying")
    history_start = end - timedelta(days=3, weeks=HISTORY_WEEKS)
    replay_start = end - timedelta(days=3)
    for day in _local_days(history_start, replay_start, NEW_YORK):
        for moment in _history_arrivals(day, items_per_process, rng):  # the forecast's past
            if moment >= replay_start:
                break
            clock.set(moment)
            arrive(keying, external_ref=f"app-keying-{rng.randrange(10**6):06d}")
        worked = datetime.combine(day, time(17), NEW_YORK).astimezone(UTC)
        if worked + timedelta(hours=1) <= replay_start:  # the day's keying, in the evening
            clock.set(worked)
            _work_an_hour(container, dispatcher, agents, rng)
    progress(f"{HISTORY_WEEKS} weeks of the insurer's keying before the replay")

    hour = 0
    for at, process in arrivals:
        while hour < at:  # agents work through the hour before the next arrivals
            clock.set(end - timedelta(hours=total_hours - hour))
            _work_an_hour(container, dispatcher, agents, rng)
            hour += 1
        clock.set(end - timedelta(hours=total_hours - at))
        arrive(process, external_ref=f"{process[2]}-{rng.randrange(10**6):06d}")
        if hour % 12 == 0:
            progress(f"simulated hour {hour} of {total_hours}")
    clock.set(end)
    for process in processes:  # the latest arrivals, not yet worked on: forms come scanned
        for _ in range(max(8, items_per_process // 8)):
            arrive(process, scanned=True)
    _finish(container, dispatcher, agents, owners)
    _service_desk(container, clients["shopwave"], agents[0], end)
    progress("the retailer's support brand and its conversations")
    _presence(container, agents[1:], end, rng)  # the tour's agent is left available
    _roster(container, keying[1], end)
    progress("next week's roster for the insurer's keying planned and published")
    return tokens


# The weeks of the insurer's keying before the replay, for the planner's forecast: weekdays
# from 09:00 to 17:00 in New York, a little on Saturday mornings.
HISTORY_WEEKS = 4
NEW_YORK = ZoneInfo("America/New_York")


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _history_arrivals(day: date, items_per_process: int, rng: random.Random) -> list[datetime]:
    """The keying forms of a past local day in New York (a twelfth of the replay's daily
    volume on a weekday), as UTC instants in order."""
    per_day = items_per_process // 12 if day.weekday() < 5 else items_per_process // 100
    hours = (9, 17) if day.weekday() < 5 else (9, 12)
    if day.weekday() == 6:
        per_day = 0
    opens = datetime.combine(day, time(hours[0]), NEW_YORK)
    span = (hours[1] - hours[0]) * 3600
    return sorted(
        (opens + timedelta(seconds=rng.uniform(0, span))).astimezone(UTC) for _ in range(per_day)
    )


def _presence(
    container: Container, agents: list[uuid.UUID], end: datetime, rng: random.Random
) -> None:
    """The last day's presence, for adherence: most agents available from about the start of
    each shift, a break of half an hour to 45 minutes in it, signed out about its end; a few
    late, a few gone early, one in twenty absent. Recorded as the API would (no console
    session), so each state holds until the next."""
    with transaction(container.sessions) as session:
        shifts = scheduled(session, agents, end - timedelta(days=1), end)
        for agent_id in agents:
            changes: list[tuple[datetime, presence.State]] = []
            for begin, finish in shifts.get(agent_id, []):
                if rng.random() < 0.05:
                    continue  # absent
                arrives = begin + timedelta(minutes=rng.choice([-5, -2, 0, 0, 0, 3, 8, 20]))
                leaves = finish + timedelta(minutes=rng.choice([-30, -5, 0, 0, 5, 10]))
                if leaves <= arrives:
                    continue
                changes.append((arrives, "available"))
                if finish - begin >= timedelta(hours=4):  # a break in a whole shift
                    pause = begin + (finish - begin) / 2
                    back = pause + timedelta(minutes=rng.choice([30, 30, 35, 45]))
                    if back < min(leaves, end):
                        changes += [(pause, "break"), (back, "available")]
                if leaves < end:
                    changes.append((leaves, "signed_out"))
            for at, state in sorted(changes):
                if end - timedelta(days=1) <= at < end:
                    presence.record(session, agent_id, state, "api", at)


def _roster(container: Container, process_id: uuid.UUID, end: datetime) -> None:
    """Next week's roster for the keying, from its forecast, published: from its Monday,
    dispatch follows it at every center."""
    today = end.astimezone(NEW_YORK).date()
    request = rosterplans.PlanRequest(
        name="Keying, next week",
        first_date=today + timedelta(days=7 - today.weekday()),
        days=7,
        process_id=process_id,
        time_limit_seconds=10,
    )
    planned = rosterplans.plan(lambda: container.context(SYSTEM), request)
    with container.context(SYSTEM) as ctx:
        rosters.publish_roster(ctx, planned.id)


def mail_hint(host: str, port: int) -> list[str]:
    """How to write to the retailer's support brand once `tandem serve` runs: the SMTP port
    and a one-line command sending a message with Python's smtplib."""
    if not port:
        return ["The service desk's SMTP server is off (TANDEM_SMTP_PORT=0)."]
    at = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - only compared
    raw = (
        f"From: You <you@example.com>\\r\\nTo: {SUPPORT_ADDRESS}\\r\\n"
        "Subject: Where is my order?\\r\\n\\r\\nHello, my order has not arrived yet.\\r\\n"
    )
    command = (
        f"python3 -c \"import smtplib; smtplib.SMTP('{at}', {port}).sendmail("
        f"'you@example.com', ['{SUPPORT_ADDRESS}'], '{raw}')\""
    )
    return [
        f"Write to Shopwave's support desk ({SUPPORT_ADDRESS}): SMTP on {at}:{port}, e.g.",
        f"  {command}",
        f"then sign in as {DESK_AGENT[0]} and press n. Replies wait in the outbox until a "
        "relay is configured (TANDEM_SMTP_RELAY_HOST).",
    ]


# Conversations under way at the retailer's brand: (name, address, subject, text, an
# attachment, hours before the demo's end it arrived).
DESK_MAIL: list[tuple[str, str, str, str, tuple[str, bytes] | None, float]] = [
    (
        "Ana Cruz",
        "ana.cruz@example.com",
        "Wrong size",
        "The shoes I got are a 39, I ordered a 40. Can I exchange them?",
        None,
        26,
    ),
    (
        "Maria Santos",
        "maria.santos@example.com",
        "Where is my order SW-1048213?",
        "Hello, I ordered ten days ago and the parcel has still not arrived.",
        None,
        5,
    ),
    (
        "Jose Reyes",
        "jose.reyes@example.com",
        "Refund request",
        "Hi, I returned the jacket last week. Please refund it to my card, not store "
        "credit. The receipt is attached.",
        ("receipt.txt", b"Shopwave order SW-2291044\nJacket, navy, M: 59.00 GBP\n"),
        1.5,
    ),
    (
        "Ana Cruz",
        "ana.cruz@example.com",
        "Exchange label not received",
        "You said you would send a return label for the exchange, but nothing came.",
        None,
        0.3,
    ),
]


def _raw_mail(
    name: str,
    address: str,
    subject: str,
    text: str,
    attachment: tuple[str, bytes] | None,
    message_id: str,
    *,
    to: str = SUPPORT_ADDRESS,
    answering: str | None = None,
) -> bytes:
    """A message as a customer's mail client writes it."""
    mail = EmailMessage()
    mail["From"] = f"{name} <{address}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id}>"
    if answering:
        mail["In-Reply-To"] = mail["References"] = f"<{answering}>"
    mail.set_content(text)
    if attachment:
        mail.add_attachment(attachment[1], maintype="text", subtype="plain", filename=attachment[0])
    return mail.as_bytes()


# Shopwave's help center (/help/shopwave): suggested to agents beside the conversations.
HELP_ARTICLES = (
    (
        "Returns and refunds",
        "You can return most items within **30 days** of delivery, unworn and with their "
        "tags.\n\n1. Open your order in your account and choose *Return an item*.\n"
        "2. Print the prepaid return label we email you.\n"
        "3. Drop the parcel at any post office.\n\n"
        "We refund to the card you paid with within **5 working days** of receiving the "
        "return. Prefer another size? Choose *Exchange* instead and we send the new size "
        "as soon as the return is scanned.",
    ),
    (
        "Shipping times and costs",
        "| Delivery | Time | Cost |\n|---|---|---|\n"
        "| Standard | 3-5 working days | 3.95 GBP, free over 50 GBP |\n"
        "| Express | next working day (order by 2 pm) | 6.95 GBP |\n"
        "| International | 7-12 working days | from 12.00 GBP |\n\n"
        "Orders placed at the weekend are shipped on Monday.",
    ),
    (
        "Tracking your order",
        "Once your parcel is shipped we email you a tracking link. You can also follow the "
        "order in your account under *My orders*.\n\nIf the parcel has not arrived "
        "**3 working days** after its expected delivery date, write to us with your order "
        "number (it starts with SW-) and we will trace it with the courier.",
    ),
    (
        "Damaged or faulty items",
        "We are sorry if something arrived damaged or faulty. Write to us within "
        "**14 days** with your order number and a photo of the damage and of the parcel.\n\n"
        "We send a replacement or refund you in full, and you do not need to pay for the "
        "return: we email you a prepaid label.",
    ),
    (
        "Changing or cancelling an order",
        "You can change the size or address of an order, or cancel it, until it is packed: "
        "usually within **one hour** of ordering. Open the order in your account and choose "
        "*Change* or *Cancel*. Once it is shipped, return it instead (see "
        "[Returns and refunds](/help/shopwave/articles/returns-and-refunds)).",
    ),
)


def _service_desk(
    container: Container, client_id: int, tour_agent: uuid.UUID, end: datetime
) -> None:
    """The retailer's support brand with a conversation process, the desk's agent, and
    conversations under way, each message taken by the email-in use case at its time and
    answered by the agent under the lease (see DESK_MAIL)."""
    clock = ManualClock(end - timedelta(days=2))
    dispatcher = Dispatcher(clock, container.keyring, container.settings.lease_seconds)
    rules = inbound.Rules(at_risk_fraction=container.settings.at_risk_fraction)

    with transaction(container.sessions) as session:
        process = define_process(
            session,
            client_id,
            ProcessDefinition(
                code="email",
                name="Shopwave customer email",
                kind="conversation",
                input_schema=CONVERSATION_INPUT,
                form_schema=REPLY_FORM,
                required_skills={"email_support": 2},
                sla_minutes=240,
                sla_mode="24x7",
                language="en",
                min_cefr="B2",
                price_per_item=Decimal("1.40"),
            ),
            now=clock.now(),
        )
        system = Context(session, SYSTEM, clock.now(), container.keyring, container.audit_key)
        brand = create_brand(
            system,
            BrandDefinition(
                code="shopwave",
                name="Shopwave",
                process_id=process.id,
                support_addresses=[SUPPORT_ADDRESS],
                reply_from_name="Shopwave Customer Care",
                reply_from_address=SUPPORT_ADDRESS,
                signature="-- \nShopwave Customer Care\nhttps://shopwave.example/help",
                greeting="Hello",
            ),
        )
        for title, body in HELP_ARTICLES:  # the brand's help center, published
            written = knowledge.create_article(system, brand.id, knowledge.Draft(title, body))
            knowledge.publish(system, brand.id, written.id)
        email, full = DESK_AGENT
        user = create_user(session, email=email, name=full, role="agent", now=clock.now())
        set_password(session, user, DEMO_PASSWORD)
        desk_agent = Agent(
            center_code="MNL", name=full, tier="agent", hired_on=date(2024, 3, 1), user_id=user.id
        )
        session.add(desk_agent)
        session.flush()
        for agent_id in (desk_agent.id, tour_agent):  # the tour's agent answers email too
            session.merge(AgentSkill(agent_id=agent_id, skill_code="email_support", level=3))
        session.add_all(
            [
                AgentLanguage(agent_id=desk_agent.id, language="en", cefr="C1"),
                AgentClearance(client_id=client_id, agent_id=desk_agent.id),
                *(
                    Shift(
                        agent_id=desk_agent.id, weekday=day, start_minute=0, duration_minutes=1440
                    )
                    for day in range(7)
                ),
            ]
        )
        brand_id, agent_id = brand.id, desk_agent.id
        writer = Principal(user.id, "agent", None, agent_id)

    def take(raw: bytes, hours: float) -> inbound.Taken:
        clock.set(end - timedelta(hours=hours))
        with transaction(container.sessions) as session:
            ctx = Context(session, SYSTEM, clock.now(), container.keyring, container.audit_key)
            found = session.get_one(Brand, (client_id, brand_id))
            return inbound.receive(ctx, found, content.read(raw), [SUPPORT_ADDRESS], rules)

    def answer(hours: float, text: str, then: str, note: str | None = None) -> str:
        """The desk's agent takes the next conversation and answers it; its Message-ID."""
        clock.set(end - timedelta(hours=hours))
        with transaction(container.sessions) as session:
            lease = dispatcher.claim(session, agent_id)
            if lease is None:
                raise RuntimeError("the demo's desk queue is empty")
            ctx = Context(session, writer, clock.now(), container.keyring, container.audit_key)
            conversation_id = uuid.UUID(lease.payload["conversation_id"])
            if note:
                replies.note(ctx, conversation_id, lease.attempt, note)
            written = replies.reply(
                ctx, dispatcher, conversation_id, lease.attempt, text, then=then
            )
            return str(session.get_one(Message, (client_id, written.message_id)).message_id)

    ana, maria, jose, again = DESK_MAIL
    take(_raw_mail(*ana[:5], "exchange-1@mail.example.com"), ana[5])
    answer(
        25,
        "Hello Ana,\nof course: we have sent you a return label for the exchange. The size "
        "40 is reserved for you.",
        "solved",
    )
    first = take(_raw_mail(*maria[:5], "order-1@mail.example.com"), maria[5])
    ours = answer(
        4.5,
        "Hello Maria,\nthe carrier tells us your parcel is on its way and should arrive "
        "tomorrow. Sorry for the wait.",
        "pending",
        note="Carrier tracking: held at the Leeds depot for two days, now out for delivery.",
    )
    take(_raw_mail(*jose[:5], "refund-1@mail.example.com"), jose[5])
    with transaction(container.sessions) as session:
        token = session.get_one(Conversation, (client_id, first.conversation_id)).token
    take(
        _raw_mail(
            maria[0],
            maria[1],
            f"Re: {maria[2]}",
            "It has still not come today. Can you send it again, or refund me?",
            None,
            "order-2@mail.example.com",
            to=SUPPORT_ADDRESS.replace("@", f"+{token}@"),
            answering=ours,
        ),
        0.7,
    )
    take(_raw_mail(*again[:5], "label-1@mail.example.com"), again[5])


CLIENTS = [
    # code, name, time zone, country (and subdivision) of its public holidays
    ("northwind", "Northwind Mutual Insurance", "America/New_York", "US", None),
    ("shopwave", "Shopwave Online Retail", "Europe/London", "GB", "ENG"),
    ("hartley", "Hartley & Finch LLP", "America/Chicago", "US", None),
]


def _clients(session: Session, now: Any) -> dict[str, int]:
    ids = {}
    for code, name, timezone, country, subdivision in CLIENTS:
        days = holidays.country_holidays(
            country, subdiv=subdivision, years=[now.year, now.year + 1]
        )
        calendar = BusinessCalendar.office_hours(timezone, holidays=list(days)).to_dict()
        client = create_client(
            session,
            code=code,
            name=name,
            timezone=timezone,
            now=now,
            calendar=calendar,
            country=country,
        )
        ids[code] = client.id
    return ids


def _processes(session: Session, clients: dict[str, int], now: Any) -> list[tuple[int, Any, str]]:
    for code, name in SKILLS.items():
        session.add(Skill(code=code, name=name))
    session.flush()
    specs: list[tuple[Any, ...]] = [
        (
            "northwind",
            "app-keying",
            "Keying of insurance application forms",
            "data_entry",
            DOCUMENT_INPUT,
            APP_FORM,
            {"data_entry": 2},
            240,
            "business_hours",
            None,
        ),
        (
            "northwind",
            "underwriting",
            "Evaluation of new insurance applications",
            "decision",
            underwriting.INPUT_SCHEMA,
            underwriting.RESULT_FORM,
            {"insurance": 3},
            480,
            "business_hours",
            None,
        ),
        (
            "shopwave",
            "support",
            "Customer service tickets",
            "conversation",
            TICKET_INPUT,
            TICKET_FORM,
            {"customer_service": 2},
            120,
            "24x7",
            "en",
        ),
        (
            "hartley",
            "doc-review",
            "First-pass document review",
            "data_entry",
            DOCUMENT_INPUT,
            REVIEW_FORM,
            {"legal_review": 2},
            960,
            "business_hours",
            None,
        ),
    ]
    made = []
    for client, code, name, kind, input_schema, form, skills, sla, mode, language in specs:
        definition = ProcessDefinition(
            code=code,
            name=name,
            kind=kind,
            input_schema=input_schema,
            form_schema=form,
            required_skills=skills,
            sla_minutes=sla,
            sla_mode=mode,
            language=language,
            min_cefr="B2" if language else None,
            price_per_item=Decimal("0.85"),
            # Underwriters judge health: they see it; names stay masked unless revealed.
            agent_visible_personal=["health"] if code == "underwriting" else [],
        )
        process = define_process(session, clients[client], definition, now=now)
        made.append((process.client_id, process.id, code))
    return made


def _workforce(session: Session, clients: dict[str, int], rng: random.Random) -> list[Any]:
    agent_ids = []
    for code, name, country, tz, cost, start_hour in CENTERS:
        years = [date.today().year, date.today().year + 1]
        center_holidays = [d.isoformat() for d in holidays.country_holidays(country, years=years)]
        session.add(
            DeliveryCenter(
                code=code,
                name=name,
                country=country,
                timezone=tz,
                hourly_cost=cost,
                currency="USD",
                holidays=center_holidays,
            )
        )
        session.flush()
        for n in range(20):
            analyst = n % 5 == 0
            agent = Agent(
                center_code=code,
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                tier="analyst" if analyst else "agent",
                hired_on=date(2024, 1 + n % 12, 1),
            )
            session.add(agent)
            session.flush()
            agent_ids.append(agent.id)
            skills = {"data_entry": rng.randint(2, 5), "customer_service": rng.randint(1, 4)}
            if analyst:
                skills["insurance"] = rng.randint(3, 5)
            if code == "KRK" or n % 4 == 1:
                skills["legal_review"] = rng.randint(2, 4)
            for skill, level in skills.items():
                session.add(AgentSkill(agent_id=agent.id, skill_code=skill, level=level))
            session.add(
                AgentLanguage(agent_id=agent.id, language="en", cefr=rng.choice(["B2", "C1", "C2"]))
            )
            for client_id in clients.values():
                session.add(AgentClearance(client_id=client_id, agent_id=agent.id))
            # Two staggered crews per center so that together the centers cover 24/7.
            start = (start_hour + (9 if n % 2 else 0)) % 24
            days = range(5) if n % 3 else range(2, 7)
            for day in days:
                session.add(
                    Shift(
                        agent_id=agent.id,
                        weekday=day,
                        start_minute=start * 60,
                        duration_minutes=9 * 60,
                    )
                )
    session.flush()
    return agent_ids


def _payload(process_code: str, rng: random.Random) -> dict[str, Any]:
    if process_code == "support":
        first, last = rng.choice(FIRST), rng.choice(LAST)
        return {
            "customer": f"{first} {last}",
            "channel": rng.choice(["email", "chat", "social"]),
            "order_id": f"SW-{rng.randrange(10**7)}",
            "subject": rng.choice(["Where is my order?", "Refund request", "Wrong size"]),
            "message": rng.choice(MESSAGES).format(
                email=f"{first.lower()}.{last.lower()}@example.com",
                phone=f"+44 7911 {rng.randrange(10**6):06d}",
            ),
        }
    if process_code == "underwriting":
        return _underwriting_case(rng)
    return {"document_ref": f"scan-{rng.randrange(10**8):08d}.pdf", "pages": rng.randint(1, 12)}


def _scanned_application(rng: random.Random) -> tuple[bytes, int]:
    """An insurance application form as the client scans it (a PDF, and its pages): the
    applicant's answers written in its boxes, what the agent keys; then its declarations."""
    answers = _application(rng)
    width, height = 850, 1100  # letter size at 100 dots per inch, greyscale
    title, text = ImageFont.load_default(size=30), ImageFont.load_default(size=22)
    hand = ImageFont.load_default(size=26)
    form = Image.new("L", (width, height), 248)
    draw = ImageDraw.Draw(form)
    draw.text((60, 50), "Northwind Mutual Insurance", font=title, fill=10)
    draw.text((60, 95), "Application for insurance", font=text, fill=40)
    boxes = [
        ("Full name of applicant", answers["applicant_name"]),
        ("Date of birth (YYYY-MM-DD)", answers["birth_date"]),
        ("Policy type", answers["policy_type"].replace("_", " ")),
        ("Amount of cover (USD)", f"{answers['coverage_amount']:,}"),
        ("Postcode", answers["postcode"]),
        ("Smoker", "yes" if answers["smoker"] else "no"),
    ]
    y = 170
    for label, value in boxes:
        draw.text((60, y), label, font=text, fill=60)
        draw.rectangle((60, y + 30, width - 60, y + 80), outline=30, width=2)
        draw.text((80 + rng.randrange(20), y + 40), value, font=hand, fill=25)  # in pen
        y += 115
    draw.text((60, height - 90), "Signature of applicant:  ______________", font=text, fill=40)
    pages = [form]
    for number in range(2, rng.randint(1, 3) + 1):
        declarations = Image.new("L", (width, height), 248)
        lines = ImageDraw.Draw(declarations)
        lines.text((60, 50), f"Declarations (page {number})", font=title, fill=10)
        for row in range(24):
            lines.line((60, 130 + 36 * row, width - 60 - rng.randrange(200), 130 + 36 * row), 90)
        pages.append(declarations)
    for page in pages:  # the scanner's speckle
        for _ in range(300):
            page.putpixel((rng.randrange(width), rng.randrange(height)), rng.randrange(120, 220))
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=100.0)
    return out.getvalue(), len(pages)


def _underwriting_case(rng: random.Random) -> dict[str, Any]:
    """An application as the insurer's systems send it for evaluation: some clear-cut, some
    for an underwriter (abroad, large cover, high score, a field missing)."""
    case: dict[str, Any] = {
        "applicant_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "age": min(80, max(17, int(rng.gauss(42, 13)))),
        "country": "US" if rng.random() > 0.08 else rng.choice(["GB", "CA", "PH"]),
        "policy_type": rng.choice(["term_life", "whole_life", "health"]),
        "coverage_amount": rng.choice([50_000, 100_000, 250_000, 500_000, 1_500_000]),
        "annual_income": rng.choice([28_000, 45_000, 60_000, 90_000, 150_000]),
        "smoker": rng.random() < 0.18,
        "bmi": round(rng.uniform(18, 38), 1),
        "conditions": rng.choice([0, 0, 0, 1, 2]),
        "claims_5y": rng.choice([0, 0, 1, 3]),
        "occupation_class": rng.choice([1, 1, 2, 3, 4]),
    }
    if rng.random() < 0.04:
        del case[rng.choice(["age", "annual_income", "bmi"])]
    return case


def _publish_underwriting_rules(ctx: Context, process_id: Any) -> None:
    """The insurer's underwriting ruleset, published with its test cases; declines by an
    underwriter need a second one (four eyes)."""
    rulesets.publish_version(
        ctx,
        process_id,
        underwriting.graph(),
        underwriting.tests(),
        four_eyes={"declines": True},
        note="Underwriting guidelines 2026",
        reasons=underwriting.REASONS,
    )


def _application(rng: random.Random) -> dict[str, Any]:
    return {
        "applicant_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "birth_date": date(
            rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)
        ).isoformat(),
        "policy_type": rng.choice(["term_life", "whole_life", "health", "home"]),
        "coverage_amount": rng.choice([50_000, 100_000, 250_000, 500_000]),
        "postcode": f"{rng.randrange(10**5):05d}",
        "smoker": rng.random() < 0.2,
    }


def _result(routing_key: str, payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    if routing_key == "support":
        return {"reply": "Sorry for the wait: your parcel ships today.", "resolution": "answered"}
    if routing_key == "underwriting":
        if rng.random() < 0.7:
            return {"outcome": "approve", "reason": "acceptable risk after review"}
        return {"outcome": "decline", "reason": "risk beyond the guidelines"}
    if routing_key == "doc-review":
        return {"responsive": rng.random() < 0.4, "privileged": rng.random() < 0.1}
    return _application(rng)


def _work_an_hour(
    container: Container, dispatcher: Dispatcher, agents: list[Any], rng: random.Random
) -> None:
    """Agents claim in the hour from now, each item worked for two to four and a half
    minutes (within the lease): handle times for the planner's forecast to measure. The
    reviews, confirmations and escalation follow at the hour's end."""
    clock = dispatcher.clock
    assert isinstance(clock, ManualClock)
    hour = clock.now()
    for agent_id in rng.sample(agents, 30):
        clock.set(hour + timedelta(seconds=rng.uniform(0, 45 * 60)))
        for _ in range(2):
            with transaction(container.sessions) as session:
                lease = dispatcher.claim(session, agent_id)
                if lease is None:
                    break
                most = 0.9 * container.settings.lease_seconds  # no heartbeat needed
                clock.advance(timedelta(seconds=min(rng.uniform(120, 270), most)))
                result = _result(lease.routing_key, lease.payload, rng)
                if lease.routing_key == "underwriting":  # an underwriter judges a referral
                    referrals.judge(
                        _underwriter(container, session, dispatcher.clock.now(), agent_id),
                        dispatcher,
                        lease.item_id,
                        lease.attempt,
                        outcome=result["outcome"],
                        reason=result["reason"],
                    )
                else:
                    dispatcher.submit(session, agent_id, lease.item_id, lease.attempt, result)
    clock.set(hour + timedelta(hours=1))
    _confirm_declines(container, dispatcher, agents, rng)
    _review_an_hour(container, dispatcher, rng)
    with transaction(container.sessions) as session:
        escalate(session, dispatcher.clock.now(), container.settings.at_risk_priority_boost)


def _confirm_declines(
    container: Container, dispatcher: Dispatcher, agents: list[Any], rng: random.Random
) -> None:
    """Second underwriters confirm most declines waiting for four eyes and send the rest
    back to be judged again."""
    for agent_id in rng.sample(agents, 10):
        with transaction(container.sessions) as session:
            ctx = _underwriter(container, session, dispatcher.clock.now(), agent_id)
            waiting = referrals.pending_confirmations(ctx, dispatcher)[:3]
            for item, _ in waiting:
                referrals.confirm(ctx, dispatcher, item.id, agree=rng.random() < 0.85)


def _underwriter(
    container: Container, session: Session, now: datetime, agent_id: uuid.UUID
) -> Context:
    """An underwriter's context at the demo's simulated time (Container.context reads the
    container's clock). The demo's agents have no sign-in: the use cases read the agent."""
    principal = Principal(uuid.UUID(int=2), "analyst", None, agent_id)
    return Context(session, principal, now, container.keyring, container.audit_key)


# QA policies of the demo's processes: keying is sampled (CSP-1 at an AOQL of 1 %, with
# gold items), tickets are sampled against a looser target, litigation review is reviewed
# in full; underwriting has its four-eyes rule already.
QUALITY = {
    "app-keying": ("sampling", 0.01, 0.05),
    "support": ("sampling", 0.02, 0.0),
    "doc-review": ("full_review", 0.01, 0.0),
}


def _quality_policies(ctx: Context, processes: list[tuple[int, Any, str]]) -> None:
    for client_id, process_id, code in processes:
        if code not in QUALITY:
            continue
        process = ctx.session.get_one(Process, (client_id, process_id))
        process.qa_mode, process.qa_aoql, process.qa_gold_rate = QUALITY[code]
        if process.qa_gold_rate:
            rng = random.Random(code)
            for _ in range(5):
                add_gold_item(ctx, process_id, _payload(code, rng), _application(rng))


def _review_an_hour(container: Container, dispatcher: Dispatcher, rng: random.Random) -> None:
    """The QA reviewer works through what waits: most passes; some is corrected, some sent
    back to another agent."""
    reviewer = Principal(uuid.UUID(int=1), "qa_reviewer", None, None)

    def at_the_demo_time(session: Session) -> Context:
        """(Container.context reads the container's clock, not the demo's.)"""
        now = dispatcher.clock.now()
        return Context(session, reviewer, now, container.keyring, container.audit_key)

    with transaction(container.sessions) as session:
        queue = reviews.review_queue(at_the_demo_time(session), window=paging.Window(40))
        waiting = [item.id for _, item in queue.items]
    for item_id in waiting:
        with transaction(container.sessions) as session:
            ctx = at_the_demo_time(session)
            case = reviews.review_case(ctx, item_id)
            item = case.item
            if case.request.kind == "adjudication":
                continue
            criteria = case.policy.criteria
            conversation = item.routing_key == "support"  # a reply is redone, not corrected
            failed = rng.random() < 0.08
            category = "communication" if conversation else "wrong_value"
            reviews.review(
                ctx,
                item_id,
                failures=[reviews.Failure(rng.choice(criteria), category)] if failed else [],
                verdict=("rework" if conversation else "correct") if failed else "deliver",
                corrected=_result(item.routing_key, item.payload, rng)
                if failed and not conversation
                else None,
                rework_to="other" if failed and conversation else None,
                lease=dispatcher.lease,
            )


def _finish(
    container: Container,
    dispatcher: Dispatcher,
    agents: list[Any],
    owners: dict[int, Principal],
) -> None:
    """Leave some items leased, waiting and cancelled."""
    clock = dispatcher.clock
    for agent_id in agents[:10]:
        with transaction(container.sessions) as session:
            dispatcher.claim(session, agent_id)
    with transaction(container.sessions) as session:
        queued = session.execute(
            select(WorkItem.client_id, WorkItem.id).where(WorkItem.state == "queued").limit(12)
        ).all()
    for i, (client_id, item_id) in enumerate(queued):
        fraction = container.settings.at_risk_fraction
        with container.context(owners[client_id]) as ctx:
            try:
                if i % 2:
                    work.hold(ctx, item_id, "waiting for a legible scan", at_risk_fraction=fraction)
                else:
                    work.cancel(ctx, item_id, "sent by mistake")
            except TandemError:
                continue
    with transaction(container.sessions) as session:
        escalate(session, clock.now(), container.settings.at_risk_priority_boost)
