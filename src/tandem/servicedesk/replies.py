"""What an agent writes on a conversation, and the moves of its state, each one use case (one
transaction).

A reply is written by the agent holding the conversation's work item under its lease (the
fencing attempt named: tandem.work.access decides): stored as an outgoing message, queued in
the mail outbox (tandem.servicedesk.outgoing sends it), its work item submitted through the
dispatch with the reply as its result (quality control follows as for any submit), and the
conversation left pending on the customer (or solved). A note is stored the same way under
the lease, never sent, and changes nothing else. Anyone else gets what a missing
conversation gets (404), except the lease protocol's 409 to the agent who held that lease.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from tandem.audit import service as audit
from tandem.core.db import new_id
from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.dispatch.service import Dispatcher
from tandem.servicedesk import levels, macros, placeholders, states, surveys, threads
from tandem.servicedesk.inbound import MESSAGE, Rules, make_work, seal_values
from tandem.servicedesk.models import Brand, Conversation, Message, OutgoingMail
from tandem.tenancy.context import Context
from tandem.vault.masking import free_text_for_storage
from tandem.work import access, transitions
from tandem.work.lifecycle import State
from tandem.work.models import WorkItem

REPLY_FIELD = "reply"  # the field of a conversation process's result form the reply fills
MAX_REFERENCES = 20
# The actions on a conversation's state and the state each leads to.
ACTIONS = {"solve": states.SOLVED, "pending": states.PENDING, "reopen": states.OPEN}
_OPEN_WORK = (State.QUEUED.value, State.LEASED.value, State.WAITING.value)


@dataclass(frozen=True)
class Written:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    conversation_state: str
    work_item_state: str | None  # after a reply: the item's state after its submit


def missing(conversation_id: uuid.UUID) -> NotFound:
    """The one refusal: what a missing conversation gets."""
    return NotFound(f"conversation {conversation_id} not found")


def _conversation(ctx: Context, conversation_id: uuid.UUID) -> Conversation:
    found = ctx.session.scalar(
        select(Conversation)
        .where(
            Conversation.id == conversation_id,
            ctx.principal.client_condition(Conversation.client_id),
        )
        .with_for_update()
    )
    if found is None:
        raise missing(conversation_id)
    return found


def _under_lease(ctx: Context, conversation: Conversation, attempt: int) -> WorkItem:
    """The conversation's work item, leased to the calling agent now under `attempt`;
    otherwise 404 as for a missing conversation, or 409 to the agent who held that lease."""
    agent = ctx.principal.agent()
    item_id = conversation.work_item_id
    if item_id is None:
        raise missing(conversation.id)
    try:
        return access.held(ctx.session, agent, item_id, now=ctx.now, attempt=attempt)
    except NotFound:
        pass
    try:
        access.refuse_lease(ctx.session, agent, item_id, attempt)
    except NotFound:
        raise missing(conversation.id) from None


def _store(
    ctx: Context,
    conversation: Conversation,
    direction: str,
    text: str,
    row_id: uuid.UUID | None = None,
    **columns: object,
) -> Message:
    """An outgoing message or a note: the text masked as incoming text is (free text), its
    clear value sealed with the client's key."""
    masked, kept = free_text_for_storage(text)
    message_id = row_id or new_id()
    message = Message(
        client_id=conversation.client_id,
        id=message_id,
        conversation_id=conversation.id,
        direction=direction,
        kind="person",
        text=masked,
        sealed=seal_values(
            ctx, conversation.client_id, message_id, {"text": kept, "full_text": kept, "html": None}
        ),
        references=[],
        received_at=ctx.now,
        author=ctx.principal.actor[:60],
        **columns,
    )
    ctx.session.add(message)
    ctx.session.flush()
    return message


def _last_in(ctx: Context, conversation: Conversation) -> Message | None:
    """The customer's latest message with a Message-ID: the one a reply answers."""
    return ctx.session.scalar(
        select(Message)
        .where(
            Message.client_id == conversation.client_id,
            Message.conversation_id == conversation.id,
            Message.direction == "in",
            Message.message_id.is_not(None),
        )
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    )


