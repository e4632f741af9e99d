"""Masking of personal fields, pure. A process's input form marks a field personal with
`"x-personal": <category>`; agents see such fields masked unless the process lets agents
see that category (`processes.agent_visible_personal`); a reveal shows one item's values.

`free_text` marks text that may hold personal data anywhere in it (a ticket's message, a
note, an uploaded letter): it is shown with what the free-text scanner finds (e-mail, phone,
card, IBAN, national ids...) replaced by placeholders, the rest readable
(tandem.vault.freetext)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from operator import itemgetter
from typing import Any

CATEGORIES = (
    "name",
    "address",
    "national_id",
    "card",
    "health",
    "bank_account",
    "contact",
    "free_text",
)
HIDDEN = "[hidden]"


def personal_fields(schema: Mapping[str, Any]) -> dict[str, str]:
    """{field: category} of the form's top-level fields marked personal."""
    properties = schema.get("properties", {})
    return {
        name: str(spec["x-personal"])
        for name, spec in properties.items()
        if isinstance(spec, Mapping) and "x-personal" in spec
    }


def check_categories(schema: Mapping[str, Any], form: str) -> list[dict[str, str]]:
    """Errors for unknown categories, naming the field (for process definitions)."""
    return [
        {
            "field": f"{form}.properties.{name}",
            "message": f"x-personal must be one of {', '.join(CATEGORIES)}",
        }
        for name, category in personal_fields(schema).items()
        if category not in CATEGORIES
    ]


def mask(value: Any, category: str) -> Any:
    """A value an agent may see in place of the real one: enough to tell it is there and,
    for numbers people read back (cards, accounts, ids), its last four characters."""
    if value is None or value == "":
        return value
    return masker(category)(value)


def masker(category: str) -> Callable[[Any], Any]:
    """`mask` of a category, for values neither None nor empty: looked up once, then called
    on each row's value (bulk intake masks 100,000 rows' fields this way)."""
    return _MASKERS.get(category, _hidden)


# Each masker but free text's leaves a value masked already as it is (a mask contains "•";
# card numbers are cut at intake): masking is idempotent. Free text is always scanned.


def _hidden(value: Any) -> Any:
    text = str(value)
    return text if "•" in text else HIDDEN


def _last_four(value: Any) -> Any:
    text = str(value)
    if "•" in text:
        return text
    digits = "".join(ch for ch in text if ch.isalnum())
    return "•" * max(len(digits) - 4, 4) + digits[-4:] if len(digits) > 4 else "••••"


_FIRST = itemgetter(0)


def _initials(value: Any) -> Any:
    """Each word's first letter, then •••: "Maria Santos" -> "M••• S•••"."""
    text = str(value)
    if "•" in text:
        return text
    words = text.split()
    if len(words) == 2:  # the most common shape, a third faster this way
        first, last = words
        return f"{first[0]}••• {last[0]}•••"
    return "••• ".join(map(_FIRST, words)) + "•••" if words else ""


def _free_text(value: Any) -> Any:
    return scanned(str(value))


_MASKERS: dict[str, Callable[[Any], Any]] = {
    "name": _initials,
    "card": _last_four,
    "bank_account": _last_four,
    "national_id": _last_four,
    "free_text": _free_text,
}


def is_masked(value: Any) -> bool:
    """Whether a value is a mask (what `mask` shows), not a value someone keyed."""
    return isinstance(value, str) and ("•" in value or value == HIDDEN)


def scanned(text: str) -> str:
    """Free text with the personal data in it masked. (Presidio loads on first use: it
    takes a second or two, which processes without free text never pay.)"""
    from tandem.vault.freetext import scanner

    return scanner().mask(text)


def free_text_for_storage(text: str) -> tuple[str, str]:
    """(the text masked for agents, the text as it may be kept: card numbers cut)."""
    from tandem.vault.freetext import scanner

    return scanner().for_storage(text)


def mask_payload(
    payload: Mapping[str, Any], fields: Mapping[str, str], visible: Collection[str] = ()
) -> dict[str, Any]:
    """The payload with every personal field whose category is not `visible` masked."""
    return {
        name: mask(value, fields[name]) if name in fields and fields[name] not in visible else value
        for name, value in payload.items()
    }


def mask_trace(
    trace: Sequence[Mapping[str, Any]],
    sources: Mapping[str, frozenset[str]],
    visible: Collection[str] = (),
) -> list[dict[str, Any]]:
    """A rules trace (tandem.decisions.engine) as a reader may see it: the rules ran on
    clear values, and each row's mappings (the values a node set, any it read) carry them.
    `sources` gives the personal categories each key's value came from: a personal input
    field's own, and those of the fields a value was computed from. A value with a category
    not `visible` is masked as mask_payload masks that field (with several, `[hidden]`), so
    a reader's trace and payload agree."""
    shown = frozenset(visible)

    def masked(key: str, value: Any) -> Any:
        hidden = sources.get(key, frozenset()) - shown
        if not hidden or value is None or value == "":
            return value
        return mask(value, next(iter(hidden))) if len(hidden) == 1 else HIDDEN

    return [
        {
            name: {key: masked(key, value) for key, value in part.items()}
            if isinstance(part, Mapping)
            else part
            for name, part in row.items()
        }
        for row in trace
    ]


def kept_personal(
    values: dict[str, Any], seen: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
) -> dict[str, Any]:
    """Values handed back by someone who saw results masked (a reviewer's correction, an
    adjudicator's settlement), `seen` as (shown, clear) pairs: a field left as it was shown
    keeps the clear value it stood for, if it stood for one only. Otherwise it stays masked,
    and storing it is refused (tandem.privacy.service.stored_result)."""
    kept = {}
    for name, value in values.items():
        stood_for = [
            clear[name] for shown, clear in seen if name in clear and value == shown.get(name)
        ]
        distinct = [v for i, v in enumerate(stood_for) if v not in stood_for[:i]]
        kept[name] = distinct[0] if len(distinct) == 1 else value
    return kept
