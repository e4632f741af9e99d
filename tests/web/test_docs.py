"""The API docs render in Chromium offline, under the content security policy."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import shoot


def test_the_api_docs_render_offline_under_the_policy(page: Any) -> None:
    """Swagger UI from the installed package lists the operations; nothing is fetched from
    elsewhere (the page fixture refuses it) and the policy refuses nothing."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    page.goto("/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)
    assert page.locator(".opblock").count() > 50
    assert page.get_by_text("/api/v1/dispatch/claim").first.is_visible()
    shoot(page, "api-docs")
    assert refused == []
