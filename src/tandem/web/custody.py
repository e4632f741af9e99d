"""Administration's custody pages: the audit trail (check its chains, download one), the
clients' encryption keys (rotate one, follow the re-sealing), retention (a client's period,
a preview of what a purge removes now, that purge on confirmation, the purges done) and the
API keys of client systems (make one and see its secret once, revoke one).

The first three are for those who keep custody of every client's data (security officers,
provider admins: provider:audit:read, provider:encryption_key:rotate,
provider:retention:manage); API keys for those who manage a client's keys (client admins for
their client, provider admins for any). Pages only read; changes are made from the page
(static/custody.js) through the public API, which checks and audits them, as elsewhere in the
section."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.audit.chain import Finding
from tandem.audit.models import PROVIDER, AuditChain, AuditRecord
from tandem.core.errors import NotFound
from tandem.custody import keys, preview
from tandem.custody.models import KeyRotation
from tandem.http import MAX_INT, Services
from tandem.tenancy.models import ApiKey, Client, User
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import api_keys, list_clients
from tandem.web.admin import TABS, within_admin
from tandem.web.templating import page
from tandem.work.trail import verify_trail

router = APIRouter(include_in_schema=False)

Auditor = Annotated[Principal, Depends(within_admin(Permission.AUDIT_READ))]
KeyOfficer = Annotated[Principal, Depends(within_admin(Permission.KEY_ROTATE))]
RetentionOfficer = Annotated[Principal, Depends(within_admin(Permission.RETENTION_MANAGE))]
KeyManager = Annotated[Principal, Depends(within_admin(Permission.API_KEY_MANAGE))]
ClientChoice = Annotated[int | None, Query(alias="client", ge=1, le=MAX_INT)]


def _page(request: Request, name: str, principal: Principal, **context: Any) -> HTMLResponse:
    tabs = [(label, url) for label, url, p in TABS if p in principal.permissions]
    return page(request, name, principal, tabs=tabs, labels=LABELS, **context)


# What people read instead of the codes the API speaks.
LABELS = {
    # audit findings (tandem.audit.chain, tandem.audit.service, tandem.work.trail)
    "edited": "Changed after it was written",
    "out_of_order": "Out of order",
    "deleted": "Records missing",
    "truncated": "Cut short",
    "checkpoint_malformed": "A checkpoint Tandem did not write",
    "chain_removed": "Chain removed",
    "chain_rewritten": "Chain rewritten",
    "seal_malformed": "A seal of item history Tandem did not write",
    "events_changed": "Item history changed",
    # purge reports: why, and what they removed
    "retention": "Retention period",
    "exit": "Contract ended",
    "expired": "Staged documents unused in time",
    "staged_documents": "Staged documents",
    "work_items": "Items",
    "documents": "Documents",
    "keyings": "First keyings",
    "webhook_deliveries": "Webhook bodies",
    "console_sessions": "Console sessions",
    "api_tokens": "API tokens",
    # the tables a contract's end empties (tandem.custody.retention.client_tables)
    "qa_field_checks": "Field checks",
    "qa_keyings": "Keyings",
    "work_item_events": "Item history",
    "api_keys": "API keys",
    "webhook_subscriptions": "Webhook subscriptions",
    "batches": "Files",
    "qa_agent_states": "Agent standings",
    "qa_alerts": "Quality alerts",
    "qa_gold_items": "Gold items",
    "qa_gold_seeding": "Gold seeding",
    "qa_review_requests": "Review requests",
    "qa_reviews": "Reviews",
    "agent_clearances": "Agent clearances",
    "qa_gold_copies": "Gold copies",
    "webhook_attempts": "Webhook attempts",
    "key_rotations": "Key rotations",
    # the client permissions an API key may carry
    Permission.PROCESS_READ.value: "Read processes",
    Permission.PROCESS_MANAGE.value: "Define and change processes",
    Permission.WORK_ITEM_CREATE.value: "Hand work over",
    Permission.WORK_ITEM_READ.value: "Read items and results",
    Permission.WORK_ITEM_MANAGE.value: "Cancel and change items",
    Permission.RESULT_EXPORT.value: "Export results",
    Permission.RESULT_REJECT.value: "Send results back",
    Permission.WEBHOOK_MANAGE.value: "Manage webhooks",
    Permission.RULESET_READ.value: "Read decision rules",
    Permission.RULESET_MANAGE.value: "Change decision rules",
    Permission.QUALITY_READ.value: "Read quality reports",
    Permission.API_KEY_MANAGE.value: "Manage API keys",
    Permission.CLIENT_USER_MANAGE.value: "Manage users",
    Permission.DOCUMENT_READ.value: "Open documents",
}


# What a purge report counts, in words: (one, many).
COUNTED = {
    "work_items": ("item", "items"),
    "documents": ("document", "documents"),
    "keyings": ("first keying", "first keyings"),
    "webhook_deliveries": ("webhook body", "webhook bodies"),
    "conversations": ("conversation", "conversations"),
    "messages": ("message's text", "messages' texts"),
    "attachments": ("attachment", "attachments"),
    "survey_comments": ("survey comment", "survey comments"),
    "customers": ("customer's name and addresses", "customers' names and addresses"),
    "console_sessions": ("console session", "console sessions"),
    "api_tokens": ("API token", "API tokens"),
}


def removed(counts: dict[str, Any]) -> str:
    """A purge report's counts in words: "2 items, 1 document"; a table of the contract's
    end by its name: "Processes: 3"."""
    words = []
    for kind, count in counts.items():
        if not isinstance(count, int) or not count:
            continue
        if kind in COUNTED:
            one, many = COUNTED[kind]
            words.append(f"{count:,} {one if count == 1 else many}")
        else:
            words.append(f"{LABELS.get(kind) or kind.replace('_', ' ').capitalize()}: {count:,}")
    return ", ".join(words) or "Nothing"


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Who each actor of event rows is, in words: a user's name and email, an API key's
    name, Tandem's own jobs."""
    wanted = set(actors)
    ids: dict[str, set[uuid.UUID]] = {"user": set(), "api_key": set()}
    for actor in wanted:
        kind, _, value = actor.partition(":")
        if kind in ids:
            with suppress(ValueError):  # an actor Tandem did not write: shown as it is
                ids[kind].add(uuid.UUID(value))
    users = {
        f"user:{row.id}": f"{row.name} ({row.email})"
        for row in session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(ids["user"]))
        )
    }
    keys_ = {
        f"api_key:{row.id}": f'API key "{row.name}"'
        for row in session.execute(
            select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(ids["api_key"]))
        )
    }
    system = {"system:cli": "Tandem's command line", "system:key-rotation": "Tandem's worker"}
    return {
        actor: users.get(actor) or keys_.get(actor) or system.get(actor) or actor
        for actor in wanted
    }


