"""An expired lease counts for nothing, on every path that reads or acts on an item.

Each test takes a lease over the real HTTP stack, then moves the manual clock to just before
its expiry (the call succeeds: the positive control) or just past it, with the reaper NOT
run, so that the row still says the item is leased to the agent. Past expiry, every path
refuses as tandem.work.access decides: 404, as for a missing item, or the lease protocol's
409 (LeaseLost) to the agent who held that very lease.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.decisions import underwriting as uw
from tandem.decisions.models import Decision
from tandem.decisions.rulesets import publish_version
from tandem.intake.service import submit_item
from tandem.tenancy.models import User
from tandem.tenancy.service import create_user, issue_token
from tandem.tenancy.signin import set_password
from tandem.work.models import WorkItem
from tests.conftest import FORM_SCHEMA, RESULT, World, _agent
from tests.decisions.conftest import UNDERWRITING

PASSWORD = "a long console passphrase"
BEFORE, AFTER = -1, 1  # seconds from the lease's expiry
MOMENTS = pytest.mark.parametrize("offset", [BEFORE, AFTER], ids=["before-expiry", "after-expiry"])
# An application the rules refer to an analyst (advising approval): the applicant lives abroad.
ABROAD = {**uw.tests()[0][1], "country": "GB"}
PERSONAL_INPUT = {
    "type": "object",
    "required": ["applicant_name"],
    "properties": {"applicant_name": {"type": "string", "x-personal": "name"}},
}


# -- helpers -----------------------------------------------------------------------------------


def _claim(client: httpx.Client, item_id: uuid.UUID) -> dict[str, Any]:
    """The caller claims the next item over HTTP, which must be `item_id`: the lease."""
    claimed = client.post("/api/v1/dispatch/claim")
    assert claimed.status_code == 200, claimed.text
    lease: dict[str, Any] = claimed.json()
    assert lease["item_id"] == str(item_id)
    return lease


def _move(clock: ManualClock, lease: dict[str, Any], offset: int) -> None:
    """Set the clock `offset` seconds from the lease's expiry."""
    expires = datetime.fromisoformat(lease["lease_expires_at"])
    clock.set(expires + timedelta(seconds=offset))


def _assert_still_leased(container: Container, item_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    """The reaper has not run: the row still says leased to the agent (and nothing moved it)."""
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.id == item_id)).one()
        assert (item.state, item.lease_owner, item.result) == ("leased", agent_id, None)


def _analyst(container: Container, world: World, email: str) -> tuple[uuid.UUID, str]:
    """An analyst cleared for the insurer: their agent id and an API token."""
    with transaction(container.sessions) as session:
        now = container.clock.now()
        user = create_user(session, email=email, name=email, role="analyst", now=now)
        agent_id = _agent(session, [world.client_id], user_id=user.id)
        return agent_id, issue_token(session, user.id, "test", now)


