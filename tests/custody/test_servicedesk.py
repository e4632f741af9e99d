"""Custody of the service desk's data: a leaving client gets its customers, conversations,
messages, attachments and survey comments in clear (the attachments' bytes as files in the
manifest), then none of it is left; a conversation finished longer ago than the retention
period loses its personal data (the preview counting exactly that), one within it or still
open keeps it; a key rotation re-seals every sealed value of the service desk."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.custody import keys, preview, retention
from tandem.custody.models import KeyRotation
from tandem.servicedesk import surveys, threads
from tandem.servicedesk.custody import purge
from tandem.servicedesk.customers import CUSTOMER, IDENTITY
from tandem.servicedesk.inbound import ATTACHMENT, MESSAGE
from tandem.servicedesk.models import (
    Attachment,
    Brand,
    Conversation,
    Customer,
    CustomerIdentity,
    Message,
)
from tandem.servicedesk.surveys import SURVEY, Survey
from tandem.tenancy.models import Client
from tandem.tenancy.principal import SYSTEM
from tests.servicedesk.conftest import Desk
from tests.servicedesk.conftest import desk as desk_fixture

desk = desk_fixture  # the service desk's test brands and SMTP server

PICTURE = bytes(range(256)) * 20
COMMENT = "Quick and kind, thanks! Call me on +44 7911 123456"


def _mail(name: str, address: str, subject: str, text: str, *, attachment: bool = False) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"{name} <{address}>"
    mail["To"] = "support@acme.example"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@mail.example.com>"
    mail.set_content(text)
    if attachment:
        mail.add_attachment(PICTURE, maintype="image", subtype="png", filename="damage.png")
    return mail.as_bytes()


def _conversation_of(container: Container, address_hint: str) -> uuid.UUID:
    with transaction(container.sessions) as session:
        return session.scalars(
            select(Conversation.id)
            .where(Conversation.subject.contains(address_hint))
            .order_by(Conversation.created_at.desc())
            .limit(1)
        ).one()


def _written(
    container: Container,
    desk: Desk,
    name: str,
    address: str,
    subject: str,
    *,
    attachment: bool = False,
) -> uuid.UUID:
    desk.send(_mail(name, address, subject, f"Hello, this is {name}.", attachment=attachment))
    return _conversation_of(container, subject)


def _solved(
    container: Container, desk: Desk, api: Any, name: str, address: str, subject: str, **how: Any
) -> uuid.UUID:
    """A conversation the customer began, answered and solved by the agent, its survey sent
    (and answered with `comment`, if given): through the real use cases."""
    comment = how.pop("comment", None)
    conversation_id = _written(container, desk, name, address, subject, **how)
    lease = api("agent").post("/api/v1/dispatch/claim").json()
    assert lease["payload"]["conversation_id"] == str(conversation_id)
    replied = api("agent").post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"attempt": lease["attempt"], "text": f"Dear {name}, it is sorted.", "then": "solved"},
    )
    assert replied.status_code == 201, replied.text
    sent = surveys.send_due(
        container.sessions,
        container.clock,
        container.keyring,
        public_url="https://desk.example",
        days=14,
    )
    assert sent == 1
    if comment is not None:
        with transaction(container.sessions) as session:
            survey_id = session.scalars(
                select(Survey.id).where(Survey.conversation_id == conversation_id)
            ).one()
        with container.context(SYSTEM) as ctx:
            surveys.answer(ctx, desk.world.client_id, survey_id, "good", comment)
    return conversation_id


def _rows(path: Path, table: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (path / f"{table}.jsonl").read_text().splitlines()]


DESK_TABLES = (
    "customers",
    "customer_identities",
    "conversations",
    "conversation_messages",
    "conversation_attachments",
    "conversation_surveys",
    "conversation_mail_out",
)


def test_a_leaving_client_gets_its_conversations_in_clear_then_none_are_left(
    container: Container, desk: Desk, api: Any, tmp_path: Path
) -> None:
    world = desk.world
    conversation_id = _solved(
        container,
        desk,
        api,
        "Maria Santos",
        "maria@example.com",
        "Photo of the damage",
        attachment=True,
        comment=COMMENT,
    )
    with transaction(container.sessions) as session:
        manifest = retention.export_client(session, container.keyring, world.client_id, tmp_path)
    (customer,) = _rows(tmp_path, "customers")
    assert customer["name"] == "Maria Santos" and "sealed" not in customer
    (identity,) = _rows(tmp_path, "customer_identities")
    assert identity["value"] == "maria@example.com" and "sealed" not in identity
    (conversation,) = _rows(tmp_path, "conversations")
    assert conversation["id"] == str(conversation_id)
    assert conversation["subject"] == "Photo of the damage" and "sealed" not in conversation
    messages = {m["direction"] + m["kind"]: m for m in _rows(tmp_path, "conversation_messages")}
    assert messages["inperson"]["sender"] == "maria@example.com"  # stored masked: m•••@...
    assert messages["inperson"]["text"] == "Hello, this is Maria Santos."
    assert messages["outperson"]["text"] == "Dear Maria Santos, it is sorted."
    assert "https://desk.example/s/" in messages["outauto_reply"]["text"]  # the survey's mail
    assert not any("sealed" in m for m in messages.values())
    (survey,) = _rows(tmp_path, "conversation_surveys")
    assert survey["comment"] == COMMENT and "sealed" not in survey
    (attachment,) = _rows(tmp_path, "conversation_attachments")
    assert attachment["filename"] == "damage.png" and "content" not in attachment
    assert attachment["file"] == f"conversation_attachments/{attachment['id']}.png"
    assert (tmp_path / attachment["file"]).read_bytes() == PICTURE
    digest = hashlib.sha256(PICTURE).hexdigest()
    assert attachment["sha256"] == digest
    assert manifest["contents"][attachment["file"]] == {"bytes": len(PICTURE), "sha256": digest}
    assert manifest["files"]["conversation_attachments.jsonl"]["rows"] == 1
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == entry["sha256"]
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest

    with transaction(container.sessions) as session:
        report = retention.end_contract(
            session,
            world.client_id,
            manifest,
            actor="user:security",
            now=container.clock.now(),
            key=container.audit_key,
        )
    assert report.counts["conversation_attachments"] == 1
    with transaction(container.sessions) as session:
        for table in retention.client_tables():
            if table.name in DESK_TABLES:
                left = session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.client_id == world.client_id)
                )
                assert left == 0, table.name
        # The other client's desk is untouched.
        others = select(func.count()).where(Brand.client_id == world.other_client_id)
        assert session.scalar(others.select_from(Brand)) == 1


def _sealed_of(container: Container, client_id: int, conversation_id: uuid.UUID) -> dict[str, Any]:
    """What a conversation, its messages, survey and customer keep."""
    with transaction(container.sessions) as session:
        conversation = session.get_one(Conversation, (client_id, conversation_id))
        messages = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id)
        ).all()
        attachments = session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.message_id.in_([m.id for m in messages]))
        )
        survey = session.scalars(
            select(Survey).where(Survey.conversation_id == conversation_id)
        ).one()
        customer = session.get_one(Customer, (conversation.client_id, conversation.customer_id))
        identities = session.scalar(
            select(func.count())
            .select_from(CustomerIdentity)
            .where(CustomerIdentity.customer_id == customer.id)
        )
        return {
            "conversation": conversation.sealed,
            "subject": conversation.subject,
            "messages": sorted((m.sealed for m in messages), key=str),
            "texts": sorted(m.text for m in messages),
            "attachments": attachments,
            "survey": survey.sealed,
            "comment": survey.comment,
            "customer": customer.sealed,
            "name": customer.name,
            "identities": identities,
        }


def test_a_conversation_past_retention_loses_its_personal_data_as_the_preview_said(
    container: Container, desk: Desk, api: Any, clock: ManualClock
) -> None:
    world = desk.world
    # Maria: one conversation, solved long ago, with an attachment and a survey comment.
    maria = _solved(
        container,
        desk,
        api,
        "Maria Santos",
        "maria@example.com",
        "Photo of the damage",
        attachment=True,
        comment=COMMENT,
    )
    # John: one solved long ago, one still open (written later): his name and address stay.
    john_old = _solved(container, desk, api, "John Reyes", "john@example.com", "Wrong size")
    clock.advance(timedelta(days=20))
    # Ana: solved recently, within the period.
    ana = _solved(
        container, desk, api, "Ana Cruz", "ana@example.com", "Late again", comment="Fine."
    )
    john_open = _written(container, desk, "John Reyes", "john@example.com", "Still waiting")
    with transaction(container.sessions) as session:
        session.get_one(Client, world.client_id).retention_days = 30
    clock.advance(timedelta(days=15))  # Maria's and John's first: 35 days; Ana's: 15
    before = {c: _sealed_of(container, world.client_id, c) for c in (maria, john_old, ana)}
    with transaction(container.sessions) as session:
        sealed_messages = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id.in_([maria, john_old]), Message.sealed.is_not(None))
        )
    with container.context(SYSTEM) as ctx:
        seen = preview.purge_preview(ctx, world.client_id)
    expected = {
        "conversations": 2,
        "messages": sealed_messages,
        "attachments": 1,
        "survey_comments": 1,
        "customers": 1,  # Maria: John still has an open conversation
    }
    assert sealed_messages == 6  # each: the customer's mail, the reply, the survey's mail
    assert {kind: getattr(seen, kind) for kind in expected} == expected
    with transaction(container.sessions) as session:
        (report,) = retention.purge_due(session, clock.now(), key=container.audit_key, batch=100)
    assert {kind: report.counts[kind] for kind in expected} == expected
    assert report.counts["work_items"] == seen.items  # the conversations' delivered work

    purged = _sealed_of(container, world.client_id, maria)
    assert purged["conversation"] is None and purged["messages"] == [None, None, None]
    assert purged["texts"] == before[maria]["texts"]  # the masked text stays
    assert purged["subject"] == "Photo of the damage"
    assert purged["attachments"] == 0
    assert purged["survey"] is None and purged["comment"] == before[maria]["comment"]
    assert "7911" not in str(purged["comment"])  # the comment was kept masked
    assert purged["customer"] is None and purged["name"] is None
    assert purged["identities"] == 0
    johns = _sealed_of(container, world.client_id, john_old)
    assert johns["conversation"] is None and set(johns["messages"]) == {None}
    assert johns["customer"] is not None and johns["identities"] == 1  # still open elsewhere
    assert (
        _sealed_of(container, world.client_id, ana) == before[ana]
    )  # within the period: untouched
    with transaction(container.sessions) as session:
        still_open = session.get_one(Conversation, (world.client_id, john_open))
        assert still_open.sealed is not None and still_open.state == "new"
        assert session.scalars(
            select(Message.sealed).where(Message.conversation_id == john_open)
        ).one()
    # Nothing is purged twice, and the preview now shows none.
    with transaction(container.sessions) as session:
        assert retention.purge_due(session, clock.now(), key=container.audit_key, batch=100) == []
    with container.context(SYSTEM) as ctx:
        assert preview.purge_preview(ctx, world.client_id).conversations == 0
    # The customer-facing views still work on what is left.
    shown = api("client").get(f"/api/v1/conversations/{maria}")
    assert shown.status_code == 200, shown.text
    # Maria answers the purged conversation (by its reply address): a new conversation
    # begins, which can be answered (her old one has no address left to answer to).
    with transaction(container.sessions) as session:
        token = session.get_one(Conversation, (world.client_id, maria)).token
    again = _mail("Maria Santos", "maria@example.com", "Re: Photo of the damage", "And now?")
    desk.send(again, to=threads.reply_address("support@acme.example", token))
    with transaction(container.sessions) as session:
        old = session.get_one(Conversation, (world.client_id, maria))
        new = session.scalars(
            select(Conversation).where(Conversation.id.not_in([maria, john_old, ana, john_open]))
        ).one()
    assert old.state == "solved" and old.sealed is None
    assert new.state == "new" and new.sealed is not None and new.customer_id != old.customer_id


def test_a_message_since_the_cutoff_keeps_a_solved_conversation(
    container: Container, desk: Desk, api: Any, clock: ManualClock
) -> None:
    """An auto-responder's mail changes no state; the conversation is not finished for
    retention until the period has passed after it too."""
    world = desk.world
    conversation_id = _solved(container, desk, api, "Maria Santos", "maria@example.com", "Hi")
    clock.advance(timedelta(days=35))
    with transaction(container.sessions) as session:
        session.get_one(Client, world.client_id).retention_days = 30
        conversation = session.get_one(Conversation, (world.client_id, conversation_id))
        session.add(
            Message(
                client_id=world.client_id,
                conversation_id=conversation_id,
                direction="in",
                kind="auto_reply",
                text="Out of office",
                sealed=None,
                references=[],
                received_at=clock.now() - timedelta(days=1),
            )
        )
        assert conversation.state == "solved"
    with container.context(SYSTEM) as ctx:
        assert preview.purge_preview(ctx, world.client_id).conversations == 0
    with transaction(container.sessions) as session:
        assert purge(session, world.client_id, [], clock.now())["conversations"] == 0
    clock.advance(timedelta(days=30))  # the period has passed after the auto-reply too
    with container.context(SYSTEM) as ctx:
        seen = preview.purge_preview(ctx, world.client_id)
        assert seen.conversations == 1 and seen.cutoff is not None
        done = preview.purge_now(ctx, world.client_id, seen.cutoff)  # on a person's confirmation
    assert done.report is not None and done.report.counts["conversations"] == 1
    assert done.report.counts["messages"] == seen.messages == 3
    assert done.conversations_remaining == 0


def test_a_rotation_re_seals_the_service_desks_values(
    container: Container, desk: Desk, api: Any
) -> None:
    world = desk.world
    _solved(
        container,
        desk,
        api,
        "Maria Santos",
        "maria@example.com",
        "Photo of the damage",
        attachment=True,
        comment=COMMENT,
    )
    with container.context(SYSTEM) as ctx:
        rotation = keys.rotate(ctx, world.client_id)
    target = rotation.target
    for _ in range(20):
        with transaction(container.sessions) as session:
            keys.advance(
                session, container.keyring, container.clock.now(), key=container.audit_key, batch=2
            )
            if session.scalars(select(KeyRotation.finished_at)).one() is not None:
                break
    with transaction(container.sessions) as session:
        done = session.scalars(select(KeyRotation)).one()
        assert done.finished_at is not None
        keyring, client_id = container.keyring, world.client_id
        customers = session.scalars(select(Customer).where(Customer.client_id == client_id)).all()
        assert [c.sealed[: len(target)] for c in customers if c.sealed] == [target]
        for c in customers:
            assert keyring.open(client_id, c.id, str(c.sealed), CUSTOMER) == {
                "name": "Maria Santos"
            }
        (identity,) = session.scalars(
            select(CustomerIdentity).where(CustomerIdentity.client_id == client_id)
        ).all()
        assert identity.sealed.startswith(target)
        assert keyring.open(client_id, identity.customer_id, identity.sealed, IDENTITY) == {
            "email": "maria@example.com"
        }
        (conversation,) = session.scalars(
            select(Conversation).where(Conversation.client_id == client_id)
        ).all()
        assert str(conversation.sealed).startswith(target)
        assert keyring.open(client_id, conversation.id, str(conversation.sealed), MESSAGE)[
            "subject"
        ] == ("Photo of the damage")
        messages = session.scalars(select(Message).where(Message.client_id == client_id)).all()
        assert len(messages) == 3
        for message in messages:
            assert str(message.sealed).startswith(target)
            assert "text" in keyring.open(client_id, message.id, str(message.sealed), MESSAGE)
        (survey,) = session.scalars(select(Survey).where(Survey.client_id == client_id)).all()
        assert str(survey.sealed).startswith(target)
        assert keyring.open(client_id, survey.id, str(survey.sealed), SURVEY) == {
            "comment": COMMENT
        }
        (attachment,) = session.scalars(
            select(Attachment).where(Attachment.client_id == client_id)
        ).all()
        assert attachment.sealed_with == target
        opened = keyring.open_bytes(
            client_id, attachment.id, attachment.sealed_with, attachment.content, ATTACHMENT
        )
        assert opened == PICTURE
