"""Personal fields encrypted at rest with a key per client (AES-GCM), pure: no I/O.

A client's key is derived (HKDF-SHA256) from a master key given by configuration, the
client's id and the client's key version, so no key is ever stored in the database. An item's
personal input fields are sealed together into one value (`work_items.sealed`) bound to the
item: the client and item id are the associated data, so a sealed value copied onto another
row does not open. An item's result (and each keying of a double-entry item) is sealed the
same way, with the part it is of named in the associated data too, so a sealed input does not
open as the item's result. The payload keeps the fields' masked forms, so what agents see by default
needs no key at all; the clear values are opened only for those who need them.

A sealed value names the key that sealed it: `v1.<master key id>.<client key version>.<base64
of nonce and ciphertext>`. Rotating means sealing again under the current key: the client's
key version is raised (or a new master key configured, the old one kept as a previous master
key) and a background job re-seals the client's items; until it is done, values under the old
key still open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tandem.vault.masking import free_text_for_storage, masker

FORMAT = "v1"
INPUT = ""  # the part of an item a sealed value holds: its input, its result, a keying
RESULT = "result"
ANSWER = "answer"  # a gold item's known answer
DOCUMENT = "document"  # a document handed over with an item (its bytes, bound to its id)
MIN_MASTER_KEY_LENGTH = 32
_NONCE = 12


class KeyUnavailable(Exception):
    """A sealed value names a master key that is not configured (any more)."""


@dataclass(frozen=True)
class MasterKey:
    id: str  # eight hex digits that name the key (not secret: a hash of it)
    secret: bytes

    @classmethod
    def of(cls, secret: str) -> MasterKey:
        if len(secret) < MIN_MASTER_KEY_LENGTH:
            raise ValueError(f"a master key has at least {MIN_MASTER_KEY_LENGTH} characters")
        material = secret.encode()
        return cls(hashlib.sha256(b"tandem master key id:" + material).hexdigest()[:8], material)


def key_ref(sealed: str) -> tuple[str, int]:
    """(master key id, client key version) of a sealed value."""
    _, master_id, version, _ = sealed.split(".", 3)
    return master_id, int(version)


class Keyring:
    """The master keys (current first, then previous ones still needed to open old values)
    and the client keys derived from them, each derived once."""

    def __init__(self, current: str, previous: Iterable[str] = ()) -> None:
        self.current = MasterKey.of(current)
        self._masters = {key.id: key for key in (self.current, *map(MasterKey.of, previous))}
        self._ciphers: dict[tuple[str, int, int], AESGCM] = {}

    def prefix(self, version: int) -> str:
        """How every value sealed under the current master key and this client key version
        begins (what a rotation is done re-sealing into)."""
        return f"{FORMAT}.{self.current.id}.{version}."

    def sealer(self, client_id: int, version: int, part: str = INPUT) -> Sealer:
        """Seals a part of items under the client's key of this version and the current
        master key."""
        cipher = self._cipher(self.current.id, client_id, version)
        return Sealer(client_id, self.prefix(version), cipher, part)

    def seal(
        self,
        client_id: int,
        version: int,
        item_id: uuid.UUID | str,
        values: Mapping[str, Any],
        part: str = INPUT,
    ) -> str:
        """`values` encrypted under the client's current key, bound to the item's part."""
        return self.sealer(client_id, version, part).seal(item_id, values)

    def open(
        self, client_id: int, item_id: uuid.UUID | str, sealed: str, part: str = INPUT
    ) -> dict[str, Any]:
        """The values of a sealed value, under whichever key sealed them. Raises
        cryptography's InvalidTag if it was altered or belongs to another item or part."""
        _, master_id, version, body = sealed.split(".", 3)
        raw = base64.b64decode(body)
        cipher = self._cipher(master_id, client_id, int(version))
        bound = bound_to(client_id, item_id, part)
        plain = cipher.decrypt(raw[:_NONCE], raw[_NONCE:], bound)
        values: dict[str, Any] = orjson.loads(plain)
        return values

    def seal_bytes(
        self, client_id: int, version: int, bound: uuid.UUID | str, data: bytes, part: str
    ) -> tuple[str, bytes]:
        """Bytes (a document) sealed under the client's key of this version, bound to the
        client, `bound` (the document's id) and the part: (the key's prefix, as `prefix`
        names it, which a rotation compares; the nonce and ciphertext)."""
        cipher = self._cipher(self.current.id, client_id, version)
        nonce = os.urandom(_NONCE)
        return self.prefix(version), nonce + cipher.encrypt(
            nonce, data, bound_to(client_id, bound, part)
        )

    def open_bytes(
        self, client_id: int, bound: uuid.UUID | str, key: str, box: bytes, part: str
    ) -> bytes:
        """What `seal_bytes` sealed, under the key its prefix names. Raises cryptography's
        InvalidTag if it was altered or belongs to another document or part."""
        _, master_id, version, _ = key.split(".", 3)
        cipher = self._cipher(master_id, client_id, int(version))
        return cipher.decrypt(box[:_NONCE], box[_NONCE:], bound_to(client_id, bound, part))

    def _cipher(self, master_id: str, client_id: int, version: int) -> AESGCM:
        cipher = self._ciphers.get((master_id, client_id, version))
        if cipher is None:
            master = self._masters.get(master_id)
            if master is None:
                raise KeyUnavailable(
                    f"master key {master_id} is not configured: add it to "
                    "TANDEM_PREVIOUS_MASTER_KEYS until re-encryption under the new key is done"
                )
            derived = HKDF(
                algorithm=SHA256(),
                length=32,
                salt=b"tandem client key",
                info=f"{client_id}:{version}".encode(),
            ).derive(master.secret)
            cipher = self._ciphers[(master_id, client_id, version)] = AESGCM(derived)
        return cipher


