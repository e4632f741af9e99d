"""The documents table: one document per work item, its bytes sealed with the client's key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, UTCDateTime, new_id


class Document(Base):
    """The document of a work item (a PDF, or a TIFF, JPEG or PNG image), as its content
    showed it to be when it was checked (tandem.documents.content). Its bytes are sealed with
    the client's key (AES-GCM, bound to the client, the document's id and the part
    "document": tandem.vault.sealing.Keyring.seal_bytes); `sealed_with` names the key, which a
    rotation compares (tandem.custody.keys). Deleted with the item's personal data by the
    retention purge, and with everything else of the client at its exit."""

    __tablename__ = "documents"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    work_item_id: Mapped[uuid.UUID]
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

    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "work_item_id"], ["work_items.client_id", "work_items.id"]
        ),
        UniqueConstraint("client_id", "work_item_id"),  # one document per item
    )
