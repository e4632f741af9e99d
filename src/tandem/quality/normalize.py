"""Per-field normalizers for double-entry comparison of keyed data.

Two agents key the same document; their values are compared field by field, and differences
that change nothing ("John Smith" vs "Smith, John", "1,234.50" vs "1234.5", "2024-03-05" vs
"March 5, 2024") must not count as disagreement. Pure: no I/O, no database, no clock.

Every normalizer errs towards disagreement when input is ambiguous: a false disagreement only
costs a review, a false agreement lets a keying error through. A value a normalizer cannot
read is compared by its "text" form instead, so normalizing never raises on odd input.
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import phonenumbers
from dateutil import parser as date_parser
from nameparser import HumanName

NORMALIZERS: tuple[str, ...] = ("exact", "text", "date", "amount", "phone", "name")

_NUMBER_TYPES = frozenset({"number", "integer"})


def normalizer_for(field_schema: Mapping[str, Any]) -> str:
    """Which normalizer a form field uses: its "x-normalize" keyword when given (must be one of
    NORMALIZERS, else ValueError naming the value), else by JSON Schema type/format:
    format date or date-time -> "date"; type number/integer -> "amount"; format "phone" ->
    "phone"; other strings -> "text"; booleans, objects, arrays, anything else -> "exact".

    A "type" list is read without "null"; a list mixing kinds (["string", "number"]) is "exact".
    A boolean subschema (JSON Schema allows `true`) is "exact"."""
    if not isinstance(field_schema, Mapping):
        return "exact"
    if "x-normalize" in field_schema:
        chosen = field_schema["x-normalize"]
        if not isinstance(chosen, str) or chosen not in NORMALIZERS:
            raise ValueError(
                f"x-normalize {chosen!r} is not one of {', '.join(NORMALIZERS)}",
            )
        return chosen
    declared = field_schema.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list | tuple):
        types = {t for t in declared if isinstance(t, str)}
    else:
        types = set()
    types.discard("null")
    fmt = field_schema.get("format")
    if fmt in ("date", "date-time"):
        return "date"
    if types and types <= _NUMBER_TYPES:
        return "amount"
    if fmt == "phone":
        return "phone"
    if types == {"string"}:
        return "text"
    return "exact"


def normalize(kind: str, value: Any, *, region: str | None = None) -> Any:
    """The comparable form of a value. Never raises on odd input: a value a normalizer cannot
    read is compared by its "text" form (so "n/a" vs "N/A " still agree, and "abc" vs
    "2024-01-01" disagree). None and "" (after stripping) both normalize to None.

    `region` is an ISO 3166 country code ("US", "GB") for phone numbers keyed without a
    country code; the other normalizers ignore it. An unknown `kind` is a programming error
    and raises ValueError."""
    if kind not in NORMALIZERS:
        raise ValueError(f"unknown normalizer {kind!r}; expected one of {', '.join(NORMALIZERS)}")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    result: Any
    if kind == "exact":
        return _exact(value)
    if kind == "text":
        return _text(value)
    if kind == "date":
        result = _date(value)
    elif kind == "amount":
        result = _amount(value)
    elif kind == "phone":
        result = _phone(value, region)
    else:
        result = _name(value)
    return _text(value) if result is None else result


# --- exact and text ---------------------------------------------------------------------------


def _exact(value: Any) -> str:
    """Canonical JSON; values JSON cannot hold (dates, Decimals) are written as their str()."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):  # mixed-type keys cannot be sorted; circular references
        return repr(value)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        raw = value
    elif isinstance(value, bool):
        raw = "true" if value else "false"
    elif isinstance(value, Mapping | list | tuple):
        raw = _exact(value)
    else:
        raw = str(value)  # numbers, dates: 42 and "42" agree as text
    folded = " ".join(unicodedata.normalize("NFKC", raw).casefold().split())
    return folded or None


# --- date ---------------------------------------------------------------------------------------

# Parsing twice with defaults that differ in year, month and day shows whether the keyed
# text gave all three: dateutil silently fills gaps from the default ("March 2024" would
# otherwise become some day of March). Both years are leap years so "29 Feb" is never the cause.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2004, 2, 2))


