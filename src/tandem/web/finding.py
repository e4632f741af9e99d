"""Reading a find form of work items (the portal's and the staff's lists): a GET form, so a
search can be bookmarked, shared and linked to; a value that cannot be read is named beside
its field and left out of the search, never a 422 page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import cast

from fastapi import Request

from tandem.core import paging
from tandem.work import queries
from tandem.work.lifecycle import State

PAGE_SIZE = 50
CHOICES = "not one of the choices"


@dataclass
class Finding:
    """The find form as typed, what it searches for, and what in it could not be read."""

    form: dict[str, str]
    search: queries.ItemSearch
    sort: queries.Sort
    page: int
    errors: dict[str, str]

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def window(self) -> paging.Window:
        return paging.Window(PAGE_SIZE, self.offset)


def pages(total: int) -> int:
    """How many pages `total` items fill (one, when there are none)."""
    return max(1, -(-total // PAGE_SIZE))


def page_number(request: Request, name: str = "page") -> int:
    """The page a list was asked for (`?page=`, or another name where a page has two lists,
    from 1); the first when it cannot be read."""
    try:
        asked = int(request.query_params.get(name) or 1)
        return max(1, min(asked, paging.MAX_INT // PAGE_SIZE))
    except ValueError:
        return 1


def window_of(page: int) -> paging.Window:
    """The rows of a console list's page `page`: `PAGE_SIZE` of them."""
    return paging.Window(PAGE_SIZE, (page - 1) * PAGE_SIZE)


class FindForm:
    """The fields of a find form as typed, and each read as what it means."""

    def __init__(self, request: Request, fields: tuple[str, ...]) -> None:
        self.request = request
        self.form = {name: request.query_params.get(name, "").strip() for name in fields}
        self.errors: dict[str, str] = {}
        self.zone = request.state.zone  # days are the viewer's days

    def state(self, name: str = "state") -> tuple[State, ...]:
        if not self.form[name]:
            return ()
        try:
            return (State(self.form[name]),)
        except ValueError:
            self.errors[name] = "not a state an item can be in"
            return ()

    def id(self, name: str) -> uuid.UUID | None:
        if not self.form[name]:
            return None
        try:
            return uuid.UUID(self.form[name])
        except ValueError:
            self.errors[name] = CHOICES
            return None

    def number(self, name: str) -> int | None:
        if not self.form[name]:
            return None
        try:
            return int(self.form[name])
        except ValueError:
            self.errors[name] = CHOICES
            return None

    def day(self, name: str, *, through: bool = False) -> datetime | None:
        """The start of the day typed, in the viewer's zone; `through` it: the next day's
        start ("up to" a day includes it, "before" a day does not)."""
        if not self.form[name]:
            return None
        try:
            day = date.fromisoformat(self.form[name])
        except ValueError:
            self.errors[name] = "a date as 2026-12-31"
            return None
        return datetime.combine(day, time(), self.zone) + timedelta(days=1 if through else 0)

    def finding(self, search: queries.ItemSearch, sorts: dict[str, str], default: str) -> Finding:
        sort = self.form["sort"] or default
        if sort not in sorts:
            self.errors["sort"], sort = CHOICES, default
        page = page_number(self.request)
        return Finding(self.form, search, cast(queries.Sort, sort), page, self.errors)
