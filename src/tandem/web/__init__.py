"""The console: server-rendered pages on the services the API uses (tandem.web.templating)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from tandem.core.errors import TandemError
from tandem.web import (
    admin,
    custody,
    desks,
    helpdesk,
    items,
    knowledge,
    macros,
    me,
    operations,
    planning,
    portal,
    quality,
    rules,
    schedule,
    surveys,
    workbench,
)
from tandem.web.templating import STATIC, SignInFirst, page, sign_in_url

ROUTERS = (
    workbench.router,
    portal.router,
    operations.router,
    planning.router,
    items.router,
    desks.router,
    admin.router,
    custody.router,
    quality.router,
    me.router,
    rules.router,
    helpdesk.router,
    knowledge.router,
    macros.router,
    surveys.router,
    schedule.router,
)


def install(app: FastAPI) -> None:
    """Pages, static files, and errors on pages shown as pages."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    api_errors: Any = app.exception_handlers[TandemError]

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, TandemError) and request.url.path.startswith(helpdesk.PUBLIC_PREFIXES):
            return helpdesk.error_page(request, exc)
        if not request.url.path.startswith("/console") or not isinstance(exc, TandemError):
            response: Response = await api_errors(request, exc)
            return response
        return page(request, "error.html", None, exc.status, title=exc.title, detail=exc.detail)

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInFirst)
        return RedirectResponse(sign_in_url(exc.back_to), status_code=303)

    app.add_exception_handler(TandemError, on_error)
    app.add_exception_handler(SignInFirst, to_sign_in)
