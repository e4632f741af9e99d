"""Results leave by status API, batch export and signed webhooks to a real receiver."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.config import Settings
from tandem.core.db import transaction
from tandem.delivery.models import WebhookAttempt, WebhookDelivery
from tandem.delivery.signing import HEADER, verify
from tandem.delivery.webhooks import BACKOFF_BASE, BACKOFF_CAP, backoff, deliver_due
from tests.conftest import LOCAL, RESULT, World


class Receiver:
    """A client's webhook endpoint: answers with the queued status codes, records requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _deliver_one(api: Any, world: World, result: dict[str, Any] = RESULT) -> str:
    upload = api("client").post(
        f"/api/v1/processes/{world.process_id}/batches",
        files={
            "file": (
                "b.csv",
                b"external_ref,document_ref,pages\nA-1,scan-1.pdf,2\nA-2,scan-2.pdf,1\n",
            )
        },
    )
    assert upload.status_code == 201
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    done = api("agent").post(
        f"/api/v1/leases/{lease['item_id']}/submit",
        json={"attempt": lease["attempt"], "result": result},
    )
    assert done.status_code == 200
    return str(upload.json()["id"])


def test_signed_webhook_with_retries_and_recorded_attempts(
    api: Any, world: World, container: Container, clock: ManualClock
) -> None:
    receiver = Receiver([500, 503])
    hook = api("client").post("/api/v1/webhooks", json={"url": receiver.url})
    assert hook.status_code == 201
    secret = hook.json()["secret"]
    _deliver_one(api, world)
    with httpx.Client() as http:
        kwargs = {
            "max_attempts": 5,
            "timeout_s": 5.0,
            "keyring": container.keyring,
            "allowed": LOCAL,
        }
        assert deliver_due(container.sessions, clock, http, **kwargs) == 1  # 500
        assert deliver_due(container.sessions, clock, http, **kwargs) == 0  # backing off
        clock.advance(backoff(1))
        assert deliver_due(container.sessions, clock, http, **kwargs) == 1  # 503
        clock.advance(backoff(2) - timedelta(seconds=1))
        assert deliver_due(container.sessions, clock, http, **kwargs) == 0
        clock.advance(timedelta(seconds=1))
        assert deliver_due(container.sessions, clock, http, **kwargs) == 1  # 200
    assert backoff(2) == 2 * backoff(1)
    headers, body = receiver.requests[-1]
    assert verify(secret, headers[HEADER], body, int(clock.now().timestamp()))
    assert not verify("wrong-secret", headers[HEADER], body, int(clock.now().timestamp()))
    assert not verify(secret, headers[HEADER], body + b" ", int(clock.now().timestamp()))
    event = json.loads(body)
    assert event["type"] == "work_item.delivered" and event["data"]["result"] == RESULT
    with transaction(container.sessions) as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        codes = session.scalars(
            select(WebhookAttempt.status_code).order_by(WebhookAttempt.number)
        ).all()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert codes == [500, 503, 200]
    listed = api("client").get(f"/api/v1/webhooks/{hook.json()['id']}/deliveries").json()
    assert listed[0]["status"] == "delivered"
    # Another client's hook and event answer as missing ones do: 404, not an empty list.
    missing = uuid.uuid4()
    for path in (
        f"/api/v1/webhooks/{hook.json()['id']}/deliveries",
        f"/api/v1/webhook-deliveries/{delivery.id}/attempts",
    ):
        theirs = api("other_client").get(path)
        absent = api("other_client").get(path.replace(path.split("/")[4], str(missing)))
        assert theirs.status_code == absent.status_code == 404
        same = theirs.json()["detail"].replace(path.split("/")[4], str(missing))
        assert same == absent.json()["detail"]


