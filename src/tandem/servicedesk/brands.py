"""A client's brands: who they are to their customers, the addresses mail reaches them at,
and the service process whose queue holds their conversations waiting for an answer."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.service import form_of, get_process
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.servicedesk import sla, threads
from tandem.servicedesk.models import Brand, BrandAddress
from tandem.sla.calendar import BusinessCalendar
from tandem.tenancy.context import Context

# What a conversation's work item brings (its process's input form must take it): the
# conversation to answer, the brand, the channel, and the subject (free text: personal).
CONVERSATION_INPUT: dict[str, Any] = {
    "type": "object",
    "required": ["conversation_id", "brand", "channel"],
    "properties": {
        "conversation_id": {"type": "string", "format": "uuid"},
        "brand": {"type": "string"},
        "channel": {"type": "string", "enum": ["email", "web"]},
        "subject": {"type": "string", "x-personal": "free_text"},
    },
}


def item_payload(
    conversation_id: uuid.UUID, brand: Brand, subject: str, channel: str = "email"
) -> dict[str, Any]:
    return {
        "conversation_id": str(conversation_id),
        "brand": brand.code,
        "channel": channel,
        "subject": subject,
    }


@dataclass(frozen=True)
class BrandDefinition:
    code: str
    name: str
    process_id: uuid.UUID  # a process of kind "conversation" of the same client
    support_addresses: Sequence[str]
    reply_from_name: str
    reply_from_address: str
    signature: str = ""
    greeting: str = ""
    languages: Sequence[str] = ("en",)
    calendar: BusinessCalendar | None = None  # None: the client's calendar


def create_brand(ctx: Context, definition: BrandDefinition) -> Brand:
    """A brand of the process's client, with its support addresses: refused if the process
    is not a conversation process whose input form takes a conversation's work item, or an
    address is another brand's (of any client: mail for it could reach only one)."""
    process = get_process(ctx, definition.process_id)
    if process.kind != "conversation":
        raise InvalidInput(
            "a brand's conversations are work of a conversation process",
            errors=[{"field": "process_id", "message": f"is a {process.kind} process"}],
        )
    sample = item_payload(uuid.UUID(int=0), Brand(code=definition.code), "subject")
    if errors := form_of(process.input_schema).errors(sample):
        raise InvalidInput(
            "the process's input form does not take a conversation's work item",
            errors=[{"field": f"input_schema.{e.field}", "message": e.message} for e in errors],
        )
    addresses = sorted({threads.split_address(a)[0] for a in definition.support_addresses})
    if not addresses or any("@" not in a or a.startswith("@") for a in addresses):
        raise InvalidInput(
            "a brand needs support addresses",
            errors=[{"field": "support_addresses", "message": "one address or more, each a@b"}],
        )
    taken = ctx.session.scalars(
        select(BrandAddress.address).where(BrandAddress.address.in_(addresses))
    ).all()
    if taken:
        raise Conflict(f"support addresses already taken: {', '.join(sorted(taken))}")
    brand = Brand(
        client_id=process.client_id,
        code=definition.code,
        name=definition.name,
        process_id=process.id,
        reply_from_name=definition.reply_from_name,
        reply_from_address=definition.reply_from_address.lower(),
        signature=definition.signature,
        greeting=definition.greeting,
        languages=list(definition.languages),
        calendar=definition.calendar.to_dict() if definition.calendar else None,
        created_at=ctx.now,
    )
    ctx.session.add(brand)
    ctx.session.flush()
    ctx.session.add_all(
        BrandAddress(client_id=brand.client_id, address=a, brand_id=brand.id) for a in addresses
    )
    ctx.session.flush()
    return brand


def brand_at(session: Session, address: str) -> Brand | None:
    """The brand mail to `address` (support+<detail>@... too) is for; None for an address
    no brand has (or, after a race between two brands adding it, more than one has)."""
    base, _ = threads.split_address(address)
    rows = session.scalars(
        select(Brand)
        .join(
            BrandAddress,
            (BrandAddress.client_id == Brand.client_id) & (BrandAddress.brand_id == Brand.id),
        )
        .where(BrandAddress.address == base)
        .limit(2)
    ).all()
    return rows[0] if len(rows) == 1 else None


def calendar_of(brand: Brand) -> BusinessCalendar | None:
    """The brand's business hours (None: its client's)."""
    return BusinessCalendar.from_dict(brand.calendar) if brand.calendar else None


def visible(ctx: Context, brand_id: uuid.UUID) -> Brand:
    """A brand of the caller's client (provider staff: of any client); NotFound otherwise."""
    brand = ctx.session.scalar(
        select(Brand).where(Brand.id == brand_id, ctx.principal.client_condition(Brand.client_id))
    )
    if brand is None:
        raise NotFound(f"brand {brand_id} not found")
    return brand


def visible_brands(ctx: Context) -> list[Brand]:
    """The brands the caller may see, by name."""
    return list(
        ctx.session.scalars(
            select(Brand)
            .where(ctx.principal.client_condition(Brand.client_id))
            .order_by(Brand.name, Brand.code, Brand.client_id)
        )
    )


def set_service_levels(
    ctx: Context, brand_id: uuid.UUID, targets: Sequence[dict[str, Any]]
) -> Brand:
    """The brand's service levels (tandem.servicedesk.sla), checked; audited."""
    brand = visible(ctx, brand_id)
    checked = sla.parsed(targets)
    brand.sla = sla.stored(checked) or None
    audit.record_in(
        ctx,
        client_id=brand.client_id,
        action="brand.service_levels",
        subject=f"brand:{brand.id}",
        data={"targets": brand.sla},
    )
    ctx.session.flush()
    return brand
