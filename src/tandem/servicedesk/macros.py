"""A brand's macros: ready answers with actions, kept by those who manage the desk, chosen by
the agent on the desk.

Saving a macro checks its text's variables (tandem.servicedesk.placeholders) and its actions.
Sending a reply with a macro (tandem.servicedesk.replies.reply) applies its actions: its
tags are added to the conversation, its priority becomes the conversation's (the priority of
the conversation's work items from then on), and the state it leaves the conversation in is
the macro's unless it has none. The macro must be one of the conversation's brand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tandem.core.db import new_id
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.servicedesk import placeholders, states
from tandem.servicedesk.brands import visible
from tandem.servicedesk.customers import CUSTOMER
from tandem.servicedesk.models import Brand, Conversation, Customer, Macro
from tandem.tenancy.context import Context
from tandem.tenancy.models import User

MAX_TITLE = 120
MAX_BODY = 20_000
MAX_TAGS = 10
MAX_TAG = 40
PRIORITY = (-100, 100)  # as a work item's
THEN = (states.PENDING, states.SOLVED)


@dataclass(frozen=True)
class MacroDefinition:
    title: str
    body: str
    add_tags: list[str] = field(default_factory=list)
    then: str | None = None
    priority: int | None = None


def _checked(definition: MacroDefinition) -> MacroDefinition:
    errors: list[dict[str, str]] = []
    title = " ".join(definition.title.split())
    if not title or len(title) > MAX_TITLE:
        errors.append({"field": "title", "message": f"1 to {MAX_TITLE} characters"})
    body = definition.body.replace("\r\n", "\n").strip()
    if not body or len(body) > MAX_BODY:
        errors.append({"field": "body", "message": f"1 to {MAX_BODY} characters"})
    elif wrong := placeholders.unknown(body):
        known = ", ".join("{{" + name + "}}" for name in placeholders.VARIABLES)
        errors.append(
            {
                "field": "body",
                "message": f"no such variable: {', '.join(wrong)} (there are {known})",
            }
        )
    tags = list(dict.fromkeys(t.strip().lower() for t in definition.add_tags if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG or " " in t for t in tags):
        errors.append(
            {
                "field": "add_tags",
                "message": f"at most {MAX_TAGS} tags, each a word of {MAX_TAG} characters or less",
            }
        )
    if definition.then is not None and definition.then not in THEN:
        errors.append({"field": "then", "message": "pending or solved"})
    low, high = PRIORITY
    if definition.priority is not None and not low <= definition.priority <= high:
        errors.append({"field": "priority", "message": f"from {low} to {high}"})
    if errors:
        raise InvalidInput("the macro cannot be saved as it is", errors=errors)
    return MacroDefinition(title, body, tags, definition.then, definition.priority)


def of_brand(ctx: Context, brand_id: uuid.UUID) -> list[Macro]:
    """The brand's macros, by title."""
    brand = visible(ctx, brand_id)
    return list(
        ctx.session.scalars(
            select(Macro)
            .where(Macro.client_id == brand.client_id, Macro.brand_id == brand.id)
            .order_by(Macro.title)
        )
    )


def of_conversation(ctx: Context, conversation_id: uuid.UUID) -> list[Macro]:
    """The macros of the conversation's brand, by title: what the desk offers on it."""
    return list(
        ctx.session.scalars(
            select(Macro)
            .join(
                Conversation,
                (Conversation.client_id == Macro.client_id)
                & (Conversation.brand_id == Macro.brand_id),
            )
            .where(
                Conversation.id == conversation_id,
                ctx.principal.client_condition(Macro.client_id),
            )
            .order_by(Macro.title)
        )
    )


def get(ctx: Context, macro_id: uuid.UUID) -> Macro:
    found = ctx.session.scalar(
        select(Macro).where(Macro.id == macro_id, ctx.principal.client_condition(Macro.client_id))
    )
    if found is None:
        raise NotFound(f"macro {macro_id} not found")
    return found


def _saved(ctx: Context, macro: Macro, checked: MacroDefinition, *, new: bool) -> Macro:
    """The macro with `checked`'s values, written in a savepoint (a title the brand has
    already is a 409, found first, and by the unique key when two race)."""
    taken = ctx.session.scalar(
        select(Macro.id).where(
            Macro.client_id == macro.client_id,
            Macro.brand_id == macro.brand_id,
            Macro.title == checked.title,
            Macro.id != macro.id,
        )
    )
    conflict = Conflict(f"the brand has a macro titled {checked.title!r} already")
    if taken is not None:
        raise conflict
    try:
        with ctx.session.begin_nested():
            macro.title, macro.body, macro.add_tags = checked.title, checked.body, checked.add_tags
            macro.then_state, macro.priority = checked.then, checked.priority
            macro.updated_at = ctx.now
            if new:
                ctx.session.add(macro)
            ctx.session.flush()
    except IntegrityError:
        raise conflict from None
    return macro


def create(ctx: Context, brand_id: uuid.UUID, definition: MacroDefinition) -> Macro:
    brand = visible(ctx, brand_id)
    checked = _checked(definition)
    macro = Macro(id=new_id(), client_id=brand.client_id, brand_id=brand.id, created_at=ctx.now)
    return _saved(ctx, macro, checked, new=True)


def update(ctx: Context, macro_id: uuid.UUID, definition: MacroDefinition) -> Macro:
    macro = get(ctx, macro_id)
    return _saved(ctx, macro, _checked(definition), new=False)


def delete(ctx: Context, macro_id: uuid.UUID) -> None:
    ctx.session.delete(get(ctx, macro_id))
    ctx.session.flush()


def for_reply(ctx: Context, conversation: Conversation, macro_id: uuid.UUID) -> Macro:
    """The macro a reply is sent with: one of the conversation's brand (else InvalidInput
    naming `macro_id`: the agent chose it from the desk, which shows only the brand's)."""
    macro = ctx.session.get(Macro, (conversation.client_id, macro_id))
    if macro is None or macro.brand_id != conversation.brand_id:
        message = "no macro of this conversation's brand has this id"
        raise InvalidInput(message, errors=[{"field": "macro_id", "message": message}])
    return macro


def apply(conversation: Conversation, macro: Macro) -> None:
    """The macro's tags and priority, on the conversation (its state is the reply's)."""
    conversation.tags = list(dict.fromkeys([*(conversation.tags or []), *macro.add_tags]))
    if macro.priority is not None:
        conversation.priority = macro.priority


def values(ctx: Context, conversation: Conversation, brand: Brand) -> dict[str, str | None]:
    """The variables' values for a reply on the conversation, in clear: the customer's name
    opened from its sealed value (the agent sees it masked; the customer reads it)."""
    customer = ctx.session.get_one(Customer, (conversation.client_id, conversation.customer_id))
    name = None
    if customer.sealed:
        opened = ctx.keyring.open(customer.client_id, customer.id, customer.sealed, CUSTOMER)
        name = str(opened.get("name") or "") or None
    agent = ctx.session.get(User, ctx.principal.user_id) if ctx.principal.user_id else None
    return {
        "customer.first_name": placeholders.first_name(name),
        "customer.name": name,
        "agent.first_name": placeholders.first_name(agent.name if agent else None),
        "brand.name": brand.name,
    }
