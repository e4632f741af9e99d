"""Console sign-in over HTTP against the real server: the session cookie, one answer for
every failure in the same time, backoff and lockout, idle expiry, sign-out, and the audit
trail of it all."""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.config import load_settings
from tandem.core.db import transaction
from tandem.core.ratelimit import RateLimits
from tandem.http import SESSION_COOKIE
from tandem.tenancy.models import User
from tandem.tenancy.signin import set_password
from tests.conftest import World

PASSWORD = "correct horse battery staple"
EMAIL = "c@insurer.example"  # the world's insurer client admin


@pytest.fixture(autouse=True)
def generous_rate_limit(container: Container) -> None:
    """These tests sign in more often than the default per-address limit allows."""
    container.rate_limits = RateLimits(
        load_settings(rate_limit_sign_in="1000/minute"), container.engine
    )


@pytest.fixture
def with_password(container: Container, world: World) -> None:
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == EMAIL)).one()
        set_password(session, user, PASSWORD)


@pytest.fixture
def browser(server: str) -> Any:
    """An HTTP client that, as a browser does, names the page's origin on every request."""
    with httpx.Client(base_url=server, timeout=30, headers={"Origin": server}) as client:
        yield client


def _sign_in(client: httpx.Client, password: str, email: str = EMAIL) -> httpx.Response:
    return client.post("/api/v1/auth/sign-in", json={"email": email, "password": password})


def _actions(container: Container) -> list[str]:
    with transaction(container.sessions) as session:
        return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.at)))


def test_signing_in_sets_a_session_cookie_that_works_until_sign_out(
    browser: httpx.Client, world: World, with_password: None, container: Container
) -> None:
    signed = _sign_in(browser, PASSWORD, email="  C@Insurer.Example ")
    assert signed.status_code == 200, signed.text
    assert signed.json()["client_id"] == world.client_id
    cookie = signed.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert browser.get(f"/api/v1/processes/{world.process_id}").status_code == 200
    assert browser.post("/api/v1/auth/sign-out").status_code == 204
    stale = httpx.Client(base_url=str(browser.base_url))
    stale.cookies.set(SESSION_COOKIE, signed.cookies[SESSION_COOKIE])
    assert stale.get("/api/v1/me").status_code == 401  # the session ended on the server
    stale.close()
    assert _actions(container) == ["sign_in"]


def test_every_failure_gets_the_same_answer_in_the_same_time(
    browser: httpx.Client, world: World, with_password: None
) -> None:
    def timed(email: str) -> tuple[float, httpx.Response]:
        start = time.perf_counter()
        answer = _sign_in(browser, "wrong password!", email=email)
        return time.perf_counter() - start, answer

    unknown = [timed("nobody@nowhere.example") for _ in range(3)]
    wrong = [timed(EMAIL) for _ in range(2)]  # under the backoff's threshold
    bodies = {  # each answer's own request id aside
        json.dumps({**answer.json(), "request_id": None}).replace(EMAIL, "")
        for _, answer in unknown + wrong
    }
    assert {answer.status_code for _, answer in unknown + wrong} == {401}
    assert len(bodies) == 1  # nothing tells a known email from an unknown one
    # Both verify one argon2 hash: the medians stay within a factor of two of each other.
    ratio = statistics.median(t for t, _ in unknown) / statistics.median(t for t, _ in wrong)
    assert 0.5 < ratio < 2.0, ratio


def test_failures_in_a_row_back_off_then_lock_the_account(
    browser: httpx.Client,
    world: World,
    with_password: None,
    container: Container,
    clock: ManualClock,
) -> None:
    for _ in range(3):
        assert _sign_in(browser, "guess").status_code == 401
    # Third failure: a short wait, during which even the right password is refused.
    assert _sign_in(browser, PASSWORD).status_code == 401
    clock.advance(timedelta(seconds=3))
    assert _sign_in(browser, PASSWORD).status_code == 200  # and the count starts again
    for n in range(5):
        assert _sign_in(browser, "guess").status_code == 401
        clock.advance(timedelta(seconds=2**n + 1))  # wait out each backoff
    assert _sign_in(browser, PASSWORD).status_code == 401  # locked
    clock.advance(timedelta(minutes=14))
    assert _sign_in(browser, PASSWORD).status_code == 401
    clock.advance(timedelta(minutes=2))
    assert _sign_in(browser, PASSWORD).status_code == 200
    actions = _actions(container)
    assert actions.count("sign_in.locked") == 1 and actions.count("sign_in") == 2
    assert actions.count("sign_in.failed") >= 8


def test_an_idle_session_ends(
    browser: httpx.Client, world: World, with_password: None, clock: ManualClock
) -> None:
    assert _sign_in(browser, PASSWORD).status_code == 200
    clock.advance(timedelta(minutes=20))
    assert browser.get("/api/v1/me").status_code == 200  # seen: the idle time starts again
    clock.advance(timedelta(minutes=29))
    assert browser.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=31))
    ended = browser.get("/api/v1/me")
    assert ended.status_code == 401 and "sign in again" in ended.json()["detail"]


def test_changing_the_password_needs_the_current_one(
    browser: httpx.Client, world: World, with_password: None
) -> None:
    assert _sign_in(browser, PASSWORD).status_code == 200
    body = {"current_password": "not it", "new_password": "a much longer passphrase"}
    assert browser.put("/api/v1/me/password", json=body).status_code == 401
    short = browser.put(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"
    body["current_password"] = PASSWORD
    assert browser.put("/api/v1/me/password", json=body).status_code == 204
    assert _sign_in(browser, PASSWORD).status_code == 401
    assert _sign_in(browser, "a much longer passphrase").status_code == 200


def test_a_password_change_ends_every_other_session_of_the_user(
    browser: httpx.Client, server: str, world: World, with_password: None
) -> None:
    """Signed in twice (say, a laptop, and a stolen cookie elsewhere): changing the password
    in one ends the other; the one that changed it goes on."""
    with httpx.Client(base_url=server, timeout=30, headers={"Origin": server}) as elsewhere:
        assert _sign_in(elsewhere, PASSWORD).status_code == 200
        assert _sign_in(browser, PASSWORD).status_code == 200
        body = {"current_password": PASSWORD, "new_password": "a much longer passphrase"}
        assert browser.put("/api/v1/me/password", json=body).status_code == 204
        assert browser.get("/api/v1/me").status_code == 200
        assert elsewhere.get("/api/v1/me").status_code == 401


def test_a_role_change_ends_the_users_sessions(
    browser: httpx.Client, world: World, api: Any
) -> None:
    """What a user may do changed: whatever they had open signs in again."""
    admin = api("client")
    jo = admin.post(
        "/api/v1/users",
        json={
            "email": "jo@insurer.example",
            "name": "Jo",
            "role": "client_user",
            "password": PASSWORD,
        },
    )
    assert jo.status_code == 201, jo.text
    assert _sign_in(browser, PASSWORD, email="jo@insurer.example").status_code == 200
    assert browser.get("/api/v1/me").status_code == 200
    promoted = admin.put(f"/api/v1/users/{jo.json()['id']}/role", json={"role": "client_admin"})
    assert promoted.status_code == 200
    assert browser.get("/api/v1/me").status_code == 401
    assert _sign_in(browser, PASSWORD, email="jo@insurer.example").status_code == 200
