"""The audit trail in the database: appended in the action's transaction, refused to
updates and deletes, and every kind of tampering past that wall found by `check`, the
command line and the API."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import DatabaseError

from tandem.audit import service
from tandem.audit.chain import derive_key
from tandem.audit.models import PROVIDER, AuditRecord
from tandem.container import Container
from tandem.core.db import transaction
from tests.conftest import ROOT, World

KEY = derive_key("a secret of sixteen characters")


def _append(container: Container, count: int, client_id: int = 7, key: bytes = KEY) -> None:
    for n in range(count):
        with transaction(container.sessions) as session:
            service.record(
                session,
                key,
                client_id=client_id,
                actor="user:ops",
                action="role.grant",
                subject=f"user:{n}",
                data={"role": "team_lead", "n": n},
                now=container.clock.now(),
            )


def _problems(container: Container, key: bytes = KEY) -> list[tuple[int, int, str]]:
    with transaction(container.sessions) as session:
        found = service.check(session, key)
    return [(client, f.seq, f.problem) for client, listed in found.items() for f in listed]


@pytest.fixture
def tamper(admin_engine: Engine) -> Any:
    def run(*statements: str) -> None:
        _tamper(admin_engine, *statements)

    return run


def _tamper(admin_engine: Engine, *statements: str) -> None:
    """As someone with full access to the database would: past the append-only triggers."""
    with admin_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for statement in statements:
                conn.execute(text(statement))
            return
        triggers = _drop_triggers(conn)
        for statement in statements:
            conn.execute(text(statement))
        for sql in triggers:
            conn.execute(text(sql))


def _drop_triggers(conn: Connection) -> list[str]:
    triggers = conn.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    for name, _ in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    return [sql for _, sql in triggers]


def test_records_are_chained_in_order_and_check_intact(container: Container) -> None:
    _append(container, 5)
    _append(container, 2, client_id=8)
    with transaction(container.sessions) as session:
        seqs = session.scalars(
            select(AuditRecord.seq).where(AuditRecord.client_id == 7).order_by(AuditRecord.seq)
        ).all()
        assert service.check(session, KEY) == {7: [], 8: []}
    assert seqs == [1, 2, 3, 4, 5]
    assert _problems(container, derive_key("not the deployment's secret")) != []


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_records SET actor = 'x'", "DELETE FROM audit_records"]
)
def test_the_database_refuses_updates_and_deletes(container: Container, statement: str) -> None:
    _append(container, 2)
    with pytest.raises(DatabaseError, match="append-only"), container.engine.begin() as conn:
        conn.execute(text(statement))
    assert _problems(container) == []


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (
            ["UPDATE audit_records SET actor = 'user:someone-else' WHERE seq = 3"],
            [(7, 3, "edited")],
        ),
        (["DELETE FROM audit_records WHERE seq = 4"], [(7, 5, "deleted")]),
        (
            [
                "UPDATE audit_records SET seq = 100 WHERE seq = 2",
                "UPDATE audit_records SET seq = 2 WHERE seq = 3",
                "UPDATE audit_records SET seq = 3 WHERE seq = 100",
            ],
            [(7, 2, "out_of_order"), (7, 3, "out_of_order"), (7, 4, "out_of_order")],
        ),
        (["DELETE FROM audit_records WHERE seq >= 5"], [(7, 5, "truncated")]),
        (
            [
                "DELETE FROM audit_records WHERE seq >= 5",
                "UPDATE audit_chains SET seq = 4, last = "
                "(SELECT link FROM audit_records WHERE seq = 4)",
            ],
            [(7, 4, "edited")],  # the rewound head's seal no longer matches
        ),
    ],
    ids=["edit", "delete", "reorder", "truncate", "truncate-and-rewind-head"],
)
def test_tampering_is_found_and_named(
    container: Container,
    tamper: Any,
    statements: list[str],
    expected: list[tuple[int, int, str]],
) -> None:
    _append(container, 6)
    tamper(*statements)
    assert _problems(container) == expected


def test_concurrent_appends_to_one_chain_lose_nothing(container: Container) -> None:
    errors: list[BaseException] = []

    def append() -> None:
        try:
            _append(container, 25)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with transaction(container.sessions) as session:
        count = session.scalar(select(func.count()).select_from(AuditRecord))
    assert count == 100
    assert _problems(container) == []


@pytest.fixture
def cli_env(container: Container, database_url: str) -> Iterator[dict[str, str]]:
    yield {
        "TANDEM_DATABASE_URL": database_url,
        "TANDEM_SECRET_KEY": container.settings.secret_key,
        "PATH": "",
    }


def _tandem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tandem.cli", "audit", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_line_verifies_and_exports(
    container: Container, cli_env: dict[str, str], tmp_path: Any, tamper: Any
) -> None:
    _append(container, 4, key=derive_key(container.settings.secret_key))
    ok = _tandem(cli_env, "verify")
    assert ok.returncode == 0 and "1 chain(s) intact" in ok.stderr, ok.stderr
    exported = tmp_path / "trail.jsonl"
    assert _tandem(cli_env, "export", "7", "-o", str(exported)).returncode == 0
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4] and lines[0]["data"]["role"]
    csv_file = tmp_path / "trail.csv"
    assert _tandem(cli_env, "export", "7", "-o", str(csv_file), "--format", "csv").returncode == 0
    assert csv_file.read_text().splitlines()[0].startswith("client_id,seq,at,actor")
    tamper("DELETE FROM audit_records WHERE seq = 2")
    broken = _tandem(cli_env, "verify")
    assert broken.returncode == 1
    assert "client 7, record 3: deleted" in broken.stderr, broken.stderr


def test_security_officers_check_and_export_over_http_and_exports_are_audited(
    container: Container, world: World, api: Any, person_token: Any
) -> None:
    set_policy = api("ops").put(
        f"/api/v1/processes/{world.process_id}/quality-policy", json={"mode": "full_review"}
    )
    assert set_policy.status_code == 200, set_policy.text
    officer = person_token("security_officer")
    checked = officer.get("/api/v1/audit/check")
    assert checked.status_code == 200 and checked.json()["intact"], checked.text
    exported = officer.get("/api/v1/audit/records", params={"client_id": world.client_id})
    assert exported.status_code == 200
    (line,) = [json.loads(row) for row in exported.text.splitlines()]
    assert (line["action"], line["subject"]) == (
        "quality_policy.set",
        f"process:{world.process_id}",
    )
    assert api("agent").get("/api/v1/audit/check").status_code == 403
    assert api("client").get("/api/v1/audit/check").status_code == 403
    provider = officer.get("/api/v1/audit/records", params={"client_id": PROVIDER, "format": "csv"})
    assert "audit.export" in provider.text


@pytest.fixture
def person_token(container: Container, server: str) -> Iterator[Any]:
    from tandem.tenancy.service import create_user, issue_token

    clients: list[httpx.Client] = []

    def make(role: str) -> httpx.Client:
        with transaction(container.sessions) as session:
            user = create_user(
                session,
                email=f"{role}@example.com",
                name=role,
                role=role,
                now=container.clock.now(),
            )
            token = issue_token(session, user.id, "test", container.clock.now())
        clients.append(httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def _checkpoint(container: Container) -> bool:
    with transaction(container.sessions) as session:
        return service.checkpoint(session, KEY, now=container.clock.now())


def test_a_whole_chain_removed_is_found_by_the_checkpoints(
    container: Container, tamper: Any
) -> None:
    """Records and head of one client's chain deleted together left every remaining chain
    intact, and nothing to notice; the provider's chain keeps checkpoints of every chain's
    length and last link, so the removal (or a rewrite of its past) is named."""
    _append(container, 3, client_id=7)
    _append(container, 2, client_id=8)
    assert _checkpoint(container) is True
    assert _checkpoint(container) is False  # nothing moved: no new checkpoint
    _append(container, 1, client_id=8)
    assert _checkpoint(container) is True
    assert _problems(container) == []
    tamper(
        "DELETE FROM audit_records WHERE client_id = 8",
        "DELETE FROM audit_chains WHERE client_id = 8",
    )
    assert _problems(container) == [(8, 3, "chain_removed")]
    with transaction(container.sessions) as session:
        assert [f.problem for f in service.check(session, KEY, 8)[8]] == ["chain_removed"]
        assert service.check(session, KEY, 7) == {7: []}


def test_a_malformed_checkpoint_is_a_finding(container: Container, tamper: Any) -> None:
    _append(container, 1, client_id=7)
    assert _checkpoint(container) is True
    tamper(
        f"UPDATE audit_records SET data = '{{\"chains\": 5}}' WHERE action = '{service.CHECKPOINT}'"
    )
    problems = {problem for _, _, problem in _problems(container)}
    assert {"checkpoint_malformed", "edited"} <= problems
