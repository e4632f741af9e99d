"""The service desk in a real browser, end to end: a customer writes by email (smtplib to
Tandem's real SMTP server), an agent takes it with `n`, reads the thread masked, leaves an
internal note and answers from the console; the worker's mail pass hands the reply to a real
SMTP sink; the customer's answer (smtplib again) reopens the conversation, which is work
again, and the agent takes it again. At 1280 px and at 390 px (a phone: the page never
scrolls sideways)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.intake.service import submit_item
from tandem.servicedesk import macros, replies, surveys
from tandem.servicedesk.models import Conversation, Message
from tandem.tenancy.principal import SYSTEM
from tests.servicedesk import conftest as desks
from tests.servicedesk import test_email_out as email_out
from tests.servicedesk.test_email_in import FIRST
from tests.web.conftest import shoot, sign_in

desk = desks.desk  # Tandem's real SMTP server on a free port, a brand for each client
sink = desks.sink  # a real SMTP sink, as a relay takes what Tandem sends

WIDTHS = (1280, 390)
ON_ITS_WAY: dict[str, Any] = {
    "title": "Parcel on its way",
    "body": "Hello {{customer.first_name}},\nyour parcel is on its way.",
    "add_tags": ["shipping"],
}


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), "the page scrolls sideways"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_customer_writes_an_agent_answers_from_the_console_and_the_reply_reopens_it(
    browser: Any,
    server: str,
    container: Container,
    desk: desks.Desk,
    sink: desks.Sink,
    width: int,
) -> None:
    # An earlier conversation of the same customer, solved: the agent sees it listed.
    desk.send(FIRST.replace("first-1@", "older-1@").replace("has not arrived", "was damaged"))
    with container.context(SYSTEM) as ctx:
        older = ctx.session.scalars(select(Conversation)).one()
        replies.change_state(ctx, older.id, "solve", reason="answered by phone")
    container.clock.advance(timedelta(days=2))
    desk.send(FIRST)  # the customer writes
    with container.context(SYSTEM) as ctx:  # the brand's ready answer
        macros.create(ctx, desk.brand_id, macros.MacroDefinition(**ON_ITS_WAY))
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, container, "a@provider.example")
    page.keyboard.press("n")  # takes it
    page.wait_for_url(re.compile(r"/console/work/[0-9a-f-]+$"))
    page.locator(".lease-status").wait_for()
    thread = page.locator(".thread")
    assert "still have not received the parcel" in thread.inner_text()
    assert page.locator("h1").inner_text() == "My parcel has not arrived"
    html = page.content()
    # Masked as the agent may see it: never the customer's address, nor their name in clear.
    assert "maria@example.com" not in html and "m•••@example.com" not in html
    assert "Maria Santos" not in html
    side = page.locator(".desk-side").inner_text()
    assert "My parcel was damaged" in side and "Solved" in side
    _no_sideways_scroll(page)
    shoot(page, f"desk-conversation-{width}")

    # An internal note: stored, marked internal, never sent.
    page.get_by_label("An internal note (never sent)").check()
    assert page.get_by_label("Then leave it").is_hidden()
    page.get_by_label("Message").fill("Carrier says: out for delivery.")
    page.get_by_role("button", name="Add the note").click()
    note = page.locator(".message.note")
    note.wait_for()
    page.wait_for_load_state()  # the page reloaded: its script binds the composer again
    assert "Internal note" in note.inner_text() and "out for delivery" in note.inner_text()

    # An empty reply is refused at its field, before anything is sent.
    page.get_by_label("A reply to the customer").check()
    page.get_by_role("button", name="Send the reply").click()
    assert page.locator("#composer-text-error").inner_text() == "Write something first."
    assert page.get_by_label("Message").get_attribute("aria-invalid") == "true"

    # The reply, with a macro (Alt+M): its text holds the customer's first name as a variable
    # (the agent never sees the name), left pending on the customer, tagged; by Ctrl+Enter.
    page.keyboard.press("Alt+m")
    page.get_by_label("Use a macro").select_option(label="Parcel on its way")
    assert page.get_by_label("Message").input_value() == ON_ITS_WAY["body"]
    assert "adds the tag shipping" in page.locator("#macro-note").inner_text()
    assert not page.locator("#composer-text-error").is_visible()  # the empty text's error cleared
    _no_sideways_scroll(page)
    shoot(page, f"desk-macro-{width}")
    page.get_by_label("Message").press("Control+Enter")
    page.wait_for_url("**/console/work?done=*")
    conversation = _conversation_of(container, desk)
    assert conversation.state == "pending" and conversation.pending_on == "customer"
    assert conversation.tags == ["shipping"]
    assert email_out._send(container, sink.relay) == 1  # the worker's mail pass
    [(_, rcpt_tos, sent)] = sink.received
    assert rcpt_tos == ["maria@example.com"]
    text = sent.get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Maria,\nyour parcel is on its way.")
    assert "out for delivery" not in sent.as_string()  # the note stays inside

    # The customer answers from their mail client: the conversation reopens, work again.
    desk.send(
        "From: Maria Santos <maria@example.com>\n"
        f"To: {sent['Reply-To']}\n"
        "Subject: Re: My parcel has not arrived\n"
        "Message-ID: <again-1@mail.example.com>\n"
        f"In-Reply-To: {sent['Message-ID']}\n"
        f"References: <first-1@mail.example.com> {sent['Message-ID']}\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "It has not come yet, sorry.\n"
    )
    conversation = _conversation_of(container, desk)
    assert conversation.state == "open"
    page.goto("/console/work")
    page.keyboard.press("n")  # claimable again: the agent takes it
    page.wait_for_url(re.compile(r"/console/work/[0-9a-f-]+$"))
    page.locator(".lease-status").wait_for()
    assert page.locator(".thread > li").count() == 4
    assert [
        c.split()[-1]
        for c in page.locator(".thread > li").evaluate_all("ls => ls.map(l => l.className)")
    ] == ["in", "note", "out", "in"]
    assert "It has not come yet" in page.locator(".thread > li").last.inner_text()
    sending = page.locator(".message.out .sending").inner_text()
    assert sending.startswith("Sent")
    _no_sideways_scroll(page)
    shoot(page, f"desk-reopened-{width}")
    with transaction(container.sessions) as session:
        stored = session.scalars(
            select(Message).where(Message.conversation_id == conversation.id)
        ).all()
    assert sorted(m.direction for m in stored) == ["in", "in", "note", "out"]

    # Solved this time; the customer is asked how we did, by mail, and answers at the link.
    page.get_by_label("Message").fill("It arrives tomorrow morning.")
    page.get_by_label("Then leave it").select_option("solved")
    page.get_by_role("button", name="Send the reply").click()
    page.wait_for_url("**/console/work?done=*")
    assert surveys.send_due(
        container.sessions, container.clock, container.keyring, public_url=server, days=14
    )
    # The reply, and the surveys of both conversations (the older one was solved too).
    assert email_out._send(container, sink.relay) == 3
    [asked] = [
        mail.get_content()
        for _, _, mail in sink.received
        if "/s/" in mail.get_content() and "has not arrived" in str(mail["Subject"])
    ]
    link = re.search(r"/s/[A-Za-z0-9_-]{43}", asked)
    assert link is not None, asked
    customer = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    survey = customer.new_page()
    survey.goto(link.group(0))
    survey.get_by_role("button", name="Good, I'm satisfied").click()
    assert survey.get_by_role("heading", name="Thank you for your answer").is_visible()
    customer.close()
    context.close()

    client = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
    portal = client.new_page()
    sign_in(portal, container, "c@insurer.example")
    portal.goto("/console/portal/satisfaction")
    assert "100% satisfied, of 1 answered" in portal.locator("#satisfaction-total").inner_text()
    client.close()


def _conversation_of(container: Container, desk: desks.Desk) -> Conversation:
    """The customer's latest conversation (the one of the test's first mail)."""
    with transaction(container.sessions) as session:
        found = session.scalars(
            select(Conversation)
            .where(Conversation.brand_id == desk.brand_id)
            .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        ).first()
        assert found is not None
        return found


def test_an_item_of_a_ticket_process_keeps_the_generic_form(
    page: Any, container: Container, desk: desks.Desk
) -> None:
    """A conversation process's item that is no conversation's (a ticket handed over by the
    API) opens as any item does: its payload beside the result form."""
    with container.context(SYSTEM) as ctx:
        item, _ = submit_item(
            ctx,
            desk.process_id,
            {"conversation_id": str(uuid.uuid4()), "brand": "acme", "channel": "email"},
            at_risk_fraction=0.75,
        )
    sign_in(page, container, "a@provider.example")
    page.keyboard.press("n")
    page.wait_for_url(f"**/console/work/{item.id}")
    assert page.locator("form.result").is_visible()
    assert page.locator("#conversation").count() == 0
