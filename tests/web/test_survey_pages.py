"""Satisfaction in a browser, at a desktop's and a phone's width: a customer who wrote on the
web finds the survey at their conversation's link once it is solved, answers, and is
thanked; the client's people then see the figure in the portal."""

from __future__ import annotations

import re
from typing import Any

from tandem.container import Container
from tandem.servicedesk import surveys
from tests.servicedesk.conftest import Desk
from tests.servicedesk.conftest import desk as desk_fixture
from tests.web.conftest import sign_in
from tests.web.phone import WIDTHS, page_at, shot

desk = desk_fixture  # the service desk's fixture, for these pages too


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@WIDTHS
def test_a_customer_answers_the_survey_and_the_client_sees_the_figure(
    browser: Any, server: str, width: int, desk: Desk, api: Any, container: Container
) -> None:
    opened = _ok(
        api("client").post(
            f"/api/v1/brands/{desk.brand_id}/conversations",
            json={
                "name": "Maria Lopez",
                "email": "maria@example.com",
                "subject": "My order never came",
                "text": "Order 1234 has not arrived.",
            },
        ),
        201,
    )
    lease = _ok(api("agent").post("/api/v1/dispatch/claim"))
    _ok(
        api("agent").post(
            f"/api/v1/conversations/{lease['payload']['conversation_id']}/replies",
            json={"attempt": lease["attempt"], "text": "It arrives tomorrow.", "then": "solved"},
        ),
        201,
    )
    # The worker's step: the survey is sent (no relay here: its mail waits in the outbox).
    assert (
        surveys.send_due(
            container.sessions, container.clock, container.keyring, public_url=server, days=14
        )
        == 1
    )

    customer = page_at(browser, server, width)
    customer.goto(opened["link"].removeprefix(server))
    customer.locator("#survey-link a").click()
    customer.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]{43}/survey$"))
    assert customer.get_by_role("heading", name="How did we do?").is_visible()
    shot(customer, f"survey-question-{width}")
    customer.get_by_label("A word about it (optional)").fill("Fast and kind.")
    customer.get_by_role("button", name="Good, I'm satisfied").click()
    assert customer.get_by_role("heading", name="Thank you for your answer").is_visible()
    shot(customer, f"survey-thanks-{width}")
    customer.context.close()

    client = page_at(browser, server, width)
    sign_in(client, container, "c@insurer.example")
    client.goto("/console/portal")
    client.get_by_role("link", name="Customer satisfaction").click()
    client.wait_for_url(re.compile(r"/console/portal/satisfaction$"))
    total = client.locator("#satisfaction-total").inner_text()
    assert "100% satisfied, of 1 answered (100% of 1 surveys sent)" in total
    assert client.get_by_role("row", name=re.compile("Acme")).is_visible()
    shot(client, f"satisfaction-report-{width}")
    client.context.close()
