"""Public shapes of work items, separate from the table so nothing leaks by accident."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WorkItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: int
    process_id: uuid.UUID
    batch_id: uuid.UUID | None
    external_ref: str | None
    source_row: int | None = Field(
        default=None,
        description="An item of a file: the row it came from (as a spreadsheet counts)",
    )
    state: str
    priority: int
    received_at: datetime
    due_at: datetime
    at_risk: bool
    breached: bool
    attempt: int
    payload: dict[str, Any]
    result: dict[str, Any] | None
    delivered_at: datetime | None
    first_delivered_at: datetime | None = Field(
        default=None,
        description="A result the client rejected: when it was first delivered (the redo is "
        "due at due_at, from the process's rework target)",
    )
    first_due_at: datetime | None = Field(
        default=None, description="A result the client rejected: its first due time"
    )


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    from_state: str | None
    to_state: str
    actor: str
    attempt: int
    data: dict[str, Any] | None


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    process_id: uuid.UUID
    filename: str
    file_format: str
    mode: str
    status: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    errors: list[dict[str, Any]]
    decisions: dict[str, int] = Field(
        default_factory=dict,
        description="Decision processes: the rules' outcomes of the stored rows (at upload)",
    )
