from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime, new_id


class KeyRotation(Base):
    """Re-sealing one client's personal data under its current key, done by the worker in
    batches (tandem.custody.keys). `cursor` is the last item re-sealed, so a restart goes on
    where it stopped."""

    __tablename__ = "key_rotations"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    target: Mapped[str] = mapped_column(String(40))  # the prefix of values sealed by the new key
    requested_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cursor: Mapped[uuid.UUID | None]
    resealed: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PurgeReport(Base):
    """What one purge removed from one client's data, and why (retention or contract end)."""

    __tablename__ = "purge_reports"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    reason: Mapped[str] = mapped_column(String(16))  # retention | exit
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    cutoff: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
