"""Sign-in sends people back only to a page of this site."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import User
from tandem.tenancy.signin import set_password
from tandem.web.templating import same_origin_path
from tests.conftest import World
from tests.web.conftest import PASSWORD

HOSTILE = [
    "/\\evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "//evil.example",
    "/%2F%2Fevil.example",
    "https://evil.example/console",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("back_to", HOSTILE)
def test_a_return_path_off_the_site_is_refused(back_to: str) -> None:
    assert same_origin_path(back_to) == "/console"


def test_a_return_path_of_the_site_is_kept() -> None:
    assert same_origin_path("/console/work?x=1") == "/console/work?x=1"


@pytest.mark.parametrize("back_to", ["/\\evil.example", "/%09/evil.example"])
def test_signing_in_never_leaves_the_site(
    page: Any, server: str, container: Container, world: World, back_to: str
) -> None:
    """In Chromium: the forms browsers turn into another host land on the console (the page
    fixture also fails the test if anything off the server was requested)."""
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == "c@insurer.example")).one()
        set_password(session, user, PASSWORD)
    page.goto("/sign-in?next=" + back_to.replace("\\", "%5C"))
    page.get_by_label("Email").fill("c@insurer.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
    assert urlsplit(page.url).netloc == urlsplit(server).netloc
