"""Every list of the API is read a page at a time with how many match in all (issue 16): each
list route takes `limit` and `offset` and answers `X-Total-Count` and `Link`; pages neither
repeat nor skip a row; filters and sorts are applied before paging; a bad page or an unknown
parameter is a 422 naming it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tandem.app import create_app
from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core import paging
from tandem.core.db import transaction
from tandem.tenancy.models import Client
from tests.conftest import RESULT, World
from tests.quality.conftest import GOLD_PAYLOAD, personal_process

# Lists that are not paged, and why: each is bounded by what it is, not by how long the
# provider has run.
NOT_PAGED = {
    # the few articles that best match one conversation, ranked
    "/api/v1/conversations/{conversation_id}/suggestions",
    # the caller's own queues: those of the clients they are cleared for
    "/api/v1/dispatch/queues",
    # the items the caller holds: as many as their leases allow
    "/api/v1/dispatch/leases",
    # one run of a ruleset's tests: every test, as a run's report
    "/api/v1/rulesets/{ruleset_id}/tests/run",
}


def test_every_list_route_pages_with_a_total() -> None:
    """Read from the API's OpenAPI document: every GET answering an array takes `limit` and
    `offset` and documents `X-Total-Count`."""
    spec = create_app().openapi()
    lists = {
        path: operation
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method == "get"
        and operation["responses"]
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("type")
        == "array"
    }
    assert len(lists) > 20  # the sweep sees the API's lists
    unpaged = [
        path
        for path, operation in lists.items()
        if path not in NOT_PAGED
        and not (
            {"limit", "offset"} <= {p["name"] for p in operation.get("parameters", [])}
            and "X-Total-Count" in operation["responses"]["200"].get("headers", {})
        )
    ]
    assert unpaged == []
    assert set(lists) >= NOT_PAGED  # no exemption outlives its route


def _pages(api: Any, who: str, path: str, limit: int, **params: Any) -> tuple[list[Any], int]:
    """Every row of a list read `limit` at a time by following its `Link` headers, and the
    total each page announced."""
    rows: list[Any] = []
    totals = set()
    answer = api(who).get(path, params={**params, "limit": limit})
    while True:
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page) <= limit
        rows.extend(page)
        totals.add(int(answer.headers["X-Total-Count"]))
        following = answer.links.get("next")
        if following is None:
            break
        answer = api(who).get(following["url"])
    assert len(totals) == 1, totals
    return rows, totals.pop()


def test_pages_partition_a_list_and_follow_its_filters_and_sort(
    container: Container, world: World, api: Any
) -> None:
    world.add_agents(container, 9)
    everyone = api("ops").get("/api/v1/agents", params={"limit": 1000})
    assert everyone.status_code == 200
    total = int(everyone.headers["X-Total-Count"])
    assert total == len(everyone.json()) >= 11
    assert "Link" not in everyone.headers  # one page holds them all

    rows, announced = _pages(api, "ops", "/api/v1/agents", 3)
    assert announced == total
    assert [u["id"] for u in rows] == [u["id"] for u in everyone.json()]  # none twice or lost

    second = api("ops").get("/api/v1/agents", params={"limit": 3, "offset": 3})
    assert 'rel="prev"' in second.headers["Link"] and 'rel="next"' in second.headers["Link"]
    beyond = api("ops").get("/api/v1/agents", params={"offset": total})
    assert beyond.json() == [] and beyond.headers["X-Total-Count"] == str(total)

    # Gold items: the filter is applied before the page is cut, the latest added first.
    process_id = personal_process(container, world)
    added = []
    for n in range(4):
        answer = api("ops").post(
            "/api/v1/quality/gold-items",
            json={
                "process_id": str(process_id),
                "payload": {**GOLD_PAYLOAD, "applicant_name": f"Applicant {n}"},
                "answer": RESULT,
            },
        )
        assert answer.status_code == 201, answer.text
        added.append(answer.json()["id"])
        container.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    retired = api("ops").patch(f"/api/v1/quality/gold-items/{added[1]}", json={"active": False})
    assert retired.status_code == 200
    rows, announced = _pages(api, "ops", "/api/v1/quality/gold-items", 2, process_id=process_id)
    assert (announced, [g["id"] for g in rows]) == (4, added[::-1])
    rows, announced = _pages(
        api, "ops", "/api/v1/quality/gold-items", 2, process_id=process_id, active="true"
    )
    assert (announced, [g["id"] for g in rows]) == (3, [added[3], added[2], added[0]])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": paging.MAX_LIMIT + 1}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"page_size": 10}, "page_size"),
    ],
)
def test_a_bad_page_is_a_422_naming_it(
    api: Any, world: World, params: dict[str, Any], field: str
) -> None:
    answer = api("ops").get("/api/v1/agents", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert any(field in error["field"] for error in answer.json()["errors"]), answer.json()


def test_a_window_is_refused_outside_its_bounds() -> None:
    with pytest.raises(ValueError):
        paging.Window(0)
    with pytest.raises(ValueError):
        paging.Window(10, -1)
    page = paging.cut(list(range(7)), paging.Window(3, 6))
    assert (page.items, page.total) == ([6], 7)
    assert paging.cut([], paging.Window()).map(str) == paging.Page([], 0)


def test_pages_of_a_query_of_two_entities_are_tuples(container: Container, world: World) -> None:
    query = (
        select(Process, Client)
        .join(Client, Client.id == Process.client_id)
        .order_by(Process.name, Process.id)
    )
    with transaction(container.sessions) as session:
        page = paging.read(session, query, paging.Window(1, 1))
        assert page.total == 2
        ((process, client),) = page.items
        assert isinstance(process, Process) and isinstance(client, Client)
        assert process.client_id == client.id
