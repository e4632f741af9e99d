"""A client's customers and the identities they are known by (an email address, a phone
number). Never shared between clients: each client's are its own rows. A customer's name and
identities are personal data: masked in the rows, their clear values sealed with the client's
key; an identity is found by a keyed hash of its normalized value."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from tandem.core.db import new_id
from tandem.servicedesk.models import Customer, CustomerIdentity
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.vault.masking import mask

CUSTOMER = "customer"  # the part sealed values of customers are bound to
IDENTITY = "identity"


def normalized(kind: str, value: str) -> str:
    """An email address in lower case; a phone number in E.164 when it parses."""
    if kind == "phone":
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return "".join(ch for ch in value if ch.isdigit() or ch == "+")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return value.strip().lower()


def lookup_key(secret: bytes, client_id: int, kind: str, value: str) -> str:
    """The keyed hash an identity is found by (HMAC-SHA256 under a key derived from the
    server's secret, bound to the client): equal values of two clients differ."""
    key = hmac.new(secret, b"tandem customer identities", hashlib.sha256).digest()
    said = f"{client_id}\x00{kind}\x00{normalized(kind, value)}".encode()
    return hmac.new(key, said, hashlib.sha256).hexdigest()


def masked_identity(kind: str, value: str) -> str:
    """What staff see of an identity: "m•••@example.com", "••••••0100"."""
    if kind == "phone":
        return str(mask(normalized(kind, value), "card"))
    local, _, domain = normalized(kind, value).rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else "•••"


def key_version(session: Session, client_id: int) -> int:
    """The client's current key version, read once per transaction (a message seals three
    or four values: each asked for it)."""
    transaction = session.get_transaction()
    kept = session.info.get("tandem_key_versions")
    if kept is None or kept[0] is not transaction:
        kept = session.info["tandem_key_versions"] = (transaction, {})
    known: dict[int, int] = kept[1]
    if client_id not in known:
        known[client_id] = int(
            session.execute(select(Client.key_version).where(Client.id == client_id)).scalar_one()
        )
    return known[client_id]


def known_by(ctx: Context, client_id: int, kind: str, value: str) -> Customer | None:
    """The client's customer known by this identity, if any."""
    customer_id = ctx.session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.client_id == client_id,
            CustomerIdentity.kind == kind,
            CustomerIdentity.lookup == lookup_key(ctx.audit_key, client_id, kind, value),
        )
    )
    return None if customer_id is None else ctx.session.get(Customer, (client_id, customer_id))


def new_customer(ctx: Context, client_id: int, name: str, identities: dict[str, str]) -> Customer:
    """A customer of the client with these identities ({kind: value}), sealed."""
    version = key_version(ctx.session, client_id)
    customer_id = new_id()
    sealed = (
        ctx.keyring.seal(client_id, version, customer_id, {"name": name}, CUSTOMER)
        if name
        else None
    )
    customer = Customer(
        client_id=client_id,
        id=customer_id,
        name=str(mask(name, "name")) if name else None,
        sealed=sealed,
        created_at=ctx.now,
    )
    ctx.session.add(customer)
    ctx.session.flush()
    for kind, value in identities.items():
        ctx.session.add(
            CustomerIdentity(
                client_id=client_id,
                kind=kind,
                lookup=lookup_key(ctx.audit_key, client_id, kind, value),
                customer_id=customer_id,
                masked=masked_identity(kind, value),
                sealed=ctx.keyring.seal(
                    client_id, version, customer_id, {kind: normalized(kind, value)}, IDENTITY
                ),
            )
        )
    ctx.session.flush()
    return customer


def customer_for(ctx: Context, client_id: int, kind: str, value: str, name: str) -> Customer:
    """The client's customer known by this identity, made on first contact."""
    return known_by(ctx, client_id, kind, value) or new_customer(
        ctx, client_id, name, {kind: value}
    )
