"""Applying the Alembic migrations that ship inside the package."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


@cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """This release's head revisions, and every revision it ships."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    known = frozenset(r.revision for r in script.walk_revisions())
    return frozenset(script.get_heads()), known


def schema_behind(revisions: Sequence[str]) -> bool:
    """Whether a schema at `revisions` lacks this release's migrations: each is one this
    release ships but not its head (or there is no schema at all). A schema at a revision this
    release does not know was migrated by the next one, whose migrations only expand it
    (docs/deployment.md, Upgrades): not behind."""
    heads, known = _revisions()
    return not heads <= set(revisions) and all(r in known for r in revisions)


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
