"""Reading and defining processes, always within the caller's client scope."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from tandem.audit import service as audit
from tandem.catalog.forms import Form, FormError
from tandem.catalog.models import PROCESS_KINDS, SLA_MODES, Process
from tandem.core.caching import CACHES, LruCache
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.sla.policy import SlaPolicy
from tandem.tenancy.context import Context
from tandem.tenancy.models import Client
from tandem.tenancy.principal import Principal
from tandem.vault.masking import CATEGORIES, check_categories, personal_fields
from tandem.workforce.eligibility import CEFR_LEVELS, QueueRequirements
from tandem.workforce.models import Skill

# Facts of a process that never change once it is defined (a changed form is a new process),
# read once per server process: compiling a form costs milliseconds, validating microseconds.
_FORMS: LruCache[str, Form] = CACHES.bounded("catalog.forms", 4_096)
_RESULTS: LruCache[tuple[int, uuid.UUID], ResultFacts] = CACHES.bounded("catalog.results", 16_384)
_PERSONAL: LruCache[tuple[int, uuid.UUID], tuple[dict[str, str], frozenset[str]]] = CACHES.bounded(
    "catalog.personal_views", 16_384
)


@dataclass(frozen=True)
class ResultFacts:
    """What a submit needs of its process: the result form, its personal fields, the kind."""

    form: Form
    personal: dict[str, str]
    kind: str


def form_of(schema: dict[str, Any]) -> Form:
    """The compiled Form of a schema (compiled once, then reused)."""
    return _FORMS.get_or_load(json.dumps(schema, sort_keys=True), lambda: Form(schema))


def _results(db: Session | Connection, client_id: int, process_id: uuid.UUID) -> ResultFacts:
    def load() -> ResultFacts:
        schema, kind = db.execute(
            select(Process.form_schema, Process.kind).where(
                Process.client_id == client_id, Process.id == process_id
            )
        ).one()
        return ResultFacts(form_of(schema), personal_fields(schema), kind)

    return _RESULTS.get_or_load((client_id, process_id), load)


def result_form(db: Session | Connection, client_id: int, process_id: uuid.UUID) -> Form:
    """The compiled result form of a process (submits are the hot path: read once)."""
    return _results(db, client_id, process_id).form


def result_personal(
    db: Session | Connection, client_id: int, process_id: uuid.UUID
) -> dict[str, str]:
    """The result form's personal fields {field: category}, read with the form."""
    return _results(db, client_id, process_id).personal


def process_kind(db: Session | Connection, client_id: int, process_id: uuid.UUID) -> str:
    """A process's kind, read with its result form (and as rarely)."""
    return _results(db, client_id, process_id).kind


def get_process(ctx: Context, process_id: uuid.UUID) -> Process:
    """A process of the caller's client (provider staff: any); NotFound otherwise."""
    return visible_process(ctx.session, ctx.principal, process_id)


def visible_process(session: Session, principal: Principal, process_id: uuid.UUID) -> Process:
    """`get_process` for a use case not yet given a Context."""
    process = session.scalar(
        select(Process).where(
            Process.id == process_id, principal.client_condition(Process.client_id)
        )
    )
    if process is None:
        raise NotFound(f"process {process_id} not found")
    return process


def list_processes(ctx: Context) -> Sequence[Process]:
    """The processes of the caller's client (provider staff: every client's)."""
    return ctx.session.scalars(
        select(Process)
        .where(ctx.principal.client_condition(Process.client_id))
        .order_by(Process.client_id, Process.code)
    ).all()


@dataclass(frozen=True)
class ProcessDefinition:
    """A process as a client outsources it, one value: what `define_process` checks and
    keeps. Whose process it is and when it was defined are not part of it."""

    code: str
    name: str
    kind: str  # PROCESS_KINDS
    input_schema: dict[str, Any]  # what a work item brings in
    form_schema: dict[str, Any]  # the result an agent or analyst produces
    sla_minutes: int
    sla_mode: str  # SLA_MODES
    required_skills: Mapping[str, int] = field(default_factory=dict)  # {skill: minimum level}
    language: str | None = None
    min_cefr: str | None = None  # the agent's least level in `language`
    priority: int = 0
    price_per_item: Decimal = Decimal(0)
    # Categories of personal input fields (x-personal) agents see unmasked.
    agent_visible_personal: Sequence[str] = ()
    # The rework target: minutes the redo of a result the client rejected may take, from
    # the rejection; None: `sla_minutes` again.
    rework_sla_minutes: int | None = None


