"""Replies, notes and email out, end to end: an agent answers through the API under the lease,
the worker's sender hands the reply to a real SMTP sink (aiosmtpd, as a relay would take it),
and the customer's answer, sent with smtplib to Tandem's own SMTP server, threads back."""

from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import dkim
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.servicedesk import outgoing
from tandem.servicedesk.models import Conversation, MailAttempt, Message, OutgoingMail
from tandem.work.models import WorkItem
from tests.servicedesk.conftest import Desk, Sink, _free_port
from tests.servicedesk.test_email_in import FIRST


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _send(container: Container, relay: outgoing.Relay | None) -> int:
    return outgoing.send_due(
        container.sessions,
        container.clock,
        relay,
        container.keyring,
        marker=container.settings.smtp_hostname,
        max_attempts=3,
    )


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _claimed(desk: Desk, api: Any) -> tuple[str, int]:
    """The customer's first mail, claimed by the world's agent: (conversation id, attempt)."""
    desk.send(FIRST)
    lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
    return lease["payload"]["conversation_id"], lease["attempt"]


def _mail(container: Container) -> list[OutgoingMail]:
    with transaction(container.sessions) as session:
        return list(session.scalars(select(OutgoingMail)))


def test_a_reply_goes_out_threaded_and_the_customers_answer_reopens_it(
    container: Container, desk: Desk, api: Any, sink: Sink
) -> None:
    conversation_id, attempt = _claimed(desk, api)
    # The agent holding the lease reads it masked: the address is the system's, not theirs.
    seen = api("agent").get(f"/api/v1/conversations/{conversation_id}")
    assert _ok(seen)["customer_address"] == "m•••@example.com"
    assert "maria@example.com" not in seen.text
    written = _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={"attempt": attempt, "text": "Hello Maria,\nyour parcel is on its way."},
        ),
        201,
    )
    assert written["conversation_state"] == "pending"
    assert written["work_item_state"] == "delivered"  # submitted through the dispatch
    # No relay configured: the mail waits, and the conversation says so.
    assert _send(container, None) == 0
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))
    assert shown["customer_address"] == "maria@example.com"  # the client's own people
    assert shown["state"] == "pending" and shown["pending_on"] == "customer"
    assert shown["mail_waiting"] == 1
    replied_item = shown["work_item_id"]
    first, answer = shown["messages"]
    assert first["direction"] == "in" and first["sending"] is None
    assert answer["direction"] == "out" and answer["sending"]["status"] == "queued"
    assert answer["sending"]["attempts"] == 0 and answer["author"].startswith("agent:")

    assert _send(container, sink.relay) == 1
    [(mail_from, rcpt_tos, sent)] = sink.received
    with transaction(container.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        ours = session.scalars(select(Message).where(Message.direction == "out")).one()
    assert mail_from == "support@acme.example" and rcpt_tos == ["maria@example.com"]
    assert sent["From"] == "Acme Support <support@acme.example>"
    assert sent["To"] == "maria@example.com"
    assert sent["Subject"] == "Re: My parcel has not arrived"
    assert sent["Message-ID"] == f"<{ours.message_id}>"
    assert ours.message_id is not None and ours.message_id.endswith("@acme.example")
    assert sent["In-Reply-To"] == "<first-1@mail.example.com>"
    assert sent["References"] == "<first-1@mail.example.com>"
    assert sent["Reply-To"].addresses[0].addr_spec == (f"support+{conversation.token}@acme.example")
    assert sent["X-Loop"] == container.settings.smtp_hostname
    assert sent["Auto-Submitted"] is None  # a person's answer: auto-responders answer it
    body = sent.get_content().replace("\r\n", "\n")
    assert body.startswith("Hello Maria,\nyour parcel is on its way.")
    assert "\n-- \nAcme Support" in body
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))
    assert shown["mail_waiting"] == 0
    assert shown["messages"][1]["sending"]["status"] == "sent"
    assert [t["smtp_code"] for t in shown["messages"][1]["sending"]["tries"]] == [250]

    # The customer answers our reply from their mail client: it threads back and reopens.
    desk.send(
        "From: Maria Santos <maria@example.com>\n"
        f"To: {sent['Reply-To']}\n"
        "Subject: Re: My parcel has not arrived\n"
        "Message-ID: <again-1@mail.example.com>\n"
        f"In-Reply-To: {sent['Message-ID']}\n"
        f"References: <first-1@mail.example.com> {sent['Message-ID']}\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "It has not come yet, sorry.\n\n"
        "On Mon, Jan 5, 2026 at 11:00 AM Acme Support <support@acme.example> wrote:\n"
        "> Hello Maria,\n> your parcel is on its way.\n"
    )
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))
    assert shown["state"] == "open" and shown["pending_on"] is None
    assert [m["direction"] for m in shown["messages"]] == ["in", "out", "in"]
    assert shown["messages"][2]["text"].startswith("It has not come yet")
    assert shown["work_item_id"] not in (None, replied_item)
    with transaction(container.sessions) as session:
        item = session.get_one(WorkItem, (shown["client_id"], uuid.UUID(shown["work_item_id"])))
    # Work again: first for the agent who answered her, a quarter of an hour (then the queue's:
    # tests/servicedesk/test_routing.py).
    assert (item.state, item.lease_owner) == ("leased", desk.world.agent_id)
    assert len(_ok(api("client").get("/api/v1/conversations"))) == 1