class Sealer:
    """One client key at work, on one part of items. Bulk intake seals 100,000 items with
    one, a chunk at a time (`seal_many`, or `Sealing.split_many`), every step kept to the
    bone."""

    def __init__(self, client_id: int, prefix: str, cipher: AESGCM, part: str = INPUT) -> None:
        self.client_id = client_id
        self.prefix = prefix
        self.part = part
        self.cipher = cipher
        # The associated data (bound_to) around an item's id: "<client>:" and ":<part>".
        self._bound_head = f"{client_id}:"
        self._bound_tail = f":{part}" if part else ""

    def seal(self, item_id: uuid.UUID | str, values: Mapping[str, Any]) -> str:
        return self.seal_many([(item_id, values)])[0]

    def seal_many(self, items: Sequence[tuple[uuid.UUID | str, Mapping[str, Any]]]) -> list[str]:
        """Each item's values sealed, under a random nonce each."""
        seal = self.one_at_a_time(len(items))
        return [seal(item_id, values) for item_id, values in items]

    def one_at_a_time(self, count: int) -> Callable[[uuid.UUID | str, Mapping[str, Any]], str]:
        """Seals up to `count` items, one call each, their nonces drawn from the OS at once
        (past `count`, AES-GCM refuses the empty nonce). What `bound_to` does is inlined: at
        a microsecond or two an item, a call costs as much as a step."""
        nonces = os.urandom(_NONCE * count)
        encrypt, prefix = self.cipher.encrypt, self.prefix
        head, tail = self._bound_head, self._bound_tail
        dumps, base64_of = orjson.dumps, binascii.b2a_base64
        at = 0

        def seal(item_id: uuid.UUID | str, values: Mapping[str, Any]) -> str:
            nonlocal at
            nonce = nonces[at : at + _NONCE]
            at += _NONCE
            hex_id = item_id.replace("-", "") if isinstance(item_id, str) else item_id.hex
            box = encrypt(
                nonce,
                dumps(values, default=str),  # a tenth of the json module's time
                (head + hex_id + tail).encode(),
            )
            return prefix + base64_of(nonce + box, newline=False).decode()

        return seal


