"""Upgrades without stopping the floor (docs/deployment.md, Upgrades): this release's
migrations run while the previous release serves, and only expand its schema.

The previous release is the commit named in deploy/previous-release; its tree is taken from
git (`git archive`), never skipped: a missing commit fails the tests. Statically, every
migration since that release's head is an expand migration unless it says
`phase = "contract"`: an expand migration drops, renames and tightens nothing, and a contract
migration removes only what the previous release's models no longer map. On PostgreSQL, the
previous release migrates and seeds a database and serves it; this release migrates it while
an item is leased; then both releases serve it at once (a rolling upgrade's mixed fleet), an
item handed over, claimed, submitted and read back delivered across the two."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from tandem.core.config import Settings
from tandem.core.deploycheck import DatabaseFacts, database_findings
from tandem.core.migrate import MIGRATIONS
from tests.conftest import RESULT
from tests.database_roles import role_url, roles_and_databases

ROOT = Path(__file__).resolve().parents[1]
TANDEM = str(Path(sys.executable).with_name("tandem"))
NAMED = ROOT / "deploy/previous-release"
OWNER, APP, DATABASE = "tandem_upgrade_owner", "tandem_upgrade_app", "tandem_upgrade"
PASSWORD = "an upgrade's long passphrase"
URL = os.environ.get("TANDEM_TEST_DATABASE_URL", "")
PHASES = ("expand", "contract")

# The previous release's own models, as {table: {column: nullable}}, printed by its code.
DUMP_MODELS = (
    "import json; from tandem.models import metadata; print(json.dumps({t.name: "
    "{c.name: bool(c.nullable) for c in t.columns} for t in metadata.tables.values()}))"
)

# Seeding as the previous release would: its own tests' world, its own password rules.
SEED = """
import json, sys
from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.tenancy.models import User
from tandem.tenancy.signin import set_password
from tests.conftest import build_world

url, secret, master, password = sys.argv[1:5]
settings = Settings(database_url=url, secret_key=secret, master_key=master)
engine = make_engine(settings.sqlalchemy_url)
container = Container(
    settings=settings, engine=engine, sessions=make_sessionmaker(engine), clock=SystemClock()
)
world = build_world(container)
with transaction(container.sessions) as session:
    agent = session.query(User).filter(User.email == "a@provider.example").one()
    set_password(session, agent, password)
engine.dispose()
print(json.dumps({"tokens": world.tokens, "process_id": str(world.process_id)}))
"""


# The previous release.


def previous_release() -> str:
    """The full commit named in deploy/previous-release (its first line that is not a
    comment)."""
    lines = [line.strip() for line in NAMED.read_text().splitlines()]
    sha = next(line for line in lines if line and not line.startswith("#"))
    assert re.fullmatch(r"[0-9a-f]{40}", sha), f"{NAMED} must name a full commit, not {sha!r}"
    return sha


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the upgrade tests need git and the repository's history (a full clone)")
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)


@pytest.fixture(scope="module")
def previous_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's files, from git: fails (never skips) when the commit is missing,
    since a test that silently skips proves nothing."""
    sha = previous_release()
    if _git("cat-file", "-e", f"{sha}^{{commit}}").returncode != 0:
        pytest.fail(
            f"the previous release {sha} (deploy/previous-release) is not in this clone's "
            "history: fetch it (`git fetch --unshallow`, or a full clone) or correct the file"
        )
    archive = _git("archive", "--format=tar", sha)
    assert archive.returncode == 0, archive.stderr.decode()
    tree = tmp_path_factory.mktemp("previous-release")
    archive_file = tree.parent / "previous-release.tar"
    archive_file.write_bytes(archive.stdout)
    with tarfile.open(archive_file) as tar:
        tar.extractall(tree, filter="data")
    archive_file.unlink()
    return tree


def _revisions(versions: Path) -> dict[str, Path]:
    """Each migration's revision id, read from its source (nothing imported)."""
    found: dict[str, Path] = {}
    for path in sorted(versions.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.AnnAssign | ast.Assign)
                and _assigned(node) == "revision"
                and isinstance(node.value, ast.Constant)
            ):
                found[str(node.value.value)] = path
    return found


