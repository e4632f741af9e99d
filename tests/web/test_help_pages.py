"""The service desk's public pages in a browser: a visitor writes on a brand's contact form (a
field refused first), keeps the link the thank-you page gives, reads an agent's answer there
(never the agent's internal note) and replies, which makes the conversation work again; an
unknown link is a 404 page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tandem.container import Container
from tests.servicedesk.conftest import Desk
from tests.servicedesk.conftest import desk as desk_fixture

desk = desk_fixture  # the service desk's fixture, for these pages too

SHOTS = Path("/tmp/shots/web-channel")


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_visitor_writes_reads_the_answer_at_their_link_and_replies(
    page: Any, desk: Desk, api: Any, container: Container
) -> None:
    page.goto("/help/acme/contact")
    page.get_by_label("Your name").fill("Maria Lopez")
    page.get_by_label("Your email").fill("maria@example")  # a browser takes it; we do not
    page.get_by_label("Subject").fill("My order never came")
    page.get_by_label("Your message").fill("Order 1234 has not arrived.")
    _shoot(page, "contact-form")
    page.get_by_role("button", name="Send").click()
    error = page.locator("#email-error")
    assert "an email address such as" in error.inner_text()
    assert page.get_by_label("Your email").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Your message").input_value() == "Order 1234 has not arrived."
    _shoot(page, "contact-form-error")
    page.get_by_label("Your email").fill("maria@example.com")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]{43}/thanks$"))
    _shoot(page, "thanks")
    link = page.locator("#conversation-link").get_attribute("href")
    assert link is not None and re.fullmatch(r"/c/[A-Za-z0-9_-]{43}", link)

    lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
    conversation_id, attempt = lease["payload"]["conversation_id"], lease["attempt"]
    assert lease["payload"]["channel"] == "web"
    path = f"/api/v1/conversations/{conversation_id}"
    body = {"attempt": attempt, "text": "Internal: courier lost parcel 77"}
    _ok(api("agent").post(f"{path}/notes", json=body), 201)
    answer = "We are sorry: a new parcel leaves today."
    _ok(api("agent").post(f"{path}/replies", json={**body, "text": answer}), 201)

    page.goto(link)
    assert answer in page.locator(".said").inner_text()
    assert "courier" not in page.content()  # the note is the provider's only
    page.get_by_label("Your reply").fill("   ")
    page.get_by_label("Your reply").fill("Thank you, I will wait for it.")
    _shoot(page, "conversation")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]{43}(#latest)?$"))
    assert "Thank you, I will wait for it." in page.locator("#latest").inner_text()
    assert "Open" in page.locator(".muted").inner_text()
    _shoot(page, "conversation-replied")

    # Work again, first for the agent who answered (leased to them: their held items).
    [again] = _ok(api("agent").get("/api/v1/dispatch/leases"))
    assert again["item_id"] != lease["item_id"]
    shown_again = _ok(api("client").get(path))
    assert shown_again["work_item_id"] == again["item_id"]
    shown = _ok(api("client").get(path))
    assert [m["direction"] for m in shown["messages"]] == ["in", "note", "out", "in"]


def test_an_unknown_link_is_a_404_page(page: Any, desk: Desk) -> None:
    response = page.goto("/c/" + "Z" * 43)
    assert response.status == 404
    assert "no conversation at this link" in page.content()
    _shoot(page, "unknown-link")
