"""A file of items naming documents staged ahead (tandem.documents.staging) in its document
column, by id: the same column, and the same role, as an archive's (tandem.intake.archives),
whose rows name documents by their path in the archive. The upload's kind says which: a ZIP
archive carries its documents, a plain CSV, JSONL or XLSX file names staged ones.

Each row's reference is looked up as the row is validated: unknown (or another client's,
which reads the same), staged for another process, already an item's, expired, or named by an
earlier row of the file is an error of that row, naming the column, as a bad value is. Once
every item of the file is written, the documents of the rows kept become their items', in
the intake's transaction and in the order of their ids (two files naming the same documents
lock them in the same order: neither waits on the other in a cycle). A document taken by
another intake in between is an error of its row, and the whole file rolls back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tandem.catalog.forms import FieldError
from tandem.core.errors import InvalidInput
from tandem.documents import staging
from tandem.vault.sealing import Keyring


class StagedReferences:
    """The staged documents a file's rows name, found and then attached."""

    def __init__(
        self, session: Session, client_id: int, process_id: uuid.UUID, column: str, now: datetime
    ) -> None:
        self._session = session
        self._client_id = client_id
        self._process_id = process_id
        self.column = column
        self._now = now
        self._found: dict[int, uuid.UUID] = {}  # by row number
        self._named: dict[uuid.UUID, int] = {}  # the row that named each, for duplicates
        self._kept: list[tuple[uuid.UUID, str, int]] = []  # (document, item id, row)

    def check(self, number: int, payload: dict[str, Any]) -> list[FieldError]:
        """The row's staged document, found usable: its errors (none when the row names no
        document, or one it may take)."""
        named = payload.get(self.column)
        if named is None or named == "":
            return []
        document_id, wrong = staging.usable(
            self._session, self._client_id, self._process_id, named, self._now
        )
        if document_id is not None and (earlier := self._named.get(document_id)) is not None:
            wrong = (
                f"staged document {document_id} is named by row {earlier} too: each is used once"
            )
        if wrong is not None or document_id is None:
            return [FieldError(self.column, wrong or staging.unknown(named), number)]
        self._named[document_id] = number
        self._found[number] = document_id
        return []

    def kept(self, number: int, item_id: str) -> None:
        """The row became this item: its staged document (if any) becomes the item's."""
        if (document_id := self._found.pop(number, None)) is not None:
            self._kept.append((document_id, item_id, number))

    def store(self, session: Session, keyring: Keyring, client_id: int, now: datetime) -> int:
        """Make each kept row's staged document its item's; how many. (The keyring is not
        needed: the sealed bytes stay as they are.)"""
        for document_id, item_id, number in sorted(self._kept):
            if not staging.attach(session, client_id, document_id, uuid.UUID(item_id), now):
                message = f"staged document {document_id} was taken by another intake meanwhile"
                raise InvalidInput(
                    f"row {number}: {message}; nothing of the file was queued",
                    errors=[{"row": number, "field": self.column, "message": message}],
                )
        return len(self._kept)
