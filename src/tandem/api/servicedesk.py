"""The service desk's conversations: read them (as the reader may see them), answer and note
under the lease, move their state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tandem.core import paging
from tandem.core.errors import NotFound
from tandem.http import MAX_INT, Paging, Services, paged, paged_responses, uses
from tandem.servicedesk import brands, macros, replies, sla, views, webchannel
from tandem.servicedesk.inbound import Rules
from tandem.servicedesk.models import CONVERSATION_STATES, Brand, Macro
from tandem.servicedesk.placeholders import VARIABLES
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["service desk"])

Reading = Annotated[Context, uses(Permission.CONVERSATION_READ)]
Replying = Annotated[Context, uses(Permission.CONVERSATION_REPLY)]
Managing = Annotated[Context, uses(Permission.CONVERSATION_MANAGE)]
Creating = Annotated[Context, uses(Permission.CONVERSATION_CREATE)]
ConversationState = Literal["new", "open", "pending", "solved", "closed"]
assert set(CONVERSATION_STATES) == {"new", "open", "pending", "solved", "closed"}


class AttemptOut(BaseModel):
    number: int
    at: datetime
    smtp_code: int | None
    error: str | None


class SendingOut(BaseModel):
    status: str = Field(description="queued (waiting: no relay, or a retry due), sent, failed")
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    tries: list[AttemptOut]


class AttachmentOut(BaseModel):
    id: uuid.UUID
    filename: str
    media_type: str
    size: int


class MessageOut(BaseModel):
    id: uuid.UUID
    direction: str = Field(description="in (from the customer), out (to them), note")
    kind: str
    sender: str | None
    author: str | None
    text: str
    has_html: bool
    authentication: str
    at: datetime
    attachments: list[AttachmentOut]
    sending: SendingOut | None = Field(description="an outgoing message's sending status")


class ConversationOut(BaseModel):
    id: uuid.UUID
    client_id: int
    brand_id: uuid.UUID
    brand: str = Field(description="the brand's code")
    brand_name: str
    customer_id: uuid.UUID
    customer_name: str | None
    customer_address: str | None = Field(description="masked for the provider's people")
    subject: str
    state: str
    pending_on: str | None
    tags: list[str]
    unverified_sender: bool
    work_item_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    mail_waiting: int = Field(description="replies not sent yet")
    mail_failed: int = Field(description="replies the relay would not take")
    resolution_due_at: datetime | None = Field(
        description="the brand's resolution target: none set, or paused while it waits on "
        "the customer, when null"
    )
    resolved_at: datetime | None
    resolution_breached: bool | None = Field(description="null: no target, or paused")


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut]


class WriteIn(BaseModel):
    attempt: int = Field(ge=1, le=MAX_INT, description="your lease's fencing token")
    text: str = Field(min_length=1, max_length=50_000)


class ReplyIn(WriteIn):
    then: Literal["pending", "solved"] | None = Field(
        default=None,
        description="the conversation's state after the reply; left out: the macro's, or pending",
    )
    macro_id: uuid.UUID | None = Field(
        default=None,
        description="the brand's macro the reply was written with: its variables are filled "
        "in and its actions applied",
    )


class WrittenOut(BaseModel):
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    conversation_state: str
    work_item_state: str | None


class StateIn(BaseModel):
    action: Literal["solve", "pending", "reopen"]
    pending_on: Literal["customer", "third_party"] = "customer"
    reason: str | None = Field(default=None, max_length=500)


def _out(view: views.ConversationView) -> dict[str, Any]:
    data = dict(view.__dict__)
    data.pop("messages", None)
    return data


@router.get(
    "/conversations",
    response_model=list[ConversationOut],
    responses=paged_responses("conversations"),
)
def list_conversations(
    ctx: Reading,
    request: Request,
    response: Response,
    window: Paging,
    brand_id: uuid.UUID | None = None,
    state: Annotated[list[ConversationState] | None, Query(description="repeat for several")] = (
        None
    ),
) -> list[ConversationOut]:
    """The conversations the caller may see, the latest changed first, one page at a time;
    `X-Total-Count` says how many match in all."""
    page = views.find(ctx, brand_id=brand_id, states=tuple(state or ()), window=window)
    return [ConversationOut.model_validate(_out(c)) for c in paged(request, response, page, window)]


@router.get("/conversations/{conversation_id}", response_model=ConversationDetailOut)
def get_conversation(conversation_id: uuid.UUID, ctx: Reading) -> ConversationDetailOut:
    """One conversation: its messages in order, their attachments, the sending status of
    the outgoing ones."""
    view = views.get(ctx, conversation_id)
    return ConversationDetailOut.model_validate(
        {
            **_out(view),
            "messages": [
                {**m.__dict__, "sending": m.sending.__dict__ if m.sending else None}
                for m in view.messages or []
            ],
        }
    )


@router.post("/conversations/{conversation_id}/replies", response_model=WrittenOut, status_code=201)
def reply(
    conversation_id: uuid.UUID, body: ReplyIn, ctx: Replying, services: Services
) -> WrittenOut:
    """Answer the customer, as the agent holding the conversation's work item under the
    lease: the reply is queued for the relay, the work item submitted with it, the
    conversation left pending on the customer (or solved). 409: the lease was lost."""
    written = replies.reply(
        ctx,
        services.dispatcher,
        conversation_id,
        body.attempt,
        body.text,
        then=body.then,
        macro_id=body.macro_id,
    )
    return WrittenOut.model_validate(written.__dict__)


@router.post("/conversations/{conversation_id}/notes", response_model=WrittenOut, status_code=201)
def note(conversation_id: uuid.UUID, body: WriteIn, ctx: Replying) -> WrittenOut:
    """An internal note, as the agent holding the conversation's work item: never sent."""
    written = replies.note(ctx, conversation_id, body.attempt, body.text)
    return WrittenOut.model_validate(written.__dict__)


