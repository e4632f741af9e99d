"""Every operation of `GET /openapi.json`, checked by Schemathesis against the real server.

The insurer's data is seeded in every state the routes care about (the isolation test's
seed), and every operation is called as one of two callers with broad permissions: a
provider admin (also an agent cleared for both clients, so that the agent's routes get past
"you are no agent") and the insurer's client admin. For each operation:

- the isolation test's valid request, with the insurer's real ids, so that success answers
  are checked too; then the same request with one value at a time replaced by what random
  generation rarely reaches and the database refuses (a NUL in a string, an integer past 32
  or 64 bits);
- then what Schemathesis generates from the schema, valid and invalid (its positive and
  negative modes), ids drawn mostly from the seeded rows so that requests get past 404.

Every answer must be no 5xx, carry a documented status code and media type, a body valid
against the documented schema, and its documented headers as declared.

Each caller has a test, and a database, of its own (`clean_db`). Within a test the
operations share the seeded world and may change it, as they would in use; nothing is
carried over to the next test. Schemathesis' pytest integration for a fixture's schema
(`schemathesis.pytest.from_fixture`) fails on pytest 9 (it sets `Function._nodeid`), so
each operation is a subtest running a Hypothesis test of its own, built with the public API
(`APIOperation.as_strategy`, `Case.call_and_validate`).

TANDEM_SCHEMATHESIS_EXAMPLES (default 10 per mode and operation) and
TANDEM_SCHEMATHESIS_SEED (fixed by default, so that a run is repeatable) explore further.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import islice
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tandem.app import create_app
from tandem.container import Container
from tandem.core.db import transaction
from tandem.tenancy.service import create_user, issue_token
from tests.conftest import World, _agent
from tests.test_isolation import (
    ID_KINDS,
    Endpoint,
    Seeded,
    endpoints,
    request_of,
    seed,
    variants,
)

pytestmark = pytest.mark.slow

Operation = APIOperation[Any, Any, Any, Any]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = int(os.environ.get("TANDEM_SCHEMATHESIS_EXAMPLES", "10"))
SEED = int(os.environ.get("TANDEM_SCHEMATHESIS_SEED", "20260304"))
SEEDED_ID_PROBABILITY = 0.85  # an id parameter takes a seeded id, else a generated one
MAX_EDGED = 30  # edged requests per operation (a rule graph has hundreds of values)


def _provider_admin(container: Container, world: World) -> str:
    """The token of a provider admin who is also an agent cleared for both clients."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        user = create_user(
            session, email="admin@provider.example", name="Admin", role="provider_admin", now=now
        )
        _agent(session, [world.client_id, world.other_client_id], user_id=user.id)
        return issue_token(session, user.id, "test", now)


def _config(seeded: Seeded, world: World) -> schemathesis.Config:
    """Id parameters (path, query, top-level body field) draw mostly from the seeded ids;
    the retailer's client and process are there too, to be refused."""
    values = {
        kind: [v if isinstance(v, int) else str(v) for v in ids.values()]
        for kind, ids in seeded.ids.items()
    }
    values["client"].append(world.other_client_id)
    values["process"].append(str(world.other_process_id))
    return schemathesis.Config.from_dict(
        {
            "dictionaries": {kind: {"values": found} for kind, found in values.items()},
            "parameters": {
                f"{where}.{name}": {"dictionary": kind, "probability": SEEDED_ID_PROBABILITY}
                for name, kind in ID_KINDS.items()
                for where in ("path", "query", "body")
            },
        }
    )


@dataclass
class Target:
    schema: BaseSchema
    table: list[Endpoint]  # the isolation test's route table: a valid request per route
    seeded: Seeded
    base_url: str
    headers: dict[str, str]


