from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tandem.core.db import make_engine
from tandem.models import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "", budgets=None)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
