"""Satisfaction surveys end to end: a conversation solved through the API gets a survey, the
worker sends it through the outbox to a real SMTP sink, the customer opens the link (nothing
counted) and answers (counted once); wrong, other and expired links; the report's figures
per brand, agent and ISO week on a known set, and the report kept to its client."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.servicedesk import outgoing, satisfaction, surveys, webchannel
from tandem.servicedesk.inbound import Rules
from tandem.servicedesk.models import Brand
from tandem.servicedesk.surveys import Survey
from tandem.tenancy.principal import SYSTEM
from tests.conftest import T0
from tests.servicedesk.conftest import Desk, Sink
from tests.servicedesk.test_email_in import FIRST

LINK = re.compile(r"(https?://\S+/s/([A-Za-z0-9_-]{43}))")


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _solved_by_reply(desk: Desk, api: Any) -> str:
    desk.send(FIRST)
    lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
    conversation_id = lease["payload"]["conversation_id"]
    _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={
                "attempt": lease["attempt"],
                "text": "Your parcel arrives tomorrow.",
                "then": "solved",
            },
        ),
        201,
    )
    return str(conversation_id)


def _send(container: Container, server: str, relay: outgoing.Relay | None) -> tuple[int, int]:
    asked = surveys.send_due(
        container.sessions, container.clock, container.keyring, public_url=server, days=14
    )
    mailed = outgoing.send_due(
        container.sessions,
        container.clock,
        relay,
        container.keyring,
        marker=container.settings.smtp_hostname,
        max_attempts=3,
    )
    return asked, mailed


def _surveys(container: Container) -> list[Survey]:
    with transaction(container.sessions) as session:
        return list(session.scalars(select(Survey).order_by(Survey.solved_at)))


def test_a_solved_conversation_is_asked_by_mail_and_only_a_posted_answer_counts_once(
    container: Container,
    desk: Desk,
    api: Any,
    sink: Sink,
    server: str,
) -> None:
    conversation_id = _solved_by_reply(desk, api)
    [due] = _surveys(container)
    assert due.state == "due" and due.agent_id == desk.world.agent_id and due.token_hash is None
    assert _send(container, server, sink.relay) == (1, 2)  # the reply, then the survey
    _, to, mail = sink.received[-1]
    assert to == ["maria@example.com"] and "Acme Support" in mail["From"]
    assert mail["In-Reply-To"] == "<first-1@mail.example.com>"
    assert mail["Subject"] == "Re: My parcel has not arrived"
    body = mail.get_content().replace("\r\n", "\n")
    assert "-- \nAcme Support" in body  # the brand's signature
    url, token = LINK.search(body).groups()  # type: ignore[union-attr]
    assert url == f"{server}/s/{token}"
    [sent] = _surveys(container)
    assert sent.state == "sent" and sent.token_hash == surveys.token_hash(token)
    assert token not in str(sent.__dict__)  # only its hash is kept
    # Provider staff see the survey's mail in the conversation without its link.
    shown = _ok(api("ops").get(f"/api/v1/conversations/{conversation_id}"))
    assert token not in str(shown)

    with httpx.Client(base_url=server) as customer:
        for _ in range(2):  # a link scanner, then the customer: nothing counted
            opened = customer.get(f"/s/{token}")
            assert opened.status_code == 200 and "How did we do?" in opened.text
            assert opened.headers["cache-control"] == "no-store"
        assert _surveys(container)[0].state == "sent"
        origin = {"Origin": server}
        bad = customer.post(f"/s/{token}", data={"rating": "meh"}, headers=origin)
        assert bad.status_code == 422 and "good or bad" in bad.text
        forged = customer.post(
            f"/s/{token}", data={"rating": "good"}, headers={"Origin": "http://evil.example"}
        )
        assert forged.status_code == 403
        taken = customer.post(
            f"/s/{token}",
            data={"rating": "good", "comment": "Quick, thanks! maria@example.com"},
            headers=origin,
        )
        assert taken.status_code == 303
        assert "Thank you" in customer.get(f"/s/{token}").text
        again = customer.post(f"/s/{token}", data={"rating": "bad"}, headers=origin)
        assert again.status_code == 409 and "already answered" in again.text
    [answered] = _surveys(container)
    assert answered.state == "answered" and answered.rating == "good"
    assert answered.comment is not None and "maria@example.com" not in answered.comment
    opened_comment = container.keyring.open(
        answered.client_id, answered.id, answered.sealed or "", surveys.SURVEY
    )
    assert opened_comment["comment"] == "Quick, thanks! maria@example.com"
    # Solving again after an answer asks no more: one answer per conversation.
    _ok(
        api("ops").post(f"/api/v1/conversations/{conversation_id}/state", json={"action": "reopen"})
    )
    _ok(api("ops").post(f"/api/v1/conversations/{conversation_id}/state", json={"action": "solve"}))
    assert [s.state for s in _surveys(container)] == ["answered"]


def test_unknown_other_and_expired_links_and_a_solve_again_before_an_answer(
    container: Container,
    clock: ManualClock,
    desk: Desk,
    api: Any,
    sink: Sink,
    server: str,
) -> None:
    conversation_id = _solved_by_reply(desk, api)
    _send(container, server, sink.relay)
    token = LINK.search(sink.received[-1][2].get_content()).group(2)  # type: ignore[union-attr]
    with httpx.Client(base_url=server) as customer:
        assert customer.get("/s/" + "A" * 43).status_code == 404  # guessed
        assert customer.get("/s/short").status_code == 404
        wrong = customer.post("/s/" + "B" * 43, data={"rating": "good"}, headers={"Origin": server})
        assert wrong.status_code == 404
        # Reopened and solved again before an answer: the first survey is withdrawn.
        _ok(
            api("ops").post(
                f"/api/v1/conversations/{conversation_id}/state", json={"action": "reopen"}
            )
        )
        _ok(
            api("ops").post(
                f"/api/v1/conversations/{conversation_id}/state", json={"action": "solve"}
            )
        )
        first, second = _surveys(container)
        assert (first.state, second.state) == ("withdrawn", "due")
        assert second.agent_id == desk.world.agent_id  # the last reply's agent, not ops
        gone = customer.post(f"/s/{token}", data={"rating": "bad"}, headers={"Origin": server})
        assert gone.status_code == 409
        assert customer.get(f"/s/{token}").status_code == 410
        _send(container, server, sink.relay)
        newer = LINK.search(sink.received[-1][2].get_content()).group(2)  # type: ignore[union-attr]
        assert newer != token
        clock.advance(timedelta(days=14, seconds=1))
        assert customer.get(f"/s/{newer}").status_code == 410
        late = customer.post(f"/s/{newer}", data={"rating": "good"}, headers={"Origin": server})
        assert late.status_code == 409 and "expired" in late.text
    assert [s.state for s in _surveys(container)] == ["withdrawn", "sent"]


def _conversation(container: Container, brand_id: uuid.UUID, n: int) -> tuple[int, uuid.UUID]:
    with container.context(SYSTEM) as ctx:
        brand = ctx.session.get_one(Brand, (desk_client(ctx, brand_id), brand_id))
        opened = webchannel.open_conversation(
            ctx,
            brand,
            webchannel.Contact("Ana", f"ana{n}@example.com", f"Question {n}", "Hello"),
            Rules(),
            verified=True,
        )
        return brand.client_id, opened.conversation_id


def desk_client(ctx: Any, brand_id: uuid.UUID) -> int:
    return int(ctx.session.scalar(select(Brand.client_id).where(Brand.id == brand_id)))


def test_the_report_counts_per_brand_agent_and_week_and_keeps_to_its_client(
    container: Container, desk: Desk, api: Any
) -> None:
    other_agent = desk.world.add_agents(container, 1)[0]
    agent = desk.world.agent_id
    week_1, week_2 = T0 - timedelta(days=7), T0  # 2026-W09 and W10
    known = [  # brand, agent, sent, rating ("due" and "withdrawn" never count)
        (desk.brand_id, agent, week_1, "good"),
        (desk.brand_id, agent, week_1, "bad"),
        (desk.brand_id, other_agent, week_2, "good"),
        (desk.brand_id, other_agent, week_2, None),
        (desk.brand_id, agent, None, None),
        (desk.other_brand_id, agent, week_2, "good"),
    ]
    for n, (brand_id, agent_id, sent_at, rating) in enumerate(known):
        client_id, conversation_id = _conversation(container, brand_id, n)
        with transaction(container.sessions) as session:
            session.add(
                Survey(
                    client_id=client_id,
                    conversation_id=conversation_id,
                    brand_id=brand_id,
                    agent_id=agent_id,
                    state="due" if sent_at is None else ("answered" if rating else "sent"),
                    solved_at=sent_at or T0,
                    sent_at=sent_at,
                    expires_at=sent_at and sent_at + timedelta(days=14),
                    answered_at=sent_at if rating else None,
                    rating=rating,
                )
            )
    mine = _ok(api("client").get("/api/v1/satisfaction"))
    assert mine["total"] == {
        "sent": 4,
        "answered": 3,
        "satisfied": 2,
        "satisfied_share": 2 / 3,
        "response_rate": 0.75,
    }
    assert [(b["label"], b["sent"]) for b in mine["brands"]] == [("Acme", 4)]
    agents = {a["key"]: (a["sent"], a["answered"], a["satisfied_share"]) for a in mine["agents"]}
    assert agents == {str(agent): (2, 2, 0.5), str(other_agent): (2, 1, 1.0)}
    weeks = {w["key"]: (w["sent"], w["answered"], w["response_rate"]) for w in mine["weeks"]}
    assert weeks == {"2026-W09": (2, 2, 1.0), "2026-W10": (2, 1, 0.5)}
    # The other client sees its own brand only; provider staff see both.
    theirs = _ok(api("other_client").get("/api/v1/satisfaction"))
    assert [b["label"] for b in theirs["brands"]] == ["Other"] and theirs["total"]["sent"] == 1
    assert (
        _ok(api("other_client").get(f"/api/v1/satisfaction?brand_id={desk.brand_id}"))["total"][
            "sent"
        ]
        == 0
    )
    staff = _ok(api("ops").get("/api/v1/satisfaction"))
    assert staff["total"]["sent"] == 5 and len(staff["brands"]) == 2
    assert api("agent").get("/api/v1/satisfaction").status_code == 403
    backwards = api("client").get(
        "/api/v1/satisfaction?since=2026-03-04T00:00:00Z&until=2026-03-01T00:00:00Z"
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "until"


def test_the_figures_pure() -> None:
    brand = uuid.uuid4()
    tally = satisfaction.tally(
        [
            satisfaction.Counted(1, brand, None, T0, "good"),
            satisfaction.Counted(1, brand, None, T0, None),
        ]
    )
    assert tally.total.response_rate == 0.5 and tally.total.satisfied_share == 1.0
    assert satisfaction.Figures().satisfied_share is None
    assert satisfaction.iso_week(T0) == "2026-W10"
    since, until = satisfaction.last_weeks(T0, 2)
    assert (since.isoformat(), until.isoformat()) == (
        "2026-02-23T00:00:00+00:00",
        "2026-03-09T00:00:00+00:00",
    )
    assert [e["field"] for e in satisfaction.answer_errors("meh", "x" * 1001)] == [
        "rating",
        "comment",
    ]
