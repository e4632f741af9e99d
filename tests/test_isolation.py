"""Tenant isolation, route by route.

The insurer's data is seeded through the real use cases and routes, with distinctive marker
strings, so that every kind of id the API takes exists in every interesting state. Then every
route of the app (walked from `app.routes`, described by `GET /openapi.json`) is called with
the insurer's real ids in each position that takes one (path, query, body) by:

- the retailer: its client admin, and an API key of its own holding every client permission;
- provider staff of the retailer only: an agent holding a lease on a retailer item, and an
  analyst (who may judge referrals), neither cleared for the insurer;
- the insurer's own agent and an insurer-cleared analyst, on the routes of one item, for the
  items not leased to them.

Each answer is a refusal (401/403/404/405/409/422) or a 2xx that shows none of the insurer's
markers, ids or client id. Callers with no tie to the insurer must get exactly what a missing
id gets (status and body, the id replaced), so nothing can be probed; for the others every
404 must. Nothing of the insurer's may change. A new route is called too, or the test fails.
"""

from __future__ import annotations

import io
import json
import random
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from openpyxl import Workbook
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount, Route

from tandem.app import create_app
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import ManualClock
from tandem.core.db import transaction
from tandem.custody.models import PurgeReport
from tandem.decisions import underwriting as uw
from tandem.delivery.models import WebhookDelivery
from tandem.delivery.webhooks import deliver_due
from tandem.models import metadata
from tandem.quality.gold import seed_gold
from tandem.servicedesk import macros, outgoing, replies, smtp
from tandem.servicedesk.brands import CONVERSATION_INPUT, BrandDefinition, create_brand
from tandem.servicedesk.knowledge import articles as knowledge
from tandem.servicedesk.models import Brand
from tandem.tenancy.models import User
from tandem.tenancy.principal import SYSTEM, Principal
from tandem.tenancy.service import create_user, issue_token
from tandem.work.models import WorkItem
from tandem.workforce.models import Agent
from tests.conftest import FORM_SCHEMA, INPUT_SCHEMA, LOCAL, RESULT, World, _agent
from tests.documents.samples import pdf
from tests.quality.conftest import work

pytestmark = pytest.mark.slow

# -- the insurer's markers -------------------------------------------------------------------

DOC = "INSURER-SECRET-DOC"
NAME = "Ophelia Insurerdata"
EXT_REF = "INSURER-EXT-REF-7731"
AMOUNT = 731_913.57  # cents: cannot occur in an id or a timestamp by chance
MARKED = {"applicant_name": NAME, "coverage_amount": AMOUNT}
SECOND_KEYING = {"applicant_name": NAME, "coverage_amount": 264_587.31}
IDEMPOTENCY_KEY = "INSURER-IDEMPOTENCY-KEY"
INSURER_EMAIL = "c@insurer.example"  # the world's insurer client admin
# Case-insensitive. "insurer" also catches the client's code and name, its users' emails,
# its webhook URL and file names.
TEXT_MARKERS = (DOC, NAME, EXT_REF, str(AMOUNT), "264587.31", IDEMPOTENCY_KEY, "insurer")
APPLICANT = {**uw.tests()[0][1], "applicant_name": NAME}
SCAN = pdf(2)  # the document each seeded item comes with

# -- the route table -------------------------------------------------------------------------

DOC_ROUTES = frozenset({"/openapi.json"})
# include_in_schema=False: the landing page, and the docs page (its assets are files)
NOT_IN_SCHEMA = frozenset({("GET", "/"), ("GET", "/docs")})
# The console's pages are not in the API's schema: their ids come from their paths.
PAGES = ("/console", "/sign-in", "/sign-out")
# Public by design (tandem.web.helpdesk): a brand's contact form shows the brand's name and
# greeting to anyone, and a conversation's page opens with its secret link alone (a guessed
# link is a 404: tests/servicedesk/test_web_channel.py). No caller's token changes what they
# show, so they are not swept.
PUBLIC_PAGES = ("/help/", "/c/", "/s/")
STATIC = ("/static", "/docs/assets")  # files only, the same for everyone
# A redirect (to the sign-in page, or to a section) shows nothing either.
REFUSALS = frozenset({303, 401, 403, 404, 405, 409, 422})

# Parameter name -> kind of id, wherever the parameter is (path, query, JSON body field).
ID_KINDS = {
    "item_id": "item",
    "process_id": "process",
    "batch_id": "batch",
    "ruleset_id": "ruleset",
    "webhook_id": "webhook",
    "delivery_id": "delivery",
    "alert_id": "alert",
    "key_id": "api_key",
    "client_id": "client",
    "email": "email",
    "user_id": "user",
    "agent_id": "agent",
    "conversation_id": "conversation",
    "brand_id": "brand",
    "article_id": "article",
    "macro_id": "macro",
    "roster_id": "roster",
    "request_id": "shift_request",
    "document_id": "staged_document",
    "gold_id": "gold_item",
}
HEADERS = {"idempotency-key": IDEMPOTENCY_KEY}
PROBE_CSV = b"document_ref,pages\nprobe.pdf,1\n"


def _workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["in:country", "out:outcome", "out:reasons"])
    sheet.append(["US", "approve", '["STANDARD"]'])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# Plausible values for JSON fields, over what the schema alone gives, so that a call gets past
