"""Personal fields at the QA desks, in a real browser on the real server and database: an
adjudicator settles a conflict on personal fields by taking a keying's value (the page
never holds the clear values, the server takes them), and a reviewer or an adjudicator
reveals a masked value with a reason, which the audit trail records."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.service import create_user
from tandem.vault.sealing import RESULT
from tandem.work.models import WorkItem
from tests.conftest import World
from tests.quality.test_personal_adjudication import (
    FIRST,
    FIRST_MASKED,
    SECOND,
    SECOND_MASKED,
    conflict,
    in_review,
    reveals_recorded,
)
from tests.web.conftest import shoot, sign_in
from tests.web.phone import WIDTHS, fits, page_at, shot

CLEAR = ("Santos", "Santoz", FIRST["account"], SECOND["account"], "Jose Rizal")


def _reviewer(container: Container, email: str) -> uuid.UUID:
    with transaction(container.sessions) as session:
        user = create_user(
            session, email=email, name=email, role="qa_reviewer", now=container.clock.now()
        )
        return user.id


def _stored(container: Container, item_id: uuid.UUID) -> WorkItem:
    with transaction(container.sessions) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.id == item_id)).one()
        session.expunge(item)
        return item


def _holds_no_clear_value(page: Any, url: str) -> None:
    """The page as the server wrote it, and as shown, holds none of the clear values."""
    written = page.request.get(url)  # the same session
    assert written.status == 200
    for html in (written.text(), page.content()):
        assert not any(clear in html for clear in CLEAR)


@WIDTHS
def test_an_adjudicator_settles_personal_fields_by_taking_a_keyings_value(
    width: int, browser: Any, server: str, container: Container, world: World, api: Any
) -> None:
    item_id, _, _ = conflict(container, world)
    _reviewer(container, "q@provider.example")

    page = page_at(browser, server, width)
    sign_in(page, container, "q@provider.example")
    page.get_by_role("link", name=f"Adjudicate {item_id}").click()
    url = f"/console/quality/adjudications/{item_id}"
    page.wait_for_url(f"**{url}")
    fits(page)
    differences = page.locator("#differences").inner_text()  # in the form's order (as stored)
    assert "2 fields differ: " in differences
    assert "Holder name" in differences and "Account" in differences
    assert "shown masked" in page.locator("#masked-note").inner_text()
    name = page.locator("tr[data-field=holder_name]")
    cells = name.locator("td").all_inner_texts()
    assert "M••• S••• (masked)" in cells[0] and "M••• S••• (masked)" in cells[1]
    assert "Differs" in cells[2]
    _holds_no_clear_value(page, url)

    # The agreed card number takes keying 1's value; nothing is filled in with a mask.
    card = page.locator("tr[data-field=card_number]")
    assert card.get_by_role("radio", name="Take keying 1's value").is_checked()
    assert card.get_by_role("textbox", name="Card number").input_value() == ""
    assert card.get_by_role("button").count() == 0  # its last four are all that is kept
    # Left unsettled, the required name's refusal is shown at its choices.
    page.get_by_role("button", name="Deliver these values").click()
    page.locator("#take-holder_name-error").wait_for()
    take_first = name.get_by_role("radio", name="Take keying 1's value")
    assert take_first.get_attribute("aria-invalid") == "true"
    # By mouse, keying 1's name; by keyboard, keying 2's account.
    take_first.click()
    assert page.locator("#take-holder_name-error").count() == 0
    account = page.locator("tr[data-field=account]")
    account.get_by_role("radio", name="Take keying 2's value").focus()
    page.keyboard.press("Space")
    assert account.get_by_role("radio", name="Take keying 2's value").is_checked()
    assert page.get_by_role("combobox", name="Decision").input_value() == "pay"  # agreed
    shot(page, "adjudication-personal")
    page.get_by_role("button", name="Deliver these values").click()
    page.wait_for_url("**/console/quality?done=adjudicated")
    assert page.get_by_text("Adjudicated: the right values are delivered.").is_visible()
    fits(page)

    item = _stored(container, item_id)
    assert (item.state, item.result) == ("delivered", SECOND_MASKED)  # masked in the row
    assert item.result_sealed is not None
    assert container.keyring.open(world.client_id, item_id, item.result_sealed, RESULT) == {
        "holder_name": FIRST["holder_name"],
        "account": SECOND["account"],
    }
    delivered = api("client").get(f"/api/v1/work-items/{item_id}").json()
    assert delivered["result"] == {
        "holder_name": "Maria Santos",
        "account": SECOND["account"],
        "card_number": FIRST_MASKED["card_number"],
        "decision": "pay",
    }
    assert reveals_recorded(container) == []  # settled without anyone seeing a value


def test_an_adjudicator_reveals_a_keyings_masked_value_with_a_reason(
    page: Any, container: Container, world: World
) -> None:
    item_id, _, _ = conflict(container, world)
    user_id = _reviewer(container, "q@provider.example")

    sign_in(page, container, "q@provider.example")
    page.goto(f"/console/quality/adjudications/{item_id}")
    name = page.locator("tr[data-field=holder_name]")
    reveal = name.get_by_role("button", name="Reveal keying 2's Holder name")
    # No reason given (the prompt dismissed): nothing is revealed, nothing recorded.
    page.once("dialog", lambda dialog: dialog.dismiss())
    reveal.click()
    assert "Santoz" not in name.inner_text()
    reason = "the names differ by a letter: checking the second one"
    page.once("dialog", lambda dialog: dialog.accept(reason))
    reveal.click()
    page.get_by_text("Revealed keying 2's Holder name").wait_for()
    cells = name.locator("td").all_inner_texts()
    assert "Maria Santoz (revealed)" in cells[1]
    assert "M••• S••• (masked)" in cells[0]  # keying 1's stays masked until revealed too
    assert reveal.count() == 0
    shoot(page, "adjudication-revealed")
    assert reveals_recorded(container) == [
        (
            f"user:{user_id}",
            f"work_item:{item_id}",
            {"fields": ["holder_name"], "of": "keying2", "reason": reason},
        )
    ]


@WIDTHS
def test_a_reviewer_sees_which_fields_are_masked_and_reveals_one_with_a_reason(
    width: int, browser: Any, server: str, container: Container, world: World, api: Any
) -> None:
    item_id = in_review(container, world)
    user_id = _reviewer(container, "q@provider.example")

    page = page_at(browser, server, width)
    sign_in(page, container, "q@provider.example")
    page.get_by_role("link", name=f"Review {item_id}").click()
    url = f"/console/quality/reviews/{item_id}"
    page.wait_for_url(f"**{url}")
    fits(page)
    assert "shown masked" in page.locator("#masked-note").inner_text()
    assert "claimant J••• R••• (masked)" in " ".join(page.locator("#source").inner_text().split())
    result = page.locator("#result")
    assert "M••• S••• (masked)" in result.inner_text()
    assert "pay" in result.inner_text() and "pay (masked)" not in result.inner_text()
    scored = page.locator("tr[data-criterion=holder_name]")
    assert "M••• S••• (masked)" in scored.inner_text()
    _holds_no_clear_value(page, url)

    # A card number is kept as its last four only: nothing more to reveal.
    assert page.get_by_role("button", name="Reveal the result's card number").count() == 0
    reason = "the scan's name is smudged: checking the spelling keyed"
    page.once("dialog", lambda dialog: dialog.accept(reason))
    page.get_by_role("button", name="Reveal the result's holder name").click()
    page.get_by_text("Revealed the result's holder name").wait_for()
    assert "Maria Santos (revealed)" in result.inner_text()
    assert "Maria Santos (revealed)" in scored.inner_text()  # wherever the page shows it
    shot(page, "quality-review-revealed")
    assert reveals_recorded(container) == [
        (
            f"user:{user_id}",
            f"work_item:{item_id}",
            {"fields": ["holder_name"], "of": "result", "reason": reason},
        )
    ]

    # Nothing failed: delivered as the agent keyed it.
    page.get_by_role("button", name="Record review").click()
    page.wait_for_url("**/console/quality?done=delivered")
    fits(page)
    delivered = api("client").get(f"/api/v1/work-items/{item_id}").json()
    assert (delivered["state"], delivered["result"]) == (
        "delivered",
        {**FIRST, "card_number": FIRST_MASKED["card_number"]},
    )
