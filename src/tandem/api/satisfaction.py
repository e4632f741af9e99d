"""Customer satisfaction: the service desk's surveys counted per brand, per agent credited and
per ISO week (tandem.servicedesk.surveys.report)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tandem.http import uses
from tandem.servicedesk import satisfaction, surveys
from tandem.tenancy.context import Context
from tandem.tenancy.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["service desk"])

Reading = Annotated[Context, uses(Permission.SATISFACTION_READ)]
DEFAULT_WEEKS = 12


class FiguresOut(BaseModel):
    sent: int = Field(description="surveys sent (a conversation's withdrawn survey not counted)")
    answered: int
    satisfied: int = Field(description="answered good")
    satisfied_share: float | None = Field(description="satisfied / answered; null: none answered")
    response_rate: float | None = Field(description="answered / sent; null: none sent")

    @classmethod
    def of(cls, figures: satisfaction.Figures) -> FiguresOut:
        return cls(
            sent=figures.sent,
            answered=figures.answered,
            satisfied=figures.satisfied,
            satisfied_share=figures.satisfied_share,
            response_rate=figures.response_rate,
        )


class LineOut(FiguresOut):
    key: str = Field(description="the brand's or agent's id, or the ISO week (2026-W10)")
    label: str
    client_id: int | None = Field(description="a brand's client")


class SatisfactionOut(BaseModel):
    since: datetime
    until: datetime
    total: FiguresOut
    brands: list[LineOut]
    agents: list[LineOut]
    weeks: list[LineOut]


def _line(line: surveys.Line) -> LineOut:
    return LineOut(
        key=line.key,
        label=line.label,
        client_id=line.client_id,
        **FiguresOut.of(line.figures).model_dump(),
    )


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


@router.get("/satisfaction", response_model=SatisfactionOut)
def satisfaction_report(
    ctx: Reading,
    since: Annotated[
        datetime | None, Query(description="from (default: 12 ISO weeks back)")
    ] = None,
    until: Annotated[datetime | None, Query(description="up to, excluded")] = None,
    brand_id: uuid.UUID | None = None,
) -> SatisfactionOut:
    """Surveys sent in the period (by when they were sent), per brand, agent and ISO week:
    sent, answered, answered good, the satisfied share and the response rate. A client's
    people see their own brands; provider staff, every client's."""
    default_since, default_until = satisfaction.last_weeks(ctx.now, DEFAULT_WEEKS)
    found = surveys.report(
        ctx, _utc(since) or default_since, _utc(until) or default_until, brand_id
    )
    return SatisfactionOut(
        since=found.since,
        until=found.until,
        total=FiguresOut.of(found.total),
        brands=[_line(line) for line in found.brands],
        agents=[_line(line) for line in found.agents],
        weeks=[_line(line) for line in found.weeks],
    )