def our_message_id(brand: Brand, message_id: uuid.UUID) -> str:
    """A Message-ID of our own (without <>), in the domain of the brand's reply-from address."""
    domain = brand.reply_from_address.rpartition("@")[2] or "tandem.localhost"
    return f"{message_id.hex}@{domain}"


def reply(
    ctx: Context,
    dispatcher: Dispatcher,
    conversation_id: uuid.UUID,
    attempt: int,
    text: str,
    *,
    then: str | None = None,
    macro_id: uuid.UUID | None = None,
) -> Written:
    """Answer the customer (see the module's description); `then`: pending (on the
    customer) or solved (None: the macro's, or pending). Sent with a macro, its actions
    apply (tandem.servicedesk.macros); the variables of the text are filled in either way."""
    if then is not None and then not in (states.PENDING, states.SOLVED):
        raise InvalidInput(
            "a reply leaves the conversation pending or solved",
            errors=[{"field": "then", "message": "pending or solved"}],
        )
    conversation = _conversation(ctx, conversation_id)
    item = _under_lease(ctx, conversation, attempt)
    brand = ctx.session.get_one(Brand, (conversation.client_id, conversation.brand_id))
    if macro_id is not None:
        macro = macros.for_reply(ctx, conversation, macro_id)
        macros.apply(conversation, macro)
        then = then or macro.then_state
    then = then or states.PENDING
    if "{{" in text:
        text = placeholders.fill(text, macros.values(ctx, conversation, brand))
    parent = _last_in(ctx, conversation)
    references: list[str] = []
    if parent is not None and parent.message_id:
        references = [*parent.references, parent.message_id][-MAX_REFERENCES:]
    message_uuid = new_id()
    message = _store(
        ctx,
        conversation,
        "out",
        text,
        message_uuid,
        message_id=our_message_id(brand, message_uuid),
        in_reply_to=parent.message_id if parent is not None else None,
        sender=brand.reply_from_address,
    )
    ctx.session.add(
        OutgoingMail(
            client_id=conversation.client_id,
            conversation_id=conversation.id,
            message_id=message.id,
            status="queued",
            attempts=0,
            next_attempt_at=ctx.now,
            created_at=ctx.now,
        )
    )
    message.references = references
    ctx.session.flush()
    try:
        ref = dispatcher.submit(
            ctx.session, ctx.principal.agent(), item.id, attempt, {REPLY_FIELD: text}
        )
    except InvalidInput as refused:
        raise InvalidInput(
            "the reply does not fit the process's result form",
            errors=[
                {**e, "field": "text" if e.get("field") == REPLY_FIELD else e.get("field")}
                for e in refused.extra.get("errors", [])
            ],
        ) from None
    conversation.state = then
    conversation.pending_on = "customer" if then == states.PENDING else None
    conversation.updated_at = ctx.now
    levels.follow(ctx, brand, conversation)
    ctx.session.flush()
    if then == states.SOLVED:
        surveys.solved(ctx, conversation)  # asks the customer how we did (sent by the worker)
    return Written(conversation.id, message.id, conversation.state, ref.state.value)


def note(ctx: Context, conversation_id: uuid.UUID, attempt: int, text: str) -> Written:
    """An internal note by the agent holding the conversation's work item: stored, never
    sent, nothing else changed."""
    conversation = _conversation(ctx, conversation_id)
    _under_lease(ctx, conversation, attempt)
    message = _store(ctx, conversation, "note", text)
    return Written(conversation.id, message.id, conversation.state, None)


