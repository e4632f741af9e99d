"""Errors the use cases raise. The web layer turns them into RFC 9457 problem details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
