"""A client's webhook subscriptions, and what was sent to them: the deliveries and each
attempt, within what the caller may see."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from sqlalchemy import select

from tandem.core.errors import InvalidInput, NotFound
from tandem.delivery.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tandem.delivery.outbox import EVENT_TYPES
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client


def subscribe(
    ctx: Context, url: str, events: Sequence[str], client_id: int | None = None
) -> WebhookSubscription:
    """A new subscription of the caller's client (provider staff name the client) to
    `events`, with a new signing secret (the subscription's `secret`: shown once)."""
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(
            "unknown event type", errors=[{"field": "events", "message": f"unknown: {unknown}"}]
        )
    owner = ctx.principal.client_id if ctx.principal.client_id is not None else client_id
    if owner is None:
        raise InvalidInput(
            "say which client", errors=[{"field": "client_id", "message": "required"}]
        )
    if ctx.session.get(Client, owner) is None:
        raise NotFound(f"client {owner} not found")
    hook = WebhookSubscription(
        client_id=owner,
        url=url,
        secret=secrets.token_urlsafe(32),
        events=list(events),
        created_at=ctx.now,
    )
    ctx.session.add(hook)
    ctx.session.flush()
    return hook


def subscriptions(ctx: Context) -> list[WebhookSubscription]:
    return list(
        ctx.session.scalars(
            select(WebhookSubscription).where(
                ctx.principal.client_condition(WebhookSubscription.client_id)
            )
        ).all()
    )


def deliveries(ctx: Context, subscription_id: uuid.UUID, limit: int) -> list[WebhookDelivery]:
    """The subscription's latest events sent or to send (1 to 1000 of them)."""
    return list(
        ctx.session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription_id,
                ctx.principal.client_condition(WebhookDelivery.client_id),
            )
            .order_by(WebhookDelivery.created_at.desc())
            .limit(min(max(limit, 1), 1000))
        ).all()
    )


def attempts(ctx: Context, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    return list(
        ctx.session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.delivery_id == delivery_id,
                ctx.principal.client_condition(WebhookAttempt.client_id),
            )
            .order_by(WebhookAttempt.number)
        ).all()
    )