def test_a_hook_that_keeps_failing_gives_up(
    api: Any, world: World, container: Container, clock: ManualClock
) -> None:
    """A receiver that always fails is tried exactly `max_attempts` times (the README's 8),
    each try recorded and numbered 1..8, backing off between them; then the delivery is
    failed and never tried again. Giving up early (after one try) or late fails this."""
    max_attempts = 8
    receiver = Receiver([500] * (max_attempts + 5))
    hook = api("client").post("/api/v1/webhooks", json={"url": receiver.url})
    assert hook.status_code == 201
    _deliver_one(api, world)

    def delivery() -> WebhookDelivery:
        with transaction(container.sessions) as session:
            return session.scalars(select(WebhookDelivery)).one()

    with httpx.Client() as http:

        def deliver() -> int:
            return deliver_due(
                container.sessions,
                clock,
                http,
                max_attempts=max_attempts,
                timeout_s=5.0,
                keyring=container.keyring,
                allowed=LOCAL,
            )

        for attempt in range(1, max_attempts + 1):
            before = delivery()
            assert (before.status, before.attempts) == ("pending", attempt - 1), attempt
            assert deliver() == 1, f"attempt {attempt} was not made"
            after = delivery()
            assert after.attempts == attempt
            if attempt < max_attempts:
                assert after.status == "pending", f"gave up after {attempt} attempts"
                assert after.next_attempt_at == clock.now() + backoff(attempt)
                clock.advance(backoff(attempt) - timedelta(seconds=1))
                assert deliver() == 0, f"retried before the backoff after attempt {attempt}"
                clock.advance(timedelta(seconds=1))
        assert delivery().status == "failed"
        clock.advance(timedelta(days=1))
        assert deliver() == 0  # a failed delivery is not tried again
    assert len(receiver.requests) == max_attempts
    final = delivery()
    assert (final.status, final.attempts, final.delivered_at) == ("failed", max_attempts, None)
    with transaction(container.sessions) as session:
        attempts = session.execute(
            select(WebhookAttempt.number, WebhookAttempt.status_code, WebhookAttempt.error)
            .where(WebhookAttempt.delivery_id == final.id)
            .order_by(WebhookAttempt.number)
        ).all()
    assert [tuple(a) for a in attempts] == [
        (n, 500, "receiver answered HTTP 500") for n in range(1, max_attempts + 1)
    ]
    listed = api("client").get(f"/api/v1/webhook-deliveries/{final.id}/attempts")
    assert listed.status_code == 200
    assert sorted(a["number"] for a in listed.json()) == list(range(1, max_attempts + 1))


