"""Logs operators can use, through the real HTTP server: a request id on every answer (the
caller's own if sane), in problem details and on the request's JSON log lines with the
caller; never a personal value sent in a body or a query."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tandem.core import logs
from tests.conftest import World, _free_port

NAME = "Ottilie Quackenbush"  # a person's name, sent in bodies and queries: never logged
EMAIL = "ottilie.quackenbush@example.org"


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines written while the test runs, as the production handler writes them."""
    stream = io.StringIO()
    handler = logs.handler(stream, "json")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_every_answer_carries_a_request_id_the_callers_if_sane(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        fresh = client.get("/healthz").headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", fresh)
        assert client.get("/healthz").headers["X-Request-ID"] != fresh
        given = "edge-7f3a.retry_2"
        assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == (
            given
        )
        for bad in ("has spaces in it", "x" * 65, "<script>", "ünïcode"):
            answer = client.get("/healthz", headers={"X-Request-ID": bad.encode()})
            replaced = answer.headers["X-Request-ID"]
            assert replaced != bad and re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_a_problem_carries_the_request_id(api: Any) -> None:
    missing = api("client").get(f"/api/v1/work-items/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["request_id"] == missing.headers["X-Request-ID"]
    unknown = api("client").get("/no/such/page", headers={"X-Request-ID": "trace-42"})
    assert unknown.status_code == 404
    assert unknown.json()["request_id"] == "trace-42" == unknown.headers["X-Request-ID"]
    anonymous = api("nobody").get("/api/v1/me")
    assert anonymous.status_code == 401
    assert anonymous.json()["request_id"] == anonymous.headers["X-Request-ID"]


def test_log_lines_are_json_with_the_request_and_caller_never_personal_data(
    api: Any, world: World, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    client = api("client")
    created = client.post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"document_ref": NAME}, "external_ref": EMAIL},
        headers={"X-Request-ID": "submit-1"},
    )
    assert created.status_code == 201, created.text
    refused = client.post(
        f"/api/v1/processes/{world.process_id}/work-items",
        json={"payload": {"document_ref": "x", "applicant_name": NAME}},
    )
    assert refused.status_code == 422
    found = client.get("/api/v1/work-items", params={"external_ref": EMAIL})
    assert found.status_code == 200
    signed_out = api("nobody").post("/api/v1/auth/sign-in", json={"email": EMAIL, "password": NAME})
    assert signed_out.status_code == 401

    lines = [line for line in log_lines() if line["logger"] != "httpx"]  # the test's client
    written = "\n".join(json.dumps(line) for line in lines)
    assert NAME not in written and EMAIL not in written
    assert "ottilie" not in written.lower()

    access = [line for line in lines if line["logger"] == "tandem.access"]
    submit = next(line for line in access if line["request_id"] == "submit-1")
    assert submit["level"] == "INFO" and submit["time"]
    assert submit["method"] == "POST"
    assert submit["path"] == "/api/v1/processes/{process_id}/work-items"  # the template
    assert submit["status"] == 201 and submit["duration_ms"] >= 0
    assert submit["actor"] == f"user:{world.client_user.user_id}"
    assert submit["client_id"] == world.client_id
    by_status = {line["status"]: line for line in access}
    assert by_status[422]["request_id"] == refused.headers["X-Request-ID"]
    assert by_status[401]["request_id"] == signed_out.headers["X-Request-ID"]
    assert "actor" not in by_status[401]  # no caller known
    listing = next(line for line in access if line["path"] == "/api/v1/work-items")
    assert listing["status"] == 200 and "?" not in json.dumps(listing)


def test_text_logs_for_a_terminal_name_the_request_too(
    server: str,
) -> None:
    stream = io.StringIO()
    handler = logs.handler(stream, "text")
    access = logging.getLogger("tandem.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        with httpx.Client(base_url=server) as client:
            client.get("/healthz", headers={"X-Request-ID": "terminal-1"})
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)
    line = stream.getvalue().strip().splitlines()[-1]
    assert "GET /healthz 200" in line and "request_id=terminal-1" in line


def test_tandem_serve_writes_json_lines_and_no_access_line_of_uvicorns(
    database_url: str, tmp_path: Path
) -> None:
    """The command itself: its logging configured for every API process it starts."""
    port = _free_port()
    tandem = Path(sys.executable).with_name("tandem")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env = {**clean, "TANDEM_DATABASE_URL": database_url, "TANDEM_SMTP_PORT": "0"}
    errors = (tmp_path / "stderr").open("w+")
    command = [str(tandem), "serve", "--port", str(port), "--workers", "1", "--no-with-worker"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/healthz?who={EMAIL}",
                    headers={"X-Request-ID": "serve-1"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "tandem serve did not start"
                time.sleep(0.2)
        assert answer.headers["X-Request-ID"] == "serve-1"
    finally:
        process.terminate()
        process.wait(timeout=20)
    errors.seek(0)
    lines = [json.loads(line) for line in errors.read().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "tandem.access"]
    assert any(line["request_id"] == "serve-1" and line["status"] == 200 for line in access)
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert EMAIL not in json.dumps(lines)