def test_a_relay_down_is_retried_with_every_attempt_recorded_and_shown(
    container: Container, desk: Desk, api: Any, sink: Sink, clock: ManualClock
) -> None:
    conversation_id, attempt = _claimed(desk, api)
    _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={"attempt": attempt, "text": "Your parcel is on its way."},
        ),
        201,
    )
    down = outgoing.Relay("127.0.0.1", _closed_port(), starttls=False, timeout_s=2)
    assert _send(container, down) == 1
    assert _send(container, down) == 0  # not due again before its backoff
    [mail] = _mail(container)
    assert mail.status == "queued" and mail.attempts == 1
    assert mail.last_error == "could not reach the relay"
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))
    sending = shown["messages"][1]["sending"]
    assert sending["status"] == "queued" and sending["last_error"] == "could not reach the relay"
    assert sending["tries"][0]["error"] == "could not reach the relay"
    assert shown["mail_waiting"] == 1
    # The relay is back: the retry, once due, goes out.
    clock.advance(timedelta(seconds=31))
    assert _send(container, sink.relay) == 1
    [mail] = _mail(container)
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 2, None)
    assert len(sink.received) == 1
    with transaction(container.sessions) as session:
        tries = session.scalars(select(MailAttempt).order_by(MailAttempt.number)).all()
    assert [(t.number, t.smtp_code) for t in tries] == [(1, None), (2, 250)]


def test_a_relay_refusing_for_good_fails_the_mail_visibly(
    container: Container, desk: Desk, api: Any, sink: Sink
) -> None:
    conversation_id, attempt = _claimed(desk, api)
    _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={"attempt": attempt, "text": "Your parcel is on its way."},
        ),
        201,
    )
    sink.refuse = "550 5.1.1 No such user here"
    assert _send(container, sink.relay) == 1
    [mail] = _mail(container)
    assert mail.status == "failed" and mail.attempts == 1
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))
    assert shown["mail_failed"] == 1
    assert shown["messages"][1]["sending"]["last_error"].startswith(
        "the relay refused the recipient: 550"
    )


def test_only_the_agent_holding_the_lease_replies(
    container: Container, desk: Desk, api: Any, clock: ManualClock
) -> None:
    conversation_id, attempt = _claimed(desk, api)
    path = f"/api/v1/conversations/{conversation_id}/replies"
    body = {"attempt": attempt, "text": "Hello"}
    # Another agent (not cleared for this client, holding nothing): as if it did not exist.
    other = api("other_agent").post(path, json=body)
    missing = api("other_agent").post(
        "/api/v1/conversations/00000000-0000-4000-8000-000000000000/replies", json=body
    )
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace(conversation_id, "X") == missing.json()["detail"].replace(
        "00000000-0000-4000-8000-000000000000", "X"
    )
    assert api("other_agent").get(f"/api/v1/conversations/{conversation_id}").status_code == 404
    # A wrong fencing token is no lease of theirs either.
    assert api("agent").post(path, json={**body, "attempt": attempt + 1}).status_code == 404
    # Client people and staff without an agent's permission cannot reply at all.
    assert api("client").post(path, json=body).status_code == 403
    # The lease expired: the lease protocol's 409, and nothing was stored or queued.
    clock.advance(timedelta(seconds=61))
    lost = api("agent").post(path, json=body)
    assert lost.status_code == 409 and lost.headers["content-type"] == "application/problem+json"
    assert (
        api("agent").post(f"/api/v1/conversations/{conversation_id}/notes", json=body).status_code
        == 409
    )
    assert _mail(container) == []
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))
    assert len(shown["messages"]) == 1 and shown["state"] == "new"


