"""The provider's workforce and the operations view of the queues.

Workforce managers (provider:workforce:manage: ops managers, provider admins) add agents,
set their skills, languages, clearances and shifts (each PUT replaces the whole set, in one
transaction) and deactivate them. Every change is audited on the provider's chain, and
holds from the agent's next claim: the dispatcher forgets the queues it cached for them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tandem.container import Container
from tandem.core import paging
from tandem.http import MAX_INT, Paging, Services, paged, paged_responses, requires, uses
from tandem.reports import queues
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission
from tandem.tenancy.principal import Principal
from tandem.workforce import service
from tandem.workforce.eligibility import CEFR_LEVELS, WeeklyShift
from tandem.workforce.models import Agent, DeliveryCenter

router = APIRouter(prefix="/api/v1", tags=["workforce and operations"])

WorkforceReading = Annotated[Context, uses(Permission.WORKFORCE_READ)]
WorkforceManaging = Annotated[Context, uses(Permission.WORKFORCE_MANAGE)]
# Changes to an agent run in a transaction of their own (`_changing`).
WorkforceManager = Annotated[Principal, Depends(requires(Permission.WORKFORCE_MANAGE))]
OpsReading = Annotated[Context, uses(Permission.OPERATIONS_READ)]


class CenterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    country: str
    timezone: str
    hourly_cost: Decimal
    currency: str
    holidays: list[str]


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    center_code: str
    tier: str
    active: bool


class QueueDepthOut(BaseModel):
    client_id: int
    process_id: uuid.UUID
    process_code: str
    state: str
    items: int
    at_risk: int
    breached: int


@router.get("/centers", response_model=list[CenterOut], responses=paged_responses("centers"))
def list_centers(
    ctx: WorkforceReading, request: Request, response: Response, window: Paging
) -> list[DeliveryCenter]:
    return paged(request, response, paging.cut(service.list_centers(ctx), window), window)


@router.get("/agents", response_model=list[AgentOut], responses=paged_responses("agents"))
def list_agents(
    ctx: WorkforceReading,
    request: Request,
    response: Response,
    window: Paging,
    center: str | None = None,
) -> list[Agent]:
    found = paging.cut(service.list_agents(ctx, center), window)
    return paged(request, response, found, window)


# -- administering agents --------------------------------------------------------------------


class AgentIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    center_code: str = Field(min_length=1, max_length=16, description="A delivery center's code")
    tier: Literal["agent", "analyst"]
    user_id: uuid.UUID | None = Field(
        default=None,
        description="Their sign-in: a provider user with an agent role (agent, analyst, "
        "team_lead) and no agent profile yet",
    )


Level = Annotated[int, Field(ge=1, le=5)]
Cefr = Annotated[str, Field(max_length=2, json_schema_extra={"enum": list(CEFR_LEVELS)})]


class SkillsIn(BaseModel):
    skills: dict[str, Level] = Field(
        max_length=200, description="Skill code -> level, 1 (trainee) to 5 (expert)"
    )


class LanguagesIn(BaseModel):
    languages: dict[str, Cefr] = Field(
        max_length=50, description="Language code (en, fil, pt-BR) -> CEFR level"
    )


class ClearancesIn(BaseModel):
    client_ids: list[Annotated[int, Field(ge=1, le=MAX_INT)]] = Field(
        max_length=1000, description="The clients whose items the agent may work"
    )


class ShiftIn(BaseModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday, in the center's calendar")
    start_minute: int = Field(ge=0, le=1439, description="Minutes after local midnight")
    duration_minutes: int = Field(ge=1, le=1440, description="May run past midnight")


class ShiftsIn(BaseModel):
    shifts: list[ShiftIn] = Field(max_length=100)


class ShiftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    weekday: int
    start_minute: int
    duration_minutes: int


class AgentDetailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    center_code: str
    tier: str
    active: bool
    user_id: uuid.UUID | None
    skills: dict[str, int]
    languages: dict[str, str]
    client_ids: list[int] = Field(description="Cleared for these clients' items")
    shifts: list[ShiftOut]


@contextmanager
def _changing(services: Container, principal: Principal, agent_id: uuid.UUID) -> Iterator[Context]:
    """A transaction changing one agent; once it has committed, the dispatcher forgets the
    queues it cached for the agent, so that the change holds from their next claim."""
    with services.context(principal) as ctx:
        yield ctx
    services.dispatcher.forget_agent(agent_id)


@router.post("/agents", response_model=AgentDetailOut, status_code=201)
def create_agent(body: AgentIn, ctx: WorkforceManaging) -> service.AgentDetails:
    """A new agent, serving no queue until given skills, clearances and shifts."""
    return service.create_agent(
        ctx, name=body.name, center_code=body.center_code, tier=body.tier, user_id=body.user_id
    )


@router.get("/agents/{agent_id}", response_model=AgentDetailOut)
def get_agent(agent_id: uuid.UUID, ctx: WorkforceReading) -> service.AgentDetails:
    return service.agent_details(ctx, agent_id)


@router.put("/agents/{agent_id}/skills", response_model=AgentDetailOut)
def set_skills(
    agent_id: uuid.UUID, body: SkillsIn, principal: WorkforceManager, services: Services
) -> service.AgentDetails:
    """Replaces the agent's skills; an unknown skill is named as skills.<code>."""
    with _changing(services, principal, agent_id) as ctx:
        return service.replace_skills(ctx, agent_id, body.skills)


