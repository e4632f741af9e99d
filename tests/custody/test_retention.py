"""Retention: personal data of items done longer ago than the client's period is purged, with
a purge report. Exit: everything the client owns is exported, then deleted; the audit trail
stays and still verifies."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tandem.audit import service as audit
from tandem.audit.models import AuditRecord
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.core.errors import Conflict
from tandem.custody.retention import (
    CONVERSATION_KINDS,
    EVIDENCE,
    client_tables,
    end_contract,
    export_client,
)
from tandem.intake.service import submit_item
from tandem.quality.models import Keying
from tandem.tenancy.models import Client, User
from tandem.work.models import WorkItem
from tandem.worker import run_once
from tests.conftest import World
from tests.quality.conftest import (
    CLEAR_PAYLOAD,
    add_gold,
    personal_process,
    seeded_copies,
)

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


def _process(container: Container, world: World) -> uuid.UUID:
    with transaction(container.sessions) as session:
        return define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="applications",
                name="Applications",
                kind="data_entry",
                input_schema=INPUT,
                form_schema=FORM,
                required_skills={"data_entry": 2},
                sla_minutes=600,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        ).id


def _delivered(container: Container, world: World, process_id: uuid.UUID) -> uuid.UUID:
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
        session.add(  # a first keying's copy of the result, as double entry keeps
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


def test_items_past_the_retention_period_lose_their_personal_data(
    container: Container, world: World, clock: ManualClock, api: Any
) -> None:
    process_id = _process(container, world)
    old = _delivered(container, world, process_id)
    clock.advance(timedelta(days=20))
    recent = _delivered(container, world, process_id)
    waiting = world.submit(container, "still-queued").id
    security = api("security")
    assert (
        security.put(f"/api/v1/clients/{world.client_id}/retention", json={"days": 0}).status_code
        == 422
    )
    assert (
        api("ops")
        .put(f"/api/v1/clients/{world.client_id}/retention", json={"days": 30})
        .status_code
        == 403
    )
    set_ = security.put(f"/api/v1/clients/{world.client_id}/retention", json={"days": 30})
    assert set_.json() == {"client_id": world.client_id, "days": 30}
    clock.advance(timedelta(days=15))  # old: done 35 days ago; recent: 15
    with httpx.Client() as http:
        assert run_once(container, http)["purged"] == 1
        assert run_once(container, http)["purged"] == 0  # nothing is purged twice
    with transaction(container.sessions) as session:
        purged = session.get_one(WorkItem, (world.client_id, old))
        assert purged.payload == {"applicant_name": None, "policy_type": "home"}
        assert purged.result == {"applicant_name": None, "coverage_amount": 250000}
        assert purged.sealed is None and purged.purged_at == clock.now()
        assert purged.state == "delivered"  # still counted in reports
        kept = session.get_one(WorkItem, (world.client_id, recent))
        assert kept.sealed is not None and kept.purged_at is None
        assert session.get_one(WorkItem, (world.client_id, waiting)).purged_at is None
        keyings = session.scalars(select(Keying.work_item_id)).all()
        assert keyings == [recent]
    reports = security.get("/api/v1/purge-reports").json()
    assert [(r["reason"], r["counts"]) for r in reports] == [
        (
            "retention",
            {
                "work_items": 1,
                "documents": 0,
                "keyings": 1,
                "webhook_deliveries": 0,
                **dict.fromkeys(CONVERSATION_KINDS, 0),  # the service desk's: none here
            },
        )
    ]
    assert reports[0]["cutoff"].startswith((clock.now() - timedelta(days=30)).date().isoformat())
    assert (
        api("client").get(f"/api/v1/work-items/{old}").json()["payload"]["applicant_name"] is None
    )
    with transaction(container.sessions) as session:
        actions = session.scalars(
            select(AuditRecord.action).where(AuditRecord.client_id == world.client_id)
        ).all()
    assert "retention.set" in actions and "personal_data.purge" in actions


def _rows(container: Container, client_id: int) -> dict[str, int]:
    with transaction(container.sessions) as session:
        return {
            table.name: session.scalar(
                select(func.count()).select_from(table).where(table.c.client_id == client_id)
            )
            or 0
            for table in client_tables()
        }


def test_at_contract_end_everything_is_exported_then_deleted(
    container: Container, world: World, tmp_path: Path, api: Any
) -> None:
    process_id = _process(container, world)
    item_id = _delivered(container, world, process_id)
    other_before = _rows(container, world.other_client_id)
    with transaction(container.sessions) as session:
        manifest = export_client(session, container.keyring, world.client_id, tmp_path)
    exported = {
        json.loads(line)["id"]: json.loads(line)
        for line in (tmp_path / "work_items.jsonl").read_text().splitlines()
    }
    assert exported[str(item_id)]["payload"]["applicant_name"] == "Maria Santos"  # in clear
    assert "sealed" not in exported[str(item_id)]
    assert "password_hash" not in (tmp_path / "users.jsonl").read_text()
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["files"]["work_items.jsonl"]["rows"] == 1
    assert manifest["files"]["processes.jsonl"]["rows"] == 2
    with transaction(container.sessions) as session:
        report = end_contract(
            session,
            world.client_id,
            manifest,
            actor="user:security",
            now=container.clock.now(),
            key=container.audit_key,
        )
    assert report.counts["work_items"] == 1 and report.counts["api_tokens"] == 1
    left = {name: n for name, n in _rows(container, world.client_id).items() if n}
    assert set(left) <= set(EVIDENCE), left
    assert _rows(container, world.other_client_id) == other_before
    assert api("client").get("/api/v1/me").status_code == 401  # the client's users are gone
    with transaction(container.sessions) as session:
        client = session.get_one(Client, world.client_id)
        assert client.ended_at is not None
        assert session.scalars(select(User).where(User.client_id == world.client_id)).all() == []
        assert audit.check(session, container.audit_key, world.client_id) == {world.client_id: []}
        actions = session.scalars(
            select(AuditRecord.action).where(AuditRecord.client_id == world.client_id)
        ).all()
        assert actions[-2:] == ["client.export", "personal_data.purge"]
        with pytest.raises(Conflict, match="ended"):
            end_contract(
                session,
                world.client_id,
                manifest,
                actor="user:security",
                now=container.clock.now(),
                key=container.audit_key,
            )


def test_the_exit_export_holds_gold_items_in_clear(
    container: Container, world: World, tmp_path: Path
) -> None:
    """Gold items are the client's data too: exported as items are, opened, no sealed column."""
    process_id = personal_process(container, world)
    gold_id = add_gold(container, process_id)
    (copy_id,) = seeded_copies(container, world, process_id)
    with transaction(container.sessions) as session:
        manifest = export_client(session, container.keyring, world.client_id, tmp_path)
    (gold_row,) = [
        json.loads(line) for line in (tmp_path / "qa_gold_items.jsonl").read_text().splitlines()
    ]
    assert gold_row["id"] == str(gold_id)
    assert gold_row["payload"] == CLEAR_PAYLOAD  # the card number: its last four, as kept
    assert "sealed" not in gold_row
    assert manifest["files"]["qa_gold_items.jsonl"]["rows"] == 1
    items = {
        row["id"]: row
        for row in map(json.loads, (tmp_path / "work_items.jsonl").read_text().splitlines())
    }
    copy = items[str(copy_id)]
    assert copy["payload"] == CLEAR_PAYLOAD and "sealed" not in copy