# validation to the lookup of the id.
BODY_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/api-keys"): {"name": "probe", "permissions": ["client:work_item:read"]},
    # Four tenants, each with a twin: 8 sign-ins, within the 10 a minute allowed per address.
    ("POST", "/api/v1/auth/sign-in"): {"password": "not-the-password"},
    ("POST", "/api/v1/processes"): {
        "code": "probe",
        "name": "Probe",
        "kind": "data_entry",
        "input_schema": INPUT_SCHEMA,
        "form_schema": FORM_SCHEMA,
        "sla_minutes": 60,
    },
    ("POST", "/api/v1/processes/{process_id}/work-items"): {"payload": {"document_ref": "p.pdf"}},
    ("PUT", "/api/v1/processes/{process_id}/terms"): {"sla_minutes": 60},
    ("POST", "/api/v1/leases/{item_id}/submit"): {"result": RESULT},
    ("POST", "/api/v1/leases/{item_id}/judgment"): {"outcome": "approve", "reason": "probe"},
    ("POST", "/api/v1/processes/{process_id}/rulesets"): {"graph": uw.graph()},
    ("POST", "/api/v1/rulesets/{ruleset_id}/tests"): {
        "input": uw.tests()[0][1],
        "expected": {"outcome": "approve"},
    },
    ("POST", "/api/v1/quality/adjudications/{item_id}"): {"values": RESULT},
    ("POST", "/api/v1/users"): {"email": "probe@probe.example", "role": "client_user"},
    ("PUT", "/api/v1/users/{user_id}/role"): {"role": "client_user"},
    ("POST", "/api/v1/quality/gold-items"): {
        "payload": {"document_ref": "probe.pdf"},
        "answer": RESULT,
    },
    ("POST", "/api/v1/agents"): {"name": "Probe", "center_code": "MNL", "tier": "agent"},
    ("PUT", "/api/v1/agents/{agent_id}/skills"): {"skills": {"data_entry": 3}},
    ("PUT", "/api/v1/agents/{agent_id}/languages"): {"languages": {"en": "C1"}},
    ("PUT", "/api/v1/agents/{agent_id}/clearances"): {"client_ids": []},
    ("PUT", "/api/v1/agents/{agent_id}/shifts"): {
        "shifts": [{"weekday": 0, "start_minute": 0, "duration_minutes": 1440}]
    },
}
FILE_OVERRIDES: dict[tuple[str, str], tuple[str, bytes]] = {
    ("POST", "/api/v1/processes/{process_id}/rulesets/xlsx"): ("probe.xlsx", _workbook()),
}


@dataclass(frozen=True)
class Slot:
    """A place in a request that takes an id: a path or query parameter, or a body field."""

    where: str  # path, query or body
    name: str
    kind: str
    required: bool = True


