"""A brand's articles: written, edited, published, unpublished and deleted by those who
manage the knowledge base (the client's admin, the provider's service-desk managers), on the
brands of their client only (another client's brand is the 404 a missing one gets); found by
full-text search among the brand's published articles; suggested to the agent reading a
conversation from its subject and the customer's latest message.

The search runs on the database's own index (migration 0027): FTS5 on SQLite, the generated
tsvector column on PostgreSQL. The query is built from the words of the text alone
(tandem.servicedesk.knowledge.words) and bound as a parameter."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Uuid,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from tandem.core.errors import Conflict, InvalidInput, NotFound
from tandem.servicedesk.brands import visible as visible_brand
from tandem.servicedesk.brands import visible_brands
from tandem.servicedesk.knowledge import words
from tandem.servicedesk.knowledge.models import Article
from tandem.servicedesk.knowledge.rendering import excerpt
from tandem.servicedesk.models import Brand, Conversation, Message
from tandem.servicedesk.replies import missing
from tandem.servicedesk.views import visible
from tandem.tenancy.context import Context

SUGGESTIONS = 3
MAX_RESULTS = 50


@dataclass(frozen=True)
class Draft:
    """What a writer gives: the slug, when None, is made from the title."""

    title: str
    body: str
    slug: str | None = None


@dataclass(frozen=True)
class Found:
    """A published article as a result or a suggestion lists it."""

    id: uuid.UUID
    brand_id: uuid.UUID
    brand: str  # the brand's code: its help center is /help/<brand>
    slug: str
    title: str
    excerpt: str

    @property
    def url(self) -> str:
        return f"/help/{self.brand}/articles/{self.slug}"


# -- managing ------------------------------------------------------------------------------


brand_of = visible_brand  # a brand of the caller's client (provider staff: of any)
brands = visible_brands  # the brands whose knowledge base the caller may manage


def articles_of(ctx: Context, brand_id: uuid.UUID) -> list[Article]:
    """Every article of a brand, drafts too, the latest changed first."""
    brand = brand_of(ctx, brand_id)
    return list(
        ctx.session.scalars(
            select(Article)
            .where(Article.client_id == brand.client_id, Article.brand_id == brand.id)
            .order_by(Article.updated_at.desc(), Article.title)
        )
    )


def article(ctx: Context, brand_id: uuid.UUID, article_id: uuid.UUID) -> Article:
    """One article of a brand the caller may manage; NotFound otherwise."""
    brand = brand_of(ctx, brand_id)
    found = ctx.session.get(Article, (brand.client_id, article_id))
    if found is None or found.brand_id != brand.id:
        raise NotFound(f"article {article_id} not found")
    return found


def _checked(title: str, body: str, slug: str) -> list[dict[str, str]]:
    errors = []
    if not title.strip():
        errors.append({"field": "title", "message": "is empty"})
    elif len(title) > words.MAX_TITLE:
        errors.append({"field": "title", "message": f"at most {words.MAX_TITLE} characters"})
    if len(body) > words.MAX_BODY:
        errors.append({"field": "body", "message": f"at most {words.MAX_BODY} characters"})
    if problem := words.slug_problem(slug):
        errors.append({"field": "slug", "message": problem})
    return errors


def _unique_slug(ctx: Context, brand: Brand, slug: str, article_id: uuid.UUID | None) -> None:
    taken = ctx.session.scalar(
        select(Article.id).where(
            Article.client_id == brand.client_id,
            Article.brand_id == brand.id,
            Article.slug == slug,
        )
    )
    if taken is not None and taken != article_id:
        raise Conflict(f"the brand has an article at {slug} already: choose another slug")


def create_article(ctx: Context, brand_id: uuid.UUID, draft: Draft) -> Article:
    """A new draft of the brand (published by `publish`)."""
    brand = brand_of(ctx, brand_id)
    title = draft.title.strip()
    slug = draft.slug.strip() if draft.slug is not None else words.slug_of(title)
    if errors := _checked(title, draft.body, slug):
        raise InvalidInput("the article cannot be saved", errors=errors)
    _unique_slug(ctx, brand, slug, None)
    created = Article(
        client_id=brand.client_id,
        brand_id=brand.id,
        slug=slug,
        title=title,
        body=draft.body,
        state="draft",
        created_at=ctx.now,
        updated_at=ctx.now,
        created_by=ctx.principal.actor,
        updated_by=ctx.principal.actor,
    )
    ctx.session.add(created)
    ctx.session.flush()
    return created


def edit_article(
    ctx: Context,
    brand_id: uuid.UUID,
    article_id: uuid.UUID,
    *,
    title: str | None = None,
    body: str | None = None,
    slug: str | None = None,
) -> Article:
    """Change an article's title, body or slug (a published one stays published, changed)."""
    found = article(ctx, brand_id, article_id)
    new_title = title.strip() if title is not None else found.title
    new_body = body if body is not None else found.body
    new_slug = slug.strip() if slug is not None else found.slug
    if errors := _checked(new_title, new_body, new_slug):
        raise InvalidInput("the article cannot be saved", errors=errors)
    brand = ctx.session.get_one(Brand, (found.client_id, found.brand_id))
    _unique_slug(ctx, brand, new_slug, found.id)
    found.title, found.body, found.slug = new_title, new_body, new_slug
    found.updated_at, found.updated_by = ctx.now, ctx.principal.actor
    ctx.session.flush()
    return found


