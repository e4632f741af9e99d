"""Plumbing shared by the API's routes and the console's pages: who is calling, the
permission each route declares, and errors as RFC 9457 problem details."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SqlTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from tandem.container import Container
from tandem.core import paging
from tandem.core.db import TENANT, transaction
from tandem.core.errors import Forbidden, TandemError, Unauthorized
from tandem.core.logs import REQUEST_ID_HEADER, current_request_id, identify
from tandem.tenancy.context import Context
from tandem.tenancy.models import ApiKey, ApiToken, User
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import API_KEY_PREFIX, KEY_USE_RECORDED, hash_token, record_key_use
from tandem.tenancy.signin import session_user
from tandem.workforce.models import Agent
from tandem.workforce.zones import zone_of

log = logging.getLogger(__name__)


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


Services = Annotated[Container, Depends(get_container)]

# The database's integer columns hold 32 bits: routes declare their integers (ids, attempts,
# offsets) within these bounds, so that a larger one is invalid input, not a database error.
MIN_INT, MAX_INT = -(2**31), 2**31 - 1
T = TypeVar("T")


SESSION_COOKIE = "tandem_session"


def current_principal(request: Request, container: Services) -> Principal:
    """Who is calling: a bearer token (API clients) or a console session cookie. Named on
    the request's log lines from here on."""
    principal = _caller(request, container)
    identify(principal.actor, principal.client_id)
    return principal


