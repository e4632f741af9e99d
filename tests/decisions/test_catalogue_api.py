"""A version's reasons catalogue, who made it, copying test cases, and the measures and
backtests the console draws: over HTTP, against the real server."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from openpyxl import Workbook

from tandem.container import Container
from tandem.decisions import underwriting as uw
from tandem.intake.service import submit_item
from tests.conftest import World
from tests.decisions.conftest import ABROAD, BASE


def _version(client: Any, process_id: uuid.UUID, **body: Any) -> dict[str, Any]:
    created = client.post(
        f"/api/v1/processes/{process_id}/rulesets", json={"graph": uw.graph(), **body}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_version_uploaded_with_its_catalogue_says_who_made_it(
    api: Any, world: World, process_id: uuid.UUID
) -> None:
    client = api("client")
    made = _version(
        client,
        process_id,
        reasons={"RESIDES_ABROAD": {"label": "Lives abroad", "description": "Outside the US."}},
    )
    assert made["reasons"] == {
        "RESIDES_ABROAD": {"label": "Lives abroad", "description": "Outside the US."}
    }
    assert made["created_by"] == f"user:{world.client_user.user_id}"
    assert made["published_by"] is None
    for name, data, expected in uw.tests():
        client.post(
            f"/api/v1/rulesets/{made['id']}/tests",
            json={"name": name, "input": data, "expected": expected},
        )
    published = client.post(f"/api/v1/rulesets/{made['id']}/publish").json()
    assert published["published_by"] == f"user:{world.client_user.user_id}"
    # A catalogue's problems are named at their place.
    refused = client.post(
        f"/api/v1/processes/{process_id}/rulesets",
        json={"graph": uw.graph(), "reasons": {"SCORE_LIMIT": {"label": "", "colour": "red"}}},
    )
    assert refused.status_code == 422
    fields = {error["field"] for error in refused.json()["errors"]}
    assert {"reasons.SCORE_LIMIT.label", "reasons.SCORE_LIMIT.colour"} <= fields


def test_a_spreadsheet_version_with_its_reasons_sheet_and_four_eyes(
    api: Any, process_id: uuid.UUID
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:country", "out:outcome", "out:reasons"])
    sheet.append(["US", "approve", '["STANDARD_RISK"]'])
    sheet.append([None, "decline", '["ABROAD"]'])
    reasons = book.create_sheet("Reasons")
    reasons.append(["code", "label", "description"])
    reasons.append(["ABROAD", "Lives abroad", "Outside the US."])
    buffer = io.BytesIO()
    book.save(buffer)
    created = api("client").post(
        f"/api/v1/processes/{process_id}/rulesets/xlsx",
        files={"file": ("criteria.xlsx", buffer.getvalue())},
        data={"four_eyes": json.dumps({"declines": True}), "note": "criteria of March"},
    )
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["reasons"] == {
        "ABROAD": {"label": "Lives abroad", "description": "Outside the US."}
    }
    assert (made["four_eyes"], made["note"]) == ({"declines": True}, "criteria of March")
    # A four-eyes rule that is not JSON, or not a known one, is named at its field.
    for four_eyes, field in (("{declines", "four_eyes"), ('{"above": 5}', "four_eyes")):
        refused = api("client").post(
            f"/api/v1/processes/{process_id}/rulesets/xlsx",
            files={"file": ("criteria.xlsx", buffer.getvalue())},
            data={"four_eyes": four_eyes},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field


def test_a_draft_copies_the_test_cases_of_an_earlier_version(
    api: Any, process_id: uuid.UUID
) -> None:
    client = api("client")
    first = _version(client, process_id)
    for name, data, expected in uw.tests():
        client.post(
            f"/api/v1/rulesets/{first['id']}/tests",
            json={"name": name, "input": data, "expected": expected},
        )
    draft = _version(client, process_id)
    copied = client.post(f"/api/v1/rulesets/{draft['id']}/tests/copy", json={"version": 1})
    assert copied.status_code == 201, copied.text
    assert [t["name"] for t in copied.json()] == sorted(name for name, _, _ in uw.tests())
    again = client.post(f"/api/v1/rulesets/{draft['id']}/tests/copy", json={"version": 1})
    assert again.json() == []  # every name is taken already
    missing = client.post(f"/api/v1/rulesets/{draft['id']}/tests/copy", json={"version": 7})
    assert missing.status_code == 404
    assert client.post(f"/api/v1/rulesets/{draft['id']}/publish").status_code == 200
    # The other client neither copies into the insurer's drafts nor from them.
    other = api("other_client").post(
        f"/api/v1/rulesets/{first['id']}/tests/copy", json={"version": 2}
    )
    assert other.status_code == 404


def test_the_measures_have_the_days_and_a_backtest_the_outcomes(
    api: Any, container: Container, world: World, process_id: uuid.UUID
) -> None:
    client = api("client")
    draft = _version(client, process_id, reasons=uw.REASONS)
    for name, data, expected in uw.tests():
        client.post(
            f"/api/v1/rulesets/{draft['id']}/tests",
            json={"name": name, "input": data, "expected": expected},
        )
    assert client.post(f"/api/v1/rulesets/{draft['id']}/publish").status_code == 200
    with container.context(world.client_user) as ctx:
        for data in (BASE, ABROAD):
            submit_item(ctx, process_id, data, at_risk_fraction=0.75)
    found = client.get(f"/api/v1/processes/{process_id}/decision-measures").json()
    assert found["timezone"] == "America/New_York"
    assert found["per_day"][-1] == {"day": "2026-03-04", "approve": 1, "decline": 0, "refer": 1}
    report = client.post(f"/api/v1/rulesets/{draft['id']}/backtest", json={}).json()
    assert report["outcomes"] == {
        "published": {"approve": 1, "refer": 1},
        "draft": {"approve": 1, "refer": 1},
    }
