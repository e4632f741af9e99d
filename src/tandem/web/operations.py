"""The operations floor for ops managers and team leads: live queues, what is at risk,
who is on shift where, throughput per hour (an SVG chart drawn on the server: no network)."""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import Annotated

import pygal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tandem.http import Services
from tandem.reports.adherence import out_of_adherence_now
from tandem.reports.floor import Floor, floor
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.charts import svg
from tandem.web.templating import page, viewer

router = APIRouter(include_in_schema=False)

OUT_SHOWN = 20  # agents out of adherence listed on the floor, the longest first

Operations = Annotated[Principal, Depends(viewer(Permission.OPERATIONS_READ))]


@router.get("/console/operations", response_class=HTMLResponse)
def operations(request: Request, principal: Operations, services: Services) -> HTMLResponse:
    return _floor_page(request, principal, services, "operations.html")


@router.get("/console/operations/live", response_class=HTMLResponse)
def live(request: Request, principal: Operations, services: Services) -> HTMLResponse:
    """The page's live part alone, refreshed every few seconds."""
    return _floor_page(request, principal, services, "_floor.html")


def _floor_page(
    request: Request, principal: Principal, services: Services, template: str
) -> HTMLResponse:
    idle = timedelta(minutes=services.settings.session_idle_minutes)
    with services.context(principal) as ctx:
        seen = floor(ctx)
        # the provider's agents: a client's people on the floor (if any) see no one's
        out = out_of_adherence_now(ctx, idle=idle) if principal.client_id is None else []
    return page(
        request,
        template,
        principal,
        now=ctx.now,
        floor=seen,
        out_of_adherence=out[:OUT_SHOWN],
        out_of_adherence_total=len(out),
        chart=throughput_chart(seen, request.state.zone),
        opens_items=opens_items(principal),
    )


def opens_items(principal: Principal) -> bool:
    """Whether the floor links to the staff's pages of items (tandem.web.items)."""
    return Permission.WORK_ITEM_READ in principal.permissions and principal.client_id is None


def throughput_chart(seen: Floor, zone: tzinfo) -> Markup:
    """Items delivered per hour (in the viewer's time zone), as inline SVG: no script,
    nothing fetched."""
    chart = pygal.Bar(
        js=[],  # pygal's tooltips load a script from the internet; the chart needs none
        disable_xml_declaration=True,
        show_legend=False,
        height=260,
        width=960,
        title=f"Delivered per hour ({zone})",
        x_label_rotation=0,
    )
    chart.x_labels = [f"{hour.astimezone(zone):%H}" for hour in seen.hours]
    chart.add("delivered", seen.delivered_per_hour)
    return svg(chart, "Items delivered per hour")
