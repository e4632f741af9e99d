"""A conversation's states and what moves it (pure)."""

from __future__ import annotations

NEW = "new"  # no answer yet
OPEN = "open"  # waiting for the provider's answer
PENDING = "pending"  # waiting for the customer or a third party (pending_on)
SOLVED = "solved"  # answered; a reply from the customer opens it again
CLOSED = "closed"  # done for good: a reply starts a new conversation

# States in which the conversation waits for the provider's answer: it is work in the queue.
WAITING_FOR_PROVIDER = frozenset({NEW, OPEN})


def after_customer_message(state: str) -> str | None:
    """The state after a message from the customer (a person, not an auto-responder); None:
    the conversation cannot take it (closed), and a new one starts."""
    if state == CLOSED:
        return None
    return NEW if state == NEW else OPEN