def publish(ctx: Context, brand_id: uuid.UUID, article_id: uuid.UUID) -> Article:
    """Show the article on the brand's help center (and in suggestions)."""
    found = article(ctx, brand_id, article_id)
    if not found.body.strip():
        raise InvalidInput(
            "an empty article cannot be published",
            errors=[{"field": "body", "message": "is empty"}],
        )
    if found.state != "published":
        found.state, found.published_at = "published", ctx.now
        found.updated_at, found.updated_by = ctx.now, ctx.principal.actor
        ctx.session.flush()
    return found


def unpublish(ctx: Context, brand_id: uuid.UUID, article_id: uuid.UUID) -> Article:
    """Take the article off the help center: a draft again."""
    taken_down = article(ctx, brand_id, article_id)
    if taken_down.state != "draft":
        taken_down.state = "draft"
        taken_down.updated_at, taken_down.updated_by = ctx.now, ctx.principal.actor
        ctx.session.flush()
    return taken_down


def delete_article(ctx: Context, brand_id: uuid.UUID, article_id: uuid.UUID) -> None:
    found = article(ctx, brand_id, article_id)
    ctx.session.delete(found)
    ctx.session.flush()


# -- reading what is published -------------------------------------------------------------


def published(session: Session, brand: Brand) -> list[Article]:
    """The brand's published articles, by title (its help center's list)."""
    return list(
        session.scalars(
            select(Article)
            .where(
                Article.client_id == brand.client_id,
                Article.brand_id == brand.id,
                Article.state == "published",
            )
            .order_by(Article.title, Article.slug)
        )
    )


def published_at(session: Session, brand: Brand, slug: str) -> Article | None:
    """The brand's published article at `slug` (None: none, or a draft)."""
    if words.slug_problem(slug):
        return None
    return session.scalar(
        select(Article).where(
            Article.client_id == brand.client_id,
            Article.brand_id == brand.id,
            Article.slug == slug,
            Article.state == "published",
        )
    )


def _matching(session: Session, terms: list[str], *, any_: bool) -> Select[Article]:
    """Articles whose words match, best first (the brand and state not filtered yet)."""
    if session.get_bind().dialect.name == "postgresql":
        query = func.to_tsquery("simple", words.tsquery(terms, any_=any_))
        vector: ColumnElement[Any] = literal_column("knowledge_articles.search")
        return (
            select(Article)
            .where(vector.op("@@")(query))
            .order_by(func.ts_rank(vector, query).desc(), Article.title)
        )
    # FTS5: bm25 weighs a match in the title ten times one in the body (smaller: better).
    fts = (
        text(
            "SELECT client_id, article_id, "
            "bm25(knowledge_articles_fts, 10.0, 1.0, 0.0, 0.0) AS score "
            "FROM knowledge_articles_fts WHERE knowledge_articles_fts MATCH :query"
        )
        .bindparams(query=words.fts5_query(terms, any_=any_))
        .columns(client_id=Integer, article_id=Uuid, score=Float)
        .subquery("matched")
    )
    return (
        select(Article)
        .join(fts, (fts.c.client_id == Article.client_id) & (fts.c.article_id == Article.id))
        .order_by(fts.c.score, Article.title)
    )


def _search(
    session: Session, brand: Brand, terms: list[str], *, any_: bool, limit: int
) -> list[Found]:
    if not terms:
        return []
    rows = session.scalars(
        _matching(session, terms, any_=any_)
        .where(
            Article.client_id == brand.client_id,
            Article.brand_id == brand.id,
            Article.state == "published",
        )
        .limit(limit)
    ).all()
    return [Found(a.id, brand.id, brand.code, a.slug, a.title, excerpt(a.body)) for a in rows]


def search(session: Session, brand: Brand, query: str, limit: int = 20) -> list[Found]:
    """The brand's published articles matching a search box's text, best first: those with
    every word (its stop words left out when it has others); failing any, those with one.
    Text with no word (only quotes, stars, operators) finds nothing."""
    terms = words.in_query(query)
    significant = [t for t in terms if t not in words.STOP_WORDS] or terms
    limit = max(1, min(limit, MAX_RESULTS))
    found = _search(session, brand, significant, any_=False, limit=limit)
    if not found and len(significant) > 1:
        found = _search(session, brand, significant, any_=True, limit=limit)
    return found


def suggest(ctx: Context, conversation_id: uuid.UUID, limit: int = SUGGESTIONS) -> list[Found]:
    """Published articles of the conversation's brand for the agent answering it: an OR-query
    of the meaningful words of its subject and the customer's latest message (their text as
    stored, personal data masked). NotFound, as for a missing one, when the caller may not
    read the conversation."""
    conversation = ctx.session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, visible(ctx.principal, ctx.now)
        )
    )
    if conversation is None:
        raise missing(conversation_id)
    latest = ctx.session.scalar(
        select(Message.text)
        .where(
            Message.client_id == conversation.client_id,
            Message.conversation_id == conversation.id,
            Message.direction == "in",
            Message.kind == "person",
        )
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(1)
    )
    terms = words.meaningful([conversation.subject, latest or ""])
    brand = ctx.session.get_one(Brand, (conversation.client_id, conversation.brand_id))
    return _search(ctx.session, brand, terms, any_=True, limit=max(1, min(limit, 10)))
