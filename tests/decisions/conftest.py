"""What the decisions tests share: an underwriting process of the insurer, and applicants."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.decisions import underwriting as uw
from tandem.decisions.jdm import Column, Graph, Rule, expressions, table
from tandem.decisions.rulesets import publish_version
from tests.conftest import World

BASE = uw.tests()[0][1]
HIGH_RISK = {**BASE, "age": 62, "smoker": True, "bmi": 36.0, "conditions": 2}
ABROAD = {**BASE, "country": "GB"}


UNDERWRITING = ProcessDefinition(
    code="underwriting",
    name="Underwriting",
    kind="decision",
    input_schema=uw.INPUT_SCHEMA,
    form_schema=uw.RESULT_FORM,
    required_skills={"data_entry": 2},
    sla_minutes=480,
    sla_mode="24x7",
)


@pytest.fixture
def process_id(container: Container, world: World) -> uuid.UUID:
    with transaction(container.sessions) as session:
        return define_process(session, world.client_id, UNDERWRITING, now=container.clock.now()).id


# An applicant whose name and BMI the rules below carry into their trace.
NAMED = {**BASE, "applicant_name": "Maria Santos", "bmi": 36.5}
NAME_MASKED = "M••• S•••"  # as provider staff see the name in the payload


def naming_graph() -> dict[str, Any]:
    """Rules that carry personal values into their trace: an expression node copies the
    applicant's name (once upper-cased) and BMI to keys of its own, and a table refers on the
    copied BMI, setting a note from the copied name and the BMI again."""
    g = Graph()
    g.add("request", "inputNode", "Application")
    g.add(
        "facts",
        "expressionNode",
        "Facts",
        expressions(
            [
                ("applicant", "applicant_name"),
                ("shouted", "upper(applicant_name)"),
                ("body_mass", "bmi"),
            ]
        ),
    )
    g.add(
        "outcome",
        "decisionTableNode",
        "Outcome",
        table(
            [Column("Body mass", "body_mass")],
            [
                Column("Outcome", "outcome"),
                Column("Reasons", "reasons"),
                Column("Note", "note"),
                Column("BMI", "bmi_seen"),
            ],
            [
                Rule([">= 35"], ["'refer'", "['BMI_35_PLUS']", "'for ' + applicant", "body_mass"]),
                Rule([""], ["'approve'", "['STANDARD_RISK']", "null", "body_mass"]),
            ],
        ),
    )
    g.add("response", "outputNode", "Decision")
    g.chain("request", "facts", "outcome", "response")
    return g.as_json()


def naming_process(container: Container, world: World, visible: list[str]) -> uuid.UUID:
    """An application process of the insurer (a personal name, personal health data) whose
    agents see the categories `visible` in clear, deciding by naming_graph."""
    with container.context(world.client_user) as ctx:
        process = define_process(
            ctx.session,
            world.client_id,
            replace(
                UNDERWRITING,
                code="applications",
                name="Applications",
                agent_visible_personal=visible,
            ),
            now=container.clock.now(),
        )
        publish_version(
            ctx,
            process.id,
            naming_graph(),
            [("a high BMI refers", NAMED, {"outcome": "refer", "reasons": ["BMI_35_PLUS"]})],
        )
        return process.id