@router.post("/conversations/{conversation_id}/state", response_model=ConversationOut)
def change_state(
    conversation_id: uuid.UUID, body: StateIn, ctx: Managing, services: Services
) -> ConversationOut:
    """Solve a conversation, leave it pending (on the customer or a third party), or
    reopen it (it becomes work again)."""
    replies.change_state(
        ctx,
        conversation_id,
        body.action,
        pending_on=body.pending_on,
        reason=body.reason,
        rules=Rules.of(services.settings),
    )
    return ConversationOut.model_validate(_out(views.get(ctx, conversation_id)))


class TakeoverIn(BaseModel):
    agent_id: uuid.UUID | None = Field(
        default=None, description="who takes it over; left out: you (your agent profile)"
    )
    reason: str | None = Field(default=None, max_length=500)


@router.post("/conversations/{conversation_id}/takeover", response_model=ConversationOut)
def take_over(
    conversation_id: uuid.UUID, body: TakeoverIn, ctx: Managing, services: Services
) -> ConversationOut:
    """Take a conversation waiting for an answer over (a team lead), for yourself or the
    agent named: its work item is leased to them and whoever held it loses the lease
    (audited). 409: it waits for nobody's answer; 422 names `agent_id` when that agent may
    not take it now (shift, clearance, skills)."""
    replies.take_over(ctx, services.dispatcher, conversation_id, body.agent_id, body.reason)
    return ConversationOut.model_validate(_out(views.get(ctx, conversation_id)))


class MergeIn(BaseModel):
    into: uuid.UUID = Field(description="the conversation of the same brand it joins")


@router.post("/conversations/{conversation_id}/merge", response_model=ConversationOut)
def merge(
    conversation_id: uuid.UUID, body: MergeIn, ctx: Managing, services: Services
) -> ConversationOut:
    """Merge this conversation into another of the same brand (the customer wrote twice
    about one thing): its messages join the other, it is closed and tagged "merged"; the
    other is answered. Answers the conversation merged into. Audited."""
    target = replies.merge(ctx, conversation_id, body.into, Rules.of(services.settings))
    return ConversationOut.model_validate(_out(views.get(ctx, target.id)))


class SplitIn(BaseModel):
    message_id: uuid.UUID = Field(description="the customer's message the new one begins with")


@router.post(
    "/conversations/{conversation_id}/split", response_model=ConversationOut, status_code=201
)
def split(
    conversation_id: uuid.UUID, body: SplitIn, ctx: Managing, services: Services
) -> ConversationOut:
    """A new conversation from a customer's message and those after it (a second question in
    the same thread): same customer and brand, work of its own. Answers the new one."""
    made = replies.split(ctx, conversation_id, body.message_id, Rules.of(services.settings))
    return ConversationOut.model_validate(_out(views.get(ctx, made.id)))


class ConversationIn(BaseModel):
    name: str = Field(min_length=1, max_length=webchannel.MAX_NAME, description="the customer's")
    email: str = Field(
        min_length=3, max_length=webchannel.MAX_EMAIL, description="the customer's address"
    )
    subject: str = Field(min_length=1, max_length=webchannel.MAX_SUBJECT)
    text: str = Field(min_length=1, max_length=webchannel.MAX_TEXT)
    external_id: str | None = Field(
        default=None, max_length=webchannel.MAX_EXTERNAL_ID, description="your own reference"
    )


class OpenedOut(BaseModel):
    conversation_id: uuid.UUID
    link: str = Field(description="the customer's link to the conversation: give it to them")


