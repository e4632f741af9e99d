"""Every migration's downgrade undoes its upgrade, on the database under test.

On a scratch database of its own (SQLite: a temporary file; PostgreSQL: a database created
and dropped on the server TANDEM_TEST_DATABASE_URL names, owned by the application's role as
the tests' database is), each revision in order is applied, the schema read, the next
revision applied and downgraded again, and the schema read once more: it must be the same.
The schema is what SQLAlchemy's inspector reflects (tables; columns with their types,
nullability and defaults; primary keys, indexes, unique constraints, foreign keys, check
constraints) and, as it was written, what each database keeps of its own: on SQLite the
statements of indexes and triggers; on PostgreSQL every index's and constraint's definition,
triggers, functions, sequences, types, and row-level security (relrowsecurity,
relforcerowsecurity per table and every policy of pg_policies)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeEngine

from tandem.core.migrate import alembic_config, downgrade, upgrade
from tests.conftest import APP_ROLE

Schema = dict[str, Any]


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, empty, on the kind of database under test."""
    url = os.environ.get("TANDEM_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'roundtrip.db'}"
        return
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"tandem_roundtrip_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        conn.execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    try:
        yield base.set(database=name, username=APP_ROLE, password=None).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _plain(value: Any) -> Any:
    """A reflected value made comparable: types and SQL expressions as text, whitespace
    collapsed, mappings and sequences walked."""
    if isinstance(value, TypeEngine):
        return repr(value)
    if isinstance(value, ClauseElement):
        return _plain(str(value))
    if isinstance(value, str):
        return re.sub(r"\s+", " ", value).strip()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _type(type_: TypeEngine[Any], connection: Connection) -> str:
    try:
        return str(type_.compile(dialect=connection.dialect))
    except Exception:  # a type the dialect cannot render: compared by its repr
        return repr(type_)


def _by_name(items: Sequence[Mapping[str, Any]]) -> list[Any]:
    return sorted((_plain(item) for item in items), key=repr)


def _rows(connection: Connection, sql: str) -> list[list[Any]]:
    return sorted(([_plain(v) for v in row] for row in connection.execute(text(sql))), key=repr)


def _schema(url: str) -> Schema:
    """Everything this test compares, keyed by what it is (table and aspect)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            # (alembic_version is Alembic's own bookkeeping, there from the first upgrade on)
            tables = set(inspector.get_table_names()) - {"alembic_version"}
            schema: Schema = {"tables": sorted(tables)}
            for table in schema["tables"]:
                schema[f"{table}: columns"] = {
                    column["name"]: _plain(
                        {
                            "type": _type(column["type"], connection),
                            "nullable": column["nullable"],
                            "default": column.get("default"),
                        }
                    )
                    for column in inspector.get_columns(table)
                }
                schema[f"{table}: primary key"] = _plain(inspector.get_pk_constraint(table))
                schema[f"{table}: indexes"] = _by_name(inspector.get_indexes(table))
                schema[f"{table}: unique constraints"] = _by_name(
                    inspector.get_unique_constraints(table)
                )
                schema[f"{table}: foreign keys"] = _by_name(inspector.get_foreign_keys(table))
                schema[f"{table}: check constraints"] = _by_name(
                    inspector.get_check_constraints(table)
                )
            if connection.dialect.name == "postgresql":
                schema |= _postgres(connection)
                schema["sequences"] = sorted(inspector.get_sequence_names())
            else:
                schema["indexes and triggers, as written"] = _rows(
                    connection,
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE type IN ('index', 'trigger') AND tbl_name != 'alembic_version'",
                )
            connection.rollback()
    finally:
        engine.dispose()
    return schema


def _postgres(connection: Connection) -> Schema:
    """What PostgreSQL's catalog says of the current schema beyond the inspector."""
    return {
        "row-level security (table, enabled, forced)": _rows(
            connection,
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
            "AND c.relname != 'alembic_version'",
        ),
        "policies": _rows(
            connection,
            "SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check "
            "FROM pg_policies WHERE schemaname = current_schema()",
        ),
        "index definitions": _rows(
            connection,
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename != 'alembic_version'",
        ),
        "constraint definitions": _rows(
            connection,
            "SELECT c.conrelid::regclass::text, c.conname, c.contype, "
            "pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() "
            "AND c.conrelid::regclass::text != 'alembic_version'",
        ),
        "triggers": _rows(
            connection,
            "SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid) "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT t.tgisinternal",
        ),
        "types (domains and enums)": _rows(
            connection,
            "SELECT t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), "
            "array_to_string(array(SELECT e.enumlabel FROM pg_enum e "
            "WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), ',') FROM pg_type t "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typtype IN ('d', 'e')",
        ),
        "functions": _rows(
            connection,
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid), "
            "pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()",
        ),
    }


def _differences(before: Schema, after: Schema) -> str:
    """What the downgrade left different, aspect by aspect: entries gone and entries new."""
    lines = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        if isinstance(was, dict) and isinstance(now, dict):
            was = [{name: value} for name, value in was.items()]
            now = [{name: value} for name, value in now.items()]
        if isinstance(was, list) and isinstance(now, list):
            gone = [item for item in was if item not in now]
            new = [item for item in now if item not in was]
            lines += [f"  {key}:", f"    before only: {gone!r}", f"    after only:  {new!r}"]
        else:
            lines += [f"  {key}:", f"    before: {was!r}", f"    after:  {now!r}"]
    return "\n".join(lines)


def _current(url: str) -> str | None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def _revisions(url: str) -> list[Script]:
    """The revisions from the first to the head, checked to be one straight line."""
    scripts = ScriptDirectory.from_config(alembic_config(url))
    assert len(scripts.get_heads()) == 1, "the migrations have more than one head"
    revisions = list(reversed(list(scripts.walk_revisions())))
    for previous, revision in zip([None, *revisions], revisions, strict=False):
        assert revision.down_revision == (previous.revision if previous else None)
    return revisions


def test_every_downgrade_undoes_its_upgrade(scratch_url: str) -> None:
    revisions = _revisions(scratch_url)
    assert len(revisions) > 1
    below = "base"  # the revision each step starts from and its downgrade returns to
    for revision in revisions:
        before = _schema(scratch_url)
        upgrade(scratch_url, revision.revision)
        assert _current(scratch_url) == revision.revision
        upgraded = _schema(scratch_url)
        downgrade(scratch_url, below)
        assert _current(scratch_url) == (None if below == "base" else below)
        after = _schema(scratch_url)
        assert after == before, (
            f"the downgrade of revision {revision.revision} ({revision.doc}) to {below} "
            f"does not undo its upgrade on {make_url(scratch_url).get_backend_name()}:\n"
            + _differences(before, after)
        )
        upgrade(scratch_url, revision.revision)
        assert _schema(scratch_url) == upgraded, (
            f"revision {revision.revision} upgrades to another schema after its downgrade"
        )
        below = revision.revision
