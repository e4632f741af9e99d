"""One action on a selection of work items (operations: hold, resume, reprioritize, cancel,
take a lease back), applied an item at a time, each in a transaction of its own: an item
refused (not found, in a state the action does not fit, changed meanwhile) leaves the others
done, and the answer says for each item what happened."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal

from tandem.core.errors import InvalidInput, TandemError
from tandem.tenancy.context import Context
from tandem.work import transitions
from tandem.work.lifecycle import IllegalTransition
from tandem.work.models import WorkItem

Action = Literal["hold", "resume", "priority", "cancel", "release"]
ACTIONS: tuple[Action, ...] = ("hold", "resume", "priority", "cancel", "release")
MAX_ITEMS = 500
PRIORITY_RANGE = (-1000, 1000)

# What each action made of an item, in words.
DONE = {
    "hold": "put on hold",
    "resume": "queued again",
    "priority": "priority set",
    "cancel": "cancelled",
    "release": "taken back to its queue",
}


@dataclass(frozen=True)
class Order:
    """The action and what it needs: a reason (hold and cancel; release optionally), a
    priority (priority)."""

    action: Action
    reason: str | None = None
    priority: int | None = None

    def check(self) -> None:
        """Refuses an order missing what its action needs, naming the field."""
        if self.action in ("hold", "cancel") and not (self.reason or "").strip():
            raise InvalidInput(
                f"{self.action} needs a reason",
                errors=[{"field": "reason", "message": f"say why ({self.action} is recorded)"}],
            )
        if self.action == "priority":
            low, high = PRIORITY_RANGE
            if self.priority is None or not low <= self.priority <= high:
                raise InvalidInput(
                    "priority needs the new priority",
                    errors=[{"field": "priority", "message": f"a whole number {low} to {high}"}],
                )


@dataclass(frozen=True)
class Outcome:
    """What happened to one item: done (and the state it is in now), or refused and why.
    A refused item's reference and state are not told: it may be one the caller cannot see."""

    id: uuid.UUID
    done: bool
    detail: str
    external_ref: str | None = None
    state: str | None = None


def _act(ctx: Context, item_id: uuid.UUID, order: Order, at_risk_fraction: float) -> WorkItem:
    reason = (order.reason or "").strip() or None
    if order.action == "hold":
        assert reason is not None  # Order.check
        return transitions.hold(ctx, item_id, reason, at_risk_fraction=at_risk_fraction)
    if order.action == "resume":
        return transitions.resume(ctx, item_id, at_risk_fraction=at_risk_fraction)
    if order.action == "priority":
        assert order.priority is not None  # Order.check
        return transitions.reprioritize(ctx, item_id, order.priority)
    if order.action == "cancel":
        assert reason is not None  # Order.check
        return transitions.cancel(ctx, item_id, reason)
    return transitions.take_back(ctx, item_id, reason)


def apply(
    units: Callable[[], AbstractContextManager[Context]],
    ids: Sequence[uuid.UUID],
    order: Order,
    *,
    at_risk_fraction: float,
) -> list[Outcome]:
    """Apply `order` to each item of `ids` (repeats once), each in a unit of its own from
    `units` (a new transaction: committed when done, rolled back when refused)."""
    order.check()
    if len(ids) > MAX_ITEMS:
        raise InvalidInput(
            f"at most {MAX_ITEMS} items at a time",
            errors=[{"field": "ids", "message": f"{len(ids)} ids: send at most {MAX_ITEMS}"}],
        )
    outcomes = []
    for item_id in dict.fromkeys(ids):
        try:
            with units() as ctx:
                item = _act(ctx, item_id, order, at_risk_fraction)
                outcome = Outcome(item.id, True, DONE[order.action], item.external_ref, item.state)
        except IllegalTransition as refused:  # in words of the action asked for
            was = refused.from_state.value if refused.from_state else "new"
            outcome = Outcome(item_id, False, f"it is {was}: it cannot be {DONE[order.action]}")
        except TandemError as refused:
            outcome = Outcome(item_id, False, refused.detail)
        outcomes.append(outcome)
    return outcomes
