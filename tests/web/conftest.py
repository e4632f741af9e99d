"""A real Chromium (Debian's /usr/bin/chromium) driven by Playwright against the real server.
Each test saves screenshots of the pages it shows under test-artifacts/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import User
from tandem.tenancy.signin import set_password

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "a long browser passphrase"
SCREENSHOTS = Path(os.environ.get("TANDEM_SCREENSHOTS", "test-artifacts/screenshots"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1280x800, offline but for the server."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 800})
    elsewhere: list[str] = []

    def only_tandem(route: Any) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:  # a page asking for anything else (a CDN, a font) is a bug: nothing is online
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_tandem)
    page = context.new_page()
    yield page
    context.close()
    assert not elsewhere, f"pages fetched from elsewhere: {elsewhere}"


def sign_in(page: Any, container: Container, email: str) -> None:
    """Give the user a password and sign in through the sign-in page."""
    with transaction(container.sessions) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        set_password(session, user, PASSWORD)
    page.goto("/console")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
