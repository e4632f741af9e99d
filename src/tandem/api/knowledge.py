"""A brand's knowledge base: its articles written, edited, published and deleted by those who
manage it (the client's admin, the provider's service-desk managers), and the articles
suggested to the agent reading a conversation. A brand of another client is the 404 a
missing one gets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from tandem.core import paging
from tandem.http import Paging, paged, paged_responses, uses
from tandem.servicedesk.knowledge import articles, rendering, words
from tandem.servicedesk.knowledge.models import Article
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["knowledge base"])

Managing = Annotated[Context, uses(Permission.KNOWLEDGE_MANAGE)]
Reading = Annotated[Context, uses(Permission.CONVERSATION_READ)]

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class ArticleIn(BaseModel):
    title: str = Field(min_length=1, max_length=words.MAX_TITLE)
    body: str = Field(default="", max_length=words.MAX_BODY, description="Markdown")
    slug: str | None = Field(
        default=None,
        max_length=words.MAX_SLUG,
        pattern=SLUG,
        description="its address on the help center; made from the title when left out",
    )


class ArticleChange(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=words.MAX_TITLE)
    body: str | None = Field(default=None, max_length=words.MAX_BODY, description="Markdown")
    slug: str | None = Field(default=None, min_length=1, max_length=words.MAX_SLUG, pattern=SLUG)


class ArticleOut(BaseModel):
    id: uuid.UUID
    brand_id: uuid.UUID
    slug: str
    title: str
    body: str = Field(description="Markdown")
    state: str = Field(description="draft or published")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    created_by: str
    updated_by: str


class PreviewIn(BaseModel):
    body: str = Field(max_length=words.MAX_BODY, description="Markdown")


class PreviewOut(BaseModel):
    html: str = Field(description="the body as the help center shows it (sanitized)")


class SuggestionOut(BaseModel):
    id: uuid.UUID
    title: str
    brand: str = Field(description="the brand's code")
    slug: str
    url: str = Field(description="the article on the brand's help center")
    excerpt: str


def _out(article: Article) -> ArticleOut:
    return ArticleOut.model_validate(article, from_attributes=True)


@router.get(
    "/brands/{brand_id}/articles",
    response_model=list[ArticleOut],
    responses=paged_responses("articles"),
)
def list_articles(
    brand_id: uuid.UUID, ctx: Managing, request: Request, response: Response, window: Paging
) -> list[ArticleOut]:
    """Every article of the brand, drafts too, the latest changed first."""
    found = paging.cut(articles.articles_of(ctx, brand_id), window)
    return [_out(a) for a in paged(request, response, found, window)]


@router.post("/brands/{brand_id}/articles", response_model=ArticleOut, status_code=201)
def create_article(brand_id: uuid.UUID, body: ArticleIn, ctx: Managing) -> ArticleOut:
    """A new draft article of the brand (publish it to show it on the help center). 409: the
    brand has an article at that slug already."""
    draft = articles.Draft(title=body.title, body=body.body, slug=body.slug)
    return _out(articles.create_article(ctx, brand_id, draft))


@router.post("/brands/{brand_id}/articles/preview", response_model=PreviewOut)
def preview(brand_id: uuid.UUID, body: PreviewIn, ctx: Managing) -> PreviewOut:
    """Markdown as the brand's help center would show it, saving nothing."""
    articles.brand_of(ctx, brand_id)
    return PreviewOut(html=rendering.to_html(body.body))


@router.get("/brands/{brand_id}/articles/{article_id}", response_model=ArticleOut)
def get_article(brand_id: uuid.UUID, article_id: uuid.UUID, ctx: Managing) -> ArticleOut:
    return _out(articles.article(ctx, brand_id, article_id))


@router.patch("/brands/{brand_id}/articles/{article_id}", response_model=ArticleOut)
def edit_article(
    brand_id: uuid.UUID, article_id: uuid.UUID, body: ArticleChange, ctx: Managing
) -> ArticleOut:
    """Change the title, body or slug (what is left out stays); a published article stays
    published, changed."""
    return _out(
        articles.edit_article(
            ctx, brand_id, article_id, title=body.title, body=body.body, slug=body.slug
        )
    )


@router.post("/brands/{brand_id}/articles/{article_id}/publish", response_model=ArticleOut)
def publish(brand_id: uuid.UUID, article_id: uuid.UUID, ctx: Managing) -> ArticleOut:
    """Show the article on the brand's help center and in agents' suggestions."""
    return _out(articles.publish(ctx, brand_id, article_id))


@router.post("/brands/{brand_id}/articles/{article_id}/unpublish", response_model=ArticleOut)
def unpublish(brand_id: uuid.UUID, article_id: uuid.UUID, ctx: Managing) -> ArticleOut:
    """Take the article off the help center: a draft again."""
    return _out(articles.unpublish(ctx, brand_id, article_id))


@router.delete("/brands/{brand_id}/articles/{article_id}", status_code=204)
def delete_article(brand_id: uuid.UUID, article_id: uuid.UUID, ctx: Managing) -> Response:
    articles.delete_article(ctx, brand_id, article_id)
    return Response(status_code=204)


@router.get("/conversations/{conversation_id}/suggestions", response_model=list[SuggestionOut])
def suggestions(conversation_id: uuid.UUID, ctx: Reading) -> list[SuggestionOut]:
    """Up to three published articles of the conversation's brand that may answer it, found
    by the words of its subject and the customer's latest message; for those who may read
    the conversation (an agent: the one holding its work item)."""
    return [
        SuggestionOut(
            id=f.id, title=f.title, brand=f.brand, slug=f.slug, url=f.url, excerpt=f.excerpt
        )
        for f in articles.suggest(ctx, conversation_id)
    ]
