"""The custody pages in a real browser, each as the role that may use it, at 1280 and 390 px:
a security officer checks the audit trail (intact, then where it breaks) and downloads a
chain; rotates a client's key through a confirmation and follows the re-sealing; sets a
client's retention period (a bad one is refused at the field, and the message goes when it
is put right), previews what a purge removes now and purges it on confirmation. A client
admin makes an API key (its secret shown once, copied), and revokes it. Roles without the
permission see no link to these pages and get the console's 403 page for them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text

from tandem.audit.models import AuditRecord
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.custody import keys
from tandem.tenancy.models import ApiKey, Client
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user
from tandem.web.custody import duration, removed
from tandem.work.models import WorkItem
from tests.conftest import World
from tests.custody.test_preview import delivered, personal_process
from tests.web.conftest import shoot, sign_in

SECURITY = "s@provider.example"
CLIENT_ADMIN = "c@insurer.example"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _open_tab(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Administration"
    ).click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name=name).click()


def _both_widths(page: Any, name: str) -> None:
    """Screenshots at 1280 and 390 px; nothing wider than the phone's screen at 390."""
    page.set_viewport_size(DESKTOP)
    shoot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than a phone"
    shoot(page, f"{name}-390")
    page.set_viewport_size(DESKTOP)


def _tamper(admin_engine: Engine, statement: str) -> None:
    """As someone with full access to the database would: past the append-only triggers."""
    with admin_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(statement))
            return
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        for name, _ in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        conn.execute(text(statement))
        for _, sql in triggers:
            conn.execute(text(sql))


# -- the audit trail -------------------------------------------------------------------------


def test_a_security_officer_checks_the_trail_and_downloads_a_chain(
    page: Any, container: Container, world: World, api: Any, admin_engine: Engine
) -> None:
    for days in (30, 60, 90):  # three records on the insurer's chain
        put = api("security").put(
            f"/api/v1/clients/{world.client_id}/retention", json={"days": days}
        )
        assert put.status_code == 200
    sign_in(page, container, SECURITY)
    _open_tab(page, "Audit trail")
    page.wait_for_url("**/console/admin/audit")
    insurer = page.get_by_role("row", name="Insurer")
    assert "No records yet" not in insurer.inner_text()
    page.get_by_role("button", name="Run the check").click()
    result = page.locator("#check-result")
    result.get_by_text("Intact.", exact=True).wait_for()
    assert "3 chains checked" in result.inner_text()
    assert "UTC" in result.inner_text()
    _both_widths(page, "custody-audit-intact")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the chain of Insurer as CSV").click()
    download = downloading.value
    assert download.suggested_filename == "audit-insurer-2026-03-04.csv"
    lines = open(download.path(), encoding="utf-8").read().splitlines()  # noqa: SIM115
    assert lines[0] == "client_id,seq,at,actor,action,subject,data,previous,link"
    assert len(lines) == 4
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the chain of Insurer as JSON Lines").click()
    assert downloading.value.suggested_filename == "audit-insurer-2026-03-04.jsonl"

    _tamper(
        admin_engine,
        f"UPDATE audit_records SET actor = 'user:someone-else' "
        f"WHERE client_id = {world.client_id} AND seq = 2",
    )
    page.get_by_label("Chain to check").select_option(label="Insurer")
    page.get_by_role("button", name="Run the check").click()
    page.wait_for_url("**/console/admin/audit?check=*")
    result.get_by_text("Broken.", exact=True).wait_for()
    row = result.get_by_role("row", name="Insurer")
    assert "Breaks at record 2" in row.inner_text()
    assert "Record 2: Changed after it was written" in row.inner_text()
    assert "edited" not in row.inner_text()  # words, not the finding's code
    _both_widths(page, "custody-audit-broken")


# -- encryption keys -------------------------------------------------------------------------