def _bearer(server: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@contextmanager
def _console(server: str, container: Container, email: str) -> Iterator[httpx.Client]:
    """A plain HTTP client signed in to the console (the session cookie), as a browser is."""
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        set_password(session, user, PASSWORD)
    with httpx.Client(base_url=server, follow_redirects=False, timeout=30) as client:
        signed = client.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        yield client


def _referral(container: Container, world: World, *, four_eyes: bool = False) -> uuid.UUID:
    """The underwriting rules published, and an application they refer: queued for analysts."""
    with transaction(container.sessions) as session:
        now = container.clock.now()
        process = define_process(
            session,
            world.client_id,
            UNDERWRITING,
            now=now,
        )
    with container.context(world.client_user) as ctx:
        rule = {"declines": True} if four_eyes else None
        publish_version(ctx, process.id, uw.graph(), uw.tests(), four_eyes=rule)
        item, _ = submit_item(ctx, process.id, ABROAD, at_risk_fraction=0.75)
        assert item.state == "queued"
        return item.id


@pytest.fixture
def analyst(
    container: Container, world: World, server: str
) -> Iterator[tuple[uuid.UUID, httpx.Client]]:
    agent_id, token = _analyst(container, world, "u@provider.example")
    with _bearer(server, token) as client:
        yield agent_id, client


# -- the API: reading ---------------------------------------------------------------------------


def test_an_analyst_reads_a_referral_over_the_api_only_while_the_lease_is_live(
    analyst: tuple[uuid.UUID, httpx.Client], container: Container, world: World, clock: ManualClock
) -> None:
    """GET /api/v1/leases/{id}/referral (access.get_visible as an agent: leased to them now):
    200 just before expiry, 404 just after, the row still leased to the analyst."""
    agent_id, client = analyst
    item_id = _referral(container, world)
    lease = _claim(client, item_id)
    _move(clock, lease, BEFORE)
    shown = client.get(f"/api/v1/leases/{item_id}/referral")
    assert shown.status_code == 200, shown.text
    assert shown.json()["decision"]["reasons"] == ["RESIDES_ABROAD"]
    _move(clock, lease, AFTER)
    assert client.get(f"/api/v1/leases/{item_id}/referral").status_code == 404
    _assert_still_leased(container, item_id, agent_id)


def test_an_agents_leases_list_drops_an_expired_lease(
    api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    """GET /api/v1/dispatch/leases (Dispatcher.held, access.live_lease) lists the item just
    before expiry and no longer just after."""
    item = world.submit(container)
    lease = _claim(api("agent"), item.id)
    _move(clock, lease, BEFORE)
    listed = api("agent").get("/api/v1/dispatch/leases")
    assert [held["item_id"] for held in listed.json()] == [str(item.id)]
    _move(clock, lease, AFTER)
    assert api("agent").get("/api/v1/dispatch/leases").json() == []
    _assert_still_leased(container, item.id, world.agent_id)


# -- the API: the lease protocol ----------------------------------------------------------------


def test_heartbeat_extends_a_live_lease_and_refuses_an_expired_one(
    api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    """A heartbeat just before expiry extends the lease; just past the new expiry it is 409
    (LeaseLost) to the former holder and 404 to another agent."""
    item = world.submit(container)
    lease = _claim(api("agent"), item.id)
    _move(clock, lease, BEFORE)
    body = {"attempt": lease["attempt"]}
    beat = api("agent").post(f"/api/v1/leases/{item.id}/heartbeat", json=body)
    assert beat.status_code == 200, beat.text
    assert beat.json()["lease_expires_at"] > lease["lease_expires_at"]
    _move(clock, beat.json(), AFTER)
    lost = api("agent").post(f"/api/v1/leases/{item.id}/heartbeat", json=body)
    assert (lost.status_code, lost.json()["title"]) == (409, "Lease lost")
    other = api("other_agent").post(f"/api/v1/leases/{item.id}/heartbeat", json=body)
    assert other.status_code == 404
    _assert_still_leased(container, item.id, world.agent_id)


@MOMENTS
def test_submit_needs_a_live_lease(
    offset: int, api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    """A submit just before expiry delivers; just after, 404 to another agent and 409
    (LeaseLost) to the former holder, and nothing is stored."""
    item = world.submit(container)
    lease = _claim(api("agent"), item.id)
    _move(clock, lease, offset)
    body = {"attempt": lease["attempt"], "result": RESULT}
    if offset == BEFORE:
        done = api("agent").post(f"/api/v1/leases/{item.id}/submit", json=body)
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "delivered"
        return
    assert api("other_agent").post(f"/api/v1/leases/{item.id}/submit", json=body).status_code == 404
    lost = api("agent").post(f"/api/v1/leases/{item.id}/submit", json=body)
    assert (lost.status_code, lost.json()["title"]) == (409, "Lease lost")
    _assert_still_leased(container, item.id, world.agent_id)


@MOMENTS
def test_release_needs_a_live_lease(
    offset: int, api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    """A release just before expiry puts the item back; just after, 404 to another agent and
    409 (LeaseLost) to the former holder, and the row is left as it was."""
    item = world.submit(container)
    lease = _claim(api("agent"), item.id)
    _move(clock, lease, offset)
    body = {"attempt": lease["attempt"], "reason": "a break"}
    if offset == BEFORE:
        released = api("agent").post(f"/api/v1/leases/{item.id}/release", json=body)
        assert released.status_code == 204, released.text
        with transaction(container.sessions) as session:
            assert session.scalar(select(WorkItem.state).where(WorkItem.id == item.id)) == "queued"
        return
    other = api("other_agent").post(f"/api/v1/leases/{item.id}/release", json=body)
    assert other.status_code == 404
    lost = api("agent").post(f"/api/v1/leases/{item.id}/release", json=body)
    assert (lost.status_code, lost.json()["title"]) == (409, "Lease lost")
    _assert_still_leased(container, item.id, world.agent_id)


# -- privacy: revealing a personal field --------------------------------------------------------


def test_a_personal_field_is_revealed_only_under_a_live_lease(
    api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    """POST /api/v1/leases/{id}/reveal (reveal_personal, access.held): the clear value just
    before expiry; 404 just after, and no second audit record of a reveal."""
    with transaction(container.sessions) as session:
        now = container.clock.now()
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="named",
                name="Named",
                kind="data_entry",
                input_schema=PERSONAL_INPUT,
                form_schema=FORM_SCHEMA,
                required_skills={"data_entry": 2},
                sla_minutes=60,
                sla_mode="24x7",
            ),
            now=now,
        )
    with container.context(world.client_user) as ctx:
        item, _ = submit_item(
            ctx, process.id, {"applicant_name": "Maria Santos"}, at_risk_fraction=0.75
        )
    lease = _claim(api("agent"), item.id)
    assert lease["payload"]["applicant_name"] != "Maria Santos"  # masked
    body = {"fields": ["applicant_name"], "reason": "the scan is unreadable"}
    _move(clock, lease, BEFORE)
    shown = api("agent").post(f"/api/v1/leases/{item.id}/reveal", json=body)
    assert shown.status_code == 200 and shown.json() == {"applicant_name": "Maria Santos"}
    _move(clock, lease, AFTER)
    refused = api("agent").post(f"/api/v1/leases/{item.id}/reveal", json=body)
    assert refused.status_code == 404 and "Maria" not in refused.text
    with transaction(container.sessions) as session:
        reveals = session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "personal_data.reveal")
        )
    assert reveals == 1
    _assert_still_leased(container, item.id, world.agent_id)


# -- decisions: judging a referral --------------------------------------------------------------


@MOMENTS
@pytest.mark.parametrize("outcome", ["approve", "decline"])
def test_a_referral_is_judged_only_under_a_live_lease(
    offset: int,
    outcome: str,
    analyst: tuple[uuid.UUID, httpx.Client],
    server: str,
    container: Container,
    world: World,
    clock: ManualClock,
) -> None:
    """POST /api/v1/leases/{id}/judgment (decisions.judge, Dispatcher.leased): just before
    expiry an approval is delivered and a decline (four eyes) waits in review
    (submit_for_review); just after, 404 to another analyst and 409 (LeaseLost) to the former
    holder, and no decision is stored."""
    agent_id, client = analyst
    item_id = _referral(container, world, four_eyes=True)
    lease = _claim(client, item_id)
    _move(clock, lease, offset)
    body = {"attempt": lease["attempt"], "outcome": outcome, "reason": "US income"}
    if offset == BEFORE:
        judged = client.post(f"/api/v1/leases/{item_id}/judgment", json=body)
        assert judged.status_code == 200, judged.text
        expected = "delivered" if outcome == "approve" else "in_review"
        assert judged.json()["state"] == expected
        return
    _, token = _analyst(container, world, "v@provider.example")
    with _bearer(server, token) as other:
        assert other.post(f"/api/v1/leases/{item_id}/judgment", json=body).status_code == 404
    lost = client.post(f"/api/v1/leases/{item_id}/judgment", json=body)
    assert (lost.status_code, lost.json()["title"]) == (409, "Lease lost")
    with transaction(container.sessions) as session:
        made = session.scalars(select(Decision.by).where(Decision.work_item_id == item_id))
        assert list(made) == ["rules"]
    _assert_still_leased(container, item_id, agent_id)


# -- the console --------------------------------------------------------------------------------


def test_the_workbench_shows_an_item_only_under_a_live_lease(
    api: Any, server: str, container: Container, world: World, clock: ManualClock
) -> None:
    """/console/work/{id} (access.held) for the signed-in agent: the item's page just before
    expiry; 404 just after, and the workbench no longer lists it."""
    item = world.submit(container, "scan-0042.pdf")
    lease = _claim(api("agent"), item.id)
    with _console(server, container, "a@provider.example") as console:
        _move(clock, lease, BEFORE)
        shown = console.get(f"/console/work/{item.id}")
        assert shown.status_code == 200 and "scan-0042.pdf" in shown.text
        assert f"/console/work/{item.id}" in console.get("/console/work").text
        _move(clock, lease, AFTER)
        refused = console.get(f"/console/work/{item.id}")
        assert refused.status_code == 404 and "scan-0042.pdf" not in refused.text
        assert f"/console/work/{item.id}" not in console.get("/console/work").text
    _assert_still_leased(container, item.id, world.agent_id)


def test_the_referral_desk_shows_a_referral_only_under_a_live_lease(
    analyst: tuple[uuid.UUID, httpx.Client],
    server: str,
    container: Container,
    world: World,
    clock: ManualClock,
) -> None:
    """/console/referrals/{id} (desks: access.held) for the signed-in analyst: the referral
    just before expiry; 404 just after."""
    agent_id, client = analyst
    item_id = _referral(container, world)
    lease = _claim(client, item_id)
    with _console(server, container, "u@provider.example") as console:
        _move(clock, lease, BEFORE)
        shown = console.get(f"/console/referrals/{item_id}")
        assert shown.status_code == 200 and "RESIDES_ABROAD" in shown.text
        _move(clock, lease, AFTER)
        refused = console.get(f"/console/referrals/{item_id}")
        assert refused.status_code == 404 and "RESIDES_ABROAD" not in refused.text
    _assert_still_leased(container, item_id, agent_id)