def _date(value: Any) -> str | None:
    """ISO form of a date: "YYYY-MM-DD"; a value with a time of day and no zone is the naive
    ISO datetime, a value with a zone is the ISO datetime in UTC. A naive midnight counts as a
    plain date. Month/day order of "05/03/2024" is month first. Incomplete dates ("March
    2024"), impossible ones ("2024-02-30") and unknown zone names -> None (compared as text)."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", date_parser.UnknownTimezoneWarning)
            first, second = (
                date_parser.parse(text, default=d, dayfirst=False, fuzzy=False) for d in _DEFAULTS
            )
    except (ValueError, OverflowError):
        return None
    # dateutil drops a zone name it does not know ("EST") with a warning and returns a naive
    # time, which would let "10:00 EST" and "10:00 PST" agree: such values are compared as text.
    if any(issubclass(w.category, date_parser.UnknownTimezoneWarning) for w in caught):
        return None
    if first != second:
        return None
    return _iso(first)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        return moment.astimezone(UTC).isoformat()
    if moment.time() == time(0, 0):
        return moment.date().isoformat()
    return moment.replace(tzinfo=None).isoformat()


# --- amount -------------------------------------------------------------------------------------

_MINUS = "-\u2212"  # hyphen-minus, minus sign
_GROUPING_CHARS = " '\u2019"  # space (NFKC folds no-break and thin spaces to it), apostrophes
_SEPARATORS = ".," + _GROUPING_CHARS
_BODY = re.compile(r"[0-9.,' \u2019]*[0-9]")
_MAX_AFFIX_LETTERS = 3


def _amount(value: Any) -> Decimal | None:
    """A money amount as a normalized Decimal (1234.50 and 1234.5 compare equal).

    Strings may carry a currency symbol or a code of up to three letters before or after the
    number ("$1,234.50", "1234.50 USD", "US$ 5", "12 €"), and one sign: a leading or trailing
    minus, or parentheses for a negative ("(12.00)" is -12). Separators:

    - a "." that occurs once and is the last separator is the decimal point;
    - a "," that occurs once, is the last separator and is followed by exactly two digits is a
      decimal comma ("1.234,50" and "12,50"); any other "," or "." groups thousands;
    - space and apostrophe group thousands ("1 234.50", "1'234.50");
    - groups must be three digits (after a first group of one to three), all with one grouping
      character, so "1,5", "1.234,5" or Indian "1,23,456" are not read as amounts (they are
      compared as text), and neither is anything else: "1e3", "12 apples", "n/a".

    A lone "." followed by three digits ("1.234") is therefore 1.234, not 1234.
    The currency is not compared: "$5" and "5 EUR" agree. NaN and infinities are not amounts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _normalized(Decimal(value))
    if isinstance(value, float):
        return _normalized(Decimal(repr(value)))  # shortest repr: 0.1 is 0.1, not 0.1000...0555
    if isinstance(value, Decimal):
        return _normalized(value)
    if not isinstance(value, str):
        return None
    return _parse_amount(unicodedata.normalize("NFKC", value).strip())


def _normalized(number: Decimal) -> Decimal | None:
    if not number.is_finite():
        return None
    # Enough precision that normalizing never rounds (the default context keeps 28 digits).
    return number.normalize(Context(prec=max(28, len(number.as_tuple().digits))))


def _parse_amount(text: str) -> Decimal | None:
    body = _strip_currency(text)  # "$(12.00)" as well as "($12.00)"
    if body is None:
        return None
    negative = body.startswith("(") and body.endswith(")")
    if negative:
        body = _strip_currency(body[1:-1])
        if body is None:
            return None
    if body[0] in _MINUS or body[-1] in _MINUS:
        if negative:  # one sign only: "(-12)" is not read
            return None
        negative = True
        body = body[1:] if body[0] in _MINUS else body[:-1]
    elif body[0] == "+":
        body = body[1:]
    body = _strip_currency(body)  # "-$12" as well as "$-12"
    if body is None or not _BODY.fullmatch(body):
        return None
    number = _parse_digits(body)
    if number is None:
        return None
    return _normalized(-number if negative else number)


