"""A brand's service levels applied to its conversations (tandem.servicedesk.sla has the
rules): the due time of a conversation's work (its first or next response), and its
resolution clock, followed at each move of its state (by inbound and replies, the owners of
those moves)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select

from tandem.servicedesk import sla
from tandem.servicedesk.brands import calendar_of
from tandem.servicedesk.models import Brand, Conversation, Message
from tandem.sla.calendar import BusinessCalendar
from tandem.sla.policy import SlaPolicy
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client


def calendar_for(ctx: Context, brand: Brand) -> BusinessCalendar:
    """The brand's calendar, or its client's."""
    own = calendar_of(brand)
    if own is not None:
        return own
    client = ctx.session.get_one(Client, brand.client_id)
    return BusinessCalendar.from_dict(client.calendar)


def targets_for(brand: Brand, conversation: Conversation) -> sla.Targets | None:
    return sla.for_priority(sla.parsed(brand.sla or []), conversation.priority)


def response_due(
    ctx: Context, brand: Brand, conversation: Conversation, at_risk_fraction: float
) -> tuple[datetime, datetime] | None:
    """(due, at risk) of the conversation's next work item: the first response before any
    reply, the next one after; None: the process's SLA applies."""
    targets = targets_for(brand, conversation)
    if targets is None:
        return None
    answered = ctx.session.scalar(
        select(
            exists().where(
                Message.client_id == conversation.client_id,
                Message.conversation_id == conversation.id,
                Message.direction == "out",
            )
        )
    )
    minutes = targets.next_response_minutes if answered else targets.first_response_minutes
    policy = SlaPolicy(timedelta(minutes=minutes), calendar_for(ctx, brand), at_risk_fraction)
    return policy.start(ctx.now)


def start(ctx: Context, brand: Brand, conversation: Conversation) -> None:
    """A new conversation's resolution clock, if the brand sets a resolution target."""
    targets = targets_for(brand, conversation)
    if targets is None or targets.resolution_minutes is None:
        return
    clock = sla.started(targets, calendar_for(ctx, brand), ctx.now)
    conversation.resolution_due_at = clock.due_at


def follow(ctx: Context, brand: Brand, conversation: Conversation) -> None:
    """The resolution clock after the conversation's state moved."""
    if (
        conversation.resolution_due_at is None
        and conversation.resolution_paused_remaining_s is None
    ):
        return
    clock = sla.followed(
        sla.Resolution(
            conversation.resolution_due_at,
            conversation.resolution_paused_remaining_s,
            conversation.resolved_at,
        ),
        conversation.state,
        calendar_for(ctx, brand),
        ctx.now,
    )
    conversation.resolution_due_at = clock.due_at
    conversation.resolution_paused_remaining_s = clock.paused_remaining_s
    conversation.resolved_at = clock.resolved_at
