"""`tandem check --deploy`: each problem of a production configuration named with its fix,
from the settings and from the database itself (its role, schema, worker, clock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tandem.container import Container
from tandem.core.config import Settings, load_settings
from tandem.core.deploycheck import (
    DatabaseFacts,
    Finding,
    database_findings,
    probe,
    settings_findings,
)
from tandem.core.migrate import upgrade
from tandem.worker import run_once
from tests.conftest import APP_ROLE
from tests.conftest import TestDatabase as Database

STRONG = {
    "secret_key": "s" * 24 + "-a-long-random-secret-key",
    "master_key": "m" * 24 + "-a-long-random-master-key",
    "forwarded_allow_ips": "10.0.0.5",
}
POSTGRES = "postgresql://tandem@db.internal:5432/tandem"


def ids(findings: list[Finding]) -> list[str]:
    return [finding.id for finding in findings]


def test_the_default_keys_are_named_with_their_fix() -> None:
    found = settings_findings(load_settings(database_url=POSTGRES), api_processes=4)
    by_id = {finding.id: finding for finding in found}
    assert by_id["secret_key_default"].severity == "error"
    assert "TANDEM_SECRET_KEY" in by_id["secret_key_default"].fix
    assert "TANDEM_MASTER_KEY" in by_id["master_key_unset"].fix
    assert "tandem keys rotate" in by_id["master_key_unset"].fix
    short = settings_findings(
        load_settings(database_url=POSTGRES, secret_key="sixteen-chars-ok"), api_processes=1
    )
    assert "secret_key_short" in ids(short)


def test_a_strong_configuration_passes_the_settings_checks() -> None:
    assert settings_findings(load_settings(database_url=POSTGRES, **STRONG), api_processes=8) == []
    embedded = settings_findings(load_settings(**STRONG), api_processes=8)
    assert [(f.id, f.severity) for f in embedded] == [("embedded_database", "warning")]


@pytest.mark.parametrize(
    ("changes", "processes", "expected"),
    [
        ({"cookie_secure": False}, 1, "cookies_insecure"),
        ({"rate_limit_storage": "memory://"}, 4, "rate_limits_per_process"),
        ({"forwarded_allow_ips": "*"}, 1, "proxy_trusts_anyone"),
        ({"master_key": None, "previous_master_keys": ""}, 1, "master_key_unset"),
    ],
)
def test_each_weak_setting_is_an_error(
    changes: dict[str, Any], processes: int, expected: str
) -> None:
    settings = load_settings(database_url=POSTGRES, **{**STRONG, **changes})
    found = settings_findings(settings, api_processes=processes)
    assert ids(found) == [expected]
    assert found[0].severity == "error" and found[0].fix


def test_memory_rate_limits_are_fine_for_one_process_and_an_unset_proxy_is_a_warning() -> None:
    one = load_settings(database_url=POSTGRES, rate_limit_storage="memory://", **STRONG)
    assert settings_findings(one, api_processes=1) == []
    unnamed = {key: value for key, value in STRONG.items() if key != "forwarded_allow_ips"}
    found = settings_findings(load_settings(database_url=POSTGRES, **unnamed), api_processes=1)
    assert [(f.id, f.severity) for f in found] == [("proxy_unset", "warning")]


def test_clock_skew_over_two_seconds_and_a_stale_worker_are_named() -> None:
    settings = load_settings(database_url=POSTGRES, **STRONG)
    now = time.time()
    facts = DatabaseFacts(
        revisions=("0031",), heads=("0031",), worker_fresh_until=now + 30, checked_at=now
    )
    assert database_findings(settings, facts) == []
    skewed = DatabaseFacts(**{**facts.__dict__, "skew_seconds": -3.4})
    (finding,) = database_findings(settings, skewed)
    assert finding.id == "clock_skew" and "-3.4 s" in finding.message
    assert not database_findings(settings, DatabaseFacts(**{**facts.__dict__, "skew_seconds": 1.5}))
    stale = DatabaseFacts(**{**facts.__dict__, "worker_fresh_until": now - 100})
    (finding,) = database_findings(settings, stale)
    assert finding.id == "worker_not_running" and "160 s ago" in finding.message


def _settings_for(url: str) -> Settings:
    return load_settings(database_url=url, **STRONG)


def test_the_database_up_to_date_with_its_worker_running_passes(
    container: Container, database_url: str
) -> None:
    settings = _settings_for(database_url)
    assert ids(database_findings(settings, probe(settings))) == ["worker_not_running"]
    with httpx.Client() as http:
        run_once(container, http)  # a real pass: the worker's heartbeat
    facts = probe(settings)
    assert facts.revisions == facts.heads
    assert facts.worker_fresh_until is not None and facts.worker_fresh_until > time.time()
    assert database_findings(settings, facts) == []


@pytest.mark.postgres_only
def test_a_role_bypassing_row_level_security_is_an_error(
    test_database: Database, container: Container
) -> None:
    if test_database.admin_url is None:
        pytest.skip("PostgreSQL only")
    with httpx.Client() as http:
        run_once(container, http)
    ordinary = probe(_settings_for(test_database.url))  # tandem_app: NOSUPERUSER NOBYPASSRLS
    assert (ordinary.role, ordinary.superuser, ordinary.bypasses_rls) == (APP_ROLE, False, False)
    assert ordinary.skew_seconds is not None and abs(ordinary.skew_seconds) < 2
    superuser = _settings_for(test_database.admin_url)
    found = database_findings(superuser, probe(superuser))
    assert ids(found) == ["rls_bypassed"]
    assert "NOBYPASSRLS" in found[0].fix


@pytest.fixture
def older_database(test_database: Database, tmp_path: Path) -> Iterator[str]:
    """A database of its own migrated to 0030, one revision behind this release."""
    if test_database.admin_url is None:
        url = f"sqlite:///{tmp_path / 'older.db'}"
        upgrade(url, "0030")
        yield url
        return
    admin = make_url(test_database.admin_url)
    name = f"{admin.database}_older"
    server = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    url = make_url(test_database.url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, "0030")
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_behind_are_named(older_database: str) -> None:
    settings = _settings_for(older_database)
    facts = probe(settings)
    assert facts.revisions == ("0030",)
    found = {finding.id: finding for finding in database_findings(settings, facts)}
    assert "migrations_behind" in found
    assert "0030" in found["migrations_behind"].message
    assert "tandem migrate" in found["migrations_behind"].fix


def _tandem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    tandem = Path(sys.executable).with_name("tandem")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    return subprocess.run(
        [str(tandem), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_prints_json_and_exits_1_on_an_error(
    container: Container, database_url: str
) -> None:
    with httpx.Client() as http:
        run_once(container, http)
    strong = {f"TANDEM_{key.upper()}": value for key, value in STRONG.items()}
    sound = _tandem({"TANDEM_DATABASE_URL": database_url, **strong}, "check", "--deploy", "--json")
    assert sound.returncode == 0, sound.stderr
    report = json.loads(sound.stdout.splitlines()[-1])
    assert report["ok"] is True
    assert all(finding["severity"] == "warning" for finding in report["findings"])

    weak = _tandem(
        {"TANDEM_DATABASE_URL": database_url, **strong, "TANDEM_COOKIE_SECURE": "false"},
        "check",
        "--deploy",
        "--json",
    )
    assert weak.returncode == 1
    report = json.loads(weak.stdout.splitlines()[-1])
    assert report["ok"] is False
    cookies = [f for f in report["findings"] if f["id"] == "cookies_insecure"]
    assert cookies and cookies[0]["fix"]
    table = _tandem(
        {"TANDEM_DATABASE_URL": database_url, **strong, "TANDEM_COOKIE_SECURE": "false"},
        "check",
        "--deploy",
    )
    assert table.returncode == 1 and "cookies_insecure" in table.stdout