def bound_to(client_id: int, item_id: uuid.UUID | str, part: str) -> bytes:
    """The associated data: client, item and, but for the input, the part."""
    hex_id = item_id.replace("-", "") if isinstance(item_id, str) else item_id.hex
    return f"{client_id}:{hex_id}:{part}".encode() if part else f"{client_id}:{hex_id}".encode()


@dataclass(frozen=True)
class Sealing:
    """How a process's items are stored: every personal field in its masked form in the
    payload, and the clear values sealed, except card numbers, which are never stored in
    clear, not even encrypted (PCI DSS: what is not kept cannot leak): the client keeps them,
    Tandem keeps the last four digits, in card fields and in free text alike."""

    fields: Mapping[str, str]  # {field: category}

    def split(
        self, sealer: Sealer, item_id: uuid.UUID | str, payload: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """(the payload as stored, its sealed personal values or None if it has none)."""
        return self.split_many(sealer, [(item_id, payload)])[0]

    def split_many(
        self, sealer: Sealer, items: Sequence[tuple[uuid.UUID | str, Mapping[str, Any]]]
    ) -> list[tuple[dict[str, Any], str | None]]:
        """`split` of each (item id, payload), in one pass: a file's chunk at a time."""
        steps = self._steps
        seal = sealer.one_at_a_time(len(items))
        out: list[tuple[dict[str, Any], str | None]] = []
        append = out.append
        for item_id, payload in items:
            stored = dict(payload)
            clear = {}
            for name, hide, keep in steps:
                value = stored.get(name)
                if value is None or value == "":
                    continue
                if hide is None:  # free text: masked where the scanner finds personal data
                    stored[name], clear[name] = free_text_for_storage(str(value))
                else:
                    stored[name] = hide(value)
                    if keep:
                        clear[name] = value
            append((stored, seal(item_id, clear) if clear else None))
        return out

    @cached_property
    def _steps(self) -> tuple[tuple[str, Callable[[Any], Any] | None, bool], ...]:
        """Per personal field: its name, its masker (None for free text) and whether its
        clear value is kept (sealed): all but card numbers."""
        return tuple(
            (name, None if category == "free_text" else masker(category), category != "card")
            for name, category in self.fields.items()
        )


def sealing(fields: Mapping[str, str]) -> Sealing | None:
    """The sealing of a process with these personal fields, or None if it has none."""
    return Sealing(fields) if fields else None


def opened(
    keyring: Keyring,
    client_id: int,
    item_id: uuid.UUID | str,
    payload: Mapping[str, Any],
    sealed: str | None,
    part: str = INPUT,
) -> dict[str, Any]:
    """The payload (or result, or keying) with its personal fields in clear."""
    if not sealed:
        return dict(payload)
    return {**payload, **keyring.open(client_id, item_id, sealed, part)}


@dataclass(frozen=True)
class Storing:
    """How a process's items (or results) are stored: (item id, payload) -> (the payload
    with its personal fields masked, their clear values sealed or None); `many` does a chunk
    of a file (tandem.vault.sealing.Sealing.split_many)."""

    plan: Sealing
    sealer: Sealer

    def __call__(
        self, item_id: uuid.UUID | str, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        return self.plan.split(self.sealer, item_id, payload)

    def many(
        self, items: Sequence[tuple[uuid.UUID | str, dict[str, Any]]]
    ) -> list[tuple[dict[str, Any], str | None]]:
        return self.plan.split_many(self.sealer, items)


def clear_payload(keyring: Keyring, item: Any) -> dict[str, Any]:
    """An item's payload (a WorkItem or a row with client_id, id, payload and sealed) with
    its personal fields in clear: for the client's own people and the client's rules."""
    return opened(keyring, item.client_id, item.id, item.payload, item.sealed)


def clear_result(keyring: Keyring, item: Any) -> dict[str, Any] | None:
    """An item's result (a WorkItem or a row with client_id, id, result and result_sealed)
    with its personal fields in clear."""
    if item.result is None:
        return None
    return opened(keyring, item.client_id, item.id, item.result, item.result_sealed, RESULT)
