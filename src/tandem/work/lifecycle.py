"""The work item state machine: every allowed move is in TRANSITIONS, and nothing else is."""

from __future__ import annotations

from enum import StrEnum

from tandem.core.errors import Conflict


class State(StrEnum):
    RECEIVED = "received"  # accepted, not yet routable (e.g. awaiting rules evaluation)
    QUEUED = "queued"  # claimable by an eligible agent
    LEASED = "leased"  # claimed by one agent until the lease expires
    SUBMITTED = "submitted"  # result handed in, QA decides what follows
    IN_REVIEW = "in_review"  # being checked by a reviewer
    REWORK = "rework"  # sent back; will be queued again
    WAITING = "waiting"  # blocked on someone outside (e.g. the client): SLA clock paused
    DELIVERED = "delivered"  # result available to the client
    CANCELLED = "cancelled"


S = State

# (from, to). None as "from" means the item is being created.
TRANSITIONS: frozenset[tuple[State | None, State]] = frozenset(
    {
        (None, S.RECEIVED),
        (None, S.QUEUED),
        (S.RECEIVED, S.QUEUED),
        (S.RECEIVED, S.WAITING),
        (S.RECEIVED, S.DELIVERED),  # decided automatically by the client's rules
        (S.RECEIVED, S.CANCELLED),
        (S.QUEUED, S.LEASED),
        (S.QUEUED, S.DELIVERED),  # a referral the client's rules, evaluated again, decide
        (S.QUEUED, S.WAITING),
        (S.QUEUED, S.CANCELLED),
        (S.LEASED, S.SUBMITTED),
        (S.LEASED, S.QUEUED),  # released by the agent, or the lease expired
        (S.LEASED, S.WAITING),
        (S.LEASED, S.CANCELLED),
        (S.SUBMITTED, S.DELIVERED),
        (S.SUBMITTED, S.IN_REVIEW),
        (S.SUBMITTED, S.QUEUED),  # the first of two keyings is in; the second keyer's turn
        (S.SUBMITTED, S.CANCELLED),  # a gold item, scored, is retired
        (S.IN_REVIEW, S.DELIVERED),
        (S.IN_REVIEW, S.REWORK),
        (S.REWORK, S.QUEUED),
        (S.REWORK, S.LEASED),  # sent back to the agent who did it
        (S.REWORK, S.CANCELLED),
        (S.WAITING, S.QUEUED),
        (S.WAITING, S.CANCELLED),
        (S.DELIVERED, S.REWORK),  # the client rejected the delivered result
    }
)

# States in which the SLA clock runs.
SLA_RUNNING: frozenset[State] = frozenset(
    {S.RECEIVED, S.QUEUED, S.LEASED, S.SUBMITTED, S.IN_REVIEW, S.REWORK}
)


class IllegalTransition(Conflict):
    def __init__(self, from_state: State | None, to_state: State) -> None:
        self.from_state = from_state
        self.to_state = to_state
        origin = from_state.value if from_state else "(new)"
        super().__init__(f"a work item cannot move from {origin} to {to_state.value}")
        self.title = "Illegal transition"


def check_transition(from_state: State | None, to_state: State) -> None:
    if (from_state, to_state) not in TRANSITIONS:
        raise IllegalTransition(from_state, to_state)


def allowed_targets(from_state: State | None) -> frozenset[State]:
    return frozenset(to for frm, to in TRANSITIONS if frm == from_state)
