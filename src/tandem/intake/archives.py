"""A file of items with their documents, as one ZIP archive: an items file (CSV, JSONL or
XLSX) and the documents its rows name in one column, by their path in the archive.

Each row's document is read and checked by its content as the row is validated (a missing or
bad document is an error of that row, naming the column, as a bad value is), and only what
was found is remembered (the member and what the check found, not its bytes). Once every item
of the file is written, the documents of the rows kept are read again, one at a time, and
stored sealed beside their items, in the intake's transaction: a file's items and their
documents arrive together or not at all, and memory holds one document at a time.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
import uuid
import zipfile
from datetime import datetime
from typing import Any, BinaryIO, cast

from sqlalchemy.orm import Session

from tandem.catalog.forms import FieldError
from tandem.documents import service as documents
from tandem.documents.content import Checked, Limits, Refused, check
from tandem.intake.readers import ReaderError
from tandem.vault.sealing import Keyring

ITEMS_FILES = (".csv", ".jsonl", ".ndjson", ".xlsx")
ZIP_MAGIC = b"PK\x03\x04"


def is_archive(stream: BinaryIO) -> bool:
    """Whether the upload is a ZIP archive, by its first bytes (an XLSX workbook is a ZIP
    too, told apart by its name: see `tandem.intake.service.ingest_file`)."""
    head = stream.read(4)
    stream.seek(0)
    return head == ZIP_MAGIC


class Archive:
    """The archive being taken in: its items file and its documents, by path."""

    def __init__(self, stream: BinaryIO, column: str, limits: Limits) -> None:
        try:
            self._zip = zipfile.ZipFile(stream)
            members = [
                info
                for info in self._zip.infolist()
                if not info.is_dir() and not info.filename.startswith("__MACOSX/")
            ]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ReaderError(f"the archive cannot be read: {exc}") from None
        items = [info for info in members if info.filename.lower().endswith(ITEMS_FILES)]
        if not items:
            raise ReaderError("the archive holds no items file (.csv, .jsonl or .xlsx)")
        if len(items) > 1:
            names = ", ".join(info.filename for info in items[:5])
            raise ReaderError(f"the archive holds several items files ({names}): keep one")
        self.items_name = items[0].filename
        self._items = items[0]
        self._members = {info.filename: info for info in members}
        self.column = column
        self.limits = limits
        self._found: dict[int, tuple[zipfile.ZipInfo, Checked]] = {}  # by row number
        self._kept: list[tuple[str, zipfile.ZipInfo, Checked]] = []  # (item id, ...)

    def items(self) -> BinaryIO:
        """The items file, copied out of the archive (spreadsheets are read by seeking)."""
        copy = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115
        try:
            with self._zip.open(self._items) as source:
                shutil.copyfileobj(source, copy, 1 << 20)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
            copy.close()
            raise ReaderError(f"{self.items_name} cannot be read from the archive: {exc}") from None
        copy.seek(0)
        return cast(BinaryIO, copy)

    def check(self, number: int, payload: dict[str, Any]) -> list[FieldError]:
        """The row's document, found and checked: its errors (none when the row names no
        document, or a good one)."""
        named = payload.get(self.column)
        if named is None or named == "":
            return []
        path = posixpath.normpath(str(named).strip().replace("\\", "/")).lstrip("/")
        info = self._members.get(path)
        if info is None or info is self._items:
            return [FieldError(self.column, f"no document {str(named)!r} in the archive", number)]
        try:
            found = check(self._read(info), self.limits)
        except Refused as exc:
            return [FieldError(self.column, f"{path}: {exc}", number)]
        self._found[number] = (info, found)
        return []

    def kept(self, number: int, item_id: str) -> None:
        """The row became this item: its document (if any) is stored with it."""
        if (found := self._found.pop(number, None)) is not None:
            self._kept.append((item_id, *found))

    def store(self, session: Session, keyring: Keyring, client_id: int, now: datetime) -> int:
        """Store the documents of the items written, one at a time; how many."""
        for item_id, info, found in self._kept:
            try:
                data = self._read(info)
            except Refused as exc:
                raise ReaderError(f"{info.filename}: {exc}") from None
            if hashlib.sha256(data).hexdigest() != found.sha256:
                raise ReaderError(f"{info.filename} changed while the archive was read")
            documents.store(session, keyring, client_id, uuid.UUID(item_id), data, found, now=now)
        return len(self._kept)

    def _read(self, info: zipfile.ZipInfo) -> bytes:
        """A member's bytes, at most one more than a document may have (a member that says
        it is small and inflates to gigabytes is cut there, and refused as too large)."""
        try:
            with self._zip.open(info) as member:
                return member.read(self.limits.max_bytes + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
            raise Refused(f"the document cannot be read from the archive: {exc}") from None
