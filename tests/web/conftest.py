"""A real Chromium (Debian's /usr/bin/chromium) driven by Playwright against the real server.
Each test saves screenshots of the pages it shows under test-artifacts/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import User
from tandem.tenancy.signin import set_password

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route, WebSocketRoute

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # A second line behind the guard below: no name resolves (the server is 127.0.0.1).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
PASSWORD = "a long browser passphrase"
SCREENSHOTS = Path(os.environ.get("TANDEM_SCREENSHOTS", "test-artifacts/screenshots"))


class OffSiteRequest(AssertionError):
    """A page of the test asked for something not on the test server (a CDN, a font, an
    image of another site): a bug, since nothing is online."""


class UnguardedContext(AssertionError):
    """A browser context was opened around the guard (not through the `browser` fixture)."""


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """The one Chromium of the session. Tests never use it directly: they use `browser`."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


class GuardedBrowser:
    """The session's Chromium as a test sees it: every context it opens, by `new_context` or
    `new_page`, is offline but for the test server. A request for anything else is aborted
    and recorded, and `check()` (run at the test's teardown) fails the test with
    `OffSiteRequest`; a context opened any other way (`page.context.browser.new_context()`)
    fails it with `UnguardedContext`. Everything else is the browser's own."""

    def __init__(self, chromium: Browser, server: str) -> None:
        self._chromium = chromium
        self._server = urlsplit(server)
        self._guarded: list[BrowserContext] = []
        self._opened: list[BrowserContext] = []  # by whatever means
        self.elsewhere: list[str] = []
        chromium.on("context", self._did_open)

    def new_context(self, **options: Any) -> BrowserContext:
        options.setdefault("service_workers", "block")  # a worker's fetches escape routing
        return self._guard(self._chromium.new_context(**options))

    def new_page(self, **options: Any) -> Page:
        """A page in a context of its own (closing the page closes it), as Browser.new_page."""
        options.setdefault("service_workers", "block")
        page = self._chromium.new_page(**options)
        self._guard(page.context)  # before it goes anywhere: it is still at about:blank
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chromium, name)

    def _did_open(self, context: BrowserContext) -> None:
        self._opened.append(context)

    def _guard(self, context: BrowserContext) -> BrowserContext:
        context.route("**/*", self._only_the_server)
        context.route_web_socket(lambda url: not self._on_the_server(url), self._refuse)
        self._guarded.append(context)
        return context

    def _on_the_server(self, url: str) -> bool:
        asked = urlsplit(url)
        schemes = {"http": {"http", "ws"}, "https": {"https", "wss"}}[self._server.scheme]
        return asked.scheme in schemes and asked.netloc == self._server.netloc

    def _only_the_server(self, route: Route) -> None:
        if self._on_the_server(route.request.url):
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort("blockedbyclient")

    def _refuse(self, socket: WebSocketRoute) -> None:
        self.elsewhere.append(socket.url)
        socket.close()

    def check(self) -> None:
        """Raise what the guard found since the last check (and forget it: it is reported)."""
        guarded = {id(context) for context in self._guarded}
        unguarded = [context for context in self._opened if id(context) not in guarded]
        self._opened = [context for context in self._opened if id(context) in guarded]
        for context in unguarded:
            context.close()
        if unguarded:
            raise UnguardedContext(f"{len(unguarded)} browser context(s) opened around the guard")
        found, self.elsewhere = self.elsewhere, []
        if found:
            raise OffSiteRequest(f"pages fetched from elsewhere: {found}")

    def close(self) -> None:
        """Close every context of the test (a test need not), then check."""
        self._chromium.remove_listener("context", self._did_open)
        for context in self._opened + self._guarded:
            context.close()
        self.check()


@pytest.fixture
def browser(chromium: Browser, server: str) -> Iterator[GuardedBrowser]:
    """The browser of a test: every context it opens is offline but for the server, and the
    test fails if a page asked for anything else (see GuardedBrowser)."""
    guarded = GuardedBrowser(chromium, server)
    yield guarded
    guarded.close()


@pytest.fixture
def page(browser: GuardedBrowser, server: str) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1280x800, offline but for the server."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


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
