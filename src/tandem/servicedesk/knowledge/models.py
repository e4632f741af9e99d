"""The knowledge base's table. Its full-text index is the database's own and is not declared
here (migration 0027): a generated tsvector column `search` with a GIN index on PostgreSQL,
the FTS5 table knowledge_articles_fts kept in step by triggers on SQLite."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, UTCDateTime, new_id

ARTICLE_STATES = ("draft", "published")
FTS_TABLE = "knowledge_articles_fts"  # SQLite only


class Article(Base):
    """A help article of a brand: Markdown, shown on the brand's help center once published
    (at /help/<brand code>/articles/<slug>). `created_by`, `updated_by`: who wrote it and who
    changed it last (tandem.tenancy.principal.Principal.actor)."""

    __tablename__ = "knowledge_articles"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    brand_id: Mapped[uuid.UUID]
    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(60))
    updated_by: Mapped[str] = mapped_column(String(60))

    __table_args__ = (
        ForeignKeyConstraint(["client_id", "brand_id"], ["brands.client_id", "brands.id"]),
        UniqueConstraint("client_id", "brand_id", "slug"),
        CheckConstraint("state IN ('draft', 'published')", name="article_state"),
    )
