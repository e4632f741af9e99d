"""Webhook events are written to an outbox in the transaction that delivers the item, so a
crash can neither lose a notification nor send one for a change that rolled back. The result
waits there as the item keeps it: personal fields masked, their clear values sealed
(`result_sealed`, opened by the sender)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Exists, Table, bindparam, exists, insert, select
from sqlalchemy.engine import Connection

from tandem.core.db import new_id
from tandem.delivery.models import WebhookDelivery, WebhookSubscription

ITEM_DELIVERED = "work_item.delivered"
EVENT_TYPES = (ITEM_DELIVERED,)


_subscriptions = cast(Table, WebhookSubscription.__table__)
deliveries = cast(Table, WebhookDelivery.__table__)
_ACTIVE_SUBSCRIPTIONS = select(_subscriptions.c.id, _subscriptions.c.events).where(
    _subscriptions.c.client_id == bindparam("client_id"), _subscriptions.c.active
)


def has_subscribers(client_id: ColumnElement[int]) -> Exists:
    """Whether the client has an active subscription, as an expression: the delivering
    statement returns it, so that delivering for a client without webhooks reads nothing
    more."""
    return exists().where(_subscriptions.c.client_id == client_id, _subscriptions.c.active)


class Delivered(NamedTuple):
    """What a delivery event names of an item not read as a row (a new item's columns)."""

    client_id: int
    id: Any
    process_id: Any
    batch_id: Any
    external_ref: str | None


def subscribers(connection: Connection, client_id: int) -> list[uuid.UUID]:
    """The client's active subscriptions to `work_item.delivered`."""
    subscriptions = connection.execute(_ACTIVE_SUBSCRIPTIONS, {"client_id": client_id}).all()
    return [sid for sid, event_types in subscriptions if ITEM_DELIVERED in event_types]


def item_delivered(
    connection: Connection, item: Any, kept: Mapping[str, Any], now: datetime
) -> int:
    """Queue a `work_item.delivered` event for each subscription of the item's client.
    `item` names its client, id, process, batch and external reference; `kept` is the
    delivered result as the item keeps it (`result`, `result_sealed`: tandem.privacy)."""
    wanted = subscribers(connection, item.client_id)
    if not wanted:
        return 0
    rows = [
        delivered_event(subscription_id, item, kept["result"], now)
        | {"client_id": item.client_id, "result_sealed": kept["result_sealed"]}
        for subscription_id in wanted
    ]
    connection.execute(insert(WebhookDelivery), rows)
    return len(rows)


def delivered_event(
    subscription_id: uuid.UUID, item: Any, result: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """The outbox row of one item's delivery for one subscription (`result` as stored: its
    personal fields masked, their sealed values in the row's `result_sealed`)."""
    delivery_id = new_id()
    return {
        "id": delivery_id,
        "subscription_id": subscription_id,
        "event_type": ITEM_DELIVERED,
        "work_item_id": item.id,
        "payload": {
            "id": str(delivery_id),
            "type": ITEM_DELIVERED,
            "created_at": now.isoformat(),
            "data": {
                "work_item_id": str(item.id),
                "process_id": str(item.process_id),
                "batch_id": str(item.batch_id) if item.batch_id else None,
                "external_ref": item.external_ref,
                "state": "delivered",
                "delivered_at": now.isoformat(),
                "result": result,
            },
        },
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
