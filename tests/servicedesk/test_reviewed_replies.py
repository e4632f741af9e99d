"""Quality on replies (issue 17, item 10): a brand's process under full review samples every
reply after it is sent (the customer is not kept waiting for a reviewer). The reviewer reads
the thread's reply against the conversation scorecard; a reply failed on tone goes back to
its agent under a new lease, who writes a follow-up that goes out threaded on the same
conversation; the follow-up passes and is delivered. The agent's standing counts both."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tandem.container import Container
from tandem.core.db import transaction
from tandem.quality.models import SCORECARD, Review
from tandem.tenancy.service import create_user, issue_token
from tests.quality.conftest import set_policy
from tests.servicedesk.conftest import Desk, Sink
from tests.servicedesk.test_email_out import _claimed, _ok, _send


def test_a_reply_is_reviewed_after_sending_and_a_failed_one_followed_up(
    container: Container, desk: Desk, api: Any, sink: Sink
) -> None:
    set_policy(container, desk.process_id, "full_review")
    with transaction(container.sessions) as session:  # a QA reviewer of the provider
        user = create_user(
            session,
            email="q@provider.example",
            name="Q",
            role="qa_reviewer",
            now=container.clock.now(),
        )
        desk.world.tokens["qa"] = issue_token(session, user.id, "test", container.clock.now())
    conversation_id, attempt = _claimed(desk, api)
    written = _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={"attempt": attempt, "text": "Parcel lost. Nothing to do."},
        ),
        201,
    )
    assert written["work_item_state"] == "in_review"
    assert _send(container, sink.relay) == 1  # sent at once: review follows, it never holds
    item_id = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))["work_item_id"]

    waiting = _ok(api("qa").get("/api/v1/quality/reviews", params={"kind": "review"}))
    assert [w["item_id"] for w in waiting] == [item_id]
    case = _ok(api("qa").get(f"/api/v1/quality/reviews/{item_id}"))
    assert case["criteria"] == list(SCORECARD)  # a conversation is scored on the scorecard
    assert case["result"] == {"reply": "Parcel lost. Nothing to do."}
    assert "maria@example.com" not in str(case)  # the customer's address stays the system's

    failed = api("qa").post(
        f"/api/v1/quality/reviews/{item_id}",
        json={
            "failures": [{"name": "tone", "category": "communication"}],
            "verdict": "rework",
            "rework_to": "same",
            "reason": "curt: apologise and offer a replacement",
        },
    )
    assert failed.status_code == 200, failed.text
    lease = _ok(api("agent").get("/api/v1/dispatch/leases"))
    (held,) = [held for held in lease if held["item_id"] == item_id]
    follow_up = _ok(
        api("agent").post(
            f"/api/v1/conversations/{conversation_id}/replies",
            json={
                "attempt": held["attempt"],
                "text": "Dear Maria, we are sorry: a replacement leaves today.",
            },
        ),
        201,
    )
    assert follow_up["work_item_state"] == "in_review"
    assert _send(container, sink.relay) == 1
    first, second = (message for _, _, message in sink.received)
    assert second["In-Reply-To"] == "<first-1@mail.example.com>"  # the same thread
    assert second["Subject"] == first["Subject"]

    passed = api("qa").post(
        f"/api/v1/quality/reviews/{item_id}", json={"failures": [], "verdict": "deliver"}
    )
    assert passed.status_code == 200, passed.text
    shown = _ok(api("client").get(f"/api/v1/conversations/{conversation_id}"))
    assert [m["direction"] for m in shown["messages"]] == ["in", "out", "out"]
    with transaction(container.sessions) as session:
        found = session.scalars(select(Review).order_by(Review.at)).all()
    assert [(r.agent_id, r.defect) for r in found] == [
        (desk.world.agent_id, True),
        (desk.world.agent_id, False),
    ]
    assert [c["name"] for c in found[0].checks if not c["passed"]] == ["tone"]
