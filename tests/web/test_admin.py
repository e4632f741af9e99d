"""Administration in a real browser: a client admin adds a user, changes their role and
deactivates them, each audited; a bad email is shown at the email field; a provider admin
defines a process through the schema editor, whose live preview redraws the form while
typing and shows where the JSON breaks; client admins are refused the provider's pages; an
ops manager gives an agent skills, a clearance, a language and shifts, adds an agent and
deactivates one, while a planner sees the workforce read only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tandem.audit.models import PROVIDER, AuditRecord
from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.models import Client, User
from tandem.tenancy.service import create_user
from tandem.workforce.models import Agent, AgentClearance, AgentLanguage, AgentSkill, Shift, Skill
from tests.conftest import World
from tests.web.conftest import shoot, sign_in

PROVIDER_ADMIN = "p@provider.example"


def _provider_admin(container: Container) -> None:
    with transaction(container.sessions) as session:
        create_user(
            session,
            email=PROVIDER_ADMIN,
            name="P",
            role="provider_admin",
            now=container.clock.now(),
        )


def _user(container: Container, email: str) -> User | None:
    with transaction(container.sessions) as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is not None:
            session.expunge(user)
        return user


def test_a_client_admin_adds_a_user_changes_their_role_and_deactivates_them(
    page: Any, container: Container, world: World
) -> None:
    sign_in(page, container, "c@insurer.example")
    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Administration"
    ).click()
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Users and roles"
    ).click()
    page.wait_for_url("**/console/admin/users")
    role = page.get_by_label("Role *", exact=True)  # the star marks it required
    # A client admin gives client roles only, in their own client: no client to choose.
    assert role.locator("option").all_inner_texts() == [
        "client admin",
        "client user",
        "client system",
    ]
    assert page.get_by_label("Client", exact=True).count() == 0
    page.get_by_label("Email").fill("new@insurer.example")
    page.get_by_label("Name").fill("Nina New")
    role.select_option("client_user")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_url("**/console/admin/users?added=*")
    row = page.locator("tr", has_text="new@insurer.example")
    assert "Insurer" in row.inner_text()
    added = _user(container, "new@insurer.example")
    assert added is not None and added.role == "client_user"
    assert added.client_id == world.client_id

    page.get_by_label("Role of new@insurer.example", exact=True).select_option("client_admin")
    page.get_by_role("button", name="Save role of new@insurer.example").click()
    page.locator("#toast").get_by_text("new@insurer.example is now client admin.").wait_for()
    changed = _user(container, "new@insurer.example")
    assert changed is not None and changed.role == "client_admin"
    shoot(page, "admin-users")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate new@insurer.example").click()
    page.locator("#toast").get_by_text("new@insurer.example is deactivated.").wait_for()
    assert row.locator("[data-active]").inner_text() == "no"
    gone = _user(container, "new@insurer.example")
    assert gone is not None and not gone.active

    with transaction(container.sessions) as session:
        records = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.subject == f"user:{added.id}")
            .order_by(AuditRecord.seq)
        ).all()
        trail = [(r.client_id, r.action, r.actor, r.data) for r in records]
    actor = f"user:{world.client_user.user_id}"
    assert trail == [
        (
            world.client_id,
            "user.create",
            actor,
            {"role": "client_user", "email": "new@insurer.example"},
        ),
        (
            world.client_id,
            "user.role_change",
            actor,
            {"before": "client_user", "after": "client_admin"},
        ),
        (world.client_id, "user.deactivate", actor, {"role": "client_admin"}),
    ]


def test_a_bad_email_is_shown_at_the_email_field(
    page: Any, container: Container, world: World
) -> None:
    sign_in(page, container, "c@insurer.example")
    page.goto("/console/admin/users")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Name").fill("Nobody")
    page.get_by_role("button", name="Add user").click()
    email = page.get_by_label("Email")
    error = page.locator("#add-email-error")
    error.wait_for()
    assert "pattern" in error.inner_text()
    assert email.get_attribute("aria-invalid") == "true"
    assert "add-email-error" in (email.get_attribute("aria-describedby") or "")
    assert page.evaluate("document.activeElement.id") == "add-email"
    assert page.locator("#add-name-error").count() == 0
    assert _user(container, "not-an-email") is None


INPUT_WITH_ENUM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["claim_ref", "channel"],
    "properties": {
        "claim_ref": {"type": "string", "minLength": 1},
        "channel": {"enum": ["email", "post", "phone"], "description": "How it came in"},
        "holder": {"type": "string", "x-personal": "nmae"},
    },
}
RESULT_FORM = {
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {"enum": ["pay", "refer", "decline"]},
        "fraud_suspected": {"type": "boolean"},
        "decided_on": {"type": "string", "format": "date"},
        "amount": {"type": "number", "minimum": 0},
        "notes": {"type": "string", "maxLength": 4000},
    },
}


def test_a_provider_admin_defines_a_process_in_the_schema_editor(
    page: Any, container: Container, world: World
) -> None:
    _provider_admin(container)
    sign_in(page, container, PROVIDER_ADMIN)
    page.goto("/console/admin/processes")
    assert page.get_by_role("cell", name="Keying", exact=True).count() == 2  # both clients'
    page.get_by_role("link", name="Define a process").click()
    page.wait_for_url("**/console/admin/processes/new")

    page.get_by_label("Client *", exact=True).select_option(label="Insurer (insurer)")
    page.get_by_label("Code").fill("claims_triage")
    page.get_by_label("Name *", exact=True).fill("Claims triage")
    page.get_by_label("Kind").select_option("decision")
    page.get_by_label("SLA in minutes").fill("120")
    page.get_by_label("SLA clock").select_option("24x7")
    page.get_by_label("Data entry").fill("2")

    editor = page.get_by_label("Input schema (JSON)")
    preview = page.locator("#input_schema-preview")
    error = page.locator("#input_schema-error")
    text = json.dumps(INPUT_WITH_ENUM, indent=2)
    # Typed up to the last brace: the JSON does not parse, the error is at the textarea.
    editor.fill(text[:-1])
    error.wait_for()
    assert "does not parse" in error.inner_text()
    assert editor.get_attribute("aria-invalid") == "true"
    assert preview.get_by_label("Channel").count() == 0  # still the last version that parsed
    assert "last version" in preview.get_by_role("status").inner_text()
    # The closing brace: the preview redraws with a select for the enum, the error goes.
    editor.press("Control+End")
    page.keyboard.type("}")
    channel = preview.get_by_label("Channel")
    channel.wait_for()
    assert channel.evaluate("node => node.tagName") == "SELECT"
    assert channel.locator("option").all_inner_texts() == ["(choose)", "email", "post", "phone"]
    assert error.count() == 0 and editor.get_attribute("aria-invalid") is None
    assert preview.get_by_text("personal: nmae").is_visible()

    form = page.get_by_label("Result schema (JSON)")
    form.fill(json.dumps(RESULT_FORM, indent=2))
    result = page.locator("#form_schema-preview")
    assert result.get_by_label("Decision").evaluate("n => n.tagName") == "SELECT"
    assert result.get_by_label("Fraud suspected").get_attribute("type") == "checkbox"
    assert result.get_by_label("Decided on").get_attribute("type") == "date"
    assert result.get_by_label("Amount").get_attribute("type") == "number"
    assert result.get_by_label("Notes").evaluate("n => n.tagName") == "TEXTAREA"

    # The server's error on a property of the schema comes back at the schema's textarea.
    page.get_by_role("button", name="Define process").click()
    error.wait_for()
    assert "properties.holder: x-personal must be one of" in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "input_schema"
    editor.fill(text.replace('"nmae"', '"name"'))
    assert error.count() == 0
    page.get_by_label("name", exact=True).check()  # agents may see names
    shoot(page, "admin-process-editor")

    page.get_by_role("button", name="Define process").click()
    page.wait_for_url("**/console/admin/processes?added=claims_triage")
    assert page.get_by_role("cell", name="Claims triage").is_visible()
    with transaction(container.sessions) as session:
        process = session.scalars(select(Process).where(Process.code == "claims_triage")).one()
        assert process.client_id == world.client_id
        assert process.kind == "decision"
        assert process.sla_minutes == 120 and process.sla_mode == "24x7"
        assert process.required_skills == {"data_entry": 2}
        assert process.agent_visible_personal == ["name"]
        assert process.input_schema["properties"]["channel"]["enum"] == ["email", "post", "phone"]
        assert process.input_schema["properties"]["holder"]["x-personal"] == "name"
        assert process.form_schema == RESULT_FORM


def test_a_provider_admin_adds_a_client_and_sees_agents_with_their_skills(
    page: Any, container: Container, world: World
) -> None:
    _provider_admin(container)
    sign_in(page, container, PROVIDER_ADMIN)
    page.goto("/console/admin")
    tabs = page.get_by_role("navigation", name="Administration")
    tabs.get_by_role("link", name="Clients").click()
    page.wait_for_url("**/console/admin/clients")
    page.get_by_label("Code").fill("Bad Code")
    page.get_by_label("Name").fill("Bank")
    page.get_by_label("Time zone").fill("Europe/Nowhere")
    page.get_by_role("button", name="Add client").click()
    page.locator("#client-code-error").wait_for()
    assert page.locator("#client-timezone-error").count() == 0  # pydantic answers first
    page.get_by_label("Code").fill("bank")
    page.get_by_role("button", name="Add client").click()
    page.locator("#client-timezone-error").wait_for()
    assert "Europe/Nowhere" in page.locator("#client-timezone-error").inner_text()
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Country").fill("XX")
    page.get_by_role("button", name="Add client").click()
    page.locator("#client-country-error").wait_for()
    assert "no public holidays known" in page.locator("#client-country-error").inner_text()
    page.get_by_label("Country").fill("de")
    page.get_by_role("button", name="Add client").click()
    page.wait_for_url("**/console/admin/clients?added=bank")
    assert "DE" in page.locator("#admin-clients tbody tr", has_text="bank").inner_text()
    with transaction(container.sessions) as session:
        bank = session.scalars(select(Client).where(Client.code == "bank")).one()
        assert (bank.name, bank.timezone, bank.country) == ("Bank", "Europe/Berlin", "DE")

    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Agents and skills"
    ).click()
    page.wait_for_url("**/console/admin/agents")
    manila = page.get_by_role("region", name="Manila MNL")
    rows = manila.locator("tbody tr.agent")
    assert rows.count() == 2
    assert "a@provider.example" in manila.inner_text()
    assert rows.first.get_by_text("Data entry 3").is_visible()
    assert "en C1" in rows.first.inner_text()
    assert "Insurer, Retailer" in rows.first.inner_text()
    assert "Mon 00:00 24h" in rows.first.inner_text()
    # A provider admin manages the workforce: each agent has an editor, drawn when opened.
    assert page.get_by_text("Read only").count() == 0
    assert rows.first.get_by_role("button", name="Edit Test Agent").is_visible()
    assert manila.locator("tr.editor").count() == 0
    shoot(page, "admin-agents")


def test_a_client_admin_cannot_open_the_providers_pages(
    page: Any, container: Container, world: World
) -> None:
    sign_in(page, container, "c@insurer.example")
    page.goto("/console/admin")
    tabs = page.get_by_role("navigation", name="Administration")
    assert tabs.get_by_role("link").all_inner_texts() == [
        "Users and roles",
        "Processes",
        "API keys",  # their client's (tests/web/test_custody_pages.py)
    ]
    for url in ("/console/admin/clients", "/console/admin/agents"):
        response = page.goto(url)
        assert response.status == 403
        assert page.get_by_role("heading", name="Forbidden").is_visible()
        assert "Retailer" not in page.content() and "Manila" not in page.content()
    # The processes page is theirs, with their own client's processes only.
    page.goto("/console/admin/processes")
    assert page.get_by_role("cell", name="Keying", exact=True).count() == 1


def test_a_provider_admin_gives_any_role_and_picks_the_client_for_client_roles(
    page: Any, container: Container, world: World
) -> None:
    _provider_admin(container)
    sign_in(page, container, PROVIDER_ADMIN)
    page.goto("/console/admin/users")
    table = page.locator("table").inner_text()
    assert "c@retailer.example" in table and "o@provider.example" in table  # everyone's
    role = page.get_by_label("Role *", exact=True)
    client = page.get_by_label("Client", exact=True)
    groups = role.locator("optgroup")
    assert [g.get_attribute("label") for g in groups.all()] == ["Provider roles", "Client roles"]
    role.select_option("qa_reviewer")
    assert client.is_disabled()  # provider staff belong to no client
    role.select_option("client_user")
    assert client.is_enabled()
    page.get_by_label("Email").fill("u@retailer.example")
    page.get_by_label("Name *", exact=True).fill("Uma")
    page.get_by_role("button", name="Add user").click()
    page.locator("#add-client-error").wait_for()  # a client role needs its client
    client.select_option(label="Retailer (retailer)")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_url("**/console/admin/users?added=*")
    assert "Retailer" in page.locator("tr", has_text="u@retailer.example").inner_text()
    added = _user(container, "u@retailer.example")
    assert added is not None and added.client_id == world.other_client_id
    # Provider staff are offered provider roles only, client users client roles only.
    ops = page.get_by_label("Role of o@provider.example", exact=True)
    assert "client user" not in ops.locator("option").all_inner_texts()
    assert "team lead" in ops.locator("option").all_inner_texts()
    uma = page.get_by_label("Role of u@retailer.example", exact=True)
    assert uma.locator("option").all_inner_texts() == [
        "client admin",
        "client user",
        "client system",
    ]


def _agent_of(container: Container, email: str) -> Agent:
    with transaction(container.sessions) as session:
        agent = session.scalars(
            select(Agent).join(User, User.id == Agent.user_id).where(User.email == email)
        ).one()
        session.expunge(agent)
        return agent


def test_an_ops_manager_gives_an_agent_a_skill_and_a_clearance_in_the_page(
    page: Any, container: Container, world: World
) -> None:
    with transaction(container.sessions) as session:
        session.add(Skill(code="claims", name="Claims handling"))
    other = _agent_of(container, "b@provider.example")  # cleared for the retailer only
    with container.sessions() as session:  # the dispatcher has cached their queues
        assert {c for c, _ in container.dispatcher.servable(session, other.id)} == {
            world.other_client_id
        }
    sign_in(page, container, "o@provider.example")
    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Administration"
    ).click()
    tabs = page.get_by_role("navigation", name="Administration")
    assert tabs.get_by_role("link").all_inner_texts() == ["Processes", "Agents and skills"]
    tabs.get_by_role("link", name="Agents and skills").click()
    page.wait_for_url("**/console/admin/agents")
    row = page.locator("tr.agent", has_text="b@provider.example")
    editor = page.locator(f"#edit-{other.id}")
    edit = row.get_by_role("button", name="Edit Test Agent")
    edit.focus()  # by keyboard
    page.keyboard.press("Enter")
    editor.wait_for()
    assert edit.get_attribute("aria-expanded") == "true"
    assert edit.get_attribute("aria-controls") == f"edit-{other.id}"
    assert editor.get_by_role("group", name="Change Test Agent").is_visible()
    skills = editor.get_by_role("form", name="Skills")
    claims = skills.get_by_label("Claims handling")
    claims.fill("7")
    skills.get_by_role("button", name="Save skills").click()
    error = page.locator(f"#skill-{other.id}-claims-error")
    error.wait_for()
    assert "less than or equal to 5" in error.inner_text()
    assert claims.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == f"skill-{other.id}-claims"
    claims.fill("4")
    claims.press("Enter")  # submits the form
    page.locator("#toast").get_by_text("Saved the skills of Test Agent.").wait_for()
    assert claims.get_attribute("aria-invalid") is None
    assert row.locator("[data-cell=skills]").inner_text() == "Claims handling 4, Data entry 3"

    clearances = editor.get_by_role("form", name="Clearances")
    clearances.get_by_label("Insurer", exact=True).check()
    clearances.get_by_role("button", name="Save clearances").click()
    page.locator("#toast").get_by_text("Saved the clearances of Test Agent.").wait_for()
    assert row.locator("[data-cell=clearances]").inner_text() == "Insurer, Retailer"

    languages = editor.get_by_role("form", name="Languages")
    languages.get_by_label("Language 2", exact=True).fill("fil")
    languages.get_by_label("Level of language 2").select_option("B2")
    languages.get_by_label("Level of language 1").select_option("")  # English: removed
    languages.get_by_role("button", name="Save languages").click()
    page.locator("#toast").get_by_text("Saved the languages of Test Agent.").wait_for()
    assert row.locator("[data-cell=languages]").inner_text() == "fil B2"

    shifts = editor.get_by_role("form", name="Weekly shifts")
    shifts.get_by_label("Day of shift 1", exact=True).select_option("")  # Monday: removed
    shifts.get_by_label("Day of shift 8", exact=True).select_option("Monday")
    shifts.get_by_label("Hours of shift 8", exact=True).fill("8.5")
    shifts.get_by_role("button", name="Save shifts").click()
    start = page.locator(f"#shift-start-{other.id}-7-error")  # the start is missing
    start.wait_for()
    assert page.evaluate("document.activeElement.id") == f"shift-start-{other.id}-7"
    shifts.get_by_label("Start of shift 8", exact=True).fill("09:30")
    shifts.get_by_role("button", name="Save shifts").click()
    page.locator("#toast").get_by_text("Saved the shifts of Test Agent.").wait_for()
    assert row.locator("[data-cell=shifts]").inner_text().startswith("Mon 09:30 8.5h, Tue")
    shoot(page, "admin-agent-editor")
    page.keyboard.press("Escape")  # closes the editor, back to its button
    assert editor.is_hidden()
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == (
        f"edit-{other.id}"
    )

    with transaction(container.sessions) as session:
        held = session.execute(
            select(AgentSkill.skill_code, AgentSkill.level)
            .where(AgentSkill.agent_id == other.id)
            .order_by(AgentSkill.skill_code)
        ).all()
        assert held == [("claims", 4), ("data_entry", 3)]
        cleared = session.scalars(
            select(AgentClearance.client_id).where(AgentClearance.agent_id == other.id)
        ).all()
        assert sorted(cleared) == sorted([world.client_id, world.other_client_id])
        assert session.execute(
            select(AgentLanguage.language, AgentLanguage.cefr).where(
                AgentLanguage.agent_id == other.id
            )
        ).all() == [("fil", "B2")]
        monday = session.execute(
            select(Shift.start_minute, Shift.duration_minutes).where(
                Shift.agent_id == other.id, Shift.weekday == 0
            )
        ).all()
        assert monday == [(570, 510)]
        actions = session.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.subject == f"agent:{other.id}", AuditRecord.client_id == PROVIDER)
            .order_by(AuditRecord.seq)
        ).all()
        assert actions == ["agent.skills", "agent.clearances", "agent.languages", "agent.shifts"]
        cleared = session.scalars(  # and on the chain of the client newly cleared
            select(AuditRecord.action).where(
                AuditRecord.subject == f"agent:{other.id}", AuditRecord.client_id != PROVIDER
            )
        ).all()
        assert cleared == ["agent.clearance"]
    # Held from the agent's next claim: the dispatcher forgot what it had cached.
    with container.sessions() as session:
        assert {c for c, _ in container.dispatcher.servable(session, other.id)} == {
            world.client_id,
            world.other_client_id,
        }


def test_an_ops_manager_adds_an_agent_and_deactivates_them(
    page: Any, container: Container, world: World
) -> None:
    with transaction(container.sessions) as session:
        create_user(
            session,
            email="new@provider.example",
            name="Nia",
            role="analyst",
            now=container.clock.now(),
        )
    sign_in(page, container, "o@provider.example")
    page.goto("/console/admin/agents")
    add = page.locator("#add-agent")
    user = add.get_by_label("Sign-in", exact=True)
    # Provider users with an agent role and no profile yet: not the world's agents.
    assert user.locator("option").all_inner_texts() == ["(none)", "new@provider.example (analyst)"]
    add.get_by_role("button", name="Add agent").click()
    page.locator("#agent-name-error").wait_for()  # a name is needed
    add.get_by_label("Name *", exact=True).fill("Nia Nakamura")
    add.get_by_label("Delivery center *", exact=True).select_option("MNL")
    add.get_by_label("Tier *", exact=True).select_option("analyst")
    user.select_option(label="new@provider.example (analyst)")
    add.get_by_role("button", name="Add agent").click()
    page.wait_for_url("**/console/admin/agents?added=*")
    agent = _agent_of(container, "new@provider.example")
    assert (agent.name, agent.tier, agent.center_code, agent.active) == (
        "Nia Nakamura",
        "analyst",
        "MNL",
        True,
    )
    # The new agent's editor is open, its first control focused, to give skills next.
    page.locator(f"#edit-{agent.id}").wait_for()
    page.wait_for_function(f"document.activeElement.id === 'skill-{agent.id}-data_entry'")
    assert page.get_by_role("status").get_by_text("Added Nia Nakamura").is_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate Nia Nakamura").click()
    page.locator("#toast").get_by_text("Nia Nakamura is deactivated.").wait_for()
    row = page.locator("tr.agent", has_text="new@provider.example")
    assert row.locator("[data-cell=active]").inner_text() == "no"
    assert row.get_by_role("button").count() == 0
    assert page.locator(f"#edit-{agent.id}").count() == 0
    assert not _agent_of(container, "new@provider.example").active


def test_a_planner_sees_the_workforce_read_only(
    page: Any, container: Container, world: World
) -> None:
    with transaction(container.sessions) as session:
        create_user(
            session,
            email="plan@provider.example",
            name="Pat",
            role="wfm_planner",
            now=container.clock.now(),
        )
    sign_in(page, container, "plan@provider.example")
    page.goto("/console/admin")
    tabs = page.get_by_role("navigation", name="Administration")
    assert tabs.get_by_role("link").all_inner_texts() == ["Agents and skills"]
    tabs.get_by_role("link", name="Agents and skills").click()
    page.wait_for_url("**/console/admin/agents")
    assert page.get_by_text("Read only").is_visible()
    assert page.locator("tr.agent").count() == 2
    assert page.get_by_role("button", name="Edit Test Agent").count() == 0
    assert page.locator("#add-agent, tr.editor, form").count() == 1  # the sign-out form only
    assert page.goto("/console/admin/users").status == 403


def test_a_decision_process_form_is_drafted_from_a_clients_graph(
    page: Any, container: Container, world: World, tmp_path: Path
) -> None:
    """A client with rules made in GoRules' editor: its graph drafts the input schema (the
    editor's preview redraws), and the process becomes a decision process; a file that is
    not JSON is named at the file input."""
    _provider_admin(container)
    sign_in(page, container, PROVIDER_ADMIN)
    page.goto("/console/admin/processes/new")
    graph = Path(__file__).parents[1] / "decisions" / "jdm_graphs" / "loan-approval.json"
    page.get_by_label("Draft it from a decision graph").set_input_files(str(graph))
    preview = page.locator("#input_schema-preview")
    preview.get_by_label("Creditscore").wait_for()
    drafted = json.loads(page.get_by_label("Input schema (JSON)").input_value())
    assert drafted["properties"]["creditScore"] == {"type": "number"}
    assert page.get_by_label("Kind").input_value() == "decision"
    shoot(page, "admin-process-drafted")
    broken = tmp_path / "rules.json"
    broken.write_text("{not json")
    page.get_by_label("Draft it from a decision graph").set_input_files(str(broken))
    page.locator("#draft-graph-error").wait_for()
    assert "rules.json is not JSON" in page.locator("#draft-graph-error").inner_text()


def test_a_provider_admin_lands_on_a_page_they_can_use_and_sees_no_portal_link(
    page: Any, container: Container, world: World
) -> None:
    """The portal is a client's: a provider admin signed in to its 404 before."""
    _provider_admin(container)
    response = None

    def landed(r: Any) -> None:
        nonlocal response
        if r.request.resource_type == "document":
            response = r

    page.on("response", landed)
    sign_in(page, container, PROVIDER_ADMIN)
    assert response is not None and response.status == 200, page.url
    assert "/console/portal" not in page.url
    sections = page.get_by_role("navigation", name="Sections").get_by_role("link")
    assert "Portal" not in sections.all_inner_texts()
    for href in [link.get_attribute("href") for link in sections.all()]:
        assert page.request.get(f"{href}").status == 200, href  # every link opens
