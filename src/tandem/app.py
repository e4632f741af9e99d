"""The composition root: settings, engine, clock and services wired once; tests swap pieces."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from swagger_ui_bundle import swagger_ui_path

from tandem import __version__, web
from tandem.api.adherence import router as adherence_router
from tandem.api.audit import router as audit_router
from tandem.api.catalog import router as catalog_router
from tandem.api.decisions import router as decisions_router
from tandem.api.delivery import router as delivery_router
from tandem.api.dispatch import router as dispatch_router
from tandem.api.documents import router as documents_router
from tandem.api.forecast import router as forecast_router
from tandem.api.intake import router as intake_router
from tandem.api.knowledge import router as knowledge_router
from tandem.api.privacy import router as privacy_router
from tandem.api.quality import router as quality_router
from tandem.api.rosters import router as rosters_router
from tandem.api.satisfaction import router as satisfaction_router
from tandem.api.servicedesk import router as servicedesk_router
from tandem.api.shift_requests import router as shift_requests_router
from tandem.api.tenancy import router as tenancy_router
from tandem.api.work import router as work_router
from tandem.api.workforce import router as workforce_router
from tandem.container import Container, build_container
from tandem.core import metrics
from tandem.core.db import schema_revisions
from tandem.core.errors import PROBLEM_MEDIA_TYPE, InvalidInput, Problem
from tandem.core.logs import RequestLog
from tandem.core.migrate import schema_behind
from tandem.http import install_problem_handlers, problem, public, requires
from tandem.security import SecurityHeaders
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.queue_depth import QueueDepthCollector

ROUTERS = (
    audit_router,
    tenancy_router,
    catalog_router,
    intake_router,
    work_router,
    dispatch_router,
    delivery_router,
    decisions_router,
    quality_router,
    privacy_router,
    workforce_router,
    forecast_router,
    adherence_router,
    documents_router,
    servicedesk_router,
    satisfaction_router,
    knowledge_router,
    rosters_router,
    shift_requests_router,
)


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"model": Problem, "description": description}
    if headers:
        response["headers"] = headers
    return response


# What any route behind a token may answer besides its own result: problem details.
AUTH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem(
        "No valid token or session",
        {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    ),
    403: _problem("The caller lacks the route's permission"),
    429: _problem(
        "Too many requests: an API key's allowance, or sign-in attempts from one address",
        {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    ),
}
# Added to every API route, once, here: what the use cases and request parsing may raise.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("A body that cannot be read (not UTF-8 text, a malformed multipart body)"),
    401: AUTH_PROBLEMS[401],
    403: AUTH_PROBLEMS[403],
    404: _problem("Not found, or not the caller's to see"),
    409: _problem("In conflict with the current state (e.g. a lease lost, a duplicate)"),
    422: _problem("Invalid input: `errors` names each field"),
    429: AUTH_PROBLEMS[429],
}


READY_TIMEOUT_S = 0.9  # readiness answers within a second

NUL = "\x00"


async def refuse_nul_characters(request: Request) -> None:
    """PostgreSQL keeps no NUL character in text, nor in JSON: any string of a request that
    holds one (path, query, JSON body at any depth, form field, file name) is invalid input,
    refused here for every route, with each field named as validation errors name them."""
    found = [f"path.{name}" for name, value in request.path_params.items() if NUL in value]
    found += [f"query.{name}" for name, value in request.query_params.multi_items() if NUL in value]
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()  # parsed once: the route's parameters come from it
            for name, value in form.multi_items():
                text = value if isinstance(value, str) else value.filename or ""
                if NUL in name + text:
                    found.append(name)
        elif await request.body():
            found += _nul_fields(await request.json(), "")  # parsed once, as for the route
    except ValueError:
        pass  # not JSON after all: the route's own parsing answers
    if found:
        message = "must not contain NUL (\\u0000) characters"
        raise InvalidInput(
            "text may not contain NUL characters",
            errors=[{"field": field, "message": message} for field in dict.fromkeys(found)],
        )


def _nul_fields(value: Any, path: str) -> list[str]:
    """The dotted paths of the strings (and keys) holding a NUL in a JSON document."""
    if isinstance(value, str):
        return [path] if NUL in value else []
    if isinstance(value, dict):
        items = [(str(key), inner) for key, inner in value.items()]
    elif isinstance(value, list):
        items = [(str(index), inner) for index, inner in enumerate(value)]
    else:
        return []
    found = []
    for key, inner in items:
        here = f"{path}.{key}" if path else key
        found += [here] if NUL in key else _nul_fields(inner, here)
    return found


async def refuse_unknown_query_parameters(request: Request) -> None:
    """A query parameter the route does not declare is a mistake, most often a misspelt or
    unsupported filter that would otherwise be ignored (`?external_ref=` listing every item):
    refused for every route, each one named."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    declared = _declared_query_parameters(route)
    unknown = [name for name in request.query_params if name not in declared]
    if unknown:
        message = "is not a parameter of this route: " + ", ".join(sorted(declared) or ["none"])
        raise InvalidInput(
            "the request names query parameters this route does not take",
            errors=[{"field": f"query.{name}", "message": message} for name in unknown],
        )


