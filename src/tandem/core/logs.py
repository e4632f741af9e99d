"""Logs operators can use: one JSON object a line (python-json-logger), each line written
while a request is handled carrying its request id and, once known, the caller (actor) and
their client; one access line per request. Never a request's body, query string or client
address: those may hold personal data.

The request id is the caller's `X-Request-ID` when it is a sane token, else a new one; it is
echoed in the response's `X-Request-ID` header and in problem details (`tandem.http.problem`),
so that a caller quoting it finds the lines of their request.
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
ACCESS = logging.getLogger("tandem.access")


@dataclass
class RequestScope:
    """What the log lines of one request name. Mutable, and shared by reference: the caller
    becomes known in a dependency that may run in a worker thread (a copy of the request's
    context), and the access line is written by the middleware after the response."""

    request_id: str
    actor: str | None = None
    client_id: int | None = None


_SCOPE: ContextVar[RequestScope | None] = ContextVar("tandem_request_scope", default=None)


def current_request_id() -> str | None:
    scope = _SCOPE.get()
    return scope.request_id if scope else None


def identify(actor: str, client_id: int | None) -> None:
    """Name the caller on the rest of this request's log lines."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.actor, scope.client_id = actor, client_id


def request_id_from(header: str | None) -> str:
    """The caller's request id if it is a sane token (at most 64 letters, digits, `.`, `_`,
    `-`), else a new one: a header is the caller's text and goes into every line."""
    if header and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestContext(logging.Filter):
    """Adds request_id, actor and client_id to each record written during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _SCOPE.get()
        if scope is not None:
            record.request_id = scope.request_id
            if scope.actor is not None:
                record.actor = scope.actor
            if scope.client_id is not None:
                record.client_id = scope.client_id
        return True


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the line, then the request's names if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        names = [
            f"{name}={getattr(record, name)}"
            for name in ("request_id", "actor", "client_id")
            if hasattr(record, name)
        ]
        return f"{line} [{' '.join(names)}]" if names else line


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's, for terminals
    )


def formatter(log_format: str) -> logging.Formatter:
    return json_formatter() if log_format == "json" else TextFormatter(TEXT_FORMAT)


def handler(stream: TextIO, log_format: str) -> logging.Handler:
    """A handler writing to `stream` in `log_format`, with the request's names."""
    written = logging.StreamHandler(stream)
    written.setFormatter(formatter(log_format))
    written.addFilter(RequestContext())
    return written


def dict_config(level: str, log_format: str) -> dict[str, Any]:
    """The logging configuration of `tandem serve` and `tandem worker` (also handed to
    uvicorn, so that every API process it starts configures the same): everything, uvicorn's
    lines included, to standard error through one handler. Uvicorn's own access log is not
    used (it writes the query string and the client's address): `RequestLog` writes one."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContext}},
        "formatters": {
            "json": {"()": json_formatter},
            "text": {"()": TextFormatter, "fmt": TEXT_FORMAT},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            **{
                name: {"level": level, "handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # Their INFO line names each request's whole address, query included (the
            # worker's webhooks): their warnings only.
            **{name: {"level": "WARNING"} for name in ("httpx", "httpcore")},
        },
    }


def configure(level: str, log_format: str) -> None:
    logging.config.dictConfig(dict_config(level, log_format))


class RequestLog:
    """An ASGI middleware: the request's id (from `X-Request-ID` if sane, else new), set for
    its log lines and echoed in the response header; then one access line: method, the route's
    path template (a few paths carry secrets, such as a survey's link), status, duration."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next(
            (value for name, value in scope["headers"] if name == b"x-request-id"), b""
        ).decode("latin-1")
        request = RequestScope(request_id_from(given))
        _SCOPE.set(request)  # for this request's task: each request runs in its own
        header = (REQUEST_ID_HEADER.lower().encode(), request.request_id.encode())
        status = 500
        started = time.perf_counter()

        async def with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == header[0] for name, _ in headers):
                    headers.append(header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            route = scope.get("route")
            ACCESS.info(
                "%s %s %s",
                scope["method"],
                getattr(route, "path", None) or "(no route)",
                status,
                extra={
                    "method": scope["method"],
                    "path": getattr(route, "path", None),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
