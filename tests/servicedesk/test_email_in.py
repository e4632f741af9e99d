"""Email in, end to end: a real smtplib client against Tandem's real SMTP server (aiosmtpd)."""

from __future__ import annotations

import smtplib
import threading
from typing import Any

import pytest
from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.servicedesk import content, inbound, smtp
from tandem.servicedesk.models import (
    Attachment,
    Conversation,
    Customer,
    CustomerIdentity,
    Message,
)
from tandem.work.models import WorkItem
from tests.servicedesk.conftest import Desk, _free_port

FIRST = """\
From: Maria Santos <maria@example.com>
To: Acme Support <support@acme.example>
Subject: My parcel has not arrived
Message-ID: <first-1@mail.example.com>
Date: Mon, 5 Jan 2026 10:00:00 +0000
Content-Type: text/plain; charset=utf-8

Hello, I ordered last week and still have not received the parcel.
"""


def _conversations(container: Container, desk: Desk) -> list[Conversation]:
    with transaction(container.sessions) as session:
        return list(
            session.scalars(
                select(Conversation)
                .where(Conversation.brand_id.in_([desk.brand_id, desk.other_brand_id]))
                .order_by(Conversation.created_at, Conversation.id)
            )
        )


def _messages(container: Container, conversation: Conversation) -> list[Message]:
    with transaction(container.sessions) as session:
        return list(
            session.scalars(
                select(Message)
                .where(
                    Message.client_id == conversation.client_id,
                    Message.conversation_id == conversation.id,
                )
                .order_by(Message.received_at, Message.id)
            )
        )


def _opened(container: Container, message: Message) -> dict[str, Any]:
    assert message.sealed is not None
    return container.keyring.open(message.client_id, message.id, message.sealed, "message")


def _items(container: Container, conversation: Conversation) -> list[WorkItem]:
    with transaction(container.sessions) as session:
        return list(
            session.scalars(
                select(WorkItem).where(
                    WorkItem.client_id == conversation.client_id,
                    WorkItem.external_ref == f"conversation:{conversation.id}",
                )
            )
        )


def test_a_new_message_makes_a_customer_a_conversation_and_a_claimable_work_item(
    container: Container, desk: Desk
) -> None:
    desk.send(FIRST)
    [conversation] = _conversations(container, desk)
    assert conversation.client_id == desk.world.client_id
    assert conversation.state == "new" and not conversation.unverified_sender
    with transaction(container.sessions) as session:
        customer = session.get_one(Customer, (conversation.client_id, conversation.customer_id))
        identity = session.scalars(select(CustomerIdentity)).one()
    # Personal data masked in the rows, sealed in clear.
    assert customer.name == "M••• S•••"
    assert identity.masked == "m•••@example.com"
    assert "maria@example.com" not in identity.masked
    [message] = _messages(container, conversation)
    assert message.direction == "in" and message.kind == "person"
    assert message.sender == "m•••@example.com"
    assert _opened(container, message)["sender"] == "maria@example.com"
    assert "still have not received" in message.text
    [item] = _items(container, conversation)
    assert item.state == "queued" and conversation.work_item_id == item.id
    assert item.payload["conversation_id"] == str(conversation.id)
    # The dispatch claims it for an agent cleared, skilled and on shift.
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, desk.world.agent_id)
    assert lease is not None and lease.item_id == item.id


