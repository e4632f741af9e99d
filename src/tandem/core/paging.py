"""A list read a page at a time, with how many match in all.

Every list of the API and the console pages the same way: `Window` (how many, from where) in,
`Page` (the rows of the window and the total) out. `read` pages a query in the database (the
total by a count of the same query, the rows by LIMIT/OFFSET, so a list of a million costs a
page); `cut` pages a list already in memory (a report's rows, computed whole)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_LIMIT = 1000
MAX_INT = 2**31 - 1  # the largest offset a database integer takes
T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Window:
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT or not 0 <= self.offset <= MAX_INT:
            raise ValueError(f"a window takes 1 to {MAX_LIMIT} rows from offset 0 or more")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int

    def map(self, how: Callable[[T], U]) -> Page[U]:
        return Page([how(item) for item in self.items], self.total)


def read(session: Session, query: Select[*tuple[Any, ...]], window: Window) -> Page[Any]:
    """The window's rows of `query` (ordered as it is: give it a total order, ties broken by
    id, so that pages neither repeat nor skip a row) and how many rows it has in all. A query
    of one entity or column gives its values; of several, tuples."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    sliced = query.limit(window.limit).offset(window.offset)
    if len(query.column_descriptions) == 1:
        return Page(list(session.scalars(sliced)), int(total or 0))
    return Page([tuple(row) for row in session.execute(sliced)], int(total or 0))


def cut(rows: Sequence[T], window: Window) -> Page[T]:
    return Page(list(rows[window.offset : window.offset + window.limit]), len(rows))