def test_a_security_officer_rotates_a_key_and_follows_the_resealing(
    page: Any, container: Container, world: World, clock: ManualClock
) -> None:
    process_id = personal_process(container, world.client_id, "Applications")
    for _ in range(3):
        delivered(container, world, process_id)
    sign_in(page, container, SECURITY)
    _open_tab(page, "Encryption keys")
    page.wait_for_url("**/console/admin/keys")
    row = page.locator(f'#key-status tr[data-client="{world.client_id}"]')
    assert "Version 1" in row.inner_text() and "Never rotated" in row.inner_text()
    _both_widths(page, "custody-keys")

    # The first attempt fails (the server is busy): the dialog says so; the retry clears it.
    failures = {"left": 1}

    def busy_once(route: Any) -> None:
        if failures["left"] and route.request.method == "POST":
            failures["left"] -= 1
            route.fulfill(
                status=503,
                content_type="application/problem+json",
                body='{"title": "Service unavailable", "status": 503, '
                '"detail": "the database is busy or unreachable; try again shortly"}',
            )
            return
        route.fallback()

    page.route("**/api/v1/clients/*/key-rotations", busy_once)
    page.get_by_role("button", name="Rotate the key of Insurer…").click()
    dialog = page.get_by_role("dialog", name="Rotate the key of Insurer?")
    assert "key version 2" in dialog.inner_text()
    dialog.get_by_role("button", name="Rotate the key").click()
    alert = dialog.get_by_role("alert")
    alert.get_by_text(
        "The key was not rotated: the database is busy or unreachable; try again shortly."
    ).wait_for()
    _both_widths(page, "custody-keys-confirm-error")
    with transaction(container.sessions) as session:
        assert session.get_one(Client, world.client_id).key_version == 1
    dialog.get_by_role("button", name="Rotate the key").click()
    status = page.locator("#rotate-result")
    status.get_by_text("The key of Insurer is now version 2.", exact=False).wait_for()
    assert dialog.count() == 0  # closed, its error gone with it
    assert "Re-sealing" in row.inner_text()
    assert "3 items still under an older key" in row.inner_text()
    assert row.locator("progress").count() == 1
    _both_widths(page, "custody-keys-resealing")

    # The worker re-seals, 42 seconds later: the page follows by itself.
    clock.advance(timedelta(seconds=42))
    with transaction(container.sessions) as session:
        for _ in range(4):
            keys.advance(session, container.keyring, clock.now(), key=container.audit_key)
    row.get_by_text("Done", exact=True).wait_for(timeout=10_000)
    assert "3 values re-sealed in 42 s" in row.inner_text()
    assert "Version 2" in row.inner_text()
    history = page.get_by_role("table", name="Rotations").locator("tbody tr").first
    assert "S (s@provider.example)" in history.inner_text()  # who, not an id
    assert "42 s" in history.inner_text()
    _both_widths(page, "custody-keys-done")

    # A rotation asked for while another re-seals supersedes it: said so, not "done".
    security = Principal(uuid.UUID(int=5), "security_officer", None, None)
    with container.context(security) as ctx:
        keys.rotate(ctx, world.other_client_id)
    clock.advance(timedelta(minutes=5))
    with container.context(security) as ctx:
        keys.rotate(ctx, world.other_client_id)
    page.reload()
    retailer = page.get_by_role("table", name="Rotations").locator("tbody tr", has_text="Retailer")
    assert "Superseded" in retailer.last.inner_text()
    assert "Still re-sealing" in retailer.first.inner_text()


# -- retention -------------------------------------------------------------------------------