def _caller(request: Request, container: Container) -> Principal:
    header = request.headers.get("authorization", "")
    if not header and (cookie := request.cookies.get(SESSION_COOKIE)):
        if request.method not in SAFE_METHODS:
            _same_origin(request)
        return _session_principal(container, cookie, request)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>', or sign in")
    if token.startswith(API_KEY_PREFIX):
        return _key_principal(container, token)
    with container.sessions() as session:
        row = session.execute(
            select(User.id, User.role, User.client_id, User.active, Agent.id.label("agent_id"))
            .join(ApiToken, ApiToken.user_id == User.id)
            .outerjoin(Agent, Agent.user_id == User.id)
            .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        ).one_or_none()
    if row is None or not row.active:
        raise Unauthorized("the API token is unknown, revoked or its user is disabled")
    return Principal(row.id, row.role, row.client_id, row.agent_id)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _same_origin(request: Request) -> None:
    """A change made with the console's cookie must come from the console's own pages. A
    browser names the page's origin on every such request; SameSite cookies alone do not
    tell apart sites on other ports or subdomains of the same host (cross-site request
    forgery). The origin's host and port must be the ones the request was sent to (the Host
    header, which a reverse proxy passes on)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host", "")
    if origin and origin != "null":
        parts = urlsplit(origin)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        wanted = urlsplit(f"{parts.scheme}://{host}")
        if parts.hostname == wanted.hostname and port == (
            wanted.port or (443 if parts.scheme == "https" else 80)
        ):
            return
    raise Forbidden(
        "a change made with the console's session must come from the console's own pages"
    )


def require_same_origin(request: Request) -> None:
    """A public form's post must come from this site's own page (see `_same_origin`)."""
    _same_origin(request)


def _key_principal(container: Container, key: str) -> Principal:
    with container.sessions() as session:
        found = session.execute(
            select(ApiKey.id, ApiKey.client_id, ApiKey.permissions, ApiKey.last_used_at).where(
                ApiKey.key_hash == hash_token(key), ApiKey.revoked_at.is_(None)
            )
        ).one_or_none()
    if found is None:
        raise Unauthorized("the API key is unknown or revoked")
    now = container.clock.now()
    if found.last_used_at is None or now - found.last_used_at >= KEY_USE_RECORDED:
        try:
            with transaction(container.sessions) as session:
                record_key_use(session, found.client_id, found.id, now)
        except OperationalError:  # bookkeeping: the request goes on without it
            log.warning("could not record the use of API key %s", found.id, exc_info=True)
    container.rate_limits.hit("api_key", str(found.id))
    scopes = frozenset(Permission(p) for p in found.permissions if p in _PERMISSION_VALUES)
    return Principal(found.id, "api_key", found.client_id, None, scopes)


_PERMISSION_VALUES = {p.value for p in Permission}


def _session_principal(container: Container, cookie: str, request: Request) -> Principal:
    """The signed-in person, and (in the same transaction: on SQLite every transaction takes
    the write lock) the time zone the console shows them times in, on `request.state.zone`."""
    idle = timedelta(minutes=container.settings.session_idle_minutes)
    with transaction(container.sessions) as session:
        user = session_user(session, cookie, now=container.clock.now(), idle=idle)
        if user is None:
            raise Unauthorized("your session has ended: sign in again")
        agent_id = session.scalar(select(Agent.id).where(Agent.user_id == user.id))
        principal = Principal(user.id, user.role, user.client_id, agent_id)
        request.state.zone = zone_of(session, principal)
        return principal


def requires(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """The dependency a route declares: the caller, once they are known to hold `permission`.
    For a client's user it also names the client for the database's row-level security.
    (Async, so that the name set here is seen by the route: a sync dependency runs in a
    worker thread whose context is not the request's.)"""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        principal.require(permission)
        TENANT.set(principal.client_id)
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def context(permission: Permission) -> Callable[..., Iterator[Context]]:
    """The dependency of a route that runs a use case: its Context, once the caller is known
    to hold `permission`, in a transaction that commits before the response is sent (declare
    it with `scope="function"`, as `uses` does)."""

    caller = Depends(requires(permission))  # a default, not an annotation: see below

    def dependency(container: Services, principal: Principal = caller) -> Iterator[Context]:
        """(The caller is a default value: an annotation naming `permission`, a closure's
        variable, could not be resolved from the module's names.)"""
        with container.context(principal) as ctx:
            yield ctx

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def uses(permission: Permission) -> Any:
    """A route's Context, as `Annotated[Context, uses(Permission.X)]`: the dependency
    `context(permission)`, its transaction ended before the response is sent."""
    return Depends(context(permission), scope="function")


def public(reason: str) -> Callable[[], Awaitable[None]]:
    """Declares a route deliberately open to anyone (health, metrics, docs), and why."""

    async def dependency() -> None:  # async: no worker thread needed (probes must answer)
        return None

    dependency.public_reason = reason  # type: ignore[attr-defined]
    return dependency


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem details answer, with the request's id (`request_id`, and `X-Request-ID`:
    a 500's answer is sent outside the middleware that sets the header on the others)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    response = JSONResponse(body, status_code=status, media_type="application/problem+json")
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


RETRY_AFTER_SECONDS = 2


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(TandemError)
    async def _domain(request: Request, exc: TandemError) -> JSONResponse:
        response = problem(exc.status, getattr(exc, "title", "Error"), exc.detail, **exc.extra)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(part) for part in error["loc"] if part != "body"),
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        return problem(422, "Invalid input", "the request is invalid", errors=errors)

    @app.exception_handler(OperationalError)
    @app.exception_handler(SqlTimeout)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The database is restarting, unreachable, or did not give a connection, a lock or
        an answer within the request's budget (tandem.core.db.Budgets): a short, clear,
        retryable answer instead of a 500."""
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        response = problem(
            503,
            "Service unavailable",
            "the database is busy or unreachable; try again shortly",
            retry_after=RETRY_AFTER_SECONDS,
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        """A bug: still a problem document (the server logs the traceback)."""
        return problem(500, "Internal error", "something went wrong on our side")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))


def paged_responses(what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI of a list answered a page at a time (`paged`)."""
    return {
        200: {
            "headers": {
                "X-Total-Count": {
                    "description": f"How many {what} match, on every page",
                    "schema": {"type": "integer"},
                },
                "Link": {"description": 'The next and previous pages (rel="next", "prev")'},
            }
        }
    }


def _window(
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT, description="rows per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT, description="rows before the page")] = 0,
) -> paging.Window:
    return paging.Window(limit, offset)


# A list route's page: `limit` and `offset` in the query; answer with `paged`.
Paging = Annotated[paging.Window, Depends(_window)]


def paged(
    request: Request, response: Response, page: paging.Page[T], window: paging.Window
) -> list[T]:
    """The page's rows, telling their reader how many match in all (`X-Total-Count`) and
    where the next and previous pages are (`Link`, RFC 8288), the query otherwise as it was
    asked."""
    total, limit, offset = page.total, window.limit, window.offset
    response.headers["X-Total-Count"] = str(total)
    links = []
    if offset + limit < total:
        links.append((offset + limit, "next"))
    if offset > 0:
        links.append((max(0, offset - limit), "prev"))
    if links:
        response.headers["Link"] = ", ".join(
            f'<{request.url.include_query_params(offset=at)}>; rel="{rel}"' for at, rel in links
        )
    return page.items
