"""Errors the use cases raise. The web layer turns them into RFC 9457 problem details, whose
shape `Problem` declares for the OpenAPI schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class TandemError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(TandemError):
    """Also what a caller gets for something that exists but is not theirs to see."""

    status = 404
    title = "Not found"


class Conflict(TandemError):
    status = 409
    title = "Conflict"


class LeaseLost(Conflict):
    """The lease expired, was released or was taken over: the fencing token no longer matches."""

    title = "Lease lost"


class InvalidInput(TandemError):
    """Input that fails validation; `errors` lists each field (and row) with its message."""

    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, errors: Sequence[dict[str, Any]] = (), **extra: Any) -> None:
        super().__init__(detail, errors=list(errors), **extra)


class Unauthorized(TandemError):
    status = 401
    title = "Unauthorized"


class Forbidden(TandemError):
    status = 403
    title = "Forbidden"


class FieldError(BaseModel):
    """One thing wrong with a request: a field (of a file's row, for a batch)."""

    model_config = ConfigDict(extra="allow")

    field: str | None = Field(
        description="Where: a body field's dotted path, or query.<name>, path.<name>, "
        "header.<name>; null for a file's row as a whole"
    )
    message: str
    row: int | None = Field(default=None, description="The file's row, for a batch")


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error answer (application/problem+json).
    Some errors carry more members: `errors` for invalid input, `retry_after` (seconds) with
    429, what a conflict is about."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Always about:blank: the status and title say it all")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="Invalid input: each field")
