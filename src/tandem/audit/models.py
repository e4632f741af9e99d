from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tandem.core.db import Base, JSONType, UTCDateTime

PROVIDER = 0  # the chain of actions on no one client (users, roles, the provider's own setup)


class AuditRecord(Base):
    """One audited action. Rows are only ever inserted (tandem.audit.service.record)."""

    __tablename__ = "audit_records"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    previous: Mapped[str] = mapped_column(String(64))
    link: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """Each client's chain head: its last record, sealed. Appends lock this row, so one
    client's records are numbered and linked one at a time."""

    __tablename__ = "audit_chains"

    client_id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int]
    last: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(64))
