"""`/readyz` on the real server (issue 21): ready when the database answers and its schema has
this release's migrations; a node started before `tandem migrate` ran answers 503 naming the
schema's revision and what to run, so the proxy sends it nothing; a schema a newer release
migrated (expand only) is served."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from tandem.core.migrate import alembic_config, schema_behind
from tests.conftest import World

SCRIPT = ScriptDirectory.from_config(alembic_config("sqlite://"))
(HEAD,) = SCRIPT.get_heads()
BEFORE = str(SCRIPT.get_revision(HEAD).down_revision)  # the previous release's schema


@pytest.fixture
def schema_at(admin_engine: Engine) -> Iterator[object]:
    """Set the schema's recorded revision for the test; put the real one back after."""
    with admin_engine.begin() as connection:
        real = connection.scalar(text("SELECT version_num FROM alembic_version"))

    def at(revision: str) -> None:
        with admin_engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    yield at
    at(real)


def test_a_schema_behind_this_release_is_not_ready(
    server: str, world: World, schema_at: object
) -> None:
    assert httpx.get(server + "/readyz").json() == {"status": "ready"}

    schema_at(BEFORE)  # type: ignore[operator]
    answer = httpx.get(server + "/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "10"
    assert BEFORE in answer.json()["detail"] and "tandem migrate" in answer.json()["detail"]

    schema_at("9999_from_the_next_release")  # type: ignore[operator]
    assert httpx.get(server + "/readyz").status_code == 200


def test_which_schemas_are_behind() -> None:
    assert schema_behind(()) is True  # no schema at all
    assert schema_behind(("0001",)) is True
    assert schema_behind((HEAD,)) is False
    assert schema_behind(("an-unknown-newer-revision",)) is False