def _assigned(node: ast.AnnAssign | ast.Assign) -> str | None:
    target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
    return target.id if isinstance(target, ast.Name) else None


def since_previous_release(tree: Path) -> list[Path]:
    """This release's migrations that the previous release did not have, in order."""
    old = _revisions(tree / "src/tandem/migrations/versions")
    new = _revisions(MIGRATIONS / "versions")
    assert set(old) <= set(new), (
        f"migrations of the previous release are gone: {set(old) - set(new)}"
    )
    return sorted(path for revision, path in new.items() if revision not in old)


def _previous_env(tree: Path, env: dict[str, str]) -> dict[str, str]:
    """The same virtual environment, importing the previous release's package first."""
    return {**env, "PYTHONPATH": str(tree / "src")}


def previous_models(tree: Path) -> dict[str, dict[str, bool]]:
    done = subprocess.run(
        [sys.executable, "-c", DUMP_MODELS],
        env=_previous_env(tree, dict(os.environ)),
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    models: dict[str, dict[str, bool]] = json.loads(done.stdout.strip().splitlines()[-1])
    return models


# Reading a migration: its phase and what its upgrade does.


@dataclass(frozen=True)
class Removal:
    """What a migration removes from the previous release's schema: a table, a column
    (dropped or renamed away), or a column's NULLs (`tightened`)."""

    table: str
    column: str | None = None
    tightened: bool = False


EXPAND_FORBIDS = {
    "drop_table": "drops a table",
    "drop_column": "drops a column",
    "drop_constraint": "drops a constraint",
    "drop_index": "drops an index",
    "rename_table": "renames a table",
}
RAW_REMOVALS = re.compile(
    r"\bDROP\s+(TABLE|COLUMN|CONSTRAINT|INDEX)\b|\bRENAME\b|\bSET\s+NOT\s+NULL\b"
    r"|\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b",
    # SQL keywords are written in capitals in migrations; prose in docstrings is not read
)


def phase(source: str) -> str:
    """A migration's module-level `phase`; "expand" when it says nothing."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and _assigned(node) == "phase":
            assert isinstance(node.value, ast.Constant), "phase is a string literal"
            return str(node.value.value)
    return "expand"


def _upgrade_nodes(source: str) -> list[ast.AST]:
    """The module without its downgrade (helpers the upgrade calls included) nor its
    docstrings."""
    module = ast.parse(source)
    nodes = [
        node
        for top in module.body
        if not (isinstance(top, ast.FunctionDef) and top.name == "downgrade")
        for node in ast.walk(top)
    ]
    docstrings = {
        id(node.value)
        for node in nodes
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [node for node in nodes if id(node) not in docstrings]


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    return call.args[position] if len(call.args) > position else _keyword(call, name)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _batches(nodes: list[ast.AST]) -> dict[str, str | None]:
    """`with op.batch_alter_table("t") as batch:`: batch names table t."""
    batches: dict[str, str | None] = {}
    for node in nodes:
        if isinstance(node, ast.With):
            for item in node.items:
                call, alias = item.context_expr, item.optional_vars
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "batch_alter_table"
                    and isinstance(alias, ast.Name)
                ):
                    batches[alias.id] = _text(_argument(call, 0, "table_name"))
    return batches


def _calls(source: str) -> Iterator[tuple[ast.Call, str, str | None, list[ast.expr | None]]]:
    """Each `<something>.<operation>(...)` call of the upgrade: the call, the operation, the
    table a batch names (None for op.*) and its arguments after the table."""
    nodes = _upgrade_nodes(source)
    batches = _batches(nodes)
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            batch = owner.id if isinstance(owner, ast.Name) and owner.id in batches else None
            table = batches[batch] if batch else None
            args: list[ast.expr | None] = list(node.args)
            yield node, node.func.attr, table, (args if batch else args[1:]) or [None]


def expand_violations(source: str) -> list[str]:
    """What an expand migration's upgrade must not do: the previous release still runs on
    its schema (reads every column its models map, inserts naming only those)."""
    found: list[str] = []
    for call, operation, _, rest in _calls(source):
        if operation in EXPAND_FORBIDS:
            found.append(f"line {call.lineno}: {operation} {EXPAND_FORBIDS[operation]}")
        elif operation == "alter_column":
            if _keyword(call, "new_column_name") is not None:
                found.append(f"line {call.lineno}: alter_column renames a column")
            if _is_false(_keyword(call, "nullable")):
                found.append(f"line {call.lineno}: alter_column makes a column NOT NULL")
            if _keyword(call, "type_") is not None:
                found.append(f"line {call.lineno}: alter_column changes a column's type")
        elif operation == "add_column":
            column = rest[0]
            if (
                isinstance(column, ast.Call)
                and (_is_false(_keyword(column, "nullable")) or _keyword(column, "primary_key"))
                and _keyword(column, "server_default") is None
            ):
                found.append(
                    f"line {call.lineno}: add_column adds a NOT NULL column without a "
                    "server_default (the previous release's inserts do not name it)"
                )
    for node in _upgrade_nodes(source):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if RAW_REMOVALS.search(text := node.value):
            found.append(f"line {node.lineno}: SQL that removes or tightens: {text.strip()!r}")
    return found


def contract_removals(source: str) -> tuple[list[Removal], list[str]]:
    """What a contract migration removes, and what the check cannot read (it must say its
    removals with op.* and literal names)."""
    removals: list[Removal] = []
    unreadable: list[str] = []
    for call, operation, batch_table, rest in _calls(source):
        table = batch_table if batch_table is not None else _text(_argument(call, 0, "table_name"))
        column = _text(rest[0]) if operation in ("drop_column", "alter_column") else None
        if operation in ("drop_table", "rename_table"):
            if table is None:
                unreadable.append(f"line {call.lineno}: {operation} of a table named by code")
            else:
                removals.append(Removal(table))
        elif operation == "drop_column" or (
            operation == "alter_column"
            and (
                _keyword(call, "new_column_name") is not None
                or _is_false(_keyword(call, "nullable"))
                or _keyword(call, "type_") is not None
            )
        ):
            if table is None or column is None:
                unreadable.append(f"line {call.lineno}: {operation} of a column named by code")
                continue
            tightened = operation == "alter_column" and _keyword(call, "new_column_name") is None
            removals.append(Removal(table, column, tightened))
    for node in _upgrade_nodes(source):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if RAW_REMOVALS.search(text := node.value):
            unreadable.append(
                f"line {node.lineno}: SQL the check cannot read; say it with op.*: {text.strip()!r}"
            )
    return removals, unreadable


def still_used(removal: Removal, models: dict[str, dict[str, bool]]) -> str | None:
    """Why the previous release would break on this removal, or None: it maps every column
    of its models (and reads them all), so a contract may remove only what they no longer
    map, and make NOT NULL only what they never leave empty."""
    columns = models.get(removal.table)
    if columns is None:
        return None
    if removal.column is None:
        return f"the previous release's models still map table {removal.table}"
    if removal.column not in columns:
        return None
    if removal.tightened and columns[removal.column] is False:
        return None  # its models never leave it empty (a type change is judged by hand)
    return f"the previous release's models still map {removal.table}.{removal.column}"


# The static checks.


def test_the_previous_release_is_named_and_our_migrations_follow_its_head(
    previous_tree: Path,
) -> None:
    old = _revisions(previous_tree / "src/tandem/migrations/versions")
    script = ScriptDirectory(str(MIGRATIONS))
    (head,) = script.get_heads()
    below_head = {r.revision for r in script.iterate_revisions(head, "base")}
    assert set(old) <= below_head  # the previous release's chain is the start of ours
    ours = {r.revision for r in script.iterate_revisions(head, "base")} - set(old)
    assert {_revision_of(path) for path in since_previous_release(previous_tree)} == ours
    for revision in ours:  # each comes after every one of the previous release's
        ancestors = {r.revision for r in script.iterate_revisions(revision, "base")}
        assert set(old) <= ancestors, revision


def _revision_of(path: Path) -> str:
    return next(r for r, p in _revisions(path.parent).items() if p == path)


def test_migrations_since_the_previous_release_expand_unless_they_say_contract(
    previous_tree: Path,
) -> None:
    problems: dict[str, list[str]] = {}
    contracts: list[Path] = []
    for path in since_previous_release(previous_tree):
        source = path.read_text()
        said = phase(source)
        if said not in PHASES:
            problems[path.name] = [f"phase {said!r} is neither expand nor contract"]
        elif said == "contract":
            contracts.append(path)
        elif found := expand_violations(source):
            problems[path.name] = found
    assert problems == {}, (
        "an expand migration (the default) must leave the previous release's schema usable: "
        "move removals to a contract migration of the next release (docs/deployment.md)"
    )
    if not contracts:
        return
    models = previous_models(previous_tree)
    for path in contracts:
        removals, unreadable = contract_removals(path.read_text())
        reasons = [why for r in removals if (why := still_used(r, models))]
        assert unreadable + reasons == [], path.name


def test_the_checks_bite() -> None:
    """The readers above, on migrations written to break the rules."""
    bad = """
import sqlalchemy as sa
from alembic import op

def upgrade() -> None:
    op.add_column("work_items", sa.Column("lane", sa.Text(), nullable=False))
    op.add_column("work_items", sa.Column("rank", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("work_items", sa.Column("note", sa.Text()))
    op.drop_column("work_items", "legacy")
    op.alter_column("work_items", "due_at", nullable=False)
    op.alter_column("work_items", "priority", nullable=True)
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("fax")
        batch.alter_column("code", new_column_name="slug")
    op.execute("ALTER TABLE agents RENAME COLUMN x TO y")

def downgrade() -> None:
    op.drop_table("rosters")
"""
    assert phase(bad) == "expand"
    assert phase('phase = "contract"\n') == "contract"
    found = expand_violations(bad)
    assert [line.split(":")[0] for line in found] == [
        "line 6",
        "line 9",
        "line 10",
        "line 13",
        "line 14",
        "line 15",
    ], found
    removals, unreadable = contract_removals(bad)
    assert removals == [
        Removal("work_items", "legacy"),
        Removal("work_items", "due_at", tightened=True),
        Removal("clients", "fax"),
        Removal("clients", "code"),
    ]
    assert len(unreadable) == 1 and "RENAME" in unreadable[0]
    models = {"work_items": {"due_at": True, "priority": False}, "clients": {"code": False}}
    assert still_used(Removal("work_items", "legacy"), models) is None  # no longer mapped
    assert still_used(Removal("work_items", "due_at", tightened=True), models)  # left empty
    assert still_used(Removal("work_items", "priority", tightened=True), models) is None
    assert still_used(Removal("clients", "code"), models)  # renamed away while mapped
    assert still_used(Removal("work_items"), models)
    assert still_used(Removal("rosters"), models) is None


# The previous release against the new schema, beside this release (PostgreSQL).


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _url(role: str) -> str:
    return role_url(URL, role, DATABASE)


def _fresh_database() -> None:
    """Section 2 of the deployment guide: an owner, an application role, default
    privileges."""
    roles_and_databases(URL, OWNER, APP, (DATABASE,))


Schema = dict[str, dict[str, tuple[bool, bool]]]  # table: column: (nullable, has a default)


def _schema() -> Schema:
    engine = create_engine(_url(OWNER).replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            return {
                table: {
                    c["name"]: (bool(c["nullable"]), c.get("default") is not None)
                    for c in found.get_columns(table)
                }
                for table in found.get_table_names()
            }
    finally:
        engine.dispose()


def _revision() -> str:
    with psycopg.connect(_url(OWNER)) as owner:
        row = owner.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row is not None
    return str(row[0])


def _schema_changes(before: Schema, after: Schema) -> tuple[list[Removal], list[str]]:
    """What this release's migrations removed from, or tightened in, the previous schema;
    and the NOT NULL columns without a default they added to its tables (which its inserts,
    not naming them, would fail on)."""
    removals: list[Removal] = []
    required: list[str] = []
    for table, columns in before.items():
        if table not in after:
            removals.append(Removal(table))
            continue
        for column, (nullable, _) in columns.items():
            if column not in after[table]:
                removals.append(Removal(table, column))
            elif nullable and not after[table][column][0]:
                removals.append(Removal(table, column, tightened=True))
        for column, (nullable, has_default) in after[table].items():
            if column not in columns and not nullable and not has_default:
                required.append(f"{table}.{column}")
    return removals, required


class Node:
    """One `tandem serve` process, with its log."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name, self.port, self.log = name, _free_port(), logs / f"{name}.log"
        self.process = subprocess.Popen(
            [TANDEM, "serve", "--workers", "1"],  # the background jobs beside it, as by default
            env={**env, "TANDEM_PORT": str(self.port)},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} stopped:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} was not ready in {seconds} s")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def errors(self) -> list[str]:
        """Lines logged at ERROR or worse, and tracebacks."""
        found = []
        for line in self.log.read_text().splitlines():
            try:
                level = json.loads(line).get("level", "")
            except (ValueError, AttributeError):
                level = ""
            if level in ("ERROR", "CRITICAL") or "Traceback" in line:
                found.append(line[:500])
        return found


def _schema_findings(env: dict[str, str]) -> dict[str, str]:
    """`tandem check --deploy`'s findings about the schema, with their severity."""
    done = subprocess.run(
        [TANDEM, "check", "--deploy", "--json", "--workers", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        f["id"]: f["severity"]
        for f in report["findings"]
        if f["id"] in ("schema_newer", "migrations_behind")
    }


def test_a_schema_one_release_ahead_is_a_warning_and_one_behind_an_error() -> None:
    """From this release on, the code tolerates a database the next release migrated (its
    migrations only expand); a database its own migrations have not reached is an error."""
    settings = Settings(database_url="postgresql://tandem@db.internal/tandem")
    ahead = DatabaseFacts(revisions=("0099",), heads=("0034",), unknown_revisions=("0099",))
    (finding,) = database_findings(settings, ahead)
    assert (finding.id, finding.severity) == ("schema_newer", "warning")
    assert "finish rolling out" in finding.fix
    behind = DatabaseFacts(revisions=("0031",), heads=("0034",), worker_fresh_until=2e9)
    assert [(f.id, f.severity) for f in database_findings(settings, behind)] == [
        ("migrations_behind", "error")
    ]


@pytest.mark.postgres_only
def test_the_previous_release_serves_the_new_schema_beside_this_release(
    previous_tree: Path, tmp_path: Path
) -> None:
    _fresh_database()
    keys = {
        "TANDEM_SECRET_KEY": "an upgrade test's secret key, long enough to pass",
        "TANDEM_MASTER_KEY": "an upgrade test's master key, long enough to pass",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env.update(
        keys,
        TANDEM_DATABASE_URL=_url(APP),
        TANDEM_COOKIE_SECURE="false",  # plain HTTP here: no proxy in front
        TANDEM_SMTP_PORT="0",
        TANDEM_WORKER_INTERVAL_SECONDS="0.5",
        TANDEM_LOG_FORMAT="json",
    )
    env.pop("PYTHONPATH", None)
    old_env = _previous_env(previous_tree, env)
    where = subprocess.run(
        [sys.executable, "-c", "import tandem; print(tandem.__file__)"],
        env=old_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(previous_tree), where  # it runs the previous release

    # The previous release migrates and seeds the database, as it was in production.
    owner = {"TANDEM_DATABASE_URL": _url(OWNER)}
    subprocess.run(
        [TANDEM, "migrate"], env={**old_env, **owner}, check=True, capture_output=True, timeout=300
    )
    previous_head = _revision()
    assert previous_head in _revisions(previous_tree / "src/tandem/migrations/versions")
    seeded = subprocess.run(
        [sys.executable, "-c", SEED, _url(OWNER), *keys.values(), PASSWORD],
        env=old_env,
        cwd=previous_tree,  # its own tests' world
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    world = json.loads(seeded.stdout.strip().splitlines()[-1])

    def as_(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {world['tokens'][who]}"}

    def hand_over(node: Node, ref: str) -> str:
        made = httpx.post(
            f"{node.url}/api/v1/processes/{world['process_id']}/work-items",
            json={"payload": {"document_ref": ref}},
            headers=as_("client"),
        )
        assert made.status_code == 201, (node.name, made.text)
        return str(made.json()["id"])

    def claim(node: Node, item: str) -> int:
        lease = httpx.post(f"{node.url}/api/v1/dispatch/claim", headers=as_("agent"))
        assert lease.status_code == 200, (node.name, lease.text)
        assert lease.json()["item_id"] == item
        return int(lease.json()["attempt"])

    def submit(node: Node, item: str, attempt: int) -> None:
        done = httpx.post(
            f"{node.url}/api/v1/leases/{item}/submit",
            json={"attempt": attempt, "result": RESULT},
            headers=as_("agent"),
        )
        assert done.status_code == 200, (node.name, done.text)

    def delivered(node: Node, item: str) -> None:
        seen = httpx.get(f"{node.url}/api/v1/work-items/{item}", headers=as_("client"))
        assert seen.status_code == 200 and seen.json()["state"] == "delivered", (
            node.name,
            seen.text,
        )
        events = httpx.get(f"{node.url}/api/v1/work-items/{item}/events", headers=as_("client"))
        assert events.status_code == 200, (node.name, events.text)
        assert [e["to_state"] for e in events.json()][-1] == "delivered"

    def signs_in(node: Node) -> None:
        with httpx.Client(base_url=node.url) as browser:
            signed = browser.post(
                "/api/v1/auth/sign-in", json={"email": "a@provider.example", "password": PASSWORD}
            )
            assert signed.status_code == 200, (node.name, signed.text)
            assert browser.get("/api/v1/me").json()["role"] == "agent"  # by its cookie

    logs = tmp_path / "logs"
    logs.mkdir()
    nodes: list[Node] = []
    try:
        old = Node("previous", old_env, logs)
        nodes.append(old)
        old.ready()
        signs_in(old)
        in_flight = hand_over(old, "before-the-upgrade")
        attempt = claim(old, in_flight)  # leased while the migrations run

        # This release's migrations, as the owner, while the previous release serves.
        before = _schema()
        migrated = subprocess.run(
            [TANDEM, "migrate"], env={**env, **owner}, capture_output=True, text=True, timeout=300
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        assert _revision() != previous_head or not since_previous_release(previous_tree)
        removals, required = _schema_changes(before, _schema())
        models = previous_models(previous_tree)
        assert [why for r in removals if (why := still_used(r, models))] == []
        assert required == [], "NOT NULL columns without a default in the previous tables"

        new = Node("current", env, logs)
        nodes.append(new)
        new.ready()

        # The previous release on the new schema: the lease taken before the upgrade ends.
        submit(old, in_flight, attempt)
        delivered(old, in_flight)
        delivered(new, in_flight)
        # A mixed fleet: handed over on one release, worked and read on the other.
        for arrive, work in ((new, old), (old, new)):
            item = hand_over(arrive, f"from-{arrive.name}")
            submit(work, item, claim(work, item))
            delivered(arrive, item)
            delivered(work, item)
        signs_in(new)
        signs_in(old)
        # The deployment check: this release's finds the schema current; the previous
        # release's finds it newer than it knows (an error up to ec6ca21, a warning since).
        assert _schema_findings(env) == {}
        assert set(_schema_findings(old_env)) == {"schema_newer"}
        time.sleep(1.5)  # a few passes of both releases' background jobs on the new schema
        for node in nodes:
            assert node.process.poll() is None, f"{node.name} stopped"
    finally:
        for node in nodes:
            node.stop()
    for node in nodes:
        assert node.errors() == [], node.name