def _reply(client: str, token_to: str | None = None) -> str:
    """A customer's reply to our answer <answer-1@acme.example> as a mail client writes it."""
    to = token_to or "support@acme.example"
    if client == "gmail":
        headers = (
            "In-Reply-To: <first-1@mail.example.com>\nReferences: <first-1@mail.example.com>\n"
        )
        body = (
            "Thanks, it came today!\n\nMaria\n\n"
            "On Mon, Jan 5, 2026 at 10:00 AM Acme Support <support@acme.example> wrote:\n"
            "> Hello Maria,\n> your parcel is on its way.\n"
        )
    elif client == "outlook":
        headers = (
            "Thread-Topic: My parcel has not arrived\n"
            "Thread-Index: AQHZxyz1234567890abcdefghijklmnopq==\n"
            "In-Reply-To: <first-1@mail.example.com>\n"
        )
        body = (
            "Thanks, it came today!\n\n"
            "From: Acme Support <support@acme.example>\n"
            "Sent: Monday, January 5, 2026 10:00 AM\n"
            "To: Maria Santos <maria@example.com>\n"
            "Subject: RE: My parcel has not arrived\n\n"
            "Hello Maria, your parcel is on its way.\n"
        )
    elif client == "apple":
        headers = (
            "In-Reply-To: <first-1@mail.example.com>\nReferences: <first-1@mail.example.com>\n"
        )
        body = (
            "Thanks, it came today!\n\n"
            "> On 5 Jan 2026, at 10:00, Acme Support <support@acme.example> wrote:\n"
            ">\n> Hello Maria,\n> your parcel is on its way.\n"
        )
    else:  # a forward through a system that dropped the threading headers
        headers, body = "", "Thanks, it came today!\n"
    return (
        "From: Maria Santos <maria@example.com>\n"
        f"To: {to}\n"
        "Subject: Re: My parcel has not arrived\n"
        f"Message-ID: <reply-{client}@mail.example.com>\n"
        f"{headers}"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"{body}"
    )


@pytest.mark.parametrize("client", ["gmail", "outlook", "apple"])
def test_replies_thread_as_mail_clients_write_them_and_lose_the_quote(
    container: Container, desk: Desk, client: str
) -> None:
    desk.send(FIRST)
    desk.send(_reply(client))
    [conversation] = _conversations(container, desk)
    _first, reply = _messages(container, conversation)
    assert reply.in_reply_to == "first-1@mail.example.com"
    # Quoted history (and the sign-off line of Gmail's) stripped from the new text.
    assert reply.text.startswith("Thanks, it came today!")
    assert "on its way" not in reply.text
    assert "on its way" in _opened(container, reply)["full_text"]
    # Still one open work item for the conversation.
    assert len(_items(container, conversation)) == 1


def test_a_reply_is_threaded_by_its_reply_token_when_the_headers_are_gone(
    container: Container, desk: Desk
) -> None:
    desk.send(FIRST)
    [conversation] = _conversations(container, desk)
    to = f"support+{conversation.token}@acme.example"
    desk.send(_reply("headerless", token_to=to), to=to)
    [again] = _conversations(container, desk)
    assert again.id == conversation.id
    assert len(_messages(container, conversation)) == 2


def test_a_customers_reply_reopens_a_solved_conversation(container: Container, desk: Desk) -> None:
    desk.send(FIRST)
    [conversation] = _conversations(container, desk)
    with transaction(container.sessions) as session:
        session.get_one(Conversation, (conversation.client_id, conversation.id)).state = "solved"
    desk.send(_reply("gmail"))
    [reopened] = _conversations(container, desk)
    assert reopened.state == "open"
    assert len(_items(container, reopened)) == 1  # its work item is still open: no second


HTML_ONLY = """\
From: Maria Santos <maria@example.com>
To: support@acme.example
Subject: Broken link
Message-ID: <html-1@mail.example.com>
Content-Type: text/html; charset=utf-8

<p>Hello, the <a href="https://shop.example/x" onclick="steal()">link</a> is broken.</p>
<script>alert('x')</script><img src="x" onerror="steal()">
"""


def test_an_html_only_message_is_sanitized_with_a_text_rendering(
    container: Container, desk: Desk
) -> None:
    desk.send(HTML_ONLY)
    [conversation] = _conversations(container, desk)
    [message] = _messages(container, conversation)
    opened = _opened(container, message)
    assert message.has_html
    assert "<script" not in opened["html"] and "onclick" not in opened["html"]
    assert "onerror" not in opened["html"]
    assert 'href="https://shop.example/x"' in opened["html"]
    assert "the link is broken" in message.text
    assert "alert" not in message.text