Values = dict[Slot, Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    slots: tuple[Slot, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None  # JSON, with Slot values where an id goes
    files: tuple[tuple[str, tuple[str, bytes]], ...] = ()  # multipart

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every route with its full path, into included routers (FastAPI includes them lazily)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from _walk(included.routes, prefix + getattr(context, "prefix", ""))
        else:
            yield prefix + getattr(route, "path", ""), route


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every API route; documentation routes are checked to be only those
    listed, so that nothing else escapes the walk."""
    found: set[tuple[str, str]] = set()
    others: set[str] = set()
    for path, route in _walk(app.routes):
        if isinstance(route, APIRoute):
            found |= {(method, path) for method in route.methods or ()}
        elif isinstance(route, Mount) and path in STATIC:
            continue
        elif isinstance(route, Route):
            others.add(path)
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    assert others == DOC_ROUTES, f"routes other than API and documentation: {others}"
    return found


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _example(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """A minimal value the schema accepts (required fields only)."""
    schema = _resolve(schema, doc)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], doc)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        props = schema.get("properties", {})
        return {name: _example(props[name], doc) for name in required if name in props}
    if kind == "array":
        return [_example(schema.get("items", {}), doc) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return int(low) if kind == "integer" else low
    if kind == "boolean":
        return True
    if kind == "string":
        if schema.get("format") == "uri":
            return "https://probe.example/hook"
        if schema.get("format") == "date-time":
            return "2026-03-04T15:00:00Z"
        return "probe"[: schema.get("maxLength", 5)].ljust(schema.get("minLength", 1), "e")
    return {}


def endpoints(app: FastAPI, doc: dict[str, Any]) -> list[Endpoint]:
    """The route table: each (method, path) of the app with where it takes ids and a body."""
    routes = app_routes(app)
    assert set(BODY_OVERRIDES) | set(FILE_OVERRIDES) <= routes, "overrides of no route"
    table = []
    for method, path in sorted(routes):
        operation = doc["paths"].get(path, {}).get(method.lower())
        if operation is None and path.startswith(PUBLIC_PAGES):
            continue
        if operation is None and path.startswith(PAGES):
            names = re.findall(r"{(\w+)}", path)
            unknown = [name for name in names if name not in ID_KINDS]
            assert not unknown, f"{method} {path}: no id of the insurer for {unknown}"
            table.append(Endpoint(method, path, tuple(Slot("path", n, ID_KINDS[n]) for n in names)))
            continue
        if operation is None:
            assert (method, path) in NOT_IN_SCHEMA, f"{method} {path} is not in the schema"
            table.append(Endpoint(method, path))
            continue
        slots: list[Slot] = []
        headers: list[tuple[str, str]] = []
        for param in operation.get("parameters", []):
            name, where = param["name"], param["in"]
            if where == "header" and name.lower() in HEADERS:
                headers.append((name, HEADERS[name.lower()]))
            elif name in ID_KINDS and where in ("path", "query"):
                slots.append(Slot(where, name, ID_KINDS[name], param.get("required", False)))
            elif where == "path":
                raise AssertionError(f"{method} {path}: no id of the insurer for {{{name}}}")
        body: dict[str, Any] | None = None
        files: list[tuple[str, tuple[str, bytes]]] = []
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            schema = _resolve(content["application/json"]["schema"], doc)
            body = {**_example(schema, doc), **BODY_OVERRIDES.get((method, path), {})}
            for name in schema.get("properties", {}):
                if name in ID_KINDS:
                    slot = Slot("body", name, ID_KINDS[name])
                    slots.append(slot)
                    body[name] = slot
        elif "multipart/form-data" in content:
            schema = _resolve(content["multipart/form-data"]["schema"], doc)
            for name, prop in schema.get("properties", {}).items():
                if prop.get("format") == "binary" or prop.get("contentMediaType"):
                    upload = FILE_OVERRIDES.get((method, path), ("probe.csv", PROBE_CSV))
                    files.append((name, upload))
        elif content:
            raise AssertionError(f"{method} {path}: a body of {sorted(content)}")
        table.append(Endpoint(method, path, tuple(slots), tuple(headers), body, tuple(files)))
    return table


def variants(endpoint: Endpoint, ids: dict[str, dict[str, Any]]) -> list[Values]:
    """Every id of each kind in each slot, the other slots at their kind's first id; optional
    query filters one at a time, all together and left out (no filter may widen a list)."""
    first = {slot: next(iter(ids[slot.kind].values())) for slot in endpoint.slots}
    base = {s: v for s, v in first.items() if s.where != "query" or s.required}
    found = [first]
    for values in [base] + [
        {**base, slot: value} for slot in endpoint.slots for value in ids[slot.kind].values()
    ]:
        if values not in found:
            found.append(values)
    return found


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def request_of(endpoint: Endpoint, values: Values) -> dict[str, Any]:
    """httpx.request keyword arguments for the endpoint with `values` in its slots."""
    by_name = {(s.where, s.name): v for s, v in values.items()}
    url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(by_name[("path", m.group(1))]), endpoint.path)
    request: dict[str, Any] = {"method": endpoint.method, "url": url}
    params = {name: str(v) for (where, name), v in by_name.items() if where == "query"}
    if params:
        request["params"] = params
    if endpoint.headers:
        request["headers"] = dict(endpoint.headers)
    if endpoint.body is not None:
        request["json"] = {
            name: _jsonable(values[v]) if isinstance(v, Slot) else v
            for name, v in endpoint.body.items()
            if not isinstance(v, Slot) or v in values
        }
    if endpoint.files:
        request["files"] = dict(endpoint.files)
    return request


def _signature(request: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in request.items() if k != "files"}, sort_keys=True, default=str
    )


# -- the checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    token: str
    strict: bool  # no tie to the insurer: answers exactly as for a missing id
    item_routes_only: bool = False  # the insurer's own agents: only the routes of one item
    own_items: frozenset[Any] = frozenset()  # leased to them: theirs to work, not probed
    skip_paths: frozenset[str] = frozenset()

    def calls(self, endpoint: Endpoint) -> bool:
        if endpoint.path in self.skip_paths:
            return False
        return not self.item_routes_only or any(
            s.where == "path" and s.kind == "item" for s in endpoint.slots
        )


@dataclass(frozen=True)
class Finding:
    caller: str
    method: str
    path: str
    url: str
    status: int
    problem: str
    excerpt: str

    def __str__(self) -> str:
        return (
            f"{self.caller:13} {self.method:6} {self.url} -> {self.status}: {self.problem}\n"
            f"{'':14}{self.excerpt}"
        )


@dataclass
class Seeded:
    ids: dict[str, dict[str, Any]]  # kind -> label -> the insurer's id
    twins: dict[str, Any]  # kind -> an id of that kind that exists nowhere
    client_id: int
    uuids: frozenset[str]  # every id of a row the insurer owns
    item_states: dict[str, str] = field(default_factory=dict)  # label -> state seeded


# Each answer's own request id (in problem details): not a difference between two answers.
REQUEST_ID = re.compile(r',?"request_id":"[^"]*"')


def _text(response: httpx.Response) -> str:
    return REQUEST_ID.sub("", response.content.decode("utf-8", errors="replace"))


def _client_ids(value: Any) -> Iterator[Any]:
    """Every `client_id` in a JSON document."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "client_id":
                yield inner
            yield from _client_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _client_ids(inner)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.startswith("{")]
        try:
            return [json.loads(line) for line in lines]
        except ValueError:
            return None


def problems(
    caller: Caller,
    response: httpx.Response,
    twin: httpx.Response | None,
    values: Values,
    seeded: Seeded,
) -> list[str]:
    """What is wrong with one answer; nothing if it is a refusal or shows nothing."""
    found: list[str] = []
    status, text = response.status_code, _text(response)
    if 200 <= status < 300:
        if caller.item_routes_only:
            found.append("a 2xx on an item not leased to the caller")
    elif status not in REFUSALS:
        found.append(f"status {status}")
    # The ids the request named may be echoed ("work item <id> not found"): nothing more.
    scrubbed = text
    for slot, value in values.items():
        if slot.kind != "client":
            scrubbed = scrubbed.replace(str(value), f"<{slot.kind}>")
    shown = [m for m in TEXT_MARKERS if m.lower() in scrubbed.lower()]
    shown += sorted(u for u in seeded.uuids if u in scrubbed)
    if shown:
        found.append(f"shows the insurer's {', '.join(shown[:4])}")
    if seeded.client_id in _client_ids(_json(text)):
        found.append("shows the insurer's client_id")
    if twin is not None:
        twin_text = _text(twin)
        for slot, value in values.items():
            twin_text = twin_text.replace(str(seeded.twins[slot.kind]), str(value))
        same = (twin.status_code, twin_text) == (status, text)
        if not same and (caller.strict or status == 404):
            found.append(
                f"answers unlike a missing id, which gets {twin.status_code} {twin_text[:160]!r}"
            )
    return found


def call(http: httpx.Client, request: dict[str, Any]) -> httpx.Response:
    """One request; a connection the server dropped after an error is tried once more."""
    try:
        return http.request(**request)
    except httpx.TransportError:
        return http.request(**request)


def sweep(
    http: httpx.Client,
    caller: Caller,
    table: list[Endpoint],
    seeded: Seeded,
    only: tuple[str, str] | None = None,
) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Call every route the caller is meant to try, with every id of the insurer's."""
    findings: list[Finding] = []
    called: set[tuple[str, str]] = set()
    twins: dict[str, httpx.Response] = {}
    for endpoint in table:
        if not caller.calls(endpoint) or (only is not None and endpoint.key != only):
            continue
        for values in variants(endpoint, seeded.ids):
            if any(s.kind == "item" and v in caller.own_items for s, v in values.items()):
                continue
            called.add(endpoint.key)
            request = request_of(endpoint, values)
            response = call(http, request)
            twin = None
            if values and (any(s.where != "body" for s in values) or not response.is_success):
                twin_request = request_of(endpoint, {s: seeded.twins[s.kind] for s in values})
                signature = _signature(twin_request)
                if signature not in twins:
                    twins[signature] = call(http, twin_request)
                twin = twins[signature]
            for problem in problems(caller, response, twin, values, seeded):
                findings.append(
                    Finding(
                        caller.name,
                        endpoint.method,
                        endpoint.path,
                        response.request.url.raw_path.decode(),
                        response.status_code,
                        problem,
                        " ".join(_text(response)[:240].split()),
                    )
                )
    return findings, called


def snapshot(container: Container, client_id: int) -> dict[str, list[str]]:
    """Every row the insurer owns, table by table. Left out: what a failed sign-in with one of
    its users' emails writes by design (the user's failure count, the audit trail of it)."""
    rows: dict[str, list[str]] = {}
    with container.sessions() as session:
        for table in metadata.sorted_tables:
            if "client_id" not in table.c or table.name == "audit_chains":
                continue
            columns = [c for c in table.c if c.name not in ("failed_sign_ins", "locked_until")]
            query = select(*columns).where(table.c.client_id == client_id)
            if table.name == "audit_records":
                query = query.where(table.c.action.notlike("sign_in%"))
            rows[table.name] = sorted(repr(tuple(row)) for row in session.execute(query))
    return rows


def _changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """Per table that changed: how many rows differ, and the first one as it is now."""
    changes = []
    for name, rows in before.items():
        if after[name] != rows:
            now = sorted(set(after[name]) - set(rows)) or ["(deleted)"]
            changes.append(f"{name}, {len(set(after[name]) ^ set(rows))} rows: {now[0][:200]}")
    return changes


# -- seeding the insurer's data --------------------------------------------------------------


def _staff(container: Container, role: str, email: str, cleared_for: list[int] | None) -> str:
    """The token of a new provider user, with an agent profile cleared for `cleared_for`."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        user = create_user(session, email=email, name=email, role=role, now=now)
        if cleared_for is not None:
            _agent(session, cleared_for, user_id=user.id)
        return issue_token(session, user.id, "test", now)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def _user_id(container: Container, email: str) -> uuid.UUID:
    with container.sessions() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def _desk(container: Container, world: World) -> dict[str, uuid.UUID]:
    """The insurer's service desk: a brand, and a customer's mail with an attachment taken
    by the desk's own handler (brands, addresses, customers, identities, conversations,
    messages, attachments)."""
    with transaction(container.sessions) as session:
        process = define_process(
            session,
            world.client_id,
            ProcessDefinition(
                code="support",
                name="Customer service",
                kind="conversation",
                input_schema=CONVERSATION_INPUT,
                form_schema={"type": "object", "properties": {"reply": {"type": "string"}}},
                required_skills={"data_entry": 2},
                sla_minutes=120,
                sla_mode="24x7",
            ),
            now=container.clock.now(),
        )
    with container.context(SYSTEM) as ctx:
        create_brand(
            ctx,
            BrandDefinition(
                code="desk",
                name=f"{DOC} brand",
                process_id=process.id,
                support_addresses=["support@insurer-desk.example"],
                reply_from_name="Support",
                reply_from_address="support@insurer-desk.example",
                signature="-- Support",
            ),
        )
    mail = EmailMessage()
    mail["From"], mail["To"] = f"{NAME} <maria@example.com>", "support@insurer-desk.example"
    mail["Subject"], mail["Message-ID"] = f"{DOC} question", "<q-1@example.com>"
    mail.set_content(f"About {DOC}: {EXT_REF}")
    mail.add_attachment(SCAN, maintype="application", subtype="pdf", filename=f"{DOC}.pdf")
    desk = smtp.Desk(container.settings, container.sessions, container.context)
    [taken] = desk.take(bytes(mail), ["support@insurer-desk.example"])
    # The insurer's agent answers it under a lease operations gave them; the relay is down,
    # so the reply waits in the outbox with its failed attempt recorded.
    assert taken.work_item_id is not None
    with container.context(SYSTEM) as ctx:
        container.dispatcher.assign(ctx, taken.work_item_id, world.agent_id, "the desk")
    agent = Principal(_user_id(container, "a@provider.example"), "agent", None, world.agent_id)
    with container.context(agent) as ctx:
        replies.reply(
            ctx, container.dispatcher, taken.conversation_id, 1, f"About {DOC}: done", then="solved"
        )  # solved: its customer's satisfaction survey is made
    down = outgoing.Relay("127.0.0.1", _closed_port(), starttls=False, timeout_s=2)
    assert outgoing.send_due(
        container.sessions, container.clock, down, container.keyring, marker="m", max_attempts=5
    )
    with transaction(container.sessions) as session:
        brand_id = session.scalars(select(Brand.id).where(Brand.code == "desk")).one()
    with container.context(SYSTEM) as ctx:  # the brand's knowledge base: a published article
        article = knowledge.create_article(
            ctx, brand_id, knowledge.Draft(f"{DOC} article", f"About {DOC}: {EXT_REF}")
        )
        knowledge.publish(ctx, brand_id, article.id)
    with container.context(SYSTEM) as ctx:  # a ready answer of the brand
        macro = macros.create(
            ctx, brand_id, macros.MacroDefinition(f"{DOC} macro", f"About {DOC}: {EXT_REF}")
        )
    return {
        "conversation": taken.conversation_id,
        "brand": brand_id,
        "article": article.id,
        "macro": macro.id,
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _roster(container: Container, world: World) -> uuid.UUID:
    """A draft roster of the insurer's cleared agents (nothing required: solved at once)."""
    from tandem.workforce import rosters

    today = container.clock.now().date()
    spec = rosters.RosterSpec(
        name="insurer week",
        first_date=today + timedelta(days=7 - today.weekday()),
        days=1,
        requirement={},
        source={"kind": "explicit", "process_id": str(world.process_id)},
        client_id=world.client_id,
        centers=("MNL",),
    )
    return rosters.plan_roster(lambda: container.context(SYSTEM), spec, time_limit=1).id


