"""The pure parts of email in: threading, classification, content, states."""

from __future__ import annotations

from tandem.servicedesk import classify, content, states, threads


def test_answered_ids_put_the_parent_first_then_references_newest_first() -> None:
    assert threads.answered_ids("<c@x>", "<a@x> <b@x>\n <c@x>") == ["c@x", "b@x", "a@x"]
    assert threads.answered_ids("c@x", None) == ["c@x"]  # bare, as some clients write it
    assert threads.answered_ids(None, None) == []


def test_reply_tokens_are_read_from_plus_addresses() -> None:
    token = threads.new_token()
    assert threads.reply_token(["x@y.example", f"Support+{token.upper()}@Acme.example"]) == token
    assert threads.reply_token(["support+short@acme.example"]) is None
    assert threads.reply_address("support@acme.example", token) == f"support+{token}@acme.example"
    assert threads.split_address("<Support+abc@Acme.Example>") == ("support@acme.example", "abc")


def _mail(headers: str, body: str = "Hi\n") -> content.EmailMessage:
    return content.parse_bytes(f"From: a@b.example\n{headers}\n{body}".encode())


def test_kinds_of_messages() -> None:
    assert classify.kind_of(_mail("Subject: hi\n")) == classify.PERSON
    assert classify.kind_of(_mail("Auto-Submitted: no\n")) == classify.PERSON
    assert classify.kind_of(_mail("Auto-Submitted: auto-replied\n")) == classify.AUTO_REPLY
    assert classify.kind_of(_mail("Precedence: bulk\n")) == classify.AUTO_REPLY
    assert classify.kind_of(_mail("X-Autoreply: yes\n")) == classify.AUTO_REPLY
    dsn = "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n"
    assert classify.kind_of(_mail(dsn, "--B\n\nfailed\n--B--\n")) == classify.BOUNCE


def test_loops() -> None:
    hops = "".join(f"Received: from h{n}\n" for n in range(31))
    assert classify.loop_of(_mail(hops), marker="t.example", max_received=30) is not None
    assert classify.loop_of(_mail(hops[:200]), marker="t.example", max_received=30) is None
    assert classify.loop_of(_mail("X-Loop: t.example\n"), marker="t.example", max_received=30)
    assert classify.loop_of(_mail("X-Loop: other\n"), marker="t.example", max_received=30) is None


def test_authentication_verdicts() -> None:
    assert classify.authentication(["mx; spf=pass; dkim=pass; dmarc=fail"]) == classify.FAIL
    assert classify.authentication(["mx; spf=fail; dmarc=pass"]) == classify.PASS
    assert classify.authentication(["mx; spf=fail"]) == classify.FAIL
    assert classify.authentication(["mx; dkim=fail; dkim=pass"]) == classify.PASS
    assert classify.authentication([]) == classify.NONE
    # Only the trusted relay's verdict counts when it is named.
    forged = ["evil.example; dmarc=pass", "mx.acme.example; dmarc=fail"]
    assert classify.authentication(forged, "mx.acme.example") == classify.FAIL
    assert classify.authentication(forged[:1], "mx.acme.example") == classify.NONE


def test_new_text_cuts_quotes_and_signatures() -> None:
    text = (
        "Yes please.\n\n--\nMaria Santos\nSent from my phone\n\n"
        "On Mon, Jan 5, 2026 at 10:00 AM A <a@b.example> wrote:\n> old\n"
    )
    assert content.new_text(text) == "Yes please."
    assert content.new_text("> only a quote\n") == "> only a quote"


def test_html_is_sanitized_and_rendered() -> None:
    html = content.sanitize('<p onclick="x()">Hi <script>evil()</script><b>you</b></p>')
    assert "script" not in html and "onclick" not in html and "<b>you</b>" in html
    assert content.as_text(html) == "Hi you"


def test_states_after_a_customers_message() -> None:
    assert states.after_customer_message(states.NEW) == states.NEW
    assert states.after_customer_message(states.PENDING) == states.OPEN
    assert states.after_customer_message(states.SOLVED) == states.OPEN
    assert states.after_customer_message(states.CLOSED) is None
