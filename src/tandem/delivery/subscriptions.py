"""A client's webhook subscriptions, and what was sent to them: the deliveries and each
attempt, within what the caller may see."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select

from tandem.core import paging
from tandem.core.errors import InvalidInput, NotFound
from tandem.delivery.addresses import Network, RefusedAddress, check
from tandem.delivery.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tandem.delivery.outbox import EVENT_TYPES
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client


def subscribe(
    ctx: Context,
    url: str,
    events: Sequence[str],
    client_id: int | None = None,
    *,
    allowed: Sequence[Network] = (),
) -> WebhookSubscription:
    """A new subscription of the caller's client (provider staff name the client) to
    `events`, with a new signing secret (the subscription's `secret`: shown once). The URL
    must lead to the internet, or to one of the `allowed` private networks
    (tandem.delivery.addresses; checked again at every delivery)."""
    try:
        check(url, allowed)
    except RefusedAddress as exc:
        raise InvalidInput(
            "the webhook URL is not allowed", errors=[{"field": "url", "message": str(exc)}]
        ) from None
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


def deliveries(
    ctx: Context, subscription_id: uuid.UUID, window: paging.Window
) -> paging.Page[WebhookDelivery]:
    """A page of the subscription's events sent or to send, the latest first. Another
    client's subscription answers as a missing one does (404), not as an empty list."""
    subscription = _visible(ctx, WebhookSubscription, subscription_id, "webhook")
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.client_id == subscription.client_id,
            WebhookDelivery.subscription_id == subscription.id,
        )
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    )
    return paging.read(ctx.session, query, window)


def attempts(ctx: Context, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    """Every try to send an event; another client's event answers 404, as a missing one."""
    delivery = _visible(ctx, WebhookDelivery, delivery_id, "webhook delivery")
    return list(
        ctx.session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.client_id == delivery.client_id,
                WebhookAttempt.delivery_id == delivery.id,
            )
            .order_by(WebhookAttempt.number)
        ).all()
    )


Owned = TypeVar("Owned", WebhookSubscription, WebhookDelivery)


def _visible(ctx: Context, model: type[Owned], row_id: uuid.UUID, name: str) -> Owned:
    row = ctx.session.scalar(
        select(model).where(model.id == row_id, ctx.principal.client_condition(model.client_id))
    )
    if row is None:
        raise NotFound(f"{name} {row_id} not found")
    return row
