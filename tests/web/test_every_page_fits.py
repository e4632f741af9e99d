"""Every console page a signed-in person can open, at a phone's width (390 px): it never
scrolls sideways (a table scrolls in its own `.table-wrap` box) and axe-core finds no
serious or critical violation (issue 16). The pages are the app's own GET routes under
/console, enumerated, not listed: a new page is swept, or named below with the reason it
is not. One test per role; every problem of a role's pages is collected and reported at
once. With TANDEM_SWEEP_SCREENSHOTS=1, each page is saved under /tmp/shots/phone/every/."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from tandem.app import create_app
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.decisions.models import Ruleset
from tandem.intake.service import submit_item
from tandem.tenancy.models import User
from tandem.tenancy.permissions import ROLES
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user
from tandem.workforce import rosters
from tandem.workforce.models import Agent
from tests.conftest import RESULT, World, _agent
from tests.quality.conftest import set_policy, work
from tests.servicedesk import conftest as desks
from tests.test_isolation import _walk
from tests.web.conftest import sign_in
from tests.web.phone import PHONE, PHONE_SHOTS, fits, page_at
from tests.web.test_accessibility import _problems
from tests.web.test_help_center import _seed as _articles
from tests.web.test_quality_pages import _history
from tests.web.test_rules import _decided

# Screenshots of every page swept (under /tmp/shots/phone/every/), when asked for: they add
# a tenth to the run.
SHOTS = PHONE_SHOTS / "every" if os.environ.get("TANDEM_SWEEP_SCREENSHOTS") else None

desk = desks.desk  # a brand for each client: the insurer's is "acme"

# Who signs in for each role: the world's people, and those `_seed` adds.
PEOPLE = {
    "provider_admin": "pa@provider.example",
    "ops_manager": "o@provider.example",
    "team_lead": "tl@provider.example",
    "agent": "a@provider.example",
    "analyst": "an@provider.example",
    "qa_reviewer": "quinn@provider.example",  # made by _history, the reviewer of its items
    "wfm_planner": "p@provider.example",
    "security_officer": "s@provider.example",
    "client_admin": "c@insurer.example",
    # long, as some are, to be wrapped where it is shown
    "client_user": "claims.processing.northern_region@insurer-group-holdings.example",
}
# Long words where people type them: a file's name, its references, a key's name, a macro's.
LONG = "Northern_region_claims_intake_for_March_2026"

# GET routes under /console that are not pages of their own, never opened by the sweep.
NOT_PAGES = {
    "/console": "redirects to the person's first section, swept under its own address",
    "/console/operations/live": "a fragment: the floor's live part, fetched by its script",
    "/console/admin/keys/status": "a fragment: the keys' table, fetched during a rotation",
    "/console/admin/retention/parts": "a fragment: the preview and past purges, redrawn",
    "/console/admin/api-keys/table": "a fragment: the keys' list, redrawn after a change",
    "/console/rules/versions/{ruleset_id}/tests": "a fragment: the test cases, swapped in",
    "/console/portal/batches": "a fragment: the portal's files table, refreshed",
}

# Parameterised pages opened only by some roles, with why the others do not.
ONLY = {
    "/console/work/{item_id}": (
        {"agent"},
        "only the agent holding the item's lease opens it (the others hold none)",
    ),
    "/console/referrals/{item_id}": (
        {"analyst"},
        "only the analyst holding the referral's lease opens it (the others hold none)",
    ),
}

# Pages whose permissions a role holds but which are not for who they are (the console's
# rules in tandem.web.templating.sections_of): a path's start -> (which roles, the status
# the page answers them, why). The sweep checks they still answer so.
PROVIDER_STAFF = {role for role in PEOPLE if not role.startswith("client_")}
NO_AGENT_PROFILE = {"provider_admin"}  # the sweep's only one holding agent permissions
NOT_THEIRS: dict[str, tuple[set[str], int, str]] = {
    "/console/portal": (PROVIDER_STAFF, 404, "the portal is a client's people's"),
    "/console/items": ({"client_admin", "client_user"}, 404, "the provider's staff's"),
    "/console/work": (NO_AGENT_PROFILE, 403, "work is for people with an agent profile"),
    "/console/referrals": (NO_AGENT_PROFILE, 403, "judging is for people with an agent profile"),
    "/console/me/schedule": (NO_AGENT_PROFILE, 403, "a schedule is an agent profile's"),
}


def _not_theirs(role: str, path: str) -> tuple[int, str] | None:
    for start, (roles, status, why) in NOT_THEIRS.items():
        if role in roles and (path == start or path.startswith(start + "/")):
            return status, why
    return None


# Tables drawn as stacked blocks on a phone (custody's and quality's) are meant not to scroll
# at all, even in their box: what would, is cut off until one scrolls each card sideways.
_STACKED_SCROLL = """() => [...document.querySelectorAll('.table-wrap')]
  .filter((w) => w.querySelector('table.stack, table.qa-stack'))
  .filter((w) => w.scrollWidth > w.clientWidth + 1)
  .map((w) => `${w.querySelector('table').id || w.parentElement.id}: ${w.scrollWidth}px`)"""


@dataclass
class Seeded:
    """Ids of one instance of each parameterised page."""

    ids: dict[str, str] = field(default_factory=dict)


def _person(container: Container, world: World, role: str, *, agent: bool = False) -> None:
    client_id = world.client_id if role.startswith("client_") else None
    with transaction(container.sessions) as session:
        user = create_user(
            session,
            email=PEOPLE[role],
            name=role.replace("_", " ").title(),
            role=role,
            now=container.clock.now(),
            client_id=client_id,
        )
        if agent:
            _agent(session, [world.client_id], user_id=user.id)


def _seed(
    container: Container, world: World, clock: ManualClock, desk: desks.Desk, api: Any
) -> Seeded:
    """Something on every page: three days of reviewed keying (an alert), the underwriting
    rules with decided items (a referral leased to the analyst), a double-entry conflict to
    adjudicate, an item to review, one queued and one leased to the agent, a file, a brand's
    articles and a macro, an API key, and a roster."""
    _history(container, world, clock)  # full review on the insurer's keying, an alert
    process_id, referred = _decided(container, world)
    for role in ("provider_admin", "wfm_planner", "client_user"):
        _person(container, world, role)
    for role in ("team_lead", "analyst"):
        _person(container, world, role, agent=True)
    analyst = _agent_of(container, PEOPLE["analyst"])
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, analyst)
    assert lease is not None and lease.item_id == referred

    # Double entry on the retailer's keying: two agents disagree; for adjudication.
    set_policy(container, world.other_process_id, "double_entry")
    with container.context(world.other_client_user) as ctx:
        conflict, _ = submit_item(
            ctx, world.other_process_id, {"document_ref": "conflict.pdf"}, at_risk_fraction=0.75
        )
    with transaction(container.sessions) as session:
        first_keyer = _agent(session, [world.other_client_id])
    assert work(container, first_keyer).state == "queued"
    assert work(container, world.agent_id, {**RESULT, "coverage_amount": 205000}).state == (
        "in_review"
    )
    # Full review on the insurer's keying: one waits for its reviewer.
    review = world.submit(container, "for-review.pdf")
    assert work(container, world.agent_id).state == "in_review"
    leased = world.submit(container, "leased.pdf")
    with transaction(container.sessions) as session:
        held = container.dispatcher.claim(session, world.agent_id)
    assert held is not None and held.item_id == leased.id
    world.submit(container, "queued.pdf")

    batch = api("client").post(
        f"/api/v1/processes/{world.process_id}/batches",
        files={
            "file": (
                f"{LONG}.csv",
                f"ref,document_ref\n{LONG}-0001,{LONG}-scan.pdf\nCL-2,scan-2.pdf\n".encode(),
            )
        },
        data={"mode": "accept_valid", "reference_column": "ref"},
    )
    assert batch.status_code == 201, batch.text
    key = api("client").post(
        "/api/v1/api-keys",
        json={"name": LONG, "permissions": ["client:work_item:create"]},
    )
    assert key.status_code == 201, key.text
    _articles(container, desk)
    macro = api("ops").post(
        f"/api/v1/brands/{desk.brand_id}/macros",
        json={"title": LONG, "body": f"Hello {{{{customer.first_name}}}}, {LONG} is sent."},
    )
    assert macro.status_code == 201, macro.text

    with transaction(container.sessions) as session:
        version = session.scalars(select(Ruleset.id).where(Ruleset.process_id == process_id)).one()
    return Seeded(
        {
            "item_id": str(review.id),
            "process_id": str(world.process_id),
            "batch_id": batch.json()["id"],
            "brand_id": str(desk.brand_id),
            "ruleset_id": str(version),
            "roster_id": str(_roster(container, world)),
            # the pages of one role's own item, where it differs from `item_id`
            "/console/work/{item_id}": str(leased.id),
            "/console/referrals/{item_id}": str(referred),
            "/console/quality/adjudications/{item_id}": str(conflict.id),
            "/console/rules/{process_id}": str(process_id),
            "/console/rules/{process_id}/measures": str(process_id),
        }
    )


def _agent_of(container: Container, email: str) -> uuid.UUID:
    with transaction(container.sessions) as session:
        return session.scalars(
            select(Agent.id).join(User, User.id == Agent.user_id).where(User.email == email)
        ).one()


def _roster(container: Container, world: World) -> uuid.UUID:
    """A day's draft roster at Manila: one agent from 09:00 to 17:00 local time."""
    with transaction(container.sessions) as session:
        user = session.scalars(select(User.id).where(User.email == PEOPLE["wfm_planner"])).one()
    planner = Principal(user, "wfm_planner", None, None)
    monday = date(2026, 3, 9)
    start = datetime.combine(monday, time(1), UTC)  # 09:00 in Manila
    spec = rosters.RosterSpec(
        name="Manila Monday",
        first_date=monday,
        days=1,
        requirement={start + k * rosters.QUARTER: 1 for k in range(32)},
        source={"kind": "explicit"},
        client_id=world.client_id,
        centers=("MNL",),
    )
    return rosters.plan_roster(lambda: container.context(planner), spec, time_limit=1).id


