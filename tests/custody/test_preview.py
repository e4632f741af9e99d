"""The purge preview and the purge on confirmation (tandem.custody.preview): the preview counts
exactly what the worker's purge would anonymize now, per process, and changes nothing; the
confirmed purge removes what the preview showed (never more than the retention period
allows), reports it and audits it as the person who asked; a key rotation's items still
behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.core.errors import Conflict
from tandem.custody import keys, preview
from tandem.custody.models import PurgeReport
from tandem.custody.retention import CONVERSATION_KINDS
from tandem.intake.service import submit_item
from tandem.quality.models import Keying
from tandem.tenancy.models import Client
from tandem.tenancy.principal import Principal
from tandem.work.models import WorkItem
from tandem.worker import run_once
from tests.conftest import World

INPUT = {
    "type": "object",
    "properties": {
        "applicant_name": {"type": "string", "x-personal": "name"},
        "policy_type": {"type": "string"},
    },
}
FORM = {
    "type": "object",
    "properties": {
        "applicant_name": {"type": "string", "x-personal": "name"},
        "coverage_amount": {"type": "number"},
    },
}
RESULT = {"applicant_name": "Maria Santos", "coverage_amount": 250000}
SECURITY = Principal(uuid.UUID(int=5), "security_officer", None, None)


def personal_process(container: Container, client_id: int, name: str) -> uuid.UUID:
    with transaction(container.sessions) as session:
        return define_process(
            session,
            client_id,
            ProcessDefinition(
                code=name.lower(),
                name=name,
                kind="data_entry",
                input_schema=INPUT,
                form_schema=FORM,
                required_skills={"data_entry": 2},
                sla_minutes=600,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        ).id


def delivered(
    container: Container, world: World, process_id: uuid.UUID, *, keying: bool = False
) -> uuid.UUID:
    """An item of the insurer's process, handed over, worked and delivered at the clock's now
    (with a first keying's copy of its result, as double entry keeps, if asked)."""
    with container.context(world.client_user) as ctx:
        item, _ = submit_item(
            ctx,
            process_id,
            {"applicant_name": "Maria Santos", "policy_type": "home"},
            at_risk_fraction=0.75,
        )
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
        assert lease is not None and lease.item_id == item.id
    with transaction(container.sessions) as session:
        container.dispatcher.submit(session, world.agent_id, item.id, lease.attempt, RESULT)
        if keying:
            session.add(
                Keying(
                    client_id=world.client_id,
                    work_item_id=item.id,
                    number=1,
                    agent_id=world.agent_id,
                    attempt=1,
                    values=RESULT,
                    at=container.clock.now(),
                )
            )
    return item.id


def set_days(container: Container, client_id: int, days: int | None) -> None:
    with transaction(container.sessions) as session:
        session.get_one(Client, client_id).retention_days = days


def test_the_preview_counts_what_the_purge_would_remove_and_changes_nothing(
    container: Container, world: World, clock: ManualClock
) -> None:
    applications = personal_process(container, world.client_id, "Applications")
    claims = personal_process(container, world.client_id, "Claims")
    first = clock.now()
    delivered(container, world, applications, keying=True)
    clock.advance(timedelta(days=2))
    delivered(container, world, applications)
    delivered(container, world, claims)
    clock.advance(timedelta(days=20))
    delivered(container, world, claims)  # too recent
    world.submit(container, "queued")  # not done
    with container.context(SECURITY) as ctx:
        assert preview.purge_preview(ctx, world.client_id) == preview.PurgePreview(
            world.client_id, None, None, [], 0, 0, 0
        )
    set_days(container, world.client_id, 10)
    with container.context(SECURITY) as ctx:
        seen = preview.purge_preview(ctx, world.client_id)
    assert seen.cutoff == clock.now() - timedelta(days=10)
    assert seen.items == 3 and seen.keyings == 1
    assert seen.documents == 0 and seen.webhook_deliveries == 0
    second = first + timedelta(days=2)
    assert [(p.name, p.items, p.oldest, p.newest) for p in seen.processes] == [
        ("Applications", 2, first, second),
        ("Claims", 1, second, second),
    ]
    with transaction(container.sessions) as session:
        assert session.scalar(select(WorkItem.id).where(WorkItem.purged_at.is_not(None))) is None
    # The worker's purge takes exactly these.
    with httpx.Client() as http:
        assert run_once(container, http)["purged"] == 3
    with container.context(SECURITY) as ctx:
        assert preview.purge_preview(ctx, world.client_id).processes == []


def test_a_confirmed_purge_removes_what_the_preview_showed_as_the_one_who_asked(
    container: Container, world: World, clock: ManualClock, api: Any
) -> None:
    process_id = _setup(container, world, clock, api)
    security = api("security")
    shown = security.get(f"/api/v1/clients/{world.client_id}/purge-preview")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["days"], body["items"], body["keyings"]) == (30, 2, 1)
    assert [(p["name"], p["items"]) for p in body["processes"]] == [("Applications", 2)]
    # Meanwhile a third item becomes due: the preview did not show it, so it stays.
    clock.advance(timedelta(days=5))
    purged = security.post(
        f"/api/v1/clients/{world.client_id}/purges", json={"cutoff": body["cutoff"]}
    )
    assert purged.status_code == 200, purged.text
    done = purged.json()
    assert done["remaining"] == 1
    assert done["report"]["reason"] == "retention"
    assert done["report"]["counts"] == {
        "work_items": 2,
        "documents": 0,
        "keyings": 1,
        "webhook_deliveries": 0,
        **dict.fromkeys(CONVERSATION_KINDS, 0),  # the service desk's: none here
    }
    with transaction(container.sessions) as session:
        items = session.scalars(
            select(WorkItem).where(WorkItem.process_id == process_id).order_by(WorkItem.id)
        ).all()
        assert [item.purged_at is not None for item in items] == [True, True, False]
        assert items[0].payload == {"applicant_name": None, "policy_type": "home"}
        record = session.scalars(
            select(AuditRecord)
            .where(
                AuditRecord.client_id == world.client_id,
                AuditRecord.action == "personal_data.purge",
            )
            .order_by(AuditRecord.seq.desc())
        ).first()
        assert record is not None
        security_id = session.scalar(
            select(AuditRecord.actor).where(AuditRecord.action == "retention.set")
        )
        assert record.actor == security_id and record.actor.startswith("user:")
        assert record.data["on_request"] is True and record.data["work_items"] == 2
    reports = security.get("/api/v1/purge-reports").json()
    assert [r["counts"]["work_items"] for r in reports] == [2]
    # The same preview confirmed twice purges nothing more; what became due since is told.
    twice = security.post(
        f"/api/v1/clients/{world.client_id}/purges", json={"cutoff": body["cutoff"]}
    )
    assert twice.json() == {"report": None, "remaining": 1}
    # The next purge takes the rest; then nothing is left.
    again = security.post(
        f"/api/v1/clients/{world.client_id}/purges",
        json={"cutoff": clock.now().isoformat()},  # later than the period allows: capped
    ).json()
    assert (again["report"]["counts"]["work_items"], again["remaining"]) == (1, 0)
    nothing = security.post(
        f"/api/v1/clients/{world.client_id}/purges", json={"cutoff": clock.now().isoformat()}
    ).json()
    assert nothing == {"report": None, "remaining": 0}


