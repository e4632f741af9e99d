"""An item of a decision process, on the staff's item page: the rules' decision and its
reasons as the catalogue names them, not their codes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.decisions.models import Decision
from tandem.demo import seed
from tests.web.conftest import sign_in


@pytest.fixture
def demo(container: Container) -> Container:
    seed(container, items_per_process=10)
    return container


def test_the_staff_item_page_shows_the_rules_decision_in_words(page: Any, demo: Container) -> None:
    with transaction(demo.sessions) as session:
        decided = session.scalars(
            select(Decision).where(Decision.by == "rules", Decision.outcome == "refer")
        ).first()
        assert decided is not None and decided.reasons
        item_id, code = decided.work_item_id, decided.reasons[0]
    sign_in(page, demo, "ops@tandem.example")
    page.goto(f"/console/items/{item_id}")
    decisions = page.locator("#decisions")
    assert decisions.is_visible()
    text = decisions.inner_text()
    assert "The rules" in text and "Refer" in text
    assert code not in text  # the reason reads as its label, not its code
