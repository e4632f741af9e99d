"""Rate limits on sign-in and per API key, through the real server: 429 with Retry-After."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tandem.container import Container
from tandem.core.config import load_settings
from tandem.core.ratelimit import RateLimits
from tests.conftest import World, serving


@pytest.fixture
def tight(container: Container) -> None:
    container.rate_limits = RateLimits(
        load_settings(rate_limit_sign_in="3/minute", rate_limit_api_key="5/minute"),
        container.engine,
    )


def test_sign_in_attempts_from_one_address_are_limited(
    server: str, world: World, tight: None
) -> None:
    with httpx.Client(base_url=server) as browser:
        body = {"email": "nobody@nowhere.example", "password": "guess"}
        answers = [browser.post("/api/v1/auth/sign-in", json=body) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert answers[-1].json()["title"] == "Too many requests"


def test_each_api_key_has_its_own_allowance(
    api: Any, server: str, world: World, tight: None
) -> None:
    def key() -> str:
        made = api("client").post(
            "/api/v1/api-keys", json={"name": "k", "permissions": ["client:work_item:read"]}
        )
        assert made.status_code == 201, made.text
        value: str = made.json()["key"]
        return value

    first, second = key(), key()
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {first}"}) as erp:
        codes = [erp.get("/api/v1/me").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {second}"}) as other:
        assert other.get("/api/v1/me").status_code == 200  # not the first key's count


def test_a_bad_rate_names_its_variable() -> None:
    from tandem.core.config import ConfigError

    with pytest.raises(ConfigError, match="TANDEM_RATE_LIMIT_SIGN_IN"):
        load_settings(rate_limit_sign_in="lots")


def test_a_limit_holds_across_api_processes(
    api: Any, container: Container, world: World, server: str
) -> None:
    """`tandem serve` runs one API process per core: two apps, each with the rate limits
    of its own container, on one database, count one allowance together (counted in each
    process's memory, as before, the key got its allowance once per process)."""
    settings = load_settings(rate_limit_api_key="5/minute")
    container.rate_limits = RateLimits(settings, container.engine)
    second = Container(
        settings=container.settings,
        engine=container.engine,
        sessions=container.sessions,
        clock=container.clock,
    )
    second.rate_limits = RateLimits(settings, container.engine)
    made = api("client").post(
        "/api/v1/api-keys", json={"name": "k", "permissions": ["client:work_item:read"]}
    )
    key = made.json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    with serving(second) as other_server:
        codes = []
        for i in range(8):
            base = server if i % 2 else other_server
            codes.append(httpx.get(f"{base}/api/v1/me", headers=headers).status_code)
    assert codes == [200] * 5 + [429] * 3