def test_a_note_is_stored_and_never_sent(
    container: Container, desk: Desk, api: Any, sink: Sink
) -> None:
    conversation_id, attempt = _claimed(desk, api)
    written = _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/notes",
            json={"attempt": attempt, "text": "Courier says it left the depot today."},
        ),
        201,
    )
    assert written["work_item_state"] is None and written["conversation_state"] == "new"
    assert _mail(container) == [] and _send(container, sink.relay) == 0
    shown = _ok(api("agent").get(f"/api/v1/conversations/{conversation_id}"))  # still leased
    assert [m["direction"] for m in shown["messages"]] == ["in", "note"]
    assert shown["messages"][1]["sending"] is None


def test_a_reply_the_result_form_refuses_names_the_field(desk: Desk, api: Any) -> None:
    conversation_id, attempt = _claimed(desk, api)
    refused = api("agent").post(
        f"/api/v1/conversations/{conversation_id}/replies", json={"attempt": attempt, "text": "k"}
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["text"]
    missing = api("agent").post(
        f"/api/v1/conversations/{conversation_id}/replies", json={"attempt": attempt}
    )
    assert missing.status_code == 422 and "text" in missing.text


def test_another_clients_people_see_nothing(desk: Desk, api: Any) -> None:
    desk.send(FIRST)
    [mine] = _ok(api("client").get("/api/v1/conversations"))
    listed = api("other_client").get("/api/v1/conversations")
    assert _ok(listed) == [] and listed.headers["X-Total-Count"] == "0"
    filtered = api("other_client").get(
        "/api/v1/conversations", params={"brand_id": str(desk.brand_id)}
    )
    assert _ok(filtered) == []
    assert api("other_client").get(f"/api/v1/conversations/{mine['id']}").status_code == 404
    # The client's own: filters and the total.
    page = api("client").get(
        "/api/v1/conversations", params={"brand_id": str(desk.brand_id), "state": ["new", "open"]}
    )
    assert [c["id"] for c in _ok(page)] == [mine["id"]] and page.headers["X-Total-Count"] == "1"
    assert _ok(api("client").get("/api/v1/conversations", params={"state": "solved"})) == []
    # Provider staff see it masked.
    [staff] = _ok(api("ops").get("/api/v1/conversations"))
    assert staff["customer_address"] == "m•••@example.com"
    assert staff["customer_name"] == "M••• S•••"
    assert mine["customer_name"] == "Maria Santos"


def test_staff_solve_and_reopen_a_conversation(container: Container, desk: Desk, api: Any) -> None:
    desk.send(FIRST)
    [conversation] = _ok(api("ops").get("/api/v1/conversations"))
    path = f"/api/v1/conversations/{conversation['id']}/state"
    assert api("agent").post(path, json={"action": "solve"}).status_code == 403
    solved = _ok(api("ops").post(path, json={"action": "solve", "reason": "duplicate"}))
    assert solved["state"] == "solved"
    with transaction(container.sessions) as session:
        first = session.get_one(WorkItem, (solved["client_id"], uuid.UUID(solved["work_item_id"])))
    assert first.state == "cancelled"  # its open work ended through the owner
    reopened = _ok(api("ops").post(path, json={"action": "reopen"}))
    assert reopened["state"] == "open" and reopened["work_item_id"] != solved["work_item_id"]
    assert api("ops").post(path, json={"action": "reopen"}).status_code == 409
    bad = api("ops").post(path, json={"action": "pending", "pending_on": "nobody"})
    assert bad.status_code == 422 and "pending_on" in bad.text


def test_a_pass_sends_over_one_connection_and_a_refusal_does_not_stop_the_rest(
    container: Container, desk: Desk, api: Any, sink: Sink
) -> None:
    """The outbox keeps one connection to the relay through a pass; a message the relay
    refuses fails alone, and the next goes over a fresh connection."""
    senders = ("ana@example.com", "ben@example.com", "cleo@example.com", "dan@example.com")
    for n, sender in enumerate(senders):
        desk.send(
            FIRST.replace("maria@example.com", sender).replace("first-1@", f"first-{n}@"),
            sender=sender,
        )
        lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
        path = f"/api/v1/conversations/{lease['payload']['conversation_id']}/replies"
        body = {"attempt": lease["attempt"], "text": f"Answer {n}"}
        _ok(api("agent").post(path, json=body), 201)
    sink.refuse, sink.refuse_to = "550 5.1.1 No such user here", "ben@example.com"
    assert _send(container, sink.relay) == 4
    delivered = sorted(to[0] for _, to, _ in sink.received)
    assert delivered == ["ana@example.com", "cleo@example.com", "dan@example.com"]
    assert sorted(mail.status for mail in _mail(container)) == ["failed", "sent", "sent", "sent"]
    assert len(sink.connections) == 2  # the first, and a fresh one after the refusal


def _certificate(tmp_path: Any) -> tuple[ssl.SSLContext, str]:
    """A relay's TLS: a self-signed certificate for 127.0.0.1, and its file as the CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_file), str(key_file))
    return context, str(cert_file)


def test_a_signed_reply_goes_through_a_relay_over_starttls_with_a_login(
    container: Container, desk: Desk, api: Any, tmp_path: Any
) -> None:
    """The relay as production has it: STARTTLS required before AUTH, its certificate
    checked against the CA file named, the login taken; the reply carries a DKIM signature
    of the brand's domain that verifies against the published key."""
    tls, ca_file = _certificate(tmp_path)
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"relay secret")

    relay_sink = Sink(_free_port())

    def relay_server() -> Controller:
        return Controller(
            relay_sink,
            hostname="127.0.0.1",
            port=relay_sink.port,
            decode_data=False,
            tls_context=tls,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
        )

    controller = relay_server()
    controller.start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = tmp_path / "dkim"
    keys.mkdir()
    (keys / "acme.example.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    settings = container.settings.model_copy(
        update={
            "smtp_relay_host": "127.0.0.1",
            "smtp_relay_port": relay_sink.port,
            "smtp_relay_username": "tandem",
            "smtp_relay_password": "relay secret",
            "smtp_relay_starttls": True,
            "smtp_relay_ca_file": ca_file,
            "dkim_keys_dir": str(keys),
            "dkim_selector": "mail2026",
        }
    )
    relay = outgoing.relay_of(settings)
    assert relay is not None
    try:
        conversation_id, attempt = _claimed(desk, api)
        _ok(
            api("agent").post(
                f"/api/v1/conversations/{conversation_id}/replies",
                json={"attempt": attempt, "text": "Your parcel is on its way."},
            ),
            201,
        )
        assert _send(container, relay) == 1
        [mail] = _mail(container)
        assert mail.status == "sent", mail.last_error
        assert logins == [(b"tandem", b"relay secret")]
        [raw] = relay_sink.raw
        assert raw.startswith(b"DKIM-Signature:") and b"d=acme.example" in raw
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

        def dns(name: bytes, timeout: int = 5) -> bytes | None:
            return record if name == b"mail2026._domainkey.acme.example." else None

        assert dkim.verify(raw, dnsfunc=dns)
        assert not dkim.verify(raw.replace(b"on its way", b"lost, sorry"), dnsfunc=dns)
    finally:
        controller.stop()

    # A relay whose certificate is not from the CA named is not trusted with the password.
    untrusted = outgoing.relay_of(settings.model_copy(update={"smtp_relay_ca_file": ""}))
    assert untrusted is not None
    controller = relay_server()
    controller.start()
    try:
        with transaction(container.sessions) as session:  # the same reply, to send again
            session.execute(
                update(OutgoingMail).values(status="queued", next_attempt_at=container.clock.now())
            )
        assert _send(container, untrusted) == 1
        waiting = [m for m in _mail(container) if m.status == "queued"]
        assert [m.last_error for m in waiting] == ["TLS with the relay failed"]
        assert logins == [(b"tandem", b"relay secret")]  # no second login
    finally:
        controller.stop()
