"""the service desk's knowledge base: a brand's articles and their full-text index

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 11:30:00.000000

A brand's help articles (Markdown, draft or published), a tenant table with the row-level
security policy of the others on PostgreSQL. The full-text index is the database's own and
is not in the models: on PostgreSQL a generated tsvector column (`search`, title weighted
above body, the 'simple' configuration: brands write in any language) with a GIN index; on
SQLite an FTS5 table (knowledge_articles_fts) that triggers keep in step with the articles.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tandem.core.db

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "knowledge_articles_fts"
TRIGGERS = (
    "knowledge_articles_fts_insert",
    "knowledge_articles_fts_update",
    "knowledge_articles_fts_delete",
)


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tandem.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", tandem.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("updated_by", sa.String(length=60), nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'published')", name=op.f("ck_knowledge_articles_article_state")
        ),
        sa.ForeignKeyConstraint(
            ["client_id", "brand_id"],
            ["brands.client_id", "brands.id"],
            name=op.f("fk_knowledge_articles_client_id_brand_id_brands"),
        ),
        sa.PrimaryKeyConstraint("client_id", "id", name=op.f("pk_knowledge_articles")),
        sa.UniqueConstraint(
            "client_id",
            "brand_id",
            "slug",
            name=op.f("uq_knowledge_articles_client_id_brand_id_slug"),
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE knowledge_articles ADD COLUMN search tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', title), 'A') || "
            "setweight(to_tsvector('simple', body), 'B')) STORED"
        )
        op.execute(
            "CREATE INDEX ix_knowledge_articles_search ON knowledge_articles USING GIN (search)"
        )
        visible = "(SELECT tandem_tenant()) IS NULL OR client_id = (SELECT tandem_tenant())"
        op.execute("ALTER TABLE knowledge_articles ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE knowledge_articles FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON knowledge_articles "
            f"USING ({visible}) WITH CHECK ({visible})"
        )
        return
    # SQLite: the article's key (client_id, article_id) beside its words, unindexed.
    op.execute(
        "CREATE VIRTUAL TABLE knowledge_articles_fts USING fts5("
        "title, body, client_id UNINDEXED, article_id UNINDEXED, "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER knowledge_articles_fts_insert AFTER INSERT ON knowledge_articles BEGIN "
        "INSERT INTO knowledge_articles_fts (title, body, client_id, article_id) "
        "VALUES (new.title, new.body, new.client_id, new.id); END"
    )
    op.execute(
        "CREATE TRIGGER knowledge_articles_fts_update AFTER UPDATE ON knowledge_articles BEGIN "
        "DELETE FROM knowledge_articles_fts "
        "WHERE client_id = old.client_id AND article_id = old.id; "
        "INSERT INTO knowledge_articles_fts (title, body, client_id, article_id) "
        "VALUES (new.title, new.body, new.client_id, new.id); END"
    )
    op.execute(
        "CREATE TRIGGER knowledge_articles_fts_delete AFTER DELETE ON knowledge_articles BEGIN "
        "DELETE FROM knowledge_articles_fts "
        "WHERE client_id = old.client_id AND article_id = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for trigger in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    # The policy, the generated column and its index go with the table.
    op.drop_table("knowledge_articles")
