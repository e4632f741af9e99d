"""The console's flows at a desktop's width and a phone's (issue 16: 1280 and 390 px): a
flow's test takes `width` (`WIDTHS`), opens its page at it (`page_at`) and checks at each
step that the page never scrolls sideways (`fits`); at a phone's width its screenshots go
to /tmp/shots/phone/ (or TANDEM_PHONE_SCREENSHOTS) as well."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import shoot

PHONE = 390
WIDTHS = pytest.mark.parametrize("width", [1280, PHONE], ids=["1280px", "390px"])
PHONE_SHOTS = Path(os.environ.get("TANDEM_PHONE_SCREENSHOTS", "/tmp/shots/phone"))

# What sticks out past the right edge, to name it when a page is too wide.
_WIDER = """(width) => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > width + 0.5)
  .slice(0, 5)
  .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${
    Math.round(e.getBoundingClientRect().right)}px`)"""


def page_at(browser: Any, server: str, width: int) -> Any:
    """A page in a fresh context (no cookies) `width` px wide, offline but for the server."""
    height = 844 if width <= PHONE else 800
    context = browser.new_context(base_url=server, viewport={"width": width, "height": height})
    return context.new_page()


def fits(page: Any) -> None:
    """The page is no wider than its viewport: nothing to scroll sideways to."""
    width = page.viewport_size["width"]
    scrolled = page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, (page.url, scrolled, page.evaluate(_WIDER, width))


def shot(page: Any, name: str) -> None:
    """Check the page fits, and save it: as `shoot` does at a desktop's width, under the
    phone's folder at a phone's."""
    fits(page)
    if page.viewport_size["width"] > PHONE:
        shoot(page, name)
        return
    PHONE_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(PHONE_SHOTS / f"{name}.png"), full_page=True)