def test_attachments_are_stored_sealed(container: Container, desk: Desk) -> None:
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = "maria@example.com"
    mail["To"] = "support@acme.example"
    mail["Subject"] = "Photo of the damage"
    mail["Message-ID"] = "<att-1@mail.example.com>"
    mail.set_content("See the photo attached.")
    picture = bytes(range(256)) * 20
    mail.add_attachment(picture, maintype="image", subtype="png", filename="damage.png")
    desk.send(mail.as_bytes())
    [conversation] = _conversations(container, desk)
    [message] = _messages(container, conversation)
    with transaction(container.sessions) as session:
        [attachment] = session.scalars(select(Attachment)).all()
        box = attachment.content
    assert (attachment.filename, attachment.media_type, attachment.size) == (
        "damage.png",
        "image/png",
        len(picture),
    )
    assert picture not in box
    opened = container.keyring.open_bytes(
        attachment.client_id, attachment.id, attachment.sealed_with, box, "attachment"
    )
    assert opened == picture and attachment.message_id == message.id


def test_an_oversize_message_is_refused_at_data_with_552(container: Container, desk: Desk) -> None:
    big = FIRST + ("x" * 80 + "\n") * 1000  # about 80 KB over a 64 KB limit
    with pytest.raises(smtplib.SMTPDataError) as refused:
        desk.send(big)
    assert refused.value.smtp_code == 552
    assert _conversations(container, desk) == []


def test_an_unknown_recipient_is_refused_at_rcpt_with_550(container: Container, desk: Desk) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        desk.send(FIRST, to="nobody@acme.example")
    assert next(iter(refused.value.recipients.values()))[0] == 550


AUTO_REPLY = """\
From: Maria Santos <maria@example.com>
To: support@acme.example
Subject: Out of office: Re: My parcel has not arrived
Message-ID: <ooo-1@mail.example.com>
In-Reply-To: <first-1@mail.example.com>
Auto-Submitted: auto-replied
Content-Type: text/plain

I am out of the office until Monday.
"""
BOUNCE = """\
From: Mail Delivery System <MAILER-DAEMON@mail.example.com>
To: support@acme.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mail.example.com>
References: <first-1@mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail could not be delivered to maria@example.com.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com

Final-Recipient: rfc822; maria@example.com
Action: failed
Status: 5.1.1
--B--
"""


@pytest.mark.parametrize(("raw", "kind"), [(AUTO_REPLY, "auto_reply"), (BOUNCE, "bounce")])
def test_auto_replies_and_bounces_are_kept_but_never_reopen(
    container: Container, desk: Desk, raw: str, kind: str
) -> None:
    desk.send(FIRST)
    [conversation] = _conversations(container, desk)
    with transaction(container.sessions) as session:
        session.get_one(Conversation, (conversation.client_id, conversation.id)).state = "solved"
    desk.send(raw)
    [after] = _conversations(container, desk)
    assert after.state == "solved"
    _, automatic = _messages(container, after)
    assert automatic.kind == kind
    assert len(_items(container, after)) == 1


def test_an_unthreaded_auto_reply_makes_no_work(container: Container, desk: Desk) -> None:
    desk.send(AUTO_REPLY.replace("In-Reply-To: <first-1@mail.example.com>\n", ""))
    [conversation] = _conversations(container, desk)
    assert conversation.state == "closed" and conversation.tags == ["auto_reply"]
    assert _items(container, conversation) == []


def test_loops_are_refused(container: Container, desk: Desk) -> None:
    marked = FIRST.replace("Subject:", "X-Loop: tandem.localhost\nSubject:")
    hops = "".join(f"Received: from hop{n}.example by hop{n + 1}.example\n" for n in range(40))
    for raw in (marked, hops + FIRST):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            desk.send(raw)
        assert refused.value.smtp_code == 554
    assert _conversations(container, desk) == []


def test_a_sender_failing_dmarc_does_not_join_the_known_customers_conversation(
    container: Container, desk: Desk
) -> None:
    desk.send(FIRST)
    spoof = _reply("gmail").replace(
        "Subject:",
        "Authentication-Results: mx.acme.example; spf=fail smtp.mailfrom=example.com;"
        " dkim=none; dmarc=fail header.from=example.com\nSubject:",
    )
    desk.send(spoof)
    first, flagged = _conversations(container, desk)
    assert len(_messages(container, first)) == 1
    assert flagged.unverified_sender and flagged.customer_id == first.customer_id
    [message] = _messages(container, flagged)
    assert message.authentication == "fail"