def _shift_request(container: Container, world: World) -> uuid.UUID:
    """A day off the world's agent (cleared for the insurer) asks for next week."""
    from tandem.workforce import shift_requests

    agent = Principal(_user_id(container, "a@provider.example"), "agent", None, world.agent_id)
    with container.context(agent) as ctx:
        day = container.clock.now().date() + timedelta(days=7)
        return shift_requests.make_request(ctx, local_date=day, kind="day_off").id


def seed(container: Container, world: World, server: str, stack: ExitStack) -> Seeded:
    """The insurer's data in every state the routes care about, through the real use cases;
    the retailer's own data beside it. Claims happen while only the intended item is queued."""
    assert isinstance(container.clock, ManualClock)

    def http(token: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"}
        return stack.enter_context(httpx.Client(base_url=server, headers=headers, timeout=30))

    client, ops = http(world.tokens["client"]), http(world.tokens["ops"])
    reviewer = http(_staff(container, "qa_reviewer", "qa@provider.example", None))
    judge = http(_staff(container, "analyst", "judge@provider.example", [world.client_id]))
    keying = world.process_id
    items: dict[str, Any] = {}
    states: dict[str, str] = {}

    def submit(label: str, process: uuid.UUID = keying, **payload: Any) -> Any:
        body = payload or {"document_ref": f"{DOC}-{label}.pdf", "pages": 3}
        # Each item comes with its document (a scanned form): the document routes find one.
        made = client.post(
            f"/api/v1/processes/{process}/work-items/with-document",
            data={"payload": json.dumps(body)},
            files={"document": (f"{DOC}-{label}.pdf", SCAN, "application/pdf")},
        )
        item = _ok(made, 201)
        items[label] = uuid.UUID(item["id"])
        return items[label]

    def policy(**body: Any) -> None:
        _ok(ops.put(f"/api/v1/processes/{keying}/quality-policy", json=body))

    # The retailer: an item leased to its agent, and the work the retailer's callers may see.
    retailer = http(world.tokens["other_client"])
    _ok(
        retailer.post(
            f"/api/v1/processes/{world.other_process_id}/work-items",
            json={"payload": {"document_ref": "retailer-own.pdf"}},
        ),
        201,
    )
    with container.sessions() as session:
        other_agent = session.scalars(
            select(Agent.id).join(User, User.id == Agent.user_id).where(User.email.like("b@%"))
        ).one()
    with transaction(container.sessions) as session:
        assert container.dispatcher.claim(session, other_agent) is not None

    # Webhook subscription and API key, then a delivered item (its webhook delivery tried once).
    hook = _ok(
        client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/insurer-hook"}), 201
    )
    key = _ok(
        client.post(
            "/api/v1/api-keys",
            json={"name": "insurer-key", "permissions": ["client:work_item:read"]},
        ),
        201,
    )
    created = client.post(
        f"/api/v1/processes/{keying}/work-items",
        json={"payload": {"document_ref": f"{DOC}-delivered.pdf"}, "external_ref": EXT_REF},
        headers={"Idempotency-Key": IDEMPOTENCY_KEY},
    )
    items["delivered"] = uuid.UUID(_ok(created, 201)["id"])
    states["delivered"] = work(container, world.agent_id, MARKED).state.value
    failing = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(500)))
    assert deliver_due(
        container.sessions,
        container.clock,
        failing,
        max_attempts=5,
        timeout_s=1,
        keyring=container.keyring,
        allowed=LOCAL,
    )
    with container.sessions() as session:
        delivery = session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.client_id == world.client_id)
        ).one()

    # Full review (audited): one item waiting for review, and an agent whose ten corrected
    # items raise a quality alert.
    policy(mode="full_review")
    submit("in_review")
    states["in_review"] = work(container, world.agent_id, MARKED).state.value
    sloppy = world.add_agents(container, 1)[0]
    for n in range(10):
        submit("reviewed", pages=n + 1, document_ref=f"{DOC}-reviewed-{n}.pdf")
        work(container, sloppy, {**MARKED, "coverage_amount": 5_000})
        review = _ok(
            reviewer.post(
                f"/api/v1/quality/reviews/{items['reviewed']}",
                json={
                    "failures": [{"name": "coverage_amount", "category": "wrong_value"}],
                    "verdict": "correct",
                    "corrected": MARKED,
                },
            )
        )
        assert review["defect"]
    states["reviewed"] = "delivered"
    [alert] = _ok(ops.get("/api/v1/quality/alerts"))

    # Double entry: two keyings that disagree wait for adjudication.
    policy(mode="double_entry")
    submit("adjudication")
    first, second = world.add_agents(container, 2)
    work(container, first, MARKED)
    states["adjudication"] = work(container, second, SECOND_KEYING).state.value

    # Back to full review: one item leased to the world's agent, one waiting, one cancelled.
    policy(mode="full_review")
    submit("leased")
    with transaction(container.sessions) as session:
        lease = container.dispatcher.claim(session, world.agent_id)
    assert lease is not None and lease.item_id == items["leased"]
    states["leased"] = "leased"
    for label, action in (("waiting", "hold"), ("cancelled", "cancel")):
        submit(label)
        path = f"/api/v1/work-items/{items[label]}/{action}"
        states[label] = _ok(client.post(path, json={"reason": f"{DOC} {label}"}))["state"]

    # A decision process: published rules (declines need four eyes), a draft, a judgment
    # waiting for its confirmation, a referral waiting for an analyst, an item the rules
    # decided.
    underwriting = _ok(
        client.post(
            "/api/v1/processes",
            json={
                "code": "underwriting",
                "name": "Underwriting",
                "kind": "decision",
                "input_schema": uw.INPUT_SCHEMA,
                "form_schema": uw.RESULT_FORM,
                "required_skills": {"data_entry": 2},
                "sla_minutes": 480,
                "sla_mode": "24x7",
            },
        ),
        201,
    )
    decisions = uuid.UUID(underwriting["id"])
    terms = {"sla_minutes": 480, "sla_mode": "24x7"}  # the provider's: it then takes work
    _ok(ops.put(f"/api/v1/processes/{decisions}/terms", json=terms))
    rulesets = {}
    for label, extra in (("published", {"four_eyes": {"declines": True}}), ("draft", {})):
        body = {"graph": uw.graph(), "note": f"{DOC} {label}", **extra}
        made = _ok(client.post(f"/api/v1/processes/{decisions}/rulesets", json=body), 201)
        rulesets[label] = uuid.UUID(made["id"])
        for name, data, expected in uw.tests():
            test = {"name": name, "input": {**data, "applicant_name": NAME}, "expected": expected}
            _ok(client.post(f"/api/v1/rulesets/{made['id']}/tests", json=test), 201)
        if label == "published":
            _ok(client.post(f"/api/v1/rulesets/{made['id']}/publish"))
    abroad = {**APPLICANT, "country": "GB"}
    submit("confirmation", decisions, **abroad)
    claimed = _ok(judge.post("/api/v1/dispatch/claim"))
    assert claimed["item_id"] == str(items["confirmation"])
    judgment = {"attempt": claimed["attempt"], "outcome": "decline", "reason": f"{NAME} no"}
    path = f"/api/v1/leases/{items['confirmation']}/judgment"
    states["confirmation"] = _ok(judge.post(path, json=judgment))["state"]
    submit("referral", decisions, **abroad)
    states["referral"] = "queued"
    submit("decided", decisions, **APPLICANT)
    states["decided"] = "delivered"

    # Queued: one item, a batch (and a batch rejected whole, which is kept), a gold copy.
    submit("queued")
    states["queued"] = "queued"
    rows = "".join(f"{DOC}-batch-{n}.pdf,{n + 1}\n" for n in range(3))
    upload = client.post(
        f"/api/v1/processes/{keying}/batches",
        files={"file": ("insurer-batch.csv", f"document_ref,pages\n{rows}".encode())},
    )
    batch = uuid.UUID(_ok(upload, 201)["id"])
    items["batch"] = uuid.UUID(_ok(client.get(f"/api/v1/work-items?batch_id={batch}"))[0]["id"])
    states["batch"] = "queued"
    rejected = client.post(
        f"/api/v1/processes/{keying}/batches",
        files={"file": ("insurer-rejected.csv", f"document_ref,pages\n{DOC},0\n".encode())},
    )
    assert rejected.status_code == 422, rejected.text
    gold = {
        "process_id": str(keying),
        "payload": {"document_ref": f"{DOC}-gold.pdf"},
        "from_item_id": str(items["reviewed"]),  # its document goes with every copy
    }
    gold_item = _ok(ops.post("/api/v1/quality/gold-items", json={**gold, "answer": MARKED}), 201)
    policy(mode="full_review", gold_rate=0.5)
    with transaction(container.sessions) as session:
        seed_gold(session, container.clock.now(), random.Random(1), 0.75, keyring=container.keyring)
    container.clock.advance(timedelta(seconds=1))
    submit("queued-2")
    submit("queued-3")
    with transaction(container.sessions) as session:
        assert seed_gold(
            session, container.clock.now(), random.Random(1), 0.75, keyring=container.keyring
        )
    with container.sessions() as session:
        items["gold"] = session.scalars(
            select(WorkItem.id).where(WorkItem.client_id == world.client_id, WorkItem.gold)
        ).one()
    states["gold"] = "queued"
    for label in ("queued-2", "queued-3"):
        del items[label]
    security = http(world.tokens["security"])
    _ok(security.post(f"/api/v1/clients/{world.client_id}/key-rotations"), 201)
    _ok(security.put(f"/api/v1/clients/{world.client_id}/retention", json={"days": 3650}))
    with transaction(container.sessions) as session:  # as a purge writes it, years on
        session.add(
            PurgeReport(
                client_id=world.client_id,
                reason="retention",
                at=container.clock.now(),
                cutoff=container.clock.now(),
                counts={"work_items": 1, "note": DOC},
            )
        )

    desk = _desk(container, world)
    roster = _roster(container, world)
    shift_request = _shift_request(container, world)
    # A document staged ahead of its item (its id is what an item's document_id names).
    staged = _ok(
        client.post(
            f"/api/v1/processes/{keying}/documents",
            content=SCAN,
            headers={"Content-Type": "application/pdf"},
        ),
        201,
    )
    uuids: set[str] = set()
    with container.sessions() as session:
        for table in metadata.sorted_tables:
            if "client_id" in table.c and "id" in table.c:
                query = select(table.c.id).where(table.c.client_id == world.client_id)
                uuids |= {str(v) for v in session.scalars(query) if isinstance(v, uuid.UUID)}
    return Seeded(
        ids={
            "item": items,
            "process": {"keying": keying, "underwriting": decisions},
            "batch": {"batch": batch, "rejected": uuid.UUID(rejected.json()["batch_id"])},
            "ruleset": rulesets,
            "webhook": {"hook": uuid.UUID(hook["id"])},
            "delivery": {"delivery": delivery},
            "alert": {"alert": uuid.UUID(alert["id"])},
            "api_key": {"key": uuid.UUID(key["id"])},
            "client": {"insurer": world.client_id},
            "email": {"client admin": INSURER_EMAIL},
            "user": {"client admin": _user_id(container, INSURER_EMAIL)},
            # Agents belong to the provider: the world's agent is cleared for the insurer.
            "agent": {"insurer-cleared agent": world.agent_id},
            "conversation": {"conversation": desk["conversation"]},
            "brand": {"brand": desk["brand"]},
            "article": {"article": desk["article"]},
            "macro": {"macro": desk["macro"]},
            # Rosters belong to the provider: this one staffs the insurer's keying process.
            "roster": {"roster": roster},
            # Shift requests belong to the provider: the insurer-cleared agent's day off.
            "shift_request": {"day off": shift_request},
            "staged_document": {"staged": uuid.UUID(staged["id"])},
            "gold_item": {"gold": uuid.UUID(gold_item["id"])},
        },
        twins={
            **{kind: uuid.uuid4() for kind in ID_KINDS.values()},
            "client": 2_000_000_000,
            "email": "nobody@nowhere.example",
        },
        client_id=world.client_id,
        uuids=frozenset(uuids),
        item_states=states,
    )