def _declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameters of the route and of every dependency it uses."""
    names: set[str] = set()
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(field.alias for field in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


def create_app(container: Container | None = None) -> FastAPI:
    container = container or build_container()
    app = FastAPI(
        title="Tandem",
        version=__version__,
        description="Delivery platform of an outsourcing provider: intake, dispatch under "
        "leases, SLA clocks, delivery by API, export and signed webhooks.",
        docs_url=None,  # served below from the installed Swagger UI, not a CDN
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders, hsts=container.settings.cookie_secure)
    app.add_middleware(RequestLog)  # outermost: the request's id on every line and answer
    app.state.container = container
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(
            router,
            responses=PROBLEMS,
            dependencies=[
                Depends(refuse_nul_characters),
                Depends(refuse_unknown_query_parameters),
            ],
        )
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problems_as_problem_json(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Queue depth reads this app's database, so it lives in a registry of the app's own.
    queue_registry = CollectorRegistry(auto_describe=False)
    queue_registry.register(QueueDepthCollector(container.sessions))

    @app.get("/healthz", tags=["operations"])
    async def healthz(
        _: Annotated[None, Depends(public("load balancers probe it"))],
    ) -> dict[str, str]:
        """Liveness: the process answers (no database; on the event loop, so it answers even
        when every worker thread waits for the database)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: _problem("The database is not")})
    async def readyz(
        _: Annotated[None, Depends(public("load balancers probe it"))],
    ) -> Response:
        """Readiness: the database answers within a second, on a connection of its own (an
        exhausted pool does not delay the answer), and its schema has this release's
        migrations (a node started before `tandem migrate` ran takes no traffic)."""
        url = container.settings.sqlalchemy_url
        loop = asyncio.get_running_loop()
        try:
            revisions = await asyncio.wait_for(
                loop.run_in_executor(None, schema_revisions, url, READY_TIMEOUT_S),
                READY_TIMEOUT_S,
            )
        except TimeoutError:
            revisions = None
        if revisions is None:
            detail, retry = "the database does not answer", 2
        elif schema_behind(revisions):
            at = ", ".join(revisions) or "no schema"
            detail = f"the database's schema is at {at}, behind this release: run `tandem migrate`"
            retry = 10
        else:
            return JSONResponse({"status": "ready"})
        response = problem(503, "Not ready", detail, retry_after=retry)
        response.headers["Retry-After"] = str(retry)
        return response

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **AUTH_PROBLEMS,
        },
    )
    def prometheus_metrics(
        _: Annotated[Principal, Depends(requires(Permission.OPERATIONS_READ))],
    ) -> Response:
        """Prometheus exposition. Queue depth names clients and processes, so a scraper
        authenticates as provider operations staff (Prometheus: `authorization:
        credentials: <token>`)."""
        body = generate_latest(metrics.REGISTRY) + generate_latest(queue_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def home(_: Annotated[None, Depends(public("the console's front door, no data"))]) -> Response:
        return RedirectResponse("/console", status_code=303)

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(_: Annotated[None, Depends(public("the API's documentation, no data"))]) -> str:
        return DOCS_PAGE

    web.install(app)
    return app


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tandem API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>
"""


def _problems_as_problem_json(doc: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents a response model under the route's media type (application/json);
    problem details are sent as application/problem+json, and documented so."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for operations in doc["paths"].values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if content.get("application/json", {}).get("schema") == problem:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return doc
