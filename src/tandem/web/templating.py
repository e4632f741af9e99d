"""Rendering console pages: one Jinja2 environment, the static files, and the sign-in guard.

Pages are drawn on the server from the same services the API uses; the little JavaScript
they carry (static/console.js) calls the API for actions, with the session cookie. A page
declares its permission like a route does (`viewer`); someone not signed in is sent to the
sign-in page and brought back afterwards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from tandem.container import Container
from tandem.core.db import TENANT, transaction
from tandem.core.errors import Forbidden, Unauthorized
from tandem.http import Services, current_principal
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.web.finding import PAGE_SIZE
from tandem.workforce.zones import UTC_ZONE, zone_of

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

# What people read instead of the codes the API speaks (`label` in templates); a code not
# here reads as itself in words.
LABELS = {
    "received": "Received",
    "queued": "Queued",
    "leased": "Being worked",
    "submitted": "Submitted",
    "in_review": "In review",
    "rework": "Being redone",
    "waiting": "On hold",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "accepted": "Accepted",
    "partially_accepted": "Partly accepted",
    "rejected": "Rejected",
    "all_or_nothing": "All rows or none",
    "accept_valid": "Valid rows only",
    "holt_winters": "Holt-Winters",
    "profile": "Weekly profile",
}


def label(code: object) -> str:
    text = str(code)
    return LABELS.get(text) or text.replace("_", " ").capitalize()


def short_id(value: object) -> str:
    """An id as people can tell apart: its last 8 hex digits (the first ones of UUIDv7s
    are their time, the same for every item of a minute)."""
    return str(value).replace("-", "")[-8:]


def pairs_except(query: Any, name: str) -> str:
    """A page's query string without `name`, ready for `name=` to be appended (paging
    links keep the rest of the search)."""
    kept = [(key, value) for key, value in query.multi_items() if key != name and value]
    return urlencode(kept) + "&" if kept else ""


@pass_context
def local(context: Mapping[str, Any], moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment as the viewer reads it: in their time zone (`zone`, named by `zone_label`
    on the page)."""
    if moment is None:
        return ""
    zone = context.get("zone") or UTC_ZONE
    return moment.astimezone(zone).strftime(fmt)


templates.env.filters["local"] = local
templates.env.filters["label"] = label
templates.env.filters["pairs_except"] = pairs_except
templates.env.filters["short_id"] = short_id
templates.env.globals["PAGE_SIZE"] = PAGE_SIZE

# Administration is for those who manage users (client and provider admins), for those who
# manage or read the workforce (ops managers; team leads, planners and security officers see
# the agents read only), and for those who keep custody of the data (tandem.web.custody).
ADMINISTRATORS = (
    Permission.CLIENT_USER_MANAGE,
    Permission.WORKFORCE_MANAGE,
    Permission.WORKFORCE_READ,
    # custody: client systems' API keys, the audit trail, encryption keys, retention
    Permission.API_KEY_MANAGE,
    Permission.AUDIT_READ,
    Permission.KEY_ROTATE,
    Permission.RETENTION_MANAGE,
)

# The console's sections, each shown to those who hold (one of) its permissions.
SECTIONS: tuple[tuple[str, str, tuple[Permission, ...]], ...] = (
    ("Referrals", "/console/referrals", (Permission.DECISION_JUDGE,)),
    ("Work", "/console/work", (Permission.WORK_CLAIM,)),
    ("My schedule", "/console/me/schedule", (Permission.WORK_CLAIM,)),
    ("Portal", "/console/portal", (Permission.WORK_ITEM_CREATE,)),
    ("Operations", "/console/operations", (Permission.OPERATIONS_READ,)),
    ("Planning", "/console/planning", (Permission.WORKFORCE_READ,)),
    ("Quality", "/console/quality", (Permission.QUALITY_REVIEW,)),
    ("Quality reports", "/console/qa", (Permission.QUALITY_READ,)),
    ("Items", "/console/items", (Permission.WORK_ITEM_READ,)),
    ("Rules", "/console/rules", (Permission.RULESET_READ,)),
    ("Knowledge base", "/console/knowledge", (Permission.KNOWLEDGE_MANAGE,)),
    ("Macros", "/console/macros", (Permission.CONVERSATION_MANAGE,)),
    ("Satisfaction", "/console/satisfaction", (Permission.SATISFACTION_READ,)),
    ("Administration", "/console/admin", ADMINISTRATORS),
)


