from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.work.lifecycle import TRANSITIONS, IllegalTransition, State, check_transition
from tandem.work.models import WorkItem, WorkItemEvent
from tandem.work.transitions import ItemRef, StaleItem, move
from tests.conftest import World

ALL_PAIRS = [
    (a, b) for a, b in itertools.product([None, *State], list(State)) if (a, b) not in TRANSITIONS
]


@pytest.mark.parametrize(("frm", "to"), ALL_PAIRS)
def test_every_pair_outside_the_table_is_refused(frm: State | None, to: State) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(frm, to)


def test_the_loop_has_a_path_from_arrival_to_delivery() -> None:
    for frm, to in [
        (None, State.QUEUED),
        (State.QUEUED, State.LEASED),
        (State.LEASED, State.SUBMITTED),
        (State.SUBMITTED, State.DELIVERED),
    ]:
        check_transition(frm, to)


def _item(container: Container, world: World) -> ItemRef:
    return ItemRef.of(world.submit(container, "a"))


@pytest.mark.parametrize("to", [s for s in State if (State.QUEUED, s) not in TRANSITIONS])
def test_illegal_transition_in_the_database_changes_nothing(
    container: Container, world: World, to: State
) -> None:
    ref = _item(container, world)
    with pytest.raises(IllegalTransition), transaction(container.sessions) as session:
        move(session, ref, to, actor="test", now=container.clock.now())
    with transaction(container.sessions) as session:
        assert session.scalar(select(WorkItem.state).where(WorkItem.id == ref.id)) == "queued"
        assert (
            session.scalar(
                select(WorkItemEvent.to_state).where(WorkItemEvent.work_item_id == ref.id)
            )
            == "queued"
        )


def test_a_move_writes_one_event_per_step_and_stale_writes_fail(
    container: Container, world: World
) -> None:
    ref = _item(container, world)
    with transaction(container.sessions) as session:
        moved = move(
            session,
            ref,
            State.WAITING,
            actor="test",
            now=container.clock.now(),
            data={"reason": "client"},
        )
    assert moved.version == 2
    with pytest.raises(StaleItem), transaction(container.sessions) as session:
        move(session, ref, State.CANCELLED, actor="test", now=container.clock.now())
    with transaction(container.sessions) as session:
        rows = session.execute(
            select(WorkItemEvent.seq, WorkItemEvent.from_state, WorkItemEvent.to_state)
            .where(WorkItemEvent.work_item_id == ref.id)
            .order_by(WorkItemEvent.seq)
        ).all()
    assert [tuple(r) for r in rows] == [(1, None, "queued"), (2, "queued", "waiting")]
