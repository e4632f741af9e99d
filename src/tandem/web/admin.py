"""Administration: clients, processes (a form schema editor with a live preview), agents and
their skills, languages, clearances and shifts, users and their roles; and the custody pages
(API keys, the audit trail, encryption keys, retention: tandem.web.custody).

Pages only read; every change is made from the page through the public API (/api/v1/users,
/api/v1/clients, /api/v1/processes, /api/v1/agents), which checks and audits it. The section
is for those who manage users (client:user:manage: client admins and provider admins) or
manage or read the workforce (ops managers; team leads, planners, security officers); each
sub-page also needs its own permission, so a client admin is answered 403 for the provider's
list of clients, an ops manager for the list of users."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tandem.catalog.models import PROCESS_KINDS, SLA_MODES
from tandem.catalog.service import list_processes
from tandem.http import Services
from tandem.tenancy.models import User
from tandem.tenancy.permissions import CLIENT_ROLES, ROLES, Permission
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import list_clients
from tandem.tenancy.users import list_users
from tandem.vault.masking import CATEGORIES
from tandem.web.finding import page_number, window_of
from tandem.web.templating import ADMINISTRATORS, page, viewer
from tandem.workforce.eligibility import CEFR_LEVELS, WeeklyShift
from tandem.workforce.service import TIERS, free_sign_ins, list_skills, roster

router = APIRouter(include_in_schema=False)

SECTION = viewer(*ADMINISTRATORS)

# The section's pages, each shown to those who hold its permission as well.
TABS = (
    ("Users and roles", "/console/admin/users", Permission.CLIENT_USER_MANAGE),
    ("Clients", "/console/admin/clients", Permission.CLIENT_MANAGE),
    ("Processes", "/console/admin/processes", Permission.PROCESS_READ),
    ("Agents and skills", "/console/admin/agents", Permission.WORKFORCE_READ),
    # custody (tandem.web.custody)
    ("API keys", "/console/admin/api-keys", Permission.API_KEY_MANAGE),
    ("Audit trail", "/console/admin/audit", Permission.AUDIT_READ),
    ("Encryption keys", "/console/admin/keys", Permission.KEY_ROTATE),
    ("Retention", "/console/admin/retention", Permission.RETENTION_MANAGE),
)

PROVIDER_ROLES = tuple(role for role in ROLES if role not in CLIENT_ROLES)
CLIENT_ROLE_ORDER = tuple(role for role in ROLES if role in CLIENT_ROLES)


def within_admin(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """The section's guard (`viewer`), then the sub-page's own permission: 403 without it."""

    async def dependency(
        principal: Annotated[Principal, Depends(SECTION)],
    ) -> Principal:
        principal.require(permission)
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


Admin = Annotated[Principal, Depends(SECTION)]
UserManager = Annotated[Principal, Depends(within_admin(Permission.CLIENT_USER_MANAGE))]
ClientManager = Annotated[Principal, Depends(within_admin(Permission.CLIENT_MANAGE))]
ProcessReader = Annotated[Principal, Depends(within_admin(Permission.PROCESS_READ))]
ProcessManager = Annotated[Principal, Depends(within_admin(Permission.PROCESS_MANAGE))]
WorkforceReader = Annotated[Principal, Depends(within_admin(Permission.WORKFORCE_READ))]


def _page(request: Request, name: str, principal: Principal, **context: Any) -> HTMLResponse:
    tabs = [(label, url) for label, url, p in TABS if p in principal.permissions]
    return page(request, name, principal, tabs=tabs, **context)


@router.get("/console/admin", response_class=HTMLResponse)
def admin(request: Request, principal: Admin) -> HTMLResponse:
    return _page(request, "admin_index.html", principal)


# -- users and roles -------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    user: User
    client: str  # the client's name; "" for provider staff
    roles: tuple[str, ...]  # the roles the caller may give this user
    is_self: bool


def roles_to_give(principal: Principal) -> dict[str, tuple[str, ...]]:
    """The roles the caller may give, by group: client roles only for a client admin."""
    if Permission.PROVIDER_USER_MANAGE in principal.permissions:
        return {"Provider roles": PROVIDER_ROLES, "Client roles": CLIENT_ROLE_ORDER}
    return {"Client roles": CLIENT_ROLE_ORDER}


@router.get("/console/admin/users", response_class=HTMLResponse)
def users(request: Request, principal: UserManager, services: Services) -> HTMLResponse:
    provider = Permission.PROVIDER_USER_MANAGE in principal.permissions
    number = page_number(request)
    with services.context(principal) as ctx:
        clients = list_clients(ctx)
        names = {client.id: client.name for client in clients}
        rows = list_users(ctx, window_of(number)).map(
            lambda user: UserRow(
                user,
                names.get(user.client_id, "") if user.client_id is not None else "",
                CLIENT_ROLE_ORDER if user.client_id is not None else PROVIDER_ROLES,
                user.id == principal.user_id,
            )
        )
        return _page(
            request,
            "admin_users.html",
            principal,
            rows=rows,
            number=number,
            roles=roles_to_give(principal),
            client_roles=sorted(CLIENT_ROLES),
            clients=clients if provider else None,
        )


# -- clients ---------------------------------------------------------------------------------


@router.get("/console/admin/clients", response_class=HTMLResponse)
def clients(request: Request, principal: ClientManager, services: Services) -> HTMLResponse:
    with services.context(principal) as ctx:
        return _page(
            request,
            "admin_clients.html",
            principal,
            clients=list_clients(ctx),
            timezones=sorted(available_timezones()),
        )


# -- processes -------------------------------------------------------------------------------


@router.get("/console/admin/processes", response_class=HTMLResponse)
def processes(request: Request, principal: ProcessReader, services: Services) -> HTMLResponse:
    with services.context(principal) as ctx:
        clients = {client.id: client.name for client in list_clients(ctx)}
        return _page(
            request,
            "admin_processes.html",
            principal,
            processes=list_processes(ctx),
            clients=clients,
            can_define=Permission.PROCESS_MANAGE in principal.permissions,
        )


# What the editor starts from: a small valid form each, drawn in the preview at once.
STARTING_INPUT = """{
  "type": "object",
  "additionalProperties": false,
  "required": ["document_ref"],
  "properties": {
    "document_ref": {"type": "string", "title": "Document reference", "minLength": 1}
  }
}"""
STARTING_FORM = """{
  "type": "object",
  "additionalProperties": false,
  "required": ["outcome"],
  "properties": {
    "outcome": {"enum": ["accept", "reject"]},
    "note": {"type": "string", "maxLength": 2000}
  }
}"""


@router.get("/console/admin/processes/new", response_class=HTMLResponse)
def new_process(request: Request, principal: ProcessManager, services: Services) -> HTMLResponse:
    with services.context(principal) as ctx:
        return _page(
            request,
            "admin_process_new.html",
            principal,
            clients=list_clients(ctx) if principal.client_id is None else None,
            skills=list_skills(ctx),
            kinds=PROCESS_KINDS,
            sla_modes=SLA_MODES,
            categories=CATEGORIES,
            cefr_levels=CEFR_LEVELS,
            starting_input=STARTING_INPUT,
            starting_form=STARTING_FORM,
        )


# -- agents and skills -----------------------------------------------------------------------

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def clock_time(minute: int) -> str:
    """Minutes after midnight as HH:MM."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def hours(minutes: int) -> str:
    """A duration in hours, to two decimals at most: 540 -> "9", 510 -> "8.5"."""
    return f"{round(minutes / 60, 2)}".removesuffix(".0")


def shift_text(shift: WeeklyShift) -> str:
    """ "Mon 09:00 9h", as the page's script writes it too."""
    day = WEEKDAYS[shift.weekday][:3]
    return f"{day} {clock_time(shift.start_minute)} {hours(shift.duration_minutes)}h"


@router.get("/console/admin/agents", response_class=HTMLResponse)
def agents(request: Request, principal: WorkforceReader, services: Services) -> HTMLResponse:
    """Read only, unless the caller manages the workforce: then an editor per agent (skills,
    languages, clearances, shifts; drawn by the page's script when opened, from the API's
    answer, so that the page stays light with hundreds of agents), deactivation and a form
    to add an agent."""
    can_manage = Permission.WORKFORCE_MANAGE in principal.permissions
    with services.context(principal) as ctx:
        clients = list_clients(ctx)
        return _page(
            request,
            "admin_agents.html",
            principal,
            centers=roster(ctx),
            client_names={client.id: client.name for client in clients},
            can_manage=can_manage,
            clients=clients,
            skills=list_skills(ctx, by="name") if can_manage else [],
            sign_ins=free_sign_ins(ctx) if can_manage else [],
            cefr_levels=CEFR_LEVELS,
            tiers=TIERS,
            shift_text=shift_text,
        )
