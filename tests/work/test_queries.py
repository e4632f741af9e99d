"""Finding work items over the real API: every filter narrows, sorting and pages are stable,
the total comes with every page, and a filter the route does not know is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tandem.container import Container
from tandem.core.clock import ManualClock
from tests.conftest import World


def _items(container: Container, world: World, clock: ManualClock) -> list[str]:
    """Five items an hour apart, APP-1 first; the third one at a higher priority."""
    ids = []
    for n in range(1, 6):
        item = world.submit(
            container, f"scan-{n}.pdf", external_ref=f"APP-{n}", priority=5 if n == 3 else None
        )
        ids.append(str(item.id))
        clock.advance(timedelta(hours=1))
    return ids


def _refs(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["external_ref"] for item in response.json()]


def test_the_clients_reference_finds_its_item_and_nothing_else(
    api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    _items(container, world, clock)
    response = api("client").get("/api/v1/work-items", params={"external_ref": "APP-4"})
    assert _refs(response) == ["APP-4"]
    assert response.headers["X-Total-Count"] == "1"
    other = api("other_client").get("/api/v1/work-items", params={"external_ref": "APP-4"})
    assert _refs(other) == [] and other.headers["X-Total-Count"] == "0"


def test_an_unknown_filter_is_a_422_naming_it_not_every_item(
    api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    _items(container, world, clock)
    response = api("client").get("/api/v1/work-items", params={"reference": "APP-4"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == ["query.reference"]
    assert "external_ref" in errors[0]["message"]  # what the route does take
    # every route, not only the lists
    response = api("client").get(f"/api/v1/processes/{world.process_id}", params={"x": "1"})
    assert response.status_code == 422


def test_dates_states_and_flags_narrow_the_list(
    api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    _items(container, world, clock)
    first = api("client").get("/api/v1/work-items", params={"external_ref": "APP-1"}).json()[0]
    received = first["received_at"]
    window = {"received_from": received, "received_to": _plus(received, hours=2)}
    assert _refs(api("client").get("/api/v1/work-items", params=window)) == ["APP-1", "APP-2"]
    queued = {"state": ["queued", "leased"], "process_id": str(world.process_id)}
    assert len(_refs(api("client").get("/api/v1/work-items", params=queued))) == 5
    delivered = api("client").get("/api/v1/work-items", params={"state": "delivered"})
    assert _refs(delivered) == []
    assert _refs(api("client").get("/api/v1/work-items", params={"breached": "true"})) == []
    bad = api("client").get("/api/v1/work-items", params={"received_from": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.received_from"
    naive = api("client").get("/api/v1/work-items", params={"due_before": "2026-12-07T10:00:00"})
    assert naive.status_code == 422  # a time without its zone is ambiguous


def test_sorting_and_pages_with_the_total_and_links(
    api: Any, container: Container, world: World, clock: ManualClock
) -> None:
    _items(container, world, clock)
    newest = api("client").get("/api/v1/work-items", params={"sort": "-received"})
    assert _refs(newest) == ["APP-5", "APP-4", "APP-3", "APP-2", "APP-1"]
    urgent = api("client").get("/api/v1/work-items", params={"sort": "priority"})
    assert _refs(urgent)[0] == "APP-3"
    pages, url = [], "/api/v1/work-items?limit=2&sort=received"
    while url:
        response = api("client").get(url)
        assert response.headers["X-Total-Count"] == "5"
        pages.append(_refs(response))
        url = response.links.get("next", {}).get("url")
    assert pages == [["APP-1", "APP-2"], ["APP-3", "APP-4"], ["APP-5"]]
    by_delivery = api("client").get("/api/v1/work-items", params={"sort": "-delivered"})
    assert _refs(by_delivery) == []  # none delivered yet: by delivery lists delivered items
    bad = api("client").get("/api/v1/work-items", params={"sort": "colour"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.sort"


def _plus(stamp: str, **delta: float) -> str:
    from datetime import datetime

    return (datetime.fromisoformat(stamp) + timedelta(**delta)).isoformat()