def _setup(container: Container, world: World, clock: ManualClock, api: Any) -> uuid.UUID:
    """Two items done 40 days ago, one 27 days ago, a retention period of 30 days set by the
    security officer (through the API)."""
    process_id = personal_process(container, world.client_id, "Applications")
    delivered(container, world, process_id, keying=True)
    delivered(container, world, process_id)
    clock.advance(timedelta(days=13))
    delivered(container, world, process_id)
    clock.advance(timedelta(days=27))
    put = api("security").put(f"/api/v1/clients/{world.client_id}/retention", json={"days": 30})
    assert put.status_code == 200, put.text
    return process_id


def test_a_purge_needs_a_period_a_live_client_and_the_permission(
    container: Container, world: World, clock: ManualClock, api: Any
) -> None:
    with container.context(SECURITY) as ctx, pytest.raises(Conflict, match="no retention"):
        preview.purge_now(ctx, world.client_id, clock.now())
    security = api("security")
    url = f"/api/v1/clients/{world.client_id}/purges"
    assert security.post(url, json={"cutoff": clock.now().isoformat()}).status_code == 409
    naive = security.post(url, json={"cutoff": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    for far in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        assert security.post(url, json={"cutoff": far}).status_code == 422
    assert security.get("/api/v1/clients/999999/purge-preview").status_code == 404
    for who in ("ops", "client"):
        assert api(who).get(f"/api/v1/clients/{world.client_id}/purge-preview").status_code == 403
        assert api(who).post(url, json={"cutoff": clock.now().isoformat()}).status_code == 403
    set_days(container, world.client_id, 1)
    with transaction(container.sessions) as session:
        session.get_one(Client, world.client_id).ended_at = clock.now()
    with container.context(SECURITY) as ctx:
        assert preview.purge_preview(ctx, world.client_id).cutoff is None
        with pytest.raises(Conflict, match="ended"):
            preview.purge_now(ctx, world.client_id, clock.now())


def test_a_confirmed_purge_takes_at_most_its_limit(
    container: Container, world: World, clock: ManualClock
) -> None:
    process_id = personal_process(container, world.client_id, "Applications")
    for _ in range(3):
        delivered(container, world, process_id)
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(days=2))
    set_days(container, world.client_id, 1)
    with container.context(SECURITY) as ctx:
        done = preview.purge_now(ctx, world.client_id, ctx.now, limit=2)
        assert done.report is not None and done.report.counts["work_items"] == 2
        assert done.remaining == 1
    with transaction(container.sessions) as session:
        assert session.scalars(select(PurgeReport.cutoff)).all() == [
            clock.now() - timedelta(days=1)
        ]


def test_items_behind_counts_what_a_rotation_has_left(
    container: Container, world: World, clock: ManualClock
) -> None:
    process_id = personal_process(container, world.client_id, "Applications")
    delivered(container, world, process_id)
    delivered(container, world, process_id)
    world.submit(container, "no personal data")  # nothing sealed: never behind
    with container.context(SECURITY) as ctx:
        rotation = keys.rotate(ctx, world.client_id)
        assert preview.items_behind(ctx.session, rotation) == 2
    with transaction(container.sessions) as session:
        keys.advance(session, container.keyring, clock.now(), key=container.audit_key, batch=1)
    with transaction(container.sessions) as session:
        (rotation,) = keys.status(session)
        assert (rotation.resealed, preview.items_behind(session, rotation)) == (1, 1)
    with httpx.Client() as http:
        for _ in range(5):
            run_once(container, http, purge=False)
    with transaction(container.sessions) as session:
        (rotation,) = keys.status(session)
        assert rotation.finished_at is not None
        assert preview.items_behind(session, rotation) == 0


def test_purge_history_is_the_clients_latest_first(
    container: Container, world: World, clock: ManualClock
) -> None:
    with transaction(container.sessions) as session:
        for client_id, days_ago in (
            (world.client_id, 3),
            (world.client_id, 1),
            (world.other_client_id, 2),
        ):
            session.add(
                PurgeReport(
                    client_id=client_id,
                    reason="retention",
                    at=clock.now() - timedelta(days=days_ago),
                    cutoff=datetime(2026, 1, 1, tzinfo=UTC),
                    counts={"work_items": days_ago},
                )
            )
    with container.context(SECURITY) as ctx:
        history = preview.purge_history(ctx, world.client_id)
    assert [r.counts["work_items"] for r in history] == [1, 3]
    with container.context(world.other_client_user) as ctx:
        assert preview.purge_history(ctx, world.client_id) == []  # another client's
