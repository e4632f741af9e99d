"""What the decisions tests share: an underwriting process of the insurer, and applicants."""

from __future__ import annotations

import uuid

import pytest

from tandem.catalog.service import define_process
from tandem.db import transaction
from tandem.decisions import underwriting as uw
from tandem.http import Container
from tests.conftest import World

BASE = uw.tests()[0][1]
HIGH_RISK = {**BASE, "age": 62, "smoker": True, "bmi": 36.0, "conditions": 2}
ABROAD = {**BASE, "country": "GB"}


@pytest.fixture
def process_id(container: Container, world: World) -> uuid.UUID:
    with transaction(container.sessions) as session:
        return define_process(
            session,
            client_id=world.client_id,
            code="underwriting",
            name="Underwriting",
            kind="decision",
            input_schema=uw.INPUT_SCHEMA,
            form_schema=uw.RESULT_FORM,
            required_skills={"data_entry": 2},
            sla_minutes=480,
            sla_mode="24x7",
            now=container.clock.now(),
        ).id
