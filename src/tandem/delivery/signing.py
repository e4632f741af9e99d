"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", so a captured request cannot be
replayed later with a new timestamp. Header: ``Tandem-Signature: t=<unix>,v1=<hex>``."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Tandem-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does: check the MAC in constant time and refuse stale timestamps."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
