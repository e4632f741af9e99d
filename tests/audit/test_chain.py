"""The chain's checks, pure: every kind of tampering is found and named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tandem.audit.chain import GENESIS, Entry, Head, Stored, derive_key, link, seal, verify

KEY = derive_key("a secret of sixteen characters")
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _chain(length: int = 6, client_id: int = 7) -> tuple[list[Stored], Head]:
    records, previous = [], GENESIS
    for n in range(1, length + 1):
        entry = Entry(
            client_id, T0 + timedelta(minutes=n), "user:u", "role.grant", f"user:{n}", {"n": n}
        )
        records.append(Stored(n, entry, previous, link(KEY, previous, entry)))
        previous = records[-1].link
    return records, Head(client_id, length, previous, seal(KEY, client_id, length, previous))


def _problems(records: list[Stored], head: Head | None) -> list[tuple[int, str]]:
    return [(f.seq, f.problem) for f in verify(KEY, records, head)]


def test_an_untouched_chain_is_intact() -> None:
    records, head = _chain()
    assert _problems(records, head) == []
    assert _problems([], Head(7, 0, GENESIS, seal(KEY, 7, 0, GENESIS))) == []


def test_an_edited_record_is_named() -> None:
    records, head = _chain()
    records[2] = replace(records[2], entry=replace(records[2].entry, action="role.revoke"))
    assert _problems(records, head) == [(3, "edited")]


def test_a_deleted_record_is_named_by_the_one_after_it() -> None:
    records, head = _chain()
    del records[3]  # record 4
    assert _problems(records, head) == [(5, "deleted")]
    first_gone, head = _chain()
    assert _problems(first_gone[1:], head) == [(2, "deleted")]


def test_reordered_records_are_out_of_order() -> None:
    records, head = _chain()
    records[2], records[3] = replace(records[3], seq=3), replace(records[2], seq=4)
    # Each of the two, and the record after them, now follows another than it was chained to.
    assert _problems(records, head) == [
        (3, "out_of_order"),
        (4, "out_of_order"),
        (5, "out_of_order"),
    ]


def test_a_truncated_chain_is_found_by_its_sealed_head() -> None:
    records, head = _chain()
    assert _problems(records[:4], head) == [(5, "truncated")]
    # Rewinding the head to the new end without the key breaks its seal.
    rewound = replace(head, seq=4, last=records[3].link)
    assert _problems(records[:4], rewound) == [(4, "edited")]


def test_forging_a_link_needs_the_key() -> None:
    records, head = _chain()
    edited = replace(records[5].entry, data={"n": 600})
    forged = replace(
        records[5],
        entry=edited,
        link=link(derive_key("another secret, guessed"), records[4].link, edited),
    )
    assert _problems([*records[:5], forged], head) == [(6, "edited")]


@pytest.mark.parametrize("secret", ["x" * 16, "y" * 16])
def test_the_key_is_derived_from_the_secret(secret: str) -> None:
    assert derive_key(secret) != derive_key(secret + "!") and len(derive_key(secret)) == 32