def _strip_currency(text: str) -> str | None:
    """The text without a currency affix at either end; None when an affix has more than three
    letters (then it is words, not a currency) or nothing is left."""
    text = text.strip()
    start = 0
    while start < len(text) and _is_affix_char(text[start]):
        start += 1
    end = len(text)
    while end > start and _is_affix_char(text[end - 1]):
        end -= 1
    prefix, suffix = text[:start], text[end:]
    if sum(c.isalpha() for c in prefix) > _MAX_AFFIX_LETTERS:
        return None
    if sum(c.isalpha() for c in suffix) > _MAX_AFFIX_LETTERS:
        return None
    body = text[start:end].strip()
    return body or None


def _is_affix_char(char: str) -> bool:
    return char.isalpha() or char.isspace() or unicodedata.category(char) == "Sc"


def _parse_digits(text: str) -> Decimal | None:
    seps = [c for c in text if c in _SEPARATORS]
    decimal_sep: str | None = None
    if seps:
        last = seps[-1]
        if last == "." and seps.count(".") == 1:
            decimal_sep = "."
        elif last == "," and seps.count(",") == 1 and re.fullmatch(r".*,[0-9]{2}", text):
            decimal_sep = ","
    if decimal_sep is None:
        whole, fraction = text, ""
    else:
        whole, _, fraction = text.rpartition(decimal_sep)
        if not fraction.isdigit():
            return None
    if whole:
        grouping = {c for c in whole if c in _SEPARATORS}
        if len(grouping) > 1:
            return None
        if grouping:
            groups = whole.split(grouping.pop())
            if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
                return None
            whole = "".join(groups)
        if not whole.isdigit():
            return None
    try:
        return Decimal(f"{whole or '0'}.{fraction or '0'}")
    except InvalidOperation:
        return None


# --- phone --------------------------------------------------------------------------------------


def _phone(value: Any, region: str | None) -> str | None:
    """E.164 ("+12025550143") when phonenumbers reads the number and it is a possible one, with
    ";ext=NN" when an extension was keyed (E.164 itself drops it, which would let different
    extensions agree). Otherwise the digits alone, so "555-0143" and "555 0143" still agree;
    a value without any digit is compared as text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return f"{e164};ext={number.extension}" if number.extension else e164
    digits = "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())
    return digits or None


# --- name ---------------------------------------------------------------------------------------


def _name(value: Any) -> str | None:
    """The name as "first middle last" the way nameparser reads it ("Smith, John" is "john
    smith"), without titles and suffixes ("Dr.", "Jr."), diacritics, case, punctuation
    (apostrophes, hyphens, periods: "O'Brien" is "obrien", "Mary-Kate" is "marykate") or
    extra whitespace. Word order without a comma is taken as given: "Smith John" is first name
    Smith. A value with no first, middle or last name left is compared as text."""
    if not isinstance(value, str):
        return None
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    parsed = HumanName(text)
    parts = (_fold_name_part(p) for p in (parsed.first, parsed.middle, parsed.last))
    folded = " ".join(" ".join(parts).split())
    return folded or None


def _fold_name_part(part: str) -> str:
    decomposed = unicodedata.normalize("NFKD", part)
    kept = (
        c
        for c in decomposed
        if not unicodedata.combining(c) and not unicodedata.category(c).startswith("P")
    )
    return "".join(kept).casefold()


# --- a whole form -------------------------------------------------------------------------------


def agreement(
    form_schema: Mapping[str, Any],
    first: Mapping[str, Any],
    second: Mapping[str, Any],
    *,
    region: str | None = None,
) -> dict[str, bool]:
    """Field by field: for every top-level property of the form schema ("properties"), plus any
    key present in either keying that the schema does not name (compared "exact"), whether the
    two keyings agree after that field's normalizer. Keys absent from a keying count as None.
    Ordered as the schema's properties, then extras sorted.

    A property with a bad "x-normalize" raises ValueError: that is a fault of the form, not of
    the keyed data."""
    properties = form_schema.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    kinds = {name: normalizer_for(schema) for name, schema in properties.items()}
    extras = sorted((set(first) | set(second)) - set(kinds), key=str)
    kinds.update((name, "exact") for name in extras)
    return {
        name: bool(
            normalize(kind, first.get(name), region=region)
            == normalize(kind, second.get(name), region=region)
        )
        for name, kind in kinds.items()
    }
