"""The documents table: one document per work item, its bytes sealed with the client's key;
and documents staged ahead of their items, not yet any item's."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, UTCDateTime, new_id


class Document(Base):
    """The document of a work item (a PDF, or a TIFF, JPEG or PNG image), as its content
    showed it to be when it was checked (tandem.documents.content). Its bytes are sealed with
    the client's key (AES-GCM, bound to the client, the document's id and the part
    "document": tandem.vault.sealing.Keyring.seal_bytes); `sealed_with` names the key, which a
    rotation compares (tandem.custody.keys). Deleted with the item's personal data by the
    retention purge, and with everything else of the client at its exit.

    A staged document (handed over ahead, POST /processes/{id}/documents) has no item yet:
    `staged_for` names the process it was handed over to and `staged_until` when it goes
    (tandem.intake.staged). The intake that names it makes it its item's, in its transaction
    (`work_item_id` set, both staged columns cleared), once; one never taken by then is
    purged (tandem.custody.retention.purge_staged). The check constraint keeps every row one or
    the other: an item's, or staged with its process and expiry, never both."""

    __tablename__ = "documents"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    work_item_id: Mapped[uuid.UUID | None]  # None while staged
    media_type: Mapped[str] = mapped_column(String(40))  # application/pdf, image/tiff, ...
    pages: Mapped[int]
    size: Mapped[int]  # bytes, in clear
    sha256: Mapped[str] = mapped_column(String(64))  # of the bytes in clear
    # The first page's size in points (1/72 inch): what the viewer fits to its width.
    width: Mapped[float]
    height: Mapped[float]
    sealed_with: Mapped[str] = mapped_column(String(40))  # the key's prefix: v1.<master>.<v>.
    # Nonce and ciphertext: loaded only when a page is drawn (or the document re-sealed).
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    staged_for: Mapped[uuid.UUID | None]  # the process it was staged for
    staged_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "work_item_id"], ["work_items.client_id", "work_items.id"]
        ),
        ForeignKeyConstraint(["client_id", "staged_for"], ["processes.client_id", "processes.id"]),
        UniqueConstraint("client_id", "work_item_id"),  # one document per item
        CheckConstraint(
            "(work_item_id IS NOT NULL AND staged_for IS NULL AND staged_until IS NULL) OR "
            "(work_item_id IS NULL AND staged_for IS NOT NULL AND staged_until IS NOT NULL)",
            name="item_or_staged",
        ),
        # a client's staged documents (their bytes counted against its cap), and those past
        # their time (the purge)
        Index("ix_documents_client_id_staged_until", "client_id", "staged_until"),
    )
