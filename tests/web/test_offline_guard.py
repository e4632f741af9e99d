"""The browser tests' guard can fail: a page of the test server that asks for an image of
another site fails the test, whichever way the test opened its page; and a context opened
around the guard fails it too."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.web.conftest import GuardedBrowser, OffSiteRequest, UnguardedContext

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

OFF_SITE = "http://example.invalid/x.png"


def _with_an_off_site_image(route: Route) -> None:
    """The server's own page, with an image of another site added (and without the server's
    content security policy, which would keep the browser from asking for it at all)."""
    response = route.fetch()
    headers = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in {"content-security-policy", "content-length"}
    }
    body = response.text().replace("</body>", f'<img src="{OFF_SITE}" alt=""></body>')
    assert OFF_SITE in body
    route.fulfill(response=response, headers=headers, body=body)


def _opened(how: str, browser: GuardedBrowser, server: str, request: Any) -> Page:
    if how == "page":  # the fixture most tests use
        page: Page = request.getfixturevalue("page")
        return page
    if how == "new_context":  # as test_workbench, test_desks, test_operations open theirs
        context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 800})
        return context.new_page()
    return browser.new_page(base_url=server)  # a page in a context of its own


@pytest.mark.parametrize("how", ["page", "new_context", "new_page"])
def test_an_off_site_image_on_a_page_of_the_server_fails_the_test(
    how: str, browser: GuardedBrowser, server: str, request: Any
) -> None:
    page = _opened(how, browser, server, request)
    page.route(f"{server}/sign-in", _with_an_off_site_image)
    page.goto("/sign-in")  # waits for the image to load or fail
    assert page.get_by_label("Email").is_visible()  # the server's page...
    assert page.locator(f'img[src="{OFF_SITE}"]').count() == 1  # ...with the image in it
    with pytest.raises(OffSiteRequest, match=re.escape(OFF_SITE)):
        browser.check()  # what the test's teardown runs
    browser.check()  # reported once: the teardown passes


def test_a_page_of_the_server_as_it_is_passes(page: Page, browser: GuardedBrowser) -> None:
    page.goto("/sign-in")
    assert page.get_by_label("Email").is_visible()
    browser.check()


def test_a_context_opened_around_the_guard_fails_the_test(
    page: Page, browser: GuardedBrowser
) -> None:
    around = page.context.browser  # the session's Chromium itself
    assert around is not None
    around.new_context().new_page()
    with pytest.raises(UnguardedContext):
        browser.check()
    browser.check()  # closed and reported: the teardown passes
