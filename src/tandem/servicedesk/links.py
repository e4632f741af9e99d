"""Secret links given to customers (a conversation's /c/<link>, a survey's /s/<token>): 256
random bits, of which the row keeps only the SHA-256, found again by it before the client is
known (no tenant yet) and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

LINK_BYTES = 32  # 256 bits
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


def new_link() -> str:
    return secrets.token_urlsafe(LINK_BYTES)


def digest(link: str) -> str:
    return hashlib.sha256(link.encode()).hexdigest()


def holder(
    session: Session, table: Any, hash_column: Any, link: str
) -> tuple[int, uuid.UUID] | None:
    """(client id, id) of the one row of `table` whose `hash_column` is this link's digest;
    None for any other string."""
    if not _SHAPE.match(link):
        return None
    wanted = digest(link)
    rows = session.execute(
        select(table.client_id, table.id, hash_column).where(hash_column == wanted).limit(2)
    ).all()
    if len(rows) != 1 or not hmac.compare_digest(str(rows[0][2]), wanted):
        return None
    return rows[0][0], rows[0][1]
