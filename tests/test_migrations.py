"""The migrations build exactly the schema the models declare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from tandem.core.migrate import downgrade, upgrade
from tandem.models import metadata


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    if engine.dialect.name == "sqlite":
        # SQLite does not reflect the expression ("priority DESC") of the claim index, so
        # autogenerate always sees it as changed there; PostgreSQL compares it in full.
        differences = [
            d
            for d in differences
            if not (
                d[0] in ("add_index", "remove_index") and d[1].name == "ix_work_items_claimable"
            )
        ]
    # The knowledge base's full-text index is the database's own (migration 0027), in no
    # model: SQLite's FTS5 table (and its shadow tables), PostgreSQL's tsvector column and index.
    differences = [d for d in differences if not _full_text_index(d)]
    assert differences == []


def _full_text_index(difference: tuple[Any, ...]) -> bool:
    kind = difference[0]
    if kind == "remove_table":
        return str(difference[1].name).startswith("knowledge_articles_fts")
    if kind == "remove_index":
        return difference[1].name == "ix_knowledge_articles_search"
    if kind == "remove_column":
        return (difference[2], difference[3].name) == ("knowledge_articles", "search")
    return False


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    """Every revision's downgrade undoes its upgrade (on a scratch SQLite file)."""
    url = f"sqlite:///{tmp_path / 'migrations.db'}"
    upgrade(url)
    downgrade(url, "0001")
    downgrade(url, "base")
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert {"rulesets", "decisions", "work_items"} <= tables
