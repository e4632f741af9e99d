"""Which conversation a message belongs to, from its headers alone (pure): the Message-IDs
it answers (In-Reply-To, then References from the newest), and the token of a reply address
(support+<token>@brand.example) when mail clients or relays lost the headers."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"  # noqa: S105 - not a secret
TOKEN_LENGTH = 20
_TOKEN = re.compile(rf"^[{TOKEN_ALPHABET}]{{{TOKEN_LENGTH}}}$")


def new_token() -> str:
    """A reply token: 20 characters of [a-z0-9] (103 bits), safe in an address's local part
    whatever a mail system does to its case."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def message_ids(header: str | None) -> list[str]:
    """The Message-IDs in a header, in order, without their angle brackets (a bare one, as
    some clients write In-Reply-To, counts too)."""
    if not header:
        return []
    found = _MESSAGE_ID.findall(header)
    if found:
        return list(found)
    bare = header.strip()
    return [bare] if bare and " " not in bare and "@" in bare else []


def answered_ids(in_reply_to: str | None, references: str | None) -> list[str]:
    """The Message-IDs a reply answers, most telling first: In-Reply-To (its parent), then
    References from the newest to the root (Gmail, Apple Mail and Outlook write both;
    Outlook's Thread-Index alone names no message of ours). No duplicates."""
    ordered = message_ids(in_reply_to) + list(reversed(message_ids(references)))
    return list(dict.fromkeys(ordered))


def split_address(address: str) -> tuple[str, str | None]:
    """(the address without its +detail, the detail) in lower case:
    "Support+Abc@Brand.example" -> ("support@brand.example", "abc")."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    base, plus, detail = local.partition("+")
    return f"{base}@{domain}", (detail if plus else None)


def reply_token(addresses: Iterable[str]) -> str | None:
    """The reply token in the first address carrying one (support+<token>@...)."""
    for address in addresses:
        _, detail = split_address(address)
        if detail and _TOKEN.match(detail):
            return detail
    return None


def reply_address(support_address: str, token: str) -> str:
    """The address a conversation's replies go to: support+<token>@domain."""
    base, _ = split_address(support_address)
    local, _, domain = base.rpartition("@")
    return f"{local}+{token}@{domain}"