def _declared(dependant: Any) -> list[Any]:
    """The permissions a route's guards declare, its section's guard's included."""
    found = []
    for dependency in dependant.dependencies:
        if hasattr(dependency.call, "permission"):
            found.append(dependency.call.permission)
        found += _declared(dependency)
    return found


def _pages(container: Container) -> list[tuple[str, list[Any]]]:
    """(path, the permissions its guards declare) of every GET route under /console."""
    found = []
    for path, route in _walk(create_app(container).routes):
        if isinstance(route, APIRoute) and "GET" in route.methods and path.startswith("/console"):
            found.append((path, _declared(route.dependant)))
    return sorted(found)


def _may(role: str, declared: list[Any]) -> bool:
    """The role holds what every guard asks (one of them where a guard names several; None:
    anyone signed in)."""
    return all(
        permission is None
        or not ROLES[role].isdisjoint(
            permission if isinstance(permission, tuple) else (permission,)
        )
        for permission in declared
    )


def _url(path: str, role: str, seeded: Seeded) -> str | None:
    """The page's address with a real id, or None: not this role's (see ONLY)."""
    if "{" not in path:
        return path
    if path in ONLY and role not in ONLY[path][0]:
        return None
    if path in seeded.ids:
        return re.sub(r"\{\w+\}", seeded.ids[path], path)
    return re.sub(r"\{(\w+)\}", lambda m: seeded.ids[m.group(1)], path)


