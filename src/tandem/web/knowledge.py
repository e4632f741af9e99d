"""A brand's knowledge base on the web: its public help center (/help/<code>: a search box and
the published articles; /help/<code>/articles/<slug>: one article, its Markdown rendered
safely), counted per client address as the brand's other public pages are
(tandem.web.helpdesk), and carrying no script; and the console's page where those who manage
the knowledge base write, preview and publish a brand's articles (through the API)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from tandem.core.errors import NotFound
from tandem.http import Services, public
from tandem.servicedesk.knowledge import articles, rendering, words
from tandem.servicedesk.models import Brand
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.helpdesk import _as_client, _brand, _counted
from tandem.web.templating import page, viewer

router = APIRouter(include_in_schema=False)

CENTER = "a brand's help center: its published articles are for anyone, counted per address"
Manager = Annotated[Principal, Depends(viewer(Permission.KNOWLEDGE_MANAGE))]
MAX_QUERY_SENT = 1000  # characters of ?q= taken at all (the search reads the first 200)


@dataclass(frozen=True)
class Shown:
    """A published article as its page shows it."""

    title: str
    html: str
    updated_at: datetime


def _listed(ctx: Context, brand: Brand, query: str) -> list[articles.Found]:
    if query.strip():
        return articles.search(ctx.session, brand, query)
    return [
        articles.Found(a.id, brand.id, brand.code, a.slug, a.title, rendering.excerpt(a.body))
        for a in articles.published(ctx.session, brand)
    ]


def _article(ctx: Context, brand: Brand, slug: str) -> Shown | None:
    found = articles.published_at(ctx.session, brand, slug)
    if found is None:
        return None
    return Shown(found.title, rendering.to_html(found.body), found.updated_at)


@router.get("/help/{code}", response_class=HTMLResponse)
def help_center(
    code: str,
    request: Request,
    services: Services,
    _: Annotated[None, Depends(public(CENTER))],
    q: Annotated[str, Query(max_length=MAX_QUERY_SENT)] = "",
) -> HTMLResponse:
    """The brand's published articles, or those matching the search box's words."""
    _counted(request, services)
    brand = _brand(services, code)
    found = _as_client(services, brand.client_id, _listed, brand, q)
    searched = bool(q.strip())
    return page(
        request,
        "help_center.html",
        None,
        brand=brand,
        articles=found,
        query=q[: words.MAX_QUERY],
        searched=searched,
    )


@router.get("/help/{code}/articles/{slug}", response_class=HTMLResponse)
def help_article(
    code: str,
    slug: str,
    request: Request,
    services: Services,
    _: Annotated[None, Depends(public(CENTER))],
) -> HTMLResponse:
    _counted(request, services)
    brand = _brand(services, code)
    shown = _as_client(services, brand.client_id, _article, brand, slug)
    if shown is None:
        raise NotFound("there is no such article here")
    return page(request, "help_article.html", None, brand=brand, article=shown)


@router.get("/console/knowledge", response_class=HTMLResponse)
def knowledge_brands(request: Request, principal: Manager, services: Services) -> HTMLResponse:
    """The brands whose knowledge base this person manages."""
    with services.context(principal) as ctx:
        listed = [(b.id, b.code, b.name) for b in articles.brands(ctx)]
    return page(request, "knowledge_brands.html", principal, brands=listed)


@router.get("/console/knowledge/{brand_id}", response_class=HTMLResponse)
def knowledge_brand(
    brand_id: uuid.UUID,
    request: Request,
    principal: Manager,
    services: Services,
    article: uuid.UUID | None = None,
) -> HTMLResponse:
    """A brand's articles, and the editor: a new article, or the one named by ?article=."""
    with services.context(principal) as ctx:
        brand = articles.brand_of(ctx, brand_id)
        listed = articles.articles_of(ctx, brand_id)
        editing = articles.article(ctx, brand_id, article) if article else None
        preview = rendering.to_html(editing.body) if editing else ""
    return page(
        request,
        "knowledge_brand.html",
        principal,
        brand=brand,
        articles=listed,
        editing=editing,
        preview=preview,
    )
