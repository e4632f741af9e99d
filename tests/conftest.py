"""Fixtures: a real, migrated database (SQLite by default, PostgreSQL when
TANDEM_TEST_DATABASE_URL points at one), a manual clock, and a real HTTP server."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from tandem.app import create_app
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.config import load_settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.core.migrate import upgrade
from tandem.delivery.addresses import networks
from tandem.intake.service import submit_item
from tandem.models import metadata
from tandem.sla.calendar import BusinessCalendar
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_client, create_user, issue_token
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

# A Wednesday, 10:00 in New York: inside business hours.
T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)

INPUT_SCHEMA = {
    "type": "object",
    "required": ["document_ref"],
    "additionalProperties": False,
    "properties": {
        "document_ref": {"type": "string", "minLength": 1},
        "pages": {"type": "integer", "minimum": 1},
        "received_on": {"type": "string", "format": "date"},
    },
}
FORM_SCHEMA = {
    "type": "object",
    "required": ["applicant_name", "coverage_amount"],
    "additionalProperties": False,
    "properties": {
        "applicant_name": {"type": "string", "minLength": 2},
        "coverage_amount": {"type": "number", "minimum": 1000},
    },
}
RESULT = {"applicant_name": "Maria Santos", "coverage_amount": 250000}


# On PostgreSQL the application connects as an ordinary role, as in production: superusers
# bypass row-level security, which would then go untested. The admin (the URL's own user)
# creates the database and cleans it between tests.
APP_ROLE = "tandem_app"

# The tests' webhook receivers listen on this machine: the networks they may be called on.
LOCAL_NETWORKS = "127.0.0.0/8,::1/128"
LOCAL = networks(LOCAL_NETWORKS)


@dataclass(frozen=True)
class TestDatabase:
    url: str  # what the application uses
    admin_url: str | None  # PostgreSQL: a superuser's URL to the same database


def _database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    url = os.environ.get("TANDEM_TEST_DATABASE_URL")
    if not url:
        path = tmp_path_factory.mktemp("db") / "test.db"
        yield TestDatabase(f"sqlite:///{path}", None)
        return
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"tandem_test_{os.getpid()}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    yield TestDatabase(
        base.set(database=name, username=APP_ROLE, password=None).render_as_string(
            hide_password=False
        ),
        base.set(database=name).render_as_string(hide_password=False),
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def test_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    for database in _database(tmp_path_factory):
        upgrade(database.url)
        yield database


@pytest.fixture(scope="session")
def database_url(test_database: TestDatabase) -> str:
    return test_database.url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=40)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def admin_engine(test_database: TestDatabase, engine: Engine) -> Iterator[Engine]:
    """A superuser's engine on PostgreSQL (the application's engine on SQLite)."""
    if test_database.admin_url is None:
        yield engine
        return
    admin = make_engine(test_database.admin_url, pool_size=2)
    yield admin
    admin.dispose()


@pytest.fixture
def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def empty_tables(engine: Engine) -> None:
    """Every table emptied (by a superuser on PostgreSQL)."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        # The audit trail refuses deletes (triggers): tests set them aside to start clean.
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            triggers = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            for name, _ in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            for _, sql in triggers:
                conn.execute(text(sql))


@pytest.fixture
def clean_db(admin_engine: Engine) -> None:
    empty_tables(admin_engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def container(engine: Engine, database_url: str, clock: ManualClock, clean_db: None) -> Container:
    settings = load_settings(
        database_url=database_url,
        lease_seconds=60,
        cookie_secure=False,
        webhook_allowed_networks=LOCAL_NETWORKS,
    )
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock,
    )


@dataclass
class World:
    """A small operation: one insurer with a keying process, a second client, agents."""

    client_id: int
    other_client_id: int
    process_id: uuid.UUID
    other_process_id: uuid.UUID
    agent_id: uuid.UUID
    client_user: Principal
    other_client_user: Principal
    tokens: dict[str, str]

    def submit(self, container: Container, document_ref: str = "x", **kwargs: Any) -> WorkItem:
        """Hand one item of the insurer's keying process over, at the clock's now."""
        with container.context(self.client_user) as ctx:
            item, _ = submit_item(
                ctx,
                self.process_id,
                {"document_ref": document_ref},
                at_risk_fraction=0.75,
                **kwargs,
            )
        return item

    def add_agents(self, container: Container, count: int, **kwargs: Any) -> list[uuid.UUID]:
        with transaction(container.sessions) as session:
            return [_agent(session, [self.client_id], **kwargs) for _ in range(count)]