@router.put("/agents/{agent_id}/languages", response_model=AgentDetailOut)
def set_languages(
    agent_id: uuid.UUID, body: LanguagesIn, principal: WorkforceManager, services: Services
) -> service.AgentDetails:
    """Replaces the agent's languages, each with its CEFR level (A1 to C2)."""
    with _changing(services, principal, agent_id) as ctx:
        return service.replace_languages(ctx, agent_id, body.languages)


@router.put("/agents/{agent_id}/clearances", response_model=AgentDetailOut)
def set_clearances(
    agent_id: uuid.UUID, body: ClearancesIn, principal: WorkforceManager, services: Services
) -> service.AgentDetails:
    """Replaces the clients the agent is cleared for; an unknown one is named as
    client_ids.<index>."""
    with _changing(services, principal, agent_id) as ctx:
        return service.replace_clearances(ctx, agent_id, body.client_ids)


@router.put("/agents/{agent_id}/shifts", response_model=AgentDetailOut)
def set_shifts(
    agent_id: uuid.UUID, body: ShiftsIn, principal: WorkforceManager, services: Services
) -> service.AgentDetails:
    """Replaces the agent's weekly shifts, in their center's local time."""
    shifts = [WeeklyShift(s.weekday, s.start_minute, s.duration_minutes) for s in body.shifts]
    with _changing(services, principal, agent_id) as ctx:
        return service.replace_shifts(ctx, agent_id, shifts)


@router.delete("/agents/{agent_id}", response_model=AgentDetailOut)
def deactivate_agent(
    agent_id: uuid.UUID, principal: WorkforceManager, services: Services
) -> service.AgentDetails:
    """Deactivates the agent: their next claim is refused. Their live leases are not taken
    back but left to expire (the work in hand may still be handed in until then, and a
    heartbeat still extends a lease while their sign-in works: deactivate the user too to
    end that at once); the reaper then returns those items to the queue. The agent is kept
    for the record; deactivating them again changes nothing."""
    with _changing(services, principal, agent_id) as ctx:
        return service.deactivate_agent(ctx, agent_id)


@router.get(
    "/operations/queues", response_model=list[QueueDepthOut], responses=paged_responses("queues")
)
def queue_depth(
    ctx: OpsReading, request: Request, response: Response, window: Paging
) -> list[queues.QueueDepth]:
    """Open work per process and state, with how much of it is at risk or breached."""
    return paged(request, response, paging.cut(queues.queue_depth(ctx), window), window)
