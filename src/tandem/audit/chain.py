"""The chain's arithmetic, pure: how a record is linked to the one before it, and how a
chain read back is checked.

Each record carries the previous record's link and its own: link = HMAC-SHA256(key,
previous link + the record's canonical form). The key is derived from the deployment's
secret, so someone who can write to the database but does not hold the secret cannot
forge a chain after editing it. The record's sequence number is not part of its link:
records moved to other places then show as out of order rather than as edited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64  # the "previous link" of a chain's first record


def derive_key(secret: str) -> bytes:
    """The chain key, derived from the deployment's secret for this one use."""
    return hmac.new(secret.encode(), b"tandem audit chain v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class Entry:
    """What a record says, apart from where it sits in the chain."""

    client_id: int
    at: datetime
    actor: str
    action: str
    subject: str
    data: dict[str, Any]

    def canonical(self) -> bytes:
        return json.dumps(
            {
                "client_id": self.client_id,
                "at": self.at.isoformat(),
                "actor": self.actor,
                "action": self.action,
                "subject": self.subject,
                "data": self.data,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        ).encode()


def link(key: bytes, previous: str, entry: Entry) -> str:
    return hmac.new(key, previous.encode() + b"\n" + entry.canonical(), hashlib.sha256).hexdigest()


def seal(key: bytes, client_id: int, seq: int, last: str) -> str:
    """The head's own MAC: rewinding the head to hide a truncation needs the key too."""
    message = f"head:{client_id}:{seq}:{last}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    client_id: int
    seq: int
    last: str
    seal: str


@dataclass(frozen=True)
class Stored:
    """A record as read back: its place, what it says, and its links."""

    seq: int
    entry: Entry
    previous: str
    link: str


@dataclass(frozen=True)
class Finding:
    seq: int
    problem: str  # edited | deleted | out_of_order | truncated | events_changed
    detail: str


def verify(key: bytes, records: Iterable[Stored], head: Head | None) -> list[Finding]:
    """Everything wrong with one client's chain: records whose content no longer matches
    their link (edited), links to a record that is gone (deleted), to one found elsewhere
    (out of order), and a chain that ends before its head says it does (truncated).
    `head` is the chain's last (seq, link) as the append path recorded and sealed it."""
    ordered: Sequence[Stored] = sorted(records, key=lambda r: r.seq)
    by_link = {record.link: record.seq for record in ordered}
    findings: list[Finding] = []
    previous, expected_seq = GENESIS, 1
    for record in ordered:
        if link(key, record.previous, record.entry) != record.link:
            findings.append(Finding(record.seq, "edited", "its content does not match its link"))
        elif record.previous != previous:
            if record.previous in by_link:
                findings.append(
                    Finding(
                        record.seq,
                        "out_of_order",
                        f"it follows record {by_link[record.previous]}, not the one before it",
                    )
                )
            else:
                missing = (
                    f"records {expected_seq} to {record.seq - 1}"
                    if record.seq > expected_seq
                    else "the record it follows"
                )
                findings.append(Finding(record.seq, "deleted", f"{missing} are missing before it"))
        previous, expected_seq = record.link, record.seq + 1
    last_seq = ordered[-1].seq if ordered else 0
    if head is None:
        if ordered:
            findings.append(Finding(last_seq, "edited", "the chain's head is missing"))
    elif seal(key, head.client_id, head.seq, head.last) != head.seal:
        findings.append(Finding(head.seq, "edited", "the chain's head was altered"))
    elif head.seq > last_seq:
        findings.append(
            Finding(
                last_seq + 1, "truncated", f"the chain ends at {last_seq}, its head at {head.seq}"
            )
        )
    elif head.last != previous and not any(f.seq == head.seq for f in findings):
        findings.append(
            Finding(head.seq, "edited", "the last record is not the one the head names")
        )
    return findings
