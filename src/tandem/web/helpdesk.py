"""The service desk's public pages (no sign-in): a brand's contact form (/help/<code>/contact)
and a customer's link to their conversation (/c/<link>), where they read the replies and
answer. Everything a visitor sends is counted per client address (the "public" rate limit),
bounded in size, checked field by field (tandem.servicedesk.webchannel), and posted only
from these pages themselves (the same-origin rule). The pages carry no script."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tandem.container import Container
from tandem.core.db import TENANT, transaction
from tandem.core.errors import Conflict, InvalidInput, NotFound, TandemError
from tandem.http import Services, public, require_same_origin
from tandem.servicedesk import webchannel
from tandem.servicedesk.inbound import Rules
from tandem.servicedesk.models import Brand
from tandem.tenancy.principal import SYSTEM
from tandem.web.templating import page

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 64 * 1024  # the largest post taken: the message's 20,000 characters and more
FORM = "a brand's contact form: anyone may write to the brand, counted per address"
LINK = "a customer's conversation, opened by the secret link only they were given"
T = TypeVar("T")


def _counted(request: Request, services: Container) -> None:
    services.rate_limits.hit("public", request.client.host if request.client else "unknown")


def _private(response: Response) -> Response:
    """A conversation's page is the customer's: kept by no cache, shown by no search engine."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


async def _form(request: Request) -> dict[str, str]:
    """The posted form's text fields, after the same-origin rule and the size bound."""
    require_same_origin(request)
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise InvalidInput(
            "send the form from its page", errors=[{"field": "body", "message": "no length"}]
        )
    if int(length) > MAX_FORM_BYTES:
        raise InvalidInput(
            "the message is too long",
            errors=[{"field": "body", "message": f"at most {MAX_FORM_BYTES} bytes"}],
        )
    form = await request.form(max_files=0, max_fields=10)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _brand(services: Container, code: str) -> Brand:
    with transaction(services.sessions) as session:
        brand = webchannel.brand_by_code(session, code)
        if brand is None:
            raise NotFound("there is no help page here")
        session.expunge(brand)
        return brand


def _as_client(services: Container, client_id: int, work: Callable[..., T], *args: object) -> T:
    """`work(ctx, *args)` in one transaction held to the client's rows (PostgreSQL's
    row-level security), as the system: a visitor is nobody's principal."""
    token = TENANT.set(client_id)
    try:
        with services.context(SYSTEM) as ctx:
            return work(ctx, *args)
    finally:
        TENANT.reset(token)


@router.get("/help/{code}/contact", response_class=HTMLResponse)
def contact_page(
    code: str,
    request: Request,
    services: Services,
    _: Annotated[None, Depends(public(FORM))],
) -> HTMLResponse:
    _counted(request, services)
    brand = _brand(services, code)
    return page(request, "help_contact.html", None, brand=brand, values={}, errors={})


@router.post("/help/{code}/contact", response_model=None)
async def contact(
    code: str,
    request: Request,
    services: Services,
    _: Annotated[None, Depends(public(FORM))],
) -> Response:
    """Begin a conversation; the thank-you page gives the customer their link."""
    _counted(request, services)
    form = await _form(request)
    brand = await run_in_threadpool(_brand, services, code)
    contact = webchannel.Contact(
        form.get("name", ""), form.get("email", ""), form.get("subject", ""), form.get("text", "")
    )
    rules = Rules.of(services.settings)
    begin = partial(webchannel.open_conversation, verified=False)
    try:
        opened = await run_in_threadpool(
            _as_client, services, brand.client_id, begin, brand, contact, rules
        )
    except InvalidInput as refused:
        errors = {e["field"]: e["message"] for e in refused.extra.get("errors", [])}
        return page(
            request, "help_contact.html", None, 422, brand=brand, values=form, errors=errors
        )
    return _private(RedirectResponse(f"/c/{opened.link}/thanks", status_code=303))


def _found(services: Container, link: str) -> tuple[int, uuid.UUID]:
    with transaction(services.sessions) as session:
        found = webchannel.at_link(session, link)
    if found is None:
        raise NotFound("there is no conversation at this link")
    return found


def _thread(services: Container, link: str) -> webchannel.Thread:
    client_id, conversation_id = _found(services, link)
    return _as_client(services, client_id, webchannel.thread, client_id, conversation_id)


@router.get("/c/{link}/thanks", response_class=HTMLResponse)
def thanks(
    link: str, request: Request, services: Services, _: Annotated[None, Depends(public(LINK))]
) -> Response:
    _counted(request, services)
    shown = _thread(services, link)
    url = str(request.base_url).rstrip("/") + f"/c/{link}"
    return _private(
        page(request, "help_thanks.html", None, thread=shown, link=url, path=f"/c/{link}")
    )


@router.get("/c/{link}", response_class=HTMLResponse)
def conversation(
    link: str, request: Request, services: Services, _: Annotated[None, Depends(public(LINK))]
) -> Response:
    _counted(request, services)
    shown = _thread(services, link)
    return _private(
        page(request, "help_conversation.html", None, thread=shown, path=f"/c/{link}", errors={})
    )


@router.post("/c/{link}", response_model=None)
async def answer(
    link: str, request: Request, services: Services, _: Annotated[None, Depends(public(LINK))]
) -> Response:
    """The customer's reply: back to the conversation, reopened."""
    _counted(request, services)
    form = await _form(request)
    client_id, conversation_id = await run_in_threadpool(_found, services, link)
    rules = Rules.of(services.settings)
    text = form.get("text", "")
    try:
        await run_in_threadpool(
            _as_client,
            services,
            client_id,
            webchannel.reply,
            client_id,
            conversation_id,
            text,
            rules,
        )
    except (InvalidInput, Conflict) as refused:
        shown = await run_in_threadpool(_thread, services, link)
        errors = (
            {e["field"]: e["message"] for e in refused.extra.get("errors", [])}
            if isinstance(refused, InvalidInput)
            else {"text": refused.detail}
        )
        status = refused.status
        return _private(
            page(
                request,
                "help_conversation.html",
                None,
                status,
                thread=shown,
                path=f"/c/{link}",
                errors=errors,
                text=text,
            )
        )
    return _private(RedirectResponse(f"/c/{link}#latest", status_code=303))


def error_page(request: Request, exc: TandemError) -> Response:
    """A public page's refusal, as a page (no link to the console)."""
    response = page(
        request, "help_error.html", None, exc.status, title=exc.title, detail=exc.detail
    )
    if "retry_after" in exc.extra:
        response.headers["Retry-After"] = str(exc.extra["retry_after"])
    return _private(response)


PUBLIC_PREFIXES = ("/help/", "/c/", "/s/")  # /s/: satisfaction surveys (tandem.web.surveys)
