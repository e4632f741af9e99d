"""Changes made with the console's cookie must come from the console's own pages."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import User
from tandem.tenancy.signin import set_password
from tests.conftest import World

PASSWORD = "a passphrase long enough"


def _signed_in(server: str, container: Container) -> httpx.Client:
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == "c@insurer.example")).one()
        set_password(session, user, PASSWORD)
    client = httpx.Client(base_url=server, timeout=30)
    signed = client.post(
        "/api/v1/auth/sign-in", json={"email": "c@insurer.example", "password": PASSWORD}
    )
    assert signed.status_code == 200
    return client


def test_a_cookie_change_from_another_origin_is_refused(
    server: str, container: Container, world: World, api: Any
) -> None:
    """A page on another port of the same host (SameSite does not separate it) posts in the
    signed-in user's name: refused, as is a change that names no origin; the console's own
    origin, reads, and API tokens (no cookie: nothing to forge) work as before."""
    url = f"/api/v1/processes/{world.process_id}/work-items"
    body = {"payload": {"document_ref": "forged.pdf"}}
    port = int(server.rsplit(":", 1)[1])
    browser = _signed_in(server, container)
    try:
        for origin in (f"http://127.0.0.1:{port + 1}", "http://evil.example", "null"):
            forged = browser.post(url, json=body, headers={"Origin": origin})
            assert forged.status_code == 403, origin
        assert browser.post(url, json=body).status_code == 403  # no Origin, no Referer
        own = browser.post(url, json=body, headers={"Origin": server})
        assert own.status_code == 201, own.text
        referred = browser.post(url, json=body, headers={"Referer": f"{server}/console/portal"})
        assert referred.status_code == 201
        assert browser.get(url.replace("/work-items", "")).status_code == 200  # a read
    finally:
        browser.close()
    assert api("client").post(url, json=body).status_code == 201  # a bearer token