# -- the test --------------------------------------------------------------------------------


@dataclass
class Setup:
    table: list[Endpoint]
    app_routes: set[tuple[str, str]]
    seeded: Seeded
    callers: list[Caller]
    http: Callable[[str], httpx.Client]  # a client holding this token
    openapi: dict[str, Any]
    other_process_id: uuid.UUID


@pytest.fixture
def setup(container: Container, world: World, server: str) -> Iterator[Setup]:
    with ExitStack() as stack:
        seeded = seed(container, world, server, stack)

        def http(token: str) -> httpx.Client:
            headers = {"Authorization": f"Bearer {token}"}
            client = httpx.Client(base_url=server, headers=headers, timeout=30)
            return stack.enter_context(client)

        retailer = http(world.tokens["other_client"])
        permissions: list[str] = _ok(retailer.get("/api/v1/me"))["permissions"]
        retailer_key = _ok(
            retailer.post(
                "/api/v1/api-keys",
                json={
                    "name": "retailer-system",
                    "permissions": [p for p in permissions if p.startswith("client:")],
                },
            ),
            201,
        )["key"]
        analyst = _staff(container, "analyst", "an@provider.example", [world.client_id])
        other_analyst = _staff(container, "analyst", "ra@provider.example", [world.other_client_id])
        callers = [
            Caller("other_client", world.tokens["other_client"], strict=True),
            Caller("other_key", retailer_key, strict=True),
            Caller("other_agent", world.tokens["other_agent"], strict=True),
            Caller("other_analyst", other_analyst, strict=True),
            Caller(
                "agent",
                world.tokens["agent"],
                strict=False,
                item_routes_only=True,
                own_items=frozenset({seeded.ids["item"]["leased"]}),
            ),
            Caller(
                "analyst",
                analyst,
                strict=False,
                item_routes_only=True,
                # Cleared for the insurer, this analyst may confirm a judgment not their own.
                skip_paths=frozenset({"/api/v1/decisions/confirmations/{item_id}"}),
            ),
        ]
        app = create_app(container)
        openapi = _ok(retailer.get("/openapi.json"))
        yield Setup(
            endpoints(app, openapi),
            app_routes(app),
            seeded,
            callers,
            http,
            openapi,
            world.other_process_id,
        )