def _agent(
    session: Any,
    client_ids: list[int],
    *,
    skill_level: int = 3,
    center: str = "MNL",
    shifts: list[tuple[int, int, int]] | None = None,
    user_id: uuid.UUID | None = None,
) -> uuid.UUID:
    agent = Agent(center_code=center, name="Test Agent", tier="agent", user_id=user_id)
    session.add(agent)
    session.flush()
    session.add(AgentSkill(agent_id=agent.id, skill_code="data_entry", level=skill_level))
    session.add(AgentLanguage(agent_id=agent.id, language="en", cefr="C1"))
    for client_id in client_ids:
        session.add(AgentClearance(client_id=client_id, agent_id=agent.id))
    for weekday, start, minutes in (
        shifts if shifts is not None else [(d, 0, 1440) for d in range(7)]
    ):
        session.add(
            Shift(agent_id=agent.id, weekday=weekday, start_minute=start, duration_minutes=minutes)
        )
    session.flush()
    return agent.id


@pytest.fixture
def world(container: Container) -> World:
    return build_world(container)


def build_world(container: Container) -> World:
    """Two clients (an insurer, a retailer) with a keying process each, their users, agents."""
    now = container.clock.now()
    tokens: dict[str, str] = {}
    with transaction(container.sessions) as session:
        session.add(Skill(code="data_entry", name="Data entry"))
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
        calendar = BusinessCalendar.office_hours("America/New_York").to_dict()
        insurer = create_client(
            session,
            code="insurer",
            name="Insurer",
            timezone="America/New_York",
            now=now,
            calendar=calendar,
        )
        retailer = create_client(
            session, code="retailer", name="Retailer", timezone="Europe/London", now=now
        )
        processes = []
        for client in (insurer, retailer):
            processes.append(
                define_process(
                    session,
                    client.id,
                    ProcessDefinition(
                        code="keying",
                        name="Keying",
                        kind="data_entry",
                        input_schema=INPUT_SCHEMA,
                        form_schema=FORM_SCHEMA,
                        required_skills={"data_entry": 2},
                        sla_minutes=240,
                        sla_mode="business_hours",
                    ),
                    now=now,
                )
            )
        users = {
            "client": create_user(
                session,
                email="c@insurer.example",
                name="C",
                role="client_admin",
                now=now,
                client_id=insurer.id,
            ),
            "other_client": create_user(
                session,
                email="c@retailer.example",
                name="R",
                role="client_admin",
                now=now,
                client_id=retailer.id,
            ),
            "agent": create_user(
                session, email="a@provider.example", name="A", role="agent", now=now
            ),
            "other_agent": create_user(
                session, email="b@provider.example", name="B", role="agent", now=now
            ),
            "ops": create_user(
                session, email="o@provider.example", name="O", role="ops_manager", now=now
            ),
            "security": create_user(
                session, email="s@provider.example", name="S", role="security_officer", now=now
            ),
        }
        for name, user in users.items():
            tokens[name] = issue_token(session, user.id, "test", now)
        agent_id = _agent(session, [insurer.id, retailer.id], user_id=users["agent"].id)
        _agent(session, [retailer.id], user_id=users["other_agent"].id)
        return World(
            client_id=insurer.id,
            other_client_id=retailer.id,
            process_id=processes[0].id,
            other_process_id=processes[1].id,
            agent_id=agent_id,
            client_user=Principal(users["client"].id, "client_admin", insurer.id, None),
            other_client_user=Principal(
                users["other_client"].id, "client_admin", retailer.id, None
            ),
            tokens=tokens,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(container: Container) -> Iterator[str]:
    """The real application on a real socket, in a thread; yields its base URL."""
    with serving(container) as url:
        yield url


@contextmanager
def serving(container: Container) -> Iterator[str]:
    """The application of `container` served on a free port in a thread, while the block
    runs; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def api(server: str, world: World) -> Iterator[Any]:
    """httpx clients per demo principal: api("client").get(...)."""
    clients: dict[str, httpx.Client] = {}

    def client(name: str) -> httpx.Client:
        if name not in clients:
            headers = (
                {"Authorization": f"Bearer {world.tokens[name]}"} if name in world.tokens else {}
            )
            clients[name] = httpx.Client(base_url=server, headers=headers, timeout=30)
        return clients[name]

    yield client
    for c in clients.values():
        c.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = (os.environ.get("TANDEM_TEST_DATABASE_URL") or "").startswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TANDEM_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords and not on_postgres:
            item.add_marker(skip)


ROOT = Path(__file__).resolve().parent.parent
