"""Writing a file's rows in chunks: each chunk is one JSON array per table, stored by one
INSERT ... SELECT that unpacks the array in the database.

The database unpacks and stores a whole chunk in one call, during which the driver releases
the GIL (a row at a time, the writer would hold it per row). A writer thread stores one chunk
while the reading thread reads, validates (and, for decision processes, decides) the next.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Table, TextClause, bindparam, text

from tandem.core.runtime import paused_cycle_collection, quick_thread_handoffs
from tandem.vault.sealing import Storing

# Per dialect: how to take element i of a row (a JSON array) as SQL of a kind, and the rows.
_TAKE = {
    "postgresql": {
        "uuid": "CAST(r ->> {i} AS uuid)",
        "json": "r -> {i}",
        "text": "r ->> {i}",
        "int": "CAST(r ->> {i} AS integer)",
    },
    "sqlite": {kind: "json_extract(r.value, '$[{i}]')" for kind in ("uuid", "json", "text", "int")},
}
_ROWS = {
    "postgresql": "jsonb_array_elements(CAST(:rows AS jsonb)) AS r",
    "sqlite": "json_each(:rows) AS r",
}


# A file's item as a chunk stores it: id, payload (personal fields masked) and their sealed
# clear values (tandem.vault.sealing), the client's reference and the row it came from.
ITEM_COLUMNS = (
    ("id", "uuid"),
    ("payload", "json"),
    ("sealed", "text"),
    ("external_ref", "text"),
    ("source_row", "int"),
)


def item_rows(store: Storing | None, chunk: Sequence[list[Any]]) -> list[list[Any]]:
    """The ITEM_COLUMNS values of a chunk's items, each an [id, payload, reference, row]."""
    if store is None:
        return [[item_id, payload, None, ref, row] for item_id, payload, ref, row in chunk]
    stored = store.many([(row[0], row[1]) for row in chunk])
    return [[row[0], *kept, row[2], row[3]] for row, kept in zip(chunk, stored, strict=True)]


@dataclass(frozen=True)
class JsonInsert:
    """INSERT rows of `table`: `per_row` columns from each row's array (in that order, with
    their kinds), every other column of `shared` bound once per chunk."""

    statement: TextClause
    shared: dict[str, Any]

    @classmethod
    def of(
        cls,
        dialect: str,
        table: Table,
        per_row: Sequence[tuple[str, str]],
        shared: dict[str, Any],
    ) -> JsonInsert:
        shared = {c: v for c, v in shared.items() if v is not None and c not in dict(per_row)}
        columns = [name for name, _ in per_row] + list(shared)
        values = [_TAKE[dialect][kind].format(i=i) for i, (_, kind) in enumerate(per_row)]
        values += [f":{c}" for c in shared]
        sql = (  # table and column names come from our own metadata, values are bound
            f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {_ROWS[dialect]}"
        )
        statement = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in shared))
        return cls(statement, shared)


def _json(rows: list[list[Any]]) -> str:
    """A chunk as JSON text: orjson, several times faster than the json module on a chunk and
    with no escaping of non-ASCII text (masks are full of it); the json module for what orjson
    refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(rows).decode()
    except TypeError:
        return json.dumps(rows)


class ChunkWriter:
    """Stores chunks on a thread of its own. At most two chunks wait; an error in the writer
    surfaces at the next write or on leaving the block, and the caller's transaction then
    rolls everything back. Meanwhile threads hand over every millisecond and the cyclic
    garbage collector pauses (tandem.core.runtime)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._chunks: queue.Queue[list[tuple[JsonInsert, str]] | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
        self._settings = ExitStack()

    def __enter__(self) -> ChunkWriter:
        self._settings.enter_context(quick_thread_handoffs())
        self._settings.enter_context(paused_cycle_collection())
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._chunks.put(None)
        self._thread.join()
        self._settings.close()
        if self._error is not None and exc_info[0] is None:
            raise self._error

    def write(self, parts: Sequence[tuple[JsonInsert, list[list[Any]]]]) -> None:
        """Queue a chunk: for each insert, its rows. They are serialized here, on the reading
        thread, which has time to spare: the writer's time is the database's."""
        if self._error is not None:
            raise self._error
        self._chunks.put([(insert, _json(rows)) for insert, rows in parts if rows])

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    for insert, rows in chunk:
                        self._connection.execute(insert.statement, {**insert.shared, "rows": rows})
                except BaseException as exc:  # handed to the reading thread
                    self._error = exc
