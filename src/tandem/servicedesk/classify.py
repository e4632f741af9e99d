"""What a message is, from its headers (pure): a person's, an auto-reply, a bounce; whether
it loops; whether its sender passed authentication."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message

PERSON = "person"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"

# Senders of bounces (RFC 3464 DSNs and older ones) by their local part.
_BOUNCERS = ("mailer-daemon", "postmaster")
_AUTO_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")


def kind_of(message: Message) -> str:
    """person, auto_reply or bounce. A DSN (multipart/report; report-type=delivery-status),
    or a message from the mailer daemon with an empty return path, is a bounce; a message
    with Auto-Submitted other than "no" (RFC 3834), Precedence bulk/junk/list/auto_reply,
    or the headers Exchange and others put on out-of-office answers, is an auto-reply."""
    if message.get_content_type() == "multipart/report" and (
        str(message.get_param("report-type", "", header="content-type")).lower()
        == "delivery-status"
    ):
        return BOUNCE
    sender = str(message.get("From", "")).lower()
    return_path = str(message.get("Return-Path", "")).strip()
    if return_path == "<>" and any(f"{name}@" in sender for name in _BOUNCERS):
        return BOUNCE
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return AUTO_REPLY
    if str(message.get("Precedence", "")).strip().lower() in _AUTO_PRECEDENCE:
        return AUTO_REPLY
    if (
        message.get("X-Autoreply")
        or message.get("X-Autorespond")
        or str(message.get("X-Auto-Response-Suppress", "")).strip().lower() == "all"
    ):
        return AUTO_REPLY
    return PERSON


@dataclass(frozen=True)
class Loop:
    """Why a message is refused as a loop: the SMTP reply says so."""

    reason: str


def loop_of(message: Message, *, marker: str, max_received: int) -> Loop | None:
    """A loop: more Received headers than a message needs on its way (RFC 5321 6.3), or our
    own marker in X-Loop or Auto-Submitted (a message we sent, come back)."""
    hops = len(message.get_all("Received") or [])
    if hops > max_received:
        return Loop(f"{hops} Received headers: the message is looping")
    mark = marker.lower()
    for name in ("X-Loop", "Auto-Submitted"):
        for value in message.get_all(name) or []:
            if mark in str(value).lower():
                return Loop(f"{name} carries our own marker: the message came back")
    return None


PASS = "pass"  # noqa: S105 - a verdict, not a password
FAIL = "fail"
NONE = "none"
_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)


def authentication(headers: Sequence[str], authserv_id: str | None = None) -> str:
    """pass, fail or none from the Authentication-Results headers the receiving relay added
    (RFC 8601). With `authserv_id`, only headers of that relay count (anyone may write the
    header: only our relay's is evidence). DMARC decides when it was evaluated; otherwise an
    SPF fail, or DKIM failing without any passing signature, is a fail."""
    results: dict[str, list[str]] = {"spf": [], "dkim": [], "dmarc": []}
    for header in headers:
        server, _, rest = str(header).partition(";")
        if authserv_id and server.strip().split()[:1] != [authserv_id]:
            continue
        for method, result in _RESULT.findall(rest):
            results[method.lower()].append(result.lower())
    dmarc = results["dmarc"]
    if dmarc:
        return FAIL if "fail" in dmarc else (PASS if "pass" in dmarc else NONE)
    if "fail" in results["spf"] or ("fail" in results["dkim"] and "pass" not in results["dkim"]):
        return FAIL
    if "pass" in results["spf"] or "pass" in results["dkim"]:
        return PASS
    return NONE
