"""Headers every response carries, and the API docs served without the internet."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import httpx

from tandem.app import create_app
from tandem.container import Container
from tandem.core.config import load_settings
from tandem.security import CONTENT_SECURITY_POLICY, HSTS, SecurityHeaders


def _headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers.get(name, "") for name in response.headers}


def test_every_kind_of_response_carries_the_security_headers(api: Any) -> None:
    """API answers, problem details, console pages, static files and the docs alike."""
    for client, path in [
        ("client", "/api/v1/work-items"),
        ("anonymous", "/api/v1/work-items"),  # a 401 problem
        ("anonymous", "/console/sign-in"),
        ("anonymous", "/static/console.css"),
        ("anonymous", "/docs"),
        ("anonymous", "/healthz"),
    ]:
        headers = _headers(api(client).get(path))
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "same-origin", path
        assert "strict-transport-security" not in headers, path  # cookies not secure here
    script = re.search(r"script-src ([^;]*)", CONTENT_SECURITY_POLICY)
    assert script is not None and script.group(1) == "'self'"  # no inline script
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_hsts_is_sent_where_cookies_are_secure(container: Container) -> None:
    """The app sends HSTS when its cookies are secure (behind HTTPS), and only then."""
    settings = load_settings(database_url=container.settings.database_url, cookie_secure=True)
    secure = Container(
        settings=settings,
        engine=container.engine,
        sessions=container.sessions,
        clock=container.clock,
    )
    for app, expected in [(create_app(secure), True), (create_app(container), False)]:
        [middleware] = [m for m in app.user_middleware if m.cls is SecurityHeaders]
        assert middleware.kwargs == {"hsts": expected}
    sent: list[Any] = []

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def record(message: Any) -> None:
        sent.append(message)

    call = SecurityHeaders(plain, hsts=True)({"type": "http"}, None, record)  # type: ignore[arg-type]
    # A thread of its own: the browser tests may leave an event loop running in this one.
    runner = threading.Thread(target=asyncio.run, args=(call,))
    runner.start()
    runner.join()
    assert (b"strict-transport-security", HSTS.encode()) in sent[0]["headers"]


def test_the_api_docs_come_from_tandem_itself(api: Any) -> None:
    """No CDN: the page names only same-origin assets, and they are served."""
    page = api("anonymous").get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        assert api("anonymous").get(source).status_code == 200, source
    assert "<script>" not in page.text  # nothing inline: the policy would refuse it