def test_backoff_doubles_from_30_seconds_up_to_an_hour() -> None:
    """The README's schedule: 30 s before the first retry, doubling, never past an hour,
    8 tries by default."""
    assert timedelta(seconds=30) == BACKOFF_BASE and timedelta(hours=1) == BACKOFF_CAP
    assert backoff(1) == timedelta(seconds=30)
    minutes = [backoff(attempts) / timedelta(minutes=1) for attempts in range(1, 11)]
    assert minutes == [0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff(0) == timedelta(seconds=30)  # never less than the base
    # The worker's default: a delivery fails after its 8th try (its 7 waits: 30 s .. 32 min).
    assert Settings.model_fields["webhook_max_attempts"].default == 8


def _most_attempts_allowed() -> int:
    """The highest `webhook_max_attempts` the settings accept."""
    field = Settings.model_fields["webhook_max_attempts"]
    return next(int(rule.le) for rule in field.metadata if hasattr(rule, "le"))


def test_backoff_never_exceeds_the_cap_for_any_allowed_attempt() -> None:
    """After any number of failed tries the settings allow (webhook_max_attempts up to
    its bound), the wait is at most an hour, and an hour once the doubling reaches it."""
    for attempts in range(1, _most_attempts_allowed()):
        wait = backoff(attempts)
        assert wait <= BACKOFF_CAP, attempts
        expected = BACKOFF_CAP if attempts >= 8 else BACKOFF_BASE * 2 ** (attempts - 1)
        assert wait == expected, attempts


def test_batch_export_in_three_formats(api: Any, world: World) -> None:
    batch_id = _deliver_one(api, world)
    url = f"/api/v1/batches/{batch_id}/results"
    rows = list(csv.DictReader(io.StringIO(api("client").get(url).text)))
    assert [r["state"] for r in rows] == ["delivered", "queued"]
    assert rows[0]["applicant_name"] == "Maria Santos" and rows[0]["coverage_amount"] == "250000"
    lines = api("client").get(url, params={"format": "jsonl"}).text.splitlines()
    assert json.loads(lines[0])["result"] == RESULT
    xlsx = api("client").get(url, params={"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("source_row", "external_ref", "work_item_id") and len(values) == 3
    assert [row[0] for row in values[1:]] == [2, 3]  # the rows of b.csv, as a spreadsheet counts
    assert api("other_client").get(url).status_code == 404


def test_the_export_matches_the_clients_rows_and_is_named_after_its_file(
    api: Any, world: World
) -> None:
    """The client's chosen input columns beside the result, the file named after the one
    uploaded (b.csv), Excel's times and yes/no typed; an unknown column is named in a 422."""
    batch_id = _deliver_one(api, world)
    url = f"/api/v1/batches/{batch_id}/results"
    chosen = {"columns": ["document_ref", "pages"]}
    response = api("client").get(url, params=chosen)
    assert 'filename="b-results.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["input.document_ref"], r["input.pages"]) for r in rows] == [
        ("scan-1.pdf", "2"),
        ("scan-2.pdf", "1"),
    ]
    line = api("client").get(url, params={**chosen, "format": "jsonl"}).text.splitlines()[0]
    assert json.loads(line)["input"] == {"document_ref": "scan-1.pdf", "pages": 2}
    xlsx = api("client").get(url, params={**chosen, "format": "xlsx"})
    assert "b-results.xlsx" in xlsx.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    first = {name: sheet.cell(row=2, column=n + 1) for n, name in enumerate(header)}
    assert isinstance(first["received_at"].value, datetime)  # a date-time, not its text
    assert isinstance(first["delivered_at"].value, datetime)
    assert (first["breached"].value, first["breached"].data_type) == (False, "b")
    assert (first["input.pages"].value, first["input.pages"].data_type) == (2, "n")
    wrong = api("client").get(url, params={"columns": ["document_ref", "colour"]})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "columns"
    assert "colour" in wrong.json()["errors"][0]["message"]


def test_a_download_name_keeps_the_uploaded_name_safely() -> None:
    from tandem.work.export import BatchExport

    def named(filename: str) -> str:
        export = BatchExport(1, uuid.uuid4(), filename, [], [], {})
        return export.content_disposition("xlsx")

    assert named("Q3 claims.csv") == (
        "attachment; filename=\"Q3 claims-results.xlsx\"; filename*=UTF-8''Q3%20claims-results.xlsx"
    )
    assert 'filename="_evil-results.xlsx"' in named('C:\\files\\"evil.csv')  # no path, no quote
    assert 'filename="r_sum_-results.xlsx"' in named("résumé.csv")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9-results.xlsx" in named("résumé.csv")


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("keyed", FORMULAS)
def test_exports_never_hand_a_spreadsheet_a_formula(api: Any, world: World, keyed: str) -> None:
    """A keyed value that a spreadsheet would run (=, +, -, @, tab, carriage return first)
    is exported with a leading apostrophe in CSV and XLSX, and XLSX types it as text; JSON
    Lines keeps the value as it is (no spreadsheet reads it)."""
    batch_id = _deliver_one(api, world, {**RESULT, "applicant_name": keyed})
    url = f"/api/v1/batches/{batch_id}/results"
    [first, _] = list(csv.DictReader(io.StringIO(api("client").get(url).text)))
    assert first["applicant_name"] == "'" + keyed
    assert first["coverage_amount"] == "250000"  # numbers stay numbers
    xlsx = api("client").get(url, params={"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("applicant_name") + 1)
    # (openpyxl writes a carriage return as it is with lxml installed, as a line feed without:
    # either way the cell starts with the apostrophe, typed as text)
    assert cell.value in ("'" + keyed, "'" + keyed.replace("\r", "\n"))
    assert cell.data_type == "s"
    number = sheet.cell(row=2, column=header.index("coverage_amount") + 1)
    assert (number.value, number.data_type) == (250000, "n")
    line = api("client").get(url, params={"format": "jsonl"}).text.splitlines()[0]
    assert json.loads(line)["result"]["applicant_name"] == keyed