def whose_process(principal: Principal, client_id: int | None) -> int:
    """The client a new process is for: a client's own people define their client's (a
    client named besides is ignored); provider staff name one."""
    if principal.client_id is not None:
        return principal.client_id
    if client_id is None:
        raise InvalidInput(
            "say which client", errors=[{"field": "client_id", "message": "required"}]
        )
    return client_id


def define_process(
    session: Session,
    client_id: int,
    definition: ProcessDefinition,
    *,
    now: datetime,
    active: bool = True,
) -> Process:
    """Create the client's process after checking every field of its definition; errors name
    the field. (A session, not a Context: the world of the tests, the demo and the benchmarks
    defines processes in transactions of their own, outside any request.)"""
    if session.get(Client, client_id) is None:
        raise NotFound(f"client {client_id} not found")
    if errors := _invalid(session, definition):
        raise InvalidInput("the process definition is invalid", errors=errors)
    code = definition.code
    if session.scalar(
        select(Process.id).where(Process.client_id == client_id, Process.code == code)
    ):
        raise Conflict(f"the client already has a process with code {code!r}")
    process = Process(
        client_id=client_id,
        code=code,
        name=definition.name,
        kind=definition.kind,
        input_schema=definition.input_schema,
        form_schema=definition.form_schema,
        required_skills=dict(definition.required_skills),
        language=definition.language,
        min_cefr=definition.min_cefr,
        sla_minutes=definition.sla_minutes,
        sla_mode=definition.sla_mode,
        rework_sla_minutes=definition.rework_sla_minutes,
        priority=definition.priority,
        price_per_item=definition.price_per_item,
        agent_visible_personal=sorted(set(definition.agent_visible_personal)),
        active=active,
        created_at=now,
    )
    session.add(process)
    session.flush()
    return process


# -- commercial terms: the provider's ------------------------------------------------------
#
# What a process costs the client and how fast it is promised (price, SLA target and mode,
# priority among the provider's queues) is agreed between the companies, not set by one of
# the client's users: a process a client's own people define proposes its SLA, and takes no
# work until provider staff set its terms.

PROVIDER_TERMS = {"priority": 0, "price_per_item": Decimal(0)}


def define_for(ctx: Context, client_id: int | None, definition: ProcessDefinition) -> Process:
    """A process defined over the API or the console. Provider staff set its terms with it;
    a client's people leave price and priority to the provider (422 naming each field) and
    their process waits for the provider's terms (`set_terms`) before it takes work."""
    owner = whose_process(ctx.principal, client_id)
    by_client = ctx.principal.client_id is not None
    if by_client and (
        errors := [
            {"field": name, "message": "the provider sets it, with the process's terms"}
            for name, default in PROVIDER_TERMS.items()
            if getattr(definition, name) != default
        ]
    ):
        raise InvalidInput("commercial terms are the provider's", errors=errors)
    return define_process(ctx.session, owner, definition, now=ctx.now, active=not by_client)


def set_terms(
    ctx: Context,
    process_id: uuid.UUID,
    *,
    sla_minutes: int,
    sla_mode: str,
    priority: int,
    price_per_item: Decimal,
    rework_sla_minutes: int | None = None,
) -> Process:
    """Provider staff agree a process's terms; it takes work from now on. Audited on the
    client's chain with the terms before and after. No rework target: the redo of a
    rejected result gets the process's own target."""
    process = get_process(ctx, process_id)
    if errors := _term_errors(sla_minutes, sla_mode, price_per_item, rework_sla_minutes):
        raise InvalidInput("the terms are invalid", errors=errors)
    before = _terms(process)
    process.sla_minutes, process.sla_mode = sla_minutes, sla_mode
    process.rework_sla_minutes = rework_sla_minutes
    process.priority, process.price_per_item = priority, price_per_item
    process.active = True
    ctx.session.flush()
    audit.record_in(
        ctx,
        client_id=process.client_id,
        action="process.terms",
        subject=f"process:{process.id}",
        data={"before": before, "after": _terms(process)},
    )
    return process


def _terms(process: Process) -> dict[str, Any]:
    return {
        "sla_minutes": process.sla_minutes,
        "sla_mode": process.sla_mode,
        "rework_sla_minutes": process.rework_sla_minutes,
        "priority": process.priority,
        "price_per_item": str(process.price_per_item),
        "active": process.active,
    }


