"""PostgreSQL's second wall around documents: a transaction naming one client sees and
writes none of another client's documents."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tandem.container import Container
from tests.conftest import World
from tests.documents import samples
from tests.documents.test_service import hand_over

pytestmark = pytest.mark.postgres_only


def test_a_transaction_naming_a_client_sees_only_its_documents(
    api: Any, world: World, container: Container
) -> None:
    hand_over(api, world, samples.image("PNG"))
    response = api("other_client").post(
        f"/api/v1/processes/{world.other_process_id}/work-items/with-document",
        data={"payload": '{"document_ref": "r.png"}'},
        files={"document": ("r.png", samples.image("PNG"), "image/png")},
    )
    assert response.status_code == 201, response.text
    with container.engine.connect() as conn, conn.begin():
        assert set(conn.scalars(text("SELECT client_id FROM documents"))) == {
            world.client_id,
            world.other_client_id,
        }
        conn.execute(
            text("SELECT set_config('tandem.client_id', :c, true)"), {"c": str(world.client_id)}
        )
        assert set(conn.scalars(text("SELECT client_id FROM documents"))) == {world.client_id}
    with (
        pytest.raises(DBAPIError, match="row-level security"),
        container.engine.connect() as conn,
        conn.begin(),
    ):
        conn.execute(
            text("SELECT set_config('tandem.client_id', :c, true)"), {"c": str(world.client_id)}
        )
        conn.execute(
            text("UPDATE documents SET client_id = :other"), {"other": world.other_client_id}
        )