def change_state(
    ctx: Context,
    conversation_id: uuid.UUID,
    action: str,
    *,
    pending_on: str = "customer",
    reason: str | None = None,
    rules: Rules | None = None,
) -> Conversation:
    """Provider staff move a conversation: solve it, leave it pending (on the customer or a
    third party), or reopen it. Solving or pending ends its open work (a queued item is
    cancelled through the owner of item changes; one an agent holds refuses: 409, take it
    back first); reopening a pending or solved conversation makes it work again. A closed
    conversation stays closed (the customer's next mail starts a new one)."""
    target = ACTIONS.get(action)
    if target is None:
        raise InvalidInput(
            "unknown action", errors=[{"field": "action", "message": "solve, pending or reopen"}]
        )
    if target == states.PENDING and pending_on not in ("customer", "third_party"):
        raise InvalidInput(
            "pending on whom?",
            errors=[{"field": "pending_on", "message": "customer or third_party"}],
        )
    conversation = _conversation(ctx, conversation_id)
    if conversation.state == states.CLOSED:
        raise Conflict(f"conversation {conversation_id} is closed", state=conversation.state)
    if target == states.OPEN and conversation.state not in (states.PENDING, states.SOLVED):
        raise Conflict(
            f"conversation {conversation_id} is {conversation.state}: only a pending or "
            "solved conversation reopens",
            state=conversation.state,
        )
    brand = ctx.session.get_one(Brand, (conversation.client_id, conversation.brand_id))
    if target == states.OPEN:
        conversation.state, conversation.pending_on = states.OPEN, None
        make_work(ctx, brand, conversation, rules or Rules())
    else:
        _end_work(ctx, conversation, reason or f"conversation {action}")
        conversation.state = target
        conversation.pending_on = pending_on if target == states.PENDING else None
    conversation.updated_at = ctx.now
    levels.follow(ctx, brand, conversation)
    ctx.session.flush()
    if target == states.SOLVED:
        surveys.solved(ctx, conversation)
    return conversation


def _end_work(ctx: Context, conversation: Conversation, reason: str) -> None:
    if conversation.work_item_id is None:
        return
    item = ctx.session.scalar(
        select(WorkItem).where(
            WorkItem.client_id == conversation.client_id,
            WorkItem.id == conversation.work_item_id,
        )
    )
    if item is None or item.state not in _OPEN_WORK:
        return
    if item.state == State.LEASED.value:
        raise Conflict(
            f"an agent holds conversation {conversation.id}'s work item {item.id}: take it "
            "back first",
            state=item.state,
        )
    transitions.cancel(ctx, item.id, reason[:500])


def take_over(
    ctx: Context,
    dispatcher: Dispatcher,
    conversation_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    reason: str | None,
) -> Conversation:
    """A team lead takes a conversation waiting for an answer over, for themselves (their
    agent profile) or for the agent named: its work item is leased to them, and whoever held
    it loses the lease (dispatch decides whether they may take it)."""
    conversation = _conversation(ctx, conversation_id)
    taker = agent_id or ctx.principal.agent_id
    if taker is None:
        message = "you have no agent profile: name the agent who takes it over"
        raise InvalidInput(message, errors=[{"field": "agent_id", "message": message}])
    open_item = None
    if conversation.work_item_id is not None:
        open_item = ctx.session.scalar(
            select(WorkItem).where(
                WorkItem.client_id == conversation.client_id,
                WorkItem.id == conversation.work_item_id,
                WorkItem.state.in_(_OPEN_WORK),
            )
        )
    if open_item is None:
        raise Conflict(
            f"conversation {conversation_id} waits for nobody's answer: nothing to take over",
            state=conversation.state,
        )
    dispatcher.assign(ctx, open_item.id, taker, reason or "taken over by a team lead")
    return conversation