# Sections of work held under a lease: only for people with an agent profile.
AGENT_SECTIONS = frozenset({Permission.DECISION_JUDGE, Permission.WORK_CLAIM})
# The portal is a client's: only for the client's own people (provider staff who may create
# items do so for a client, through the API).
CLIENT_SECTIONS = frozenset({Permission.WORK_ITEM_CREATE})
# Work items and satisfaction across clients are the provider's staff's (a client's people
# find theirs in the portal).
PROVIDER_SECTIONS = frozenset({Permission.WORK_ITEM_READ, Permission.SATISFACTION_READ})


def sections_of(principal: Principal) -> list[tuple[str, str]]:
    """(label, url) of the sections this person may open, in order: the first is home."""
    return [
        (label, url)
        for label, url, permissions in SECTIONS
        if not principal.permissions.isdisjoint(permissions)
        and (AGENT_SECTIONS.isdisjoint(permissions) or principal.agent_id is not None)
        and (CLIENT_SECTIONS.isdisjoint(permissions) or principal.client_id is not None)
        and (PROVIDER_SECTIONS.isdisjoint(permissions) or principal.client_id is None)
    ]


class SignInFirst(Exception):
    """A page asked for without a session: the app redirects to the sign-in page."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


def viewer(permission: Permission, *or_: Permission) -> Callable[..., Awaitable[Principal]]:
    """The dependency a page declares: the signed-in person, holding `permission` (or one of
    the others named)."""
    either = (permission, *or_)

    async def dependency(request: Request, services: Services) -> Principal:
        principal = await signed_in(request, services)
        if principal.permissions.isdisjoint(either):
            if not or_:
                principal.require(permission)
            names = ", ".join(p.value for p in either)
            raise Forbidden(f"your role ({principal.role}) holds none of {names}")
        return principal

    dependency.permission = permission if not or_ else either  # type: ignore[attr-defined]
    return dependency


async def signed_in(request: Request, services: Services) -> Principal:
    """The dependency of a page anyone signed in may open (their own settings); `viewer`'s
    first step. Sets the request's tenant and the viewer's time zone."""
    try:
        # In a worker thread, as every database call is: on the event loop, a wait for
        # SQLite's write lock would also stop the loop from ending the transaction holding it.
        principal = await run_in_threadpool(current_principal, request, services)
    except Unauthorized:
        raise SignInFirst(request.url.path) from None
    TENANT.set(principal.client_id)
    if not hasattr(request.state, "zone"):  # a page asked with a token, not the console's cookie
        request.state.zone = await run_in_threadpool(_zone, services, principal)
    return principal


def _zone(services: Container, principal: Principal) -> ZoneInfo:
    with transaction(services.sessions) as session:
        return zone_of(session, principal)


# Declared as a page's access is (tests/test_api.py): anyone signed in, no permission needed.
signed_in.permission = None  # type: ignore[attr-defined]


def sign_in_url(back_to: str) -> str:
    return "/sign-in?next=" + quote(back_to, safe="/")


HOME = "/console"


def same_origin_path(candidate: str) -> str:
    """Where sign-in may send the user back to: a path of this site, or the console's home.
    Browsers read a backslash as a slash and drop tabs and line breaks inside a URL, so
    '/\\evil.example' and '/%09/evil.example' lead off-site: anything but a plain path
    (after percent-decoding, which a browser also does) is refused."""
    decoded = unquote(candidate)
    for text in (candidate, decoded):
        if not text.startswith("/") or text.startswith("//") or "\\" in text:
            return HOME
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
            return HOME
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return HOME
    return candidate


def page(
    request: Request, name: str, principal: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    sections = sections_of(principal) if principal is not None else []
    zone = getattr(request.state, "zone", UTC_ZONE)
    shown = {"principal": principal, "sections": sections, "zone": zone, "zone_label": zone.key}
    return templates.TemplateResponse(request, name, {**shown, **context}, status_code=status_code)