@router.post(
    "/brands/{brand_id}/conversations",
    response_model=OpenedOut,
    status_code=201,
    responses={
        200: {
            "model": OpenedOut,
            "description": "A retry: the conversation begun by the first request",
            "headers": {
                "Idempotent-Replayed": {
                    "required": True,
                    "schema": {"type": "string", "const": "true"},
                }
            },
        }
    },
)
def open_conversation(
    brand_id: uuid.UUID,
    body: ConversationIn,
    request: Request,
    response: Response,
    ctx: Creating,
    services: Services,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> OpenedOut:
    """Begin a conversation for a customer from your own site or app (the web channel): taken
    as an email to the brand would be (the customer found or made by their address, the
    conversation made work in the brand's queue). Answers the customer's link, where they
    see the replies and answer. Send an `Idempotency-Key` so that a retry begins nothing
    twice: it answers the same conversation and link."""
    brand = ctx.session.scalar(
        select(Brand).where(Brand.id == brand_id, ctx.principal.client_condition(Brand.client_id))
    )
    if brand is None:
        raise NotFound(f"brand {brand_id} not found")
    opened = webchannel.open_conversation(
        ctx,
        brand,
        webchannel.Contact(body.name, body.email, body.subject, body.text),
        Rules.of(services.settings),
        verified=True,
        idempotency_key=idempotency_key,
        external_id=body.external_id,
    )
    if not opened.created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    link = str(request.base_url).rstrip("/") + "/c/" + opened.link
    return OpenedOut(conversation_id=opened.conversation_id, link=link)


# -- macros --------------------------------------------------------------------------------


class MacroIn(BaseModel):
    title: str = Field(min_length=1, max_length=macros.MAX_TITLE)
    body: str = Field(
        min_length=1,
        max_length=macros.MAX_BODY,
        description="The text put in the composer; it may hold the variables "
        + ", ".join("{{" + name + "}} (" + said + ")" for name, said in VARIABLES.items()),
    )
    add_tags: list[str] = Field(default_factory=list, max_length=macros.MAX_TAGS)
    then: Literal["pending", "solved"] | None = Field(
        default=None, description="the state a reply sent with it leaves; None: the agent's"
    )
    priority: int | None = Field(
        default=None,
        ge=macros.PRIORITY[0],
        le=macros.PRIORITY[1],
        description="the priority of the conversation's work from then on",
    )

    def definition(self) -> macros.MacroDefinition:
        return macros.MacroDefinition(
            self.title, self.body, self.add_tags, self.then, self.priority
        )


class MacroOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    title: str
    body: str
    add_tags: list[str]
    then: str | None = Field(validation_alias="then_state")
    priority: int | None
    updated_at: datetime


@router.get(
    "/brands/{brand_id}/macros", response_model=list[MacroOut], responses=paged_responses("macros")
)
def list_macros(
    brand_id: uuid.UUID, ctx: Managing, request: Request, response: Response, window: Paging
) -> list[Macro]:
    """The brand's macros, by title (the agent's desk offers them on its conversations)."""
    return paged(request, response, paging.cut(macros.of_brand(ctx, brand_id), window), window)


@router.post("/brands/{brand_id}/macros", response_model=MacroOut, status_code=201)
def create_macro(brand_id: uuid.UUID, body: MacroIn, ctx: Managing) -> Macro:
    """A ready answer of the brand. 422 names a variable that does not exist; 409: the
    brand has a macro of this title."""
    return macros.create(ctx, brand_id, body.definition())


@router.put("/macros/{macro_id}", response_model=MacroOut)
def update_macro(macro_id: uuid.UUID, body: MacroIn, ctx: Managing) -> Macro:
    return macros.update(ctx, macro_id, body.definition())


@router.delete("/macros/{macro_id}", status_code=204)
def delete_macro(macro_id: uuid.UUID, ctx: Managing) -> Response:
    macros.delete(ctx, macro_id)
    return Response(status_code=204)


# -- service levels ------------------------------------------------------------------------


class TargetsIn(BaseModel):
    min_priority: int = Field(ge=sla.PRIORITY[0], le=sla.PRIORITY[1])
    first_response_minutes: int = Field(ge=1, le=sla.MAX_MINUTES)
    next_response_minutes: int = Field(ge=1, le=sla.MAX_MINUTES)
    resolution_minutes: int | None = Field(default=None, ge=1, le=sla.MAX_MINUTES)


class ServiceLevelsIn(BaseModel):
    targets: list[TargetsIn] = Field(
        max_length=sla.MAX_TARGETS,
        description="per priority: the one with the highest min_priority not above a "
        "conversation's priority (0 unless a macro set one) applies; empty: the process's SLA",
    )


class ServiceLevelsOut(BaseModel):
    brand_id: uuid.UUID
    targets: list[TargetsIn]


@router.get("/brands/{brand_id}/service-levels", response_model=ServiceLevelsOut)
def get_service_levels(brand_id: uuid.UUID, ctx: Managing) -> ServiceLevelsOut:
    brand = brands.visible(ctx, brand_id)
    targets = [TargetsIn(**vars(t)) for t in sla.parsed(brand.sla or [])]
    return ServiceLevelsOut(brand_id=brand.id, targets=targets)


@router.put("/brands/{brand_id}/service-levels", response_model=ServiceLevelsOut)
def set_service_levels(
    brand_id: uuid.UUID, body: ServiceLevelsIn, ctx: Managing
) -> ServiceLevelsOut:
    """The brand's service levels, in minutes of its calendar (its client's when it has
    none): the first response and each next response are the due times of a conversation's
    work; the resolution runs from its first message to its solving, paused while it waits
    on the customer. They hold for conversations' work made from now on."""
    brand = brands.set_service_levels(ctx, brand_id, [t.model_dump() for t in body.targets])
    targets = [TargetsIn(**vars(t)) for t in sla.parsed(brand.sla or [])]
    return ServiceLevelsOut(brand_id=brand.id, targets=targets)