def merge(
    ctx: Context, source_id: uuid.UUID, target_id: uuid.UUID, rules: Rules | None = None
) -> Conversation:
    """The source conversation's messages (and the mail they sent) join the target, of the
    same brand: the source is closed, tagged "merged", with a note naming the target, its
    open work cancelled (an agent holding it refuses: 409, take it back first); the target
    is work if it waits for an answer. Audited. A customer's answer to the source's mail
    threads to the target from then on (it finds the messages there)."""
    if source_id == target_id:
        message = "a conversation is not merged into itself"
        raise InvalidInput(message, errors=[{"field": "into", "message": message}])
    source = _conversation(ctx, source_id)
    target = ctx.session.scalar(
        select(Conversation)
        .where(
            Conversation.id == target_id,
            ctx.principal.client_condition(Conversation.client_id),
        )
        .with_for_update()
    )
    if target is None or (target.client_id, target.brand_id) != (
        source.client_id,
        source.brand_id,
    ):
        message = "no conversation of the same brand has this id"
        raise InvalidInput(message, errors=[{"field": "into", "message": message}])
    for ended in (source, target):
        if ended.state == states.CLOSED:
            raise Conflict(f"conversation {ended.id} is closed", state=ended.state)
    _end_work(ctx, source, f"merged into conversation {target.id}")
    for table in (Message, OutgoingMail):
        ctx.session.execute(
            update(table)
            .where(table.client_id == source.client_id, table.conversation_id == source.id)
            .values(conversation_id=target.id)
        )
    _store(ctx, source, "note", f"Merged into conversation {target.id}.")
    source.state, source.pending_on = states.CLOSED, None
    source.tags = list(dict.fromkeys([*(source.tags or []), "merged"]))
    kept = [t for t in source.tags if t != "merged"]
    target.tags = list(dict.fromkeys([*(target.tags or []), *kept]))
    source.updated_at = target.updated_at = ctx.now
    brand = ctx.session.get_one(Brand, (target.client_id, target.brand_id))
    if target.state in states.WAITING_FOR_PROVIDER:
        make_work(ctx, brand, target, rules or Rules())
    audit.record_in(
        ctx,
        client_id=source.client_id,
        action="conversation.merge",
        subject=f"conversation:{source.id}",
        data={"into": str(target.id)},
    )
    ctx.session.flush()
    return target


def split(
    ctx: Context, conversation_id: uuid.UUID, message_id: uuid.UUID, rules: Rules | None = None
) -> Conversation:
    """A new conversation from a customer's message and what followed it (a second question
    in the same thread, say): same brand and customer, the subject the conversation's, work
    in the brand's queue; audited. The first message stays where it is."""
    conversation = _conversation(ctx, conversation_id)
    if conversation.state == states.CLOSED:
        raise Conflict(f"conversation {conversation_id} is closed", state=conversation.state)
    messages = list(
        ctx.session.scalars(
            select(Message)
            .where(
                Message.client_id == conversation.client_id,
                Message.conversation_id == conversation.id,
            )
            .order_by(Message.received_at, Message.id)
        )
    )
    at = next((i for i, m in enumerate(messages) if m.id == message_id), None)
    if at is None or messages[at].direction != "in" or at == 0:
        message = "a customer's message of this conversation, after its first"
        raise InvalidInput(
            "the conversation is not split there",
            errors=[{"field": "message_id", "message": message}],
        )
    moved = [m.id for m in messages[at:]]
    split_off = Conversation(
        client_id=conversation.client_id,
        id=new_id(),
        brand_id=conversation.brand_id,
        customer_id=conversation.customer_id,
        subject=conversation.subject,
        state=states.OPEN,
        tags=["split"],
        token=threads.new_token(),
        unverified_sender=conversation.unverified_sender,
        priority=conversation.priority,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    if conversation.sealed:
        opened = ctx.keyring.open(
            conversation.client_id, conversation.id, conversation.sealed, MESSAGE
        )
        subject = {"subject": opened.get("subject", conversation.subject)}
        split_off.sealed = seal_values(ctx, conversation.client_id, split_off.id, subject)
    ctx.session.add(split_off)
    ctx.session.flush()
    for table in (Message, OutgoingMail):
        column = table.id if table is Message else table.message_id
        ctx.session.execute(
            update(table)
            .where(table.client_id == conversation.client_id, column.in_(moved))
            .values(conversation_id=split_off.id)
        )
    _store(ctx, conversation, "note", f"Split: later messages are in conversation {split_off.id}.")
    brand = ctx.session.get_one(Brand, (conversation.client_id, conversation.brand_id))
    levels.start(ctx, brand, split_off)
    make_work(ctx, brand, split_off, rules or Rules())
    audit.record_in(
        ctx,
        client_id=conversation.client_id,
        action="conversation.split",
        subject=f"conversation:{conversation.id}",
        data={"new": str(split_off.id), "messages": len(moved)},
    )
    ctx.session.flush()
    return split_off
