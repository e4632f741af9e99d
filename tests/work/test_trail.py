"""Item state changes in the audit trail: sealed window by window, each kind of tampering
with the events of a sealed window found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.intake.service import submit_item
from tandem.tenancy.context import Context
from tandem.work.trail import ACTION, seal_events, verify_trail
from tests.audit.test_service import _tamper
from tests.conftest import World


def _seal(container: Container) -> int:
    with transaction(container.sessions) as session:
        return seal_events(session, container.audit_key, container.clock.now())


def _problems(container: Container) -> list[tuple[str, str]]:
    with transaction(container.sessions) as session:
        found = verify_trail(session, container.audit_key)
    return [(f.problem, f.detail) for listed in found.values() for f in listed]


@pytest.fixture
def tamper(admin_engine: Engine) -> Any:
    return lambda *statements: _tamper(admin_engine, *statements)


@pytest.fixture
def sealed(container: Container, world: World, clock: ManualClock) -> list[Any]:
    """Three items of the insurer, one claimed: four events, sealed 20 minutes later."""
    items = [world.submit(container, f"doc-{i}") for i in range(3)]
    with transaction(container.sessions) as session:
        assert container.dispatcher.claim(session, world.agent_id) is not None
    clock.advance(timedelta(minutes=20))
    assert _seal(container) == 4
    return items


def test_events_are_sealed_window_by_window_and_check_intact(
    sealed: list[Any], container: Container, world: World, clock: ManualClock
) -> None:
    with transaction(container.sessions) as session:
        (seal,) = session.scalars(select(AuditRecord).where(AuditRecord.action == ACTION)).all()
    assert seal.client_id == world.client_id and seal.data["events"] == 4
    assert seal.data["start"] is None
    assert _problems(container) == []
    world.submit(container, "later")
    assert _seal(container) == 0  # too recent: inside the grace period, and under `every`
    clock.advance(timedelta(minutes=30))
    assert _seal(container) == 1  # the next window starts where the first ended
    assert _problems(container) == []


@pytest.mark.parametrize(
    "tampering",
    [
        ("UPDATE work_item_events SET actor = 'agent:someone-else' WHERE seq = 2", "edited"),
        ("DELETE FROM work_item_events WHERE seq = 2", "4 sealed, 3 now"),
        (
            "INSERT INTO work_item_events (client_id, work_item_id, seq, at, from_state, "
            "to_state, actor, attempt) SELECT client_id, work_item_id, 9, at, 'queued', "
            "'cancelled', 'user:forger', 0 FROM work_item_events WHERE seq = 1 LIMIT 1",
            "4 sealed, 5 now",
        ),
        # The claimed item's two events swapped: every row still there, out of order.
        (
            "UPDATE work_item_events SET seq = 99 WHERE seq = 1 AND work_item_id IN "
            "(SELECT work_item_id FROM work_item_events WHERE seq = 2)",
            "UPDATE work_item_events SET seq = 1 WHERE seq = 2",
            "UPDATE work_item_events SET seq = 2 WHERE seq = 99",
            "edited",
        ),
    ],
    ids=["edited", "deleted", "inserted", "reordered"],
)
def test_tampering_with_sealed_events_is_found(
    sealed: list[Any], container: Container, tamper: Any, tampering: tuple[str, ...]
) -> None:
    *statements, detail = tampering
    tamper(*statements)
    ((problem, found),) = _problems(container)
    assert problem == "events_changed" and detail in found


@pytest.mark.parametrize(
    "data",
    [
        """'{"start": null, "end": "yesterday", "events": 4, "digest": "x"}'""",
        """'{"start": null, "end": "2026-03-02T10:00:00+00:00", "events": "4"}'""",
        """'{"events": 4}'""",
        """'[1, 2]'""",
    ],
    ids=["bad-time", "no-digest", "no-window", "not-an-object"],
)
def test_a_malformed_seal_is_a_finding_not_a_crash(
    sealed: list[Any], container: Container, tamper: Any, api: Any, data: str
) -> None:
    """Edited by hand, a seal of item events is reported by its record (and the chain's
    link finds the edit too); the check answers, over the API as well (it answered 500)."""
    tamper(f"UPDATE audit_records SET data = {data} WHERE action = '{ACTION}'")
    problems = [problem for problem, _ in _problems(container)]
    assert "seal_malformed" in problems
    checked = api("security").get("/api/v1/audit/check")
    assert checked.status_code == 200, checked.text
    assert "seal_malformed" in checked.text


@pytest.mark.postgres_only
def test_a_window_never_ends_after_a_transaction_still_open_began(
    container: Container, world: World, clock: ManualClock
) -> None:
    """A file's intake open longer than the grace commits events stamped with its start: the
    window sealed meanwhile stops before that start, so the events land in a later window
    and the trail still verifies."""
    clock.advance(datetime.now(UTC) - clock.now())  # the database's clock: xact_start
    world.submit(container, "before")
    with container.sessions() as long_intake, long_intake.begin():
        ctx = Context(
            long_intake, world.client_user, clock.now(), container.keyring, container.audit_key
        )
        submit_item(
            ctx, world.process_id, {"document_ref": "in a long file"}, at_risk_fraction=0.75
        )
        long_intake.flush()
        clock.advance(timedelta(minutes=20))
        assert _seal(container) == 0  # nothing sealed past the open transaction's start
    clock.advance(timedelta(minutes=20))
    assert _seal(container) == 2
    assert _problems(container) == []