@pytest.mark.parametrize("role", list(PEOPLE))
def test_every_page_fits_a_phone_and_passes_axe(
    role: str,
    browser: Any,
    server: str,
    container: Container,
    world: World,
    clock: ManualClock,
    desk: desks.Desk,
    api: Any,
) -> None:
    seeded = _seed(container, world, clock, desk, api)
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
    page = page_at(browser, server, PHONE)
    sign_in(page, container, PEOPLE[role])
    problems: list[str] = []
    opened = 0
    for path, declared in _pages(container):
        if path in NOT_PAGES or not _may(role, declared):
            continue
        unknown = re.findall(r"\{(\w+)\}", path)
        if unknown and path not in seeded.ids and path not in ONLY:
            missing = [name for name in unknown if name not in seeded.ids]
            if missing:
                problems.append(f"{path}: no instance seeded for {missing}: seed one or skip it")
                continue
        url = _url(path, role, seeded)
        if url is None:
            continue
        response = page.goto(url)  # loaded: its script has run
        status = response.status if response is not None else 0
        expected = _not_theirs(role, path)
        if expected is not None:
            if status != expected[0]:
                problems.append(f"{url}: expected {expected[0]} ({expected[1]}), got {status}")
            continue
        if status != 200:
            problems.append(f"{url}: answered {status} ({page.title()})")
            continue
        opened += 1
        try:
            fits(page)
        except AssertionError as wide:
            problems.append(f"{url}: scrolls sideways: {wide}")
        if stacked := page.evaluate(_STACKED_SCROLL):
            problems.append(f"{url}: a stacked table scrolls in its box: {stacked}")
        problems += _problems(page)
        if SHOTS:
            name = re.sub(r"[^a-z0-9]+", "-", path.removeprefix("/console").lower()).strip("-")
            page.screenshot(path=str(SHOTS / f"{role}-{name or 'home'}.png"), full_page=True)
    assert opened > 0
    assert problems == [], f"{role}: {len(problems)} problems\n" + "\n".join(problems)
