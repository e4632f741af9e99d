"""The hot path's statements are built once; SQLAlchemy must also compile them only once."""

from __future__ import annotations

import pytest
from sqlalchemy import Executable

from tandem.delivery import outbox
from tandem.dispatch import service
from tandem.dispatch.queries import claim_postgres, claim_sqlite


@pytest.mark.parametrize(
    "statement",
    [
        claim_postgres(),
        claim_sqlite(3),
        service._SUBMIT,
        service._HEARTBEAT,
        service._INSERT_EVENTS,
        service._INSERT_SUBMIT_EVENTS,
        outbox._ACTIVE_SUBSCRIPTIONS,
    ],
)
def test_statement_is_cacheable(statement: Executable) -> None:
    """A construct SQLAlchemy cannot cache (a VALUES list, say) is compiled on every call:
    tried once for the submit, it more than doubled its Python time."""
    assert statement._generate_cache_key() is not None  # type: ignore[attr-defined]