def test_the_seeded_data_is_there_and_the_markers_find_it(
    setup: Setup, api: Any, container: Container
) -> None:
    """Every tenant table holds rows of the insurer's, and the insurer itself sees its
    markers: a leak of them would be found."""
    empty = [name for name, rows in snapshot(container, setup.seeded.client_id).items() if not rows]
    assert not empty, f"seed() leaves these tables without a row of the insurer's: {empty}"
    ids = setup.seeded.ids
    for label, state in setup.seeded.item_states.items():
        seen = _ok(api("ops").get(f"/api/v1/work-items/{ids['item'][label]}"))
        assert seen["state"] == state, label
    item = _text(api("client").get(f"/api/v1/work-items/{ids['item']['delivered']}"))
    assert DOC in item and NAME in item and EXT_REF in item
    export = _text(api("client").get(f"/api/v1/batches/{ids['batch']['batch']}/results"))
    assert str(ids["item"]["batch"]) in export
    assert str(ids["alert"]["alert"]) in _text(api("ops").get("/api/v1/quality/alerts"))
    assert str(ids["item"]["delivered"]) in setup.seeded.uuids
    assert set(ID_KINDS.values()) <= set(ids)


def test_no_route_shows_or_changes_the_insurers_data_to_another_tenant(
    setup: Setup, container: Container
) -> None:
    seeded = setup.seeded
    paths = setup.openapi["paths"].items()
    in_schema = {(method.upper(), path) for path, operations in paths for method in operations}
    pages = {(method, path) for method, path in setup.app_routes if path.startswith(PAGES)}
    assert pages, "the console's pages are swept too"
    public = {(method, path) for method, path in setup.app_routes if path.startswith(PUBLIC_PAGES)}
    assert in_schema == setup.app_routes - NOT_IN_SCHEMA - pages - public
    findings: list[Finding] = []
    called: dict[str, set[tuple[str, str]]] = {}
    before = snapshot(container, seeded.client_id)
    for caller in setup.callers:
        found, called[caller.name] = sweep(setup.http(caller.token), caller, setup.table, seeded)
        findings += found
        after = snapshot(container, seeded.client_id)
        for change in _changed(before, after):
            findings.append(Finding(caller.name, "*", "*", "*", 0, "changed " + change, ""))
        before = after
    # Coverage: the tenants call every route of the app; the insurer's agents every item one.
    item_routes = {e.key for e in setup.table if any(s.kind == "item" for s in e.slots)}
    for caller in setup.callers:
        expected = item_routes if caller.item_routes_only else setup.app_routes - public
        expected = {k for k in expected if k[1] not in caller.skip_paths}
        assert called[caller.name] == expected, f"{caller.name} did not call every route"
    assert len(setup.table) == len(setup.app_routes - public)
    # The insurer's Idempotency-Key, sent by the retailer to its own process, is a new key.
    own = setup.http(setup.callers[0].token).post(
        f"/api/v1/processes/{setup.other_process_id}/work-items",
        json={"payload": {"document_ref": f"{DOC}-delivered.pdf"}, "external_ref": EXT_REF},
        headers={"Idempotency-Key": IDEMPOTENCY_KEY},
    )
    if own.status_code != 201 or own.json()["client_id"] == seeded.client_id:
        findings.append(
            Finding(
                "other_client",
                "POST",
                "own process",
                "-",
                own.status_code,
                "replayed the insurer's item for its Idempotency-Key",
                own.text[:200],
            )
        )
    assert not findings, f"{len(findings)} answers show or change the insurer's data:\n" + (
        "\n".join(map(str, findings))
    )