def test_another_clients_brand_never_receives_or_sees_them(
    container: Container, desk: Desk
) -> None:
    desk.send(FIRST)
    # The same customer's reply to the other client's brand, naming acme's thread.
    desk.send(_reply("gmail", token_to="support@other.example"), to="support@other.example")
    acme, other = _conversations(container, desk)
    assert acme.client_id == desk.world.client_id and acme.brand_id == desk.brand_id
    assert other.client_id == desk.world.other_client_id and other.brand_id == desk.other_brand_id
    assert other.customer_id != acme.customer_id  # customers are never shared
    assert len(_messages(container, acme)) == 1
    # Acme's reply token does not reach into another brand either.
    to = f"support+{acme.token}@other.example"
    desk.send(_reply("headerless", token_to=to).replace("reply-headerless", "r2"), to=to)
    assert len(_messages(container, acme)) == 1


def test_a_message_sent_again_is_taken_once(container: Container, desk: Desk) -> None:
    desk.send(FIRST)
    desk.send(FIRST)  # a relay that did not hear our 250 sends it again
    [conversation] = _conversations(container, desk)
    assert len(_messages(container, conversation)) == 1


def test_the_database_unavailable_answers_451(container: Container, tmp_path: Any) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    broken = sessionmaker(create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    port = _free_port()
    server = smtp.start(container.settings, broken, container.context, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("relay.example")
            client.mail("maria@example.com")
            code, _ = client.rcpt("support@acme.example")
        assert code == 451
    finally:
        server.stop()


def test_messages_arriving_together_are_each_taken_once_committed(
    container: Container, desk: Desk
) -> None:
    """Messages arriving at once are committed in groups (smtp.Desk): each sender hears 250
    only when its conversation and work item are there; one sent twice at once is taken
    once."""
    mails = [
        FIRST.replace("maria@example.com", f"c{n}@example.com").replace("first-1@", f"burst-{n}@")
        for n in range(8)
    ]
    mails.append(mails[0])  # a relay's retry racing the first delivery
    answered: list[str] = []

    def send(mail: str, n: int) -> None:
        with smtplib.SMTP("127.0.0.1", desk.port, timeout=120) as client:
            client.sendmail(f"c{n}@example.com", ["support@acme.example"], mail.encode())
        answered.append(mail)

    threads = [threading.Thread(target=send, args=(m, n)) for n, m in enumerate(mails)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    assert len(answered) == len(mails)
    conversations = _conversations(container, desk)
    assert len(conversations) == 8
    for conversation in conversations:
        assert len(_messages(container, conversation)) == 1
        [item] = _items(container, conversation)
        assert item.state == "queued" and conversation.work_item_id == item.id


def test_one_message_failing_in_a_group_fails_alone(container: Container, desk: Desk) -> None:
    """A group's transaction failing is taken again one message at a time: the others are
    committed and answered, only the failing one's sender hears of it (451)."""
    taking = smtp.Desk(container.settings, container.sessions, container.context)
    try:

        def waiting(n: int, broken: bool = False) -> smtp._Waiting:
            raw = FIRST.replace("maria@example.com", f"g{n}@example.com").replace(
                "first-1@", f"group-{n}@"
            )
            mail = content.read(raw.encode())
            if broken:  # an attachment without its data: storing it raises
                mail.files.append(content.File("x.txt", "text/plain", None))  # type: ignore[arg-type]
            return smtp._Waiting(mail, inbound.scan(mail), ["support@acme.example"])

        group = [waiting(1), waiting(2, broken=True), waiting(3)]
        taking._take_group(group)
        assert group[1].done.exception() is not None
        for good in (group[0], group[2]):
            [taken] = good.done.result()
            assert taken.new_conversation and taken.work_item_id is not None
        senders = {
            _opened(container, m)["sender"]
            for c in _conversations(container, desk)
            for m in _messages(container, c)
        }
        assert senders == {"g1@example.com", "g3@example.com"}
    finally:
        taking.close()
