"""The composition root: settings, engine, clock and services wired once; tests swap pieces."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tandem import __version__, metrics
from tandem.audit.api import router as audit_router
from tandem.catalog.api import router as catalog_router
from tandem.clock import Clock, SystemClock
from tandem.config import Settings, load_settings
from tandem.db import make_engine, make_sessionmaker
from tandem.decisions.api import router as decisions_router
from tandem.delivery.api import router as delivery_router
from tandem.dispatch.api import router as dispatch_router
from tandem.dispatch.service import Dispatcher
from tandem.http import Container, install_problem_handlers, public, requires
from tandem.intake.api import router as intake_router
from tandem.quality.api import router as quality_router
from tandem.tenancy.api import router as tenancy_router
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.work.api import router as work_router
from tandem.workforce.api import router as workforce_router

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
    workforce_router,
)


def build_container(settings: Settings | None = None, clock: Clock | None = None) -> Container:
    settings = settings or load_settings()
    clock = clock or SystemClock()
    engine = make_engine(settings.sqlalchemy_url)
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock,
        dispatcher=Dispatcher(clock, lease_seconds=settings.lease_seconds),
    )


def create_app(container: Container | None = None) -> FastAPI:
    container = container or build_container()
    app = FastAPI(
        title="Tandem",
        version=__version__,
        description="Delivery platform of an outsourcing provider: intake, dispatch under "
        "leases, SLA clocks, delivery by API, export and signed webhooks.",
        docs_url="/docs",
    )
    app.state.container = container
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # Queue depth reads this app's database, so it lives in a registry of the app's own.
    queue_registry = CollectorRegistry(auto_describe=False)
    queue_registry.register(metrics.QueueDepthCollector(container.sessions))

    @app.get("/healthz", tags=["operations"])
    def healthz(_: Annotated[None, Depends(public("load balancers probe it"))]) -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus_metrics(
        _: Annotated[Principal, Depends(requires(Permission.OPERATIONS_READ))],
    ) -> Response:
        """Prometheus exposition. Queue depth names clients and processes, so a scraper
        authenticates as provider operations staff (Prometheus: `authorization:
        credentials: <token>`)."""
        body = generate_latest(metrics.REGISTRY) + generate_latest(queue_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(_: Annotated[None, Depends(public("landing page, no data"))]) -> str:
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Tandem</title>"
            "<h1>Tandem</h1><p>API documentation: <a href=/docs>/docs</a>. "
            "Metrics: <a href=/metrics>/metrics</a>.</p></html>"
        )

    return app