def test_a_security_officer_sets_retention_previews_a_purge_and_confirms_it(
    page: Any, container: Container, world: World, clock: ManualClock
) -> None:
    process_id = personal_process(container, world.client_id, "Applications")
    old = [delivered(container, world, process_id) for _ in range(2)]
    clock.advance(timedelta(days=40))
    recent = delivered(container, world, process_id)
    sign_in(page, container, SECURITY)
    _open_tab(page, "Retention")
    page.wait_for_url("**/console/admin/retention")
    page.get_by_label("Client").select_option(label="Insurer")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/console/admin/retention?client={world.client_id}")
    assert "Kept until the contract ends." in page.locator("#period-now").inner_text()
    assert "no retention period is set" in page.locator("#retention-parts").inner_text()

    days = page.get_by_label("Days after an item is done")
    days.fill("0")
    page.get_by_role("button", name="Save the period").click()
    error = page.locator("#retention-days-error")
    error.get_by_text("Give a whole number of days, from 1 to 36,500.").wait_for()
    assert days.get_attribute("aria-invalid") == "true"
    _both_widths(page, "custody-retention-error")
    days.fill("30")
    assert error.count() == 0  # cleared as soon as it is put right
    page.get_by_role("button", name="Save the period").click()
    page.wait_for_url("**saved=1")
    assert "30 days" in page.locator("#period-now").inner_text()

    summary = page.locator("#preview-summary")
    assert "2 items" in summary.inner_text()
    assert "UTC" in summary.inner_text()
    preview_row = page.get_by_role("row", name="Applications")
    assert "2026-03-04" in preview_row.inner_text()
    _both_widths(page, "custody-retention-preview")

    page.get_by_role("button", name="Purge now…").click()
    dialog = page.get_by_role("dialog", name="Purge Insurer's personal data now?")
    assert "cannot be undone" in dialog.inner_text()
    _both_widths(page, "custody-retention-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    assert dialog.count() == 0
    with transaction(container.sessions) as session:
        assert session.get_one(WorkItem, (world.client_id, old[0])).purged_at is None
    page.get_by_role("button", name="Purge now…").click()
    dialog.get_by_role("button", name="Purge 2 items").click()
    page.locator("#purge-result").get_by_text("Purged the personal data of 2 items.").wait_for()
    assert "Nothing is due" in page.locator("#retention-parts").inner_text()
    report = page.get_by_role("table").last.locator("tbody tr").first
    assert "Retention period" in report.inner_text()
    assert "2 items" in report.inner_text()
    _both_widths(page, "custody-retention-purged")
    with transaction(container.sessions) as session:
        assert all(
            session.get_one(WorkItem, (world.client_id, item)).purged_at is not None for item in old
        )
        assert session.get_one(WorkItem, (world.client_id, recent)).purged_at is None
        actor = session.scalars(
            select(AuditRecord.actor).where(AuditRecord.action == "personal_data.purge")
        ).one()
        assert actor.startswith("user:")


# -- API keys --------------------------------------------------------------------------------


def test_a_client_admin_makes_an_api_key_sees_it_once_and_revokes_it(
    browser: Any, server: str, container: Container, world: World
) -> None:
    context = browser.new_context(base_url=server, viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    sign_in(page, container, CLIENT_ADMIN)
    _open_tab(page, "API keys")
    page.wait_for_url("**/console/admin/api-keys")
    assert "No API keys yet." in page.locator("#api-keys-list").inner_text()
    # A client admin's keys are their client's: no client to choose.
    assert page.get_by_role("combobox", name="Client").count() == 0

    page.get_by_role("button", name="Make the key").click()  # no name: said at the field
    name = page.get_by_label("Name")
    page.locator("#key-name-error").get_by_text("Give the key a name").wait_for()
    assert name.get_attribute("aria-invalid") == "true"
    _both_widths(page, "custody-api-keys-error")
    name.evaluate("(input) => { input.value = 'x'.repeat(101); }")  # past maxlength: the server's
    page.get_by_role("button", name="Make the key").click()
    page.locator("#key-name-error").get_by_text("at most 100 characters").wait_for()
    name.fill("Claims intake")
    assert page.locator("#key-name-error").count() == 0
    permissions = page.get_by_role("group", name="What the key may do")
    assert permissions.get_by_label("Hand work over").is_checked()
    permissions.get_by_label("Export results").check()
    page.get_by_role("button", name="Make the key").click()
    secret = page.locator("#new-key")
    secret.get_by_role("heading", name="Copy the key now: you will not see it again").wait_for()
    key = page.get_by_role("textbox", name="The key").input_value()
    assert key.startswith("tdk_")
    secret.get_by_role("button", name="Copy").click()
    secret.get_by_text("Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == key
    row = page.locator("#api-keys-list tbody tr", has_text="Claims intake")
    assert "Hand work over, Read items and results, Export results" in row.inner_text()
    assert "Active" in row.inner_text() and "C (c@insurer.example)" in row.inner_text()
    assert "client:" not in row.inner_text()
    _both_widths(page, "custody-api-keys-secret")
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {key}"}) as http:
        assert http.get("/api/v1/work-items").status_code == 200
        secret.get_by_role("button", name="I have copied it").click()
        assert secret.is_hidden() and page.locator("#new-key-value").input_value() == ""
        page.reload()
        assert key not in page.content()  # shown once: never again

        page.get_by_role("button", name="Revoke the key Claims intake…").click()
        dialog = page.get_by_role("dialog", name="Revoke the key “Claims intake”?")
        dialog.get_by_role("button", name="Revoke the key").click()
        page.locator("#toast").get_by_text("Revoked the key “Claims intake”.").wait_for()
        assert "Revoked" in row.inner_text()
        assert row.get_by_role("button").count() == 0
        _both_widths(page, "custody-api-keys-revoked")
        assert http.get("/api/v1/work-items").status_code == 401
    with transaction(container.sessions) as session:
        (made,) = session.scalars(select(ApiKey)).all()
        assert made.client_id == world.client_id and made.revoked_at is not None
    context.close()


def test_a_provider_admin_makes_a_key_for_a_client_chosen(
    page: Any, container: Container, world: World
) -> None:
    with transaction(container.sessions) as session:
        create_user(
            session,
            email="p@provider.example",
            name="P",
            role="provider_admin",
            now=container.clock.now(),
        )
    sign_in(page, container, "p@provider.example")
    page.goto("/console/admin/api-keys")
    page.get_by_label("Name").fill("Retail feed")
    page.get_by_role("button", name="Make the key").click()
    client = page.get_by_role("combobox", name="Client")
    page.locator("#key-client-error").wait_for()
    client.select_option(label="Retailer")
    assert page.locator("#key-client-error").count() == 0
    page.get_by_role("button", name="Make the key").click()
    page.locator("#new-key").get_by_role("heading").wait_for()
    row = page.locator("#api-keys-list tbody tr", has_text="Retail feed")
    assert "Retailer" in row.inner_text()
    with transaction(container.sessions) as session:
        assert session.scalars(select(ApiKey.client_id)).all() == [world.other_client_id]


# -- who may open them -----------------------------------------------------------------------

PAGES = {
    "API keys": "/console/admin/api-keys",
    "Audit trail": "/console/admin/audit",
    "Encryption keys": "/console/admin/keys",
    "Retention": "/console/admin/retention",
}


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        (SECURITY, {"Audit trail", "Encryption keys", "Retention"}),
        (CLIENT_ADMIN, {"API keys"}),
        ("o@provider.example", set()),  # an ops manager: the section, none of these
        ("a@provider.example", set()),  # an agent: not even the section
    ],
)
def test_only_those_with_the_permission_see_and_open_the_pages(
    page: Any, container: Container, world: World, email: str, allowed: set[str]
) -> None:
    sign_in(page, container, email)
    page.goto("/console")
    sections = page.get_by_role("navigation", name="Sections").get_by_role("link")
    shown: set[str] = set()
    if "Administration" in sections.all_inner_texts():
        page.goto("/console/admin")
        tabs = page.get_by_role("navigation", name="Administration").get_by_role("link")
        shown = set(tabs.all_inner_texts())
        cards = set(page.locator("ul.cards h2").all_inner_texts())  # the section's home
        assert cards & set(PAGES) == allowed
    assert shown & set(PAGES) == allowed
    for label, url in PAGES.items():
        for path in (url, url + ("/table" if label == "API keys" else "")):
            response = page.goto(path)
            assert response is not None
            if label in allowed:
                assert response.status == 200, (label, path)
            else:
                assert response.status == 403, (label, path, response.status)
                assert page.get_by_role("heading", level=1).inner_text() == "Forbidden"
    if "Retention" in allowed:  # a client not there: the 404 page
        response = page.goto("/console/admin/retention?client=999999")
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"


def test_counts_and_durations_read_as_words() -> None:
    assert removed({"work_items": 2, "documents": 1, "keyings": 0}) == "2 items, 1 document"
    assert removed({"qa_gold_items": 3, "processes": 1}) == "Gold items: 3, Processes: 1"
    assert removed({"work_items": 0}) == "Nothing"
    assert [duration(s) for s in (0.4, 42, 60, 185, 7_200, 7_260, 200_000)] == [
        "0 s",
        "42 s",
        "1 min",
        "3 min 5 s",
        "2 h",
        "2 h 1 min",
        "2 days 7 h",
    ]


@pytest.mark.parametrize("width", (1280, 390))
def test_the_custody_pages_have_no_serious_accessibility_violation(
    browser: Any, server: str, container: Container, world: World, api: Any, width: int
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    process_id = personal_process(container, world.client_id, "Applications")
    delivered(container, world, process_id)
    assert (
        api("security")
        .put(f"/api/v1/clients/{world.client_id}/retention", json={"days": 1})
        .is_success
    )
    with transaction(container.sessions) as session:
        create_user(
            session,
            email="p@provider.example",
            name="P",
            role="provider_admin",
            now=container.clock.now(),
        )
    container.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, container, "p@provider.example")
    found = []
    for path in [*PAGES.values(), "/console/admin/audit?check=all"]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        results = Axe().run(page)
        found += [
            f"{path}: {violation['id']} ({violation['impact']}): {violation['help']}"
            for violation in results.response["violations"]
            if violation["impact"] in {"serious", "critical"}
        ]
    page.goto("/console/admin/retention")
    page.get_by_role("button", name="Purge now…").click()
    results = Axe().run(page)
    found += [
        f"purge dialog: {violation['id']}: {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]
    context.close()
    assert not found, "\n".join(found)