@pytest.fixture(params=["provider_admin", "client_admin"])
def target(
    request: pytest.FixtureRequest, container: Container, world: World, server: str
) -> Iterator[Target]:
    with ExitStack() as stack:
        seeded = seed(container, world, server, stack)
        token = (
            _provider_admin(container, world)
            if request.param == "provider_admin"
            else world.tokens["client"]
        )
        openapi = httpx.get(f"{server}/openapi.json", timeout=30)
        assert openapi.status_code == 200, openapi.text
        yield Target(
            schemathesis.openapi.from_dict(openapi.json(), config=_config(seeded, world)),
            endpoints(create_app(container), openapi.json()),
            seeded,
            server,
            {"Authorization": f"Bearer {token}"},
        )


def test_every_operation_answers_as_its_schema_says(
    target: Target, subtests: pytest.Subtests
) -> None:
    operations: dict[tuple[str, str], Operation] = {}
    for result in target.schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation Schemathesis cannot read
        operation = result.ok()
        operations[operation.method.upper(), operation.path] = operation
    table = {endpoint.key: endpoint for endpoint in target.table}
    assert set(operations) <= set(table), "operations the isolation test's table lacks"
    with (
        httpx.Client(base_url=target.base_url, headers=target.headers, timeout=30) as http,
        requests.Session() as session,
    ):
        for key, operation in operations.items():
            with subtests.test(operation.label):
                _seeded_requests(operation, table[key], target, http, session)
                _generated_requests(operation, target, session)


def _seeded_requests(
    operation: Operation,
    endpoint: Endpoint,
    target: Target,
    http: httpx.Client,
    session: requests.Session,
) -> None:
    """The route table's valid request, with the first seeded id of each kind, sent twice;
    then the same with one value at a time replaced by what random generation rarely
    reaches and the database refuses: a NUL in a string, an integer past 32 or 64 bits."""
    values = variants(endpoint, target.seeded.ids)[0]
    request = request_of(endpoint, values)
    path = {slot.name: str(value) for slot, value in values.items() if slot.where == "path"}
    if endpoint.files:  # a file upload: sent as it is, the answer checked
        response = http.request(**request)
        response.request.read()  # the multipart body was streamed: Schemathesis reads it
        operation.Case(path_parameters=path).validate_response(response, checks=CHECKS)
        return
    # A retry answers as documented too: a replay (with an Idempotency-Key of its own, not
    # the isolation test's) or a conflict. The edged requests go without a key.
    key = {name: f"schemathesis-{uuid.uuid4()}" for name, _ in endpoint.headers}
    seeded = (request.get("params"), request.get("json"), key)
    edged = [(query, body, None) for query, body in islice(_edged(request), MAX_EDGED)]
    for query, body, headers in [seeded, seeded, *edged]:
        case = operation.Case(
            path_parameters=path,
            query=query,
            headers=headers,
            **({"body": body, "media_type": "application/json"} if body is not None else {}),
        )
        case.call_and_validate(
            base_url=target.base_url, session=session, headers=target.headers, checks=CHECKS
        )


def _edged(request: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """(query, body) with one leaf replaced by an edge value, for each leaf (the shallow
    ones first) and edge."""
    query: dict[str, str] = request.get("params") or {}
    body = request.get("json")
    for key, value in query.items():
        for edge in _edges(value):
            yield {**query, key: str(edge)}, body
    for path, value in sorted(_leaves(body), key=lambda leaf: len(leaf[0])):
        for edge in _edges(value):
            yield query or None, _replaced(body, path, edge)


def _edges(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value + "\x00", *((2**31, 2**63) if value.isdigit() else ())]
    if isinstance(value, int) and not isinstance(value, bool):
        return [2**31, 2**63]
    return []


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _leaves(inner, (*path, index))
    elif path:
        yield path, value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _generated_requests(operation: Operation, target: Target, session: requests.Session) -> None:
    strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]

    # No shrinking: the server's state moves on between calls, so a failure is reported as
    # found (with its curl command), not replayed into a smaller one.
    @hypothesis.seed(SEED)
    @settings(
        max_examples=EXAMPLES * len(strategies),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=st.one_of(strategies))
    def call(case: schemathesis.Case[Operation]) -> None:
        case.call_and_validate(
            base_url=target.base_url, session=session, headers=target.headers, checks=CHECKS
        )

    call()