def _term_errors(
    sla_minutes: int, sla_mode: str, price: Decimal, rework_minutes: int | None = None
) -> list[dict[str, str]]:
    errors = []
    if sla_mode not in SLA_MODES:
        errors.append({"field": "sla_mode", "message": f"must be one of {', '.join(SLA_MODES)}"})
    if sla_minutes <= 0:
        errors.append({"field": "sla_minutes", "message": "must be positive"})
    if rework_minutes is not None and rework_minutes <= 0:
        errors.append({"field": "rework_sla_minutes", "message": "must be positive"})
    if price < 0:
        errors.append({"field": "price_per_item", "message": "must not be negative"})
    return errors


def taking_work(process: Process) -> None:
    """Conflict unless the process takes work (its terms are agreed)."""
    if not process.active:
        raise Conflict(
            f"process {process.code!r} awaits the provider's terms (SLA, priority, price): "
            "nothing is queued until they are set"
        )


def _invalid(session: Session, definition: ProcessDefinition) -> list[dict[str, str]]:
    """What is wrong with the definition, each error naming its field."""
    errors: list[dict[str, str]] = []
    if definition.kind not in PROCESS_KINDS:
        errors.append({"field": "kind", "message": f"must be one of {', '.join(PROCESS_KINDS)}"})
    errors += _term_errors(
        definition.sla_minutes,
        definition.sla_mode,
        definition.price_per_item,
        definition.rework_sla_minutes,
    )
    input_schema, form_schema = definition.input_schema, definition.form_schema
    for name, schema in (("input_schema", input_schema), ("form_schema", form_schema)):
        try:
            Form(schema)
        except FormError as exc:
            errors.append({"field": name, "message": str(exc)})
    skills = definition.required_skills
    known = set(session.scalars(select(Skill.code).where(Skill.code.in_(list(skills)))).all())
    for skill, level in skills.items():
        if skill not in known:
            errors.append({"field": f"required_skills.{skill}", "message": "unknown skill"})
        elif not 1 <= level <= 5:
            errors.append({"field": f"required_skills.{skill}", "message": "level must be 1-5"})
    errors += check_categories(input_schema, "input_schema")
    errors += check_categories(form_schema, "form_schema")
    errors += [
        {"field": "agent_visible_personal", "message": f"unknown category {category!r}"}
        for category in definition.agent_visible_personal
        if category not in CATEGORIES
    ]
    min_cefr = definition.min_cefr
    if min_cefr is not None and min_cefr not in CEFR_LEVELS:
        errors.append({"field": "min_cefr", "message": f"must be one of {', '.join(CEFR_LEVELS)}"})
    return errors


def personal_view(
    db: Session | Connection, client_id: int, process_id: uuid.UUID
) -> tuple[dict[str, str], frozenset[str]]:
    """The process's personal fields {field: category} and the categories agents see:
    read once (a process's forms never change)."""

    def load() -> tuple[dict[str, str], frozenset[str]]:
        row = db.execute(
            select(Process.input_schema, Process.agent_visible_personal).where(
                Process.client_id == client_id, Process.id == process_id
            )
        ).one()
        return personal_fields(row[0]), frozenset(row[1] or ())

    return _PERSONAL.get_or_load((client_id, process_id), load)


def policy_for(
    session: Session, client_id: int, process_id: uuid.UUID, at_risk_fraction: float
) -> SlaPolicy:
    """The process's SLA policy on its client's calendar, with its rework target."""
    row = session.execute(
        select(Process.sla_minutes, Process.sla_mode, Process.rework_sla_minutes, Client.calendar)
        .join(Client, Client.id == Process.client_id)
        .where(Process.client_id == client_id, Process.id == process_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"process {process_id} not found")
    return SlaPolicy.for_process(
        row.sla_minutes, row.sla_mode, row.calendar, at_risk_fraction, row.rework_sla_minutes
    )


def queue_requirements(session: Session, client_ids: frozenset[int]) -> list[QueueRequirements]:
    """Requirements of every active process of these clients."""
    if not client_ids:
        return []
    processes = session.scalars(
        select(Process).where(Process.client_id.in_(client_ids), Process.active)
    ).all()
    return [
        QueueRequirements(
            p.client_id,
            p.routing_key,
            p.required_skills,
            p.language,
            p.min_cefr,
            judged=p.kind == "decision",
        )
        for p in processes
    ]