def duration(seconds: float) -> str:
    """A duration in words: 45 s, 3 min 5 s, 2 h 10 min, 3 days 4 h."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, seconds_ = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {seconds_} s" if seconds_ else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _chosen(clients: list[Client], wanted: int | None) -> Client | None:
    """The client a page is about: the one asked for, else the first; 404 for one unknown."""
    if wanted is None:
        return clients[0] if clients else None
    for client in clients:
        if client.id == wanted:
            return client
    raise NotFound(f"client {wanted} not found")


# -- the audit trail -------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    client_id: int
    name: str
    code: str  # for file names: the client's code, "provider" for the provider's own chain
    records: int
    last_at: datetime | None


@dataclass(frozen=True)
class Checked:
    chain: Chain
    findings: list[Finding]


def _chains(session: Session, clients: list[Client]) -> list[Chain]:
    heads = {
        row.client_id: (row.seq, row.at)
        for row in session.execute(
            select(AuditChain.client_id, AuditChain.seq, AuditRecord.at).outerjoin(
                AuditRecord,
                (AuditRecord.client_id == AuditChain.client_id)
                & (AuditRecord.seq == AuditChain.seq),
            )
        )
    }
    named = [(PROVIDER, "The provider's own actions", "provider")] + [
        (client.id, client.name, client.code) for client in clients
    ]
    return [
        Chain(client_id, name, code, *heads.get(client_id, (0, None)))
        for client_id, name, code in named
    ]


@router.get("/console/admin/audit", response_class=HTMLResponse)
def audit_trail(
    request: Request,
    principal: Auditor,
    services: Services,
    check: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """Every chain with its length and last record, each to download; `check` ("all" or a
    chain's client id) runs the check of every chain or one, and shows what it found."""
    with services.context(principal) as ctx:
        chains = _chains(ctx.session, list(list_clients(ctx)))
        checked: list[Checked] | None = None
        if check:
            which = None if check == "all" else _chain_id(check, chains)
            found = verify_trail(ctx.session, ctx.audit_key, which)
            checked = [
                Checked(chain, found.get(chain.client_id, []))
                for chain in chains
                if which is None or chain.client_id == which
            ]
        return _page(
            request,
            "admin_audit.html",
            principal,
            now=ctx.now,
            chains=chains,
            check=check,
            checked=checked,
        )


def _chain_id(check: str, chains: list[Chain]) -> int:
    try:
        wanted = int(check)
    except ValueError:
        raise NotFound(f"no chain {check!r}") from None
    if wanted not in {chain.client_id for chain in chains}:
        raise NotFound(f"no chain {check!r}")
    return wanted


# -- encryption keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyState:
    client: Client
    latest: KeyRotation | None
    behind: int  # items still to re-seal (the latest rotation unfinished)


def _key_states(session: Session, clients: list[Client]) -> tuple[list[KeyState], list[Any]]:
    rotations = keys.status(session)  # latest first
    latest: dict[int, KeyRotation] = {}
    for rotation in rotations:
        latest.setdefault(rotation.client_id, rotation)
    states = [
        KeyState(
            client,
            latest.get(client.id),
            preview.items_behind(session, latest[client.id]) if client.id in latest else 0,
        )
        for client in clients
    ]
    return states, rotations


def _keys_context(session: Session, clients: list[Client]) -> dict[str, Any]:
    states, rotations = _key_states(session, clients)
    # A rotation asked for while another re-sealed ends that one, at the new one's start.
    started = {(r.client_id, r.started_at) for r in rotations}
    superseded = {
        r.id
        for r in rotations
        if r.finished_at is not None
        and (r.client_id, r.finished_at) in started
        and r.finished_at != r.started_at
    }
    return {
        "states": states,
        "rotations": rotations,
        "superseded": superseded,
        "names": {client.id: client.name for client in clients},
        "actors": actor_names(session, (r.requested_by for r in rotations)),
        "busy": any(s.latest and s.latest.finished_at is None for s in states),
        "duration": duration,
    }


@router.get("/console/admin/keys", response_class=HTMLResponse)
def encryption_keys(request: Request, principal: KeyOfficer, services: Services) -> HTMLResponse:
    with services.context(principal) as ctx:
        clients = list(list_clients(ctx))
        return _page(
            request,
            "admin_keys.html",
            principal,
            now=ctx.now,
            **_keys_context(ctx.session, clients),
        )


@router.get("/console/admin/keys/status", response_class=HTMLResponse)
def key_status(request: Request, principal: KeyOfficer, services: Services) -> HTMLResponse:
    """The page's live part alone, refreshed while a rotation re-seals."""
    with services.context(principal) as ctx:
        clients = list(list_clients(ctx))
        return _page(
            request, "_keys.html", principal, now=ctx.now, **_keys_context(ctx.session, clients)
        )


# -- retention -------------------------------------------------------------------------------


def _retention(
    request: Request, principal: Principal, services: Services, wanted: int | None, name: str
) -> HTMLResponse:
    with services.context(principal) as ctx:
        clients = list(list_clients(ctx))
        client = _chosen(clients, wanted)
        return _page(
            request,
            name,
            principal,
            now=ctx.now,
            clients=clients,
            client=client,
            preview=preview.purge_preview(ctx, client.id) if client else None,
            reports=preview.purge_history(ctx, client.id) if client else [],
            removed=removed,
        )


@router.get("/console/admin/retention", response_class=HTMLResponse)
def retention(
    request: Request, principal: RetentionOfficer, services: Services, client: ClientChoice = None
) -> HTMLResponse:
    """One client's retention period, what a purge would remove now, past purges."""
    return _retention(request, principal, services, client, "admin_retention.html")


@router.get("/console/admin/retention/parts", response_class=HTMLResponse)
def retention_parts(
    request: Request, principal: RetentionOfficer, services: Services, client: ClientChoice = None
) -> HTMLResponse:
    """The preview and the past purges alone: the page redraws them after a purge."""
    return _retention(request, principal, services, client, "_retention.html")


# -- API keys --------------------------------------------------------------------------------


def _keys_table(principal: Principal, services: Services) -> dict[str, Any]:
    with services.context(principal) as ctx:
        rows = list(api_keys(ctx))
        clients = list(list_clients(ctx))
        return {
            "keys": rows,
            "may": {row.id: in_order(row.permissions) for row in rows},
            "names": {client.id: client.name for client in clients},
            "clients": clients if principal.client_id is None else None,
            "actors": actor_names(ctx.session, (row.created_by for row in rows)),
            "now": ctx.now,
        }


_ORDER = {p.value: n for n, p in enumerate(Permission)}


def in_order(permissions: Iterable[str]) -> list[str]:
    """Permissions in the one list's order (reading before changing), unknown ones last."""
    return sorted(permissions, key=lambda p: (_ORDER.get(p, len(_ORDER)), p))


def grantable(principal: Principal) -> list[Permission]:
    """The client permissions the caller may give a key: those they hold, in list order."""
    return [p for p in Permission if p.value.startswith("client:") and p in principal.permissions]


@router.get("/console/admin/api-keys", response_class=HTMLResponse)
def api_keys_page(request: Request, principal: KeyManager, services: Services) -> HTMLResponse:
    return _page(
        request,
        "admin_api_keys.html",
        principal,
        grantable=grantable(principal),
        **_keys_table(principal, services),
    )


@router.get("/console/admin/api-keys/table", response_class=HTMLResponse)
def api_keys_table(request: Request, principal: KeyManager, services: Services) -> HTMLResponse:
    """The list alone: the page redraws it after making or revoking a key."""
    return _page(request, "_api_keys.html", principal, **_keys_table(principal, services))
