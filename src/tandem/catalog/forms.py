"""Forms: the JSON Schema (Draft 2020-12) that a process's work items and results must follow.

A `Form` compiles its schema twice, once:

* jsonschema-rs (about 2 µs per row) says whether a row is valid;
* jsonschema's Draft 2020-12 validator (~100 µs per row) runs only for a row that failed, to
  list every error of that row with the path of its field, in the messages users read.

The fast validator must never pass a row the reference one rejects: both implement 2020-12,
and both take their format checks from jsonschema-rs (jsonschema's own need optional packages
for several formats, and without them silently accept anything).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

import jsonschema_rs
import re2
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import SchemaError

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of a row (or of a single item, when `row` is None)."""

    field: str  # dotted path ("applicant.birth_date", "lines.0.amount"); "" = the whole object
    message: str
    row: int | None = None


class FormError(Exception):
    """The form's schema itself is unusable; the message says why."""


# -- format checks shared by both validators -----------------------------------------------


# The formats JSON Schema 2020-12 defines; "regex" is left to jsonschema (Python's dialect).
_FORMAT_NAMES = (
    "date",
    "date-time",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uri-template",
    "uuid",
    "json-pointer",
    "relative-json-pointer",
)


def _format_checker() -> FormatChecker:
    """jsonschema's format checks, each replaced by jsonschema-rs's where it has one, so that
    both validators agree on every format (non-strings pass, as the specification says)."""
    checker = FormatChecker(formats=())
    checks = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    for name in _FORMAT_NAMES:
        check = jsonschema_rs.validator_for({"format": name}, validate_formats=True).is_valid
        checks[name] = (check, ())
    checker.checkers = checks
    return checker


_FORMATS = _format_checker()


# -- patterns: a client's regular expressions, on a linear-time engine ----------------------
#
# A process's form is the client's: its "pattern" and "patternProperties" regexes run on
# RE2 (google-re2), whose matching time grows linearly with the text, never on Python's
# backtracking re (where '^(a+)+$' against 30 characters takes minutes), and jsonschema-rs
# runs them on the Rust regex crate, linear too. A pattern RE2 cannot run (backreferences,
# lookaround) is refused when the process is defined.

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the client's error, told by FormError


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    """The compiled RE2 program of a pattern (raises re2.error when RE2 cannot run it)."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _matches(pattern: str, text: str) -> bool:
    return _regex(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, allowed: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    extras = _unexpected(instance, schema)
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        listed = ", ".join(repr(extra) for extra in sorted(extras))
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            patterns = ", ".join(repr(p) for p in sorted(schema["patternProperties"]))
            yield ValidationError(f"{listed} {verb} not match any of the regexes: {patterns}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({listed} {verb} unexpected)"
            )


# jsonschema's 2020-12 validator with the keywords that run a client's regexes on RE2.
_Validator = validators.extend(
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
)


def _pattern_problems(schema: dict[str, Any]) -> list[str]:
    """Each regex of the form RE2 cannot run, with where it is."""
    found = []
    for node, pointer in _subschemas(schema, "#"):
        places = []
        if isinstance(node.get("pattern"), str):
            places.append((f"{pointer}/pattern", node["pattern"]))
        for key in node.get("patternProperties", {}) or {}:
            places.append((f"{pointer}/patternProperties/{_escape(key)}", key))
        for where, pattern in places:
            try:
                _regex(pattern)
            except re2.error as exc:
                message = (
                    exc.args[0].decode()
                    if exc.args and isinstance(exc.args[0], bytes)
                    else str(exc)
                )
                found.append(
                    f"{where}: the pattern {pattern!r} cannot run on a linear-time engine "
                    f"({message}); backreferences and lookaround are not supported"
                )
    return found


# -- walking a schema ------------------------------------------------------------------------

_SUBSCHEMA = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
    "contentSchema",
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _subschemas(node: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every object subschema of `node` with its JSON pointer (data such as `enum` and
    `default` values is not entered)."""
    if not isinstance(node, dict):
        return
    yield node, pointer
    for key in _SUBSCHEMA:
        if key in node:
            yield from _subschemas(node[key], f"{pointer}/{key}")
    for key in _SUBSCHEMA_LISTS:
        items = node.get(key)
        if isinstance(items, list):
            for index, item in enumerate(items):
                yield from _subschemas(item, f"{pointer}/{key}/{index}")
    for key in _SUBSCHEMA_MAPS:
        members = node.get(key)
        if isinstance(members, dict):
            for name, member in members.items():
                yield from _subschemas(member, f"{pointer}/{key}/{_escape(name)}")


def _resolve(root: Any, ref: str) -> Any:
    """The target of a local `$ref` ("#" or "#/json/pointer"); LookupError if there is none."""
    node = root
    if ref in ("#", "#/"):
        return node
    for raw in ref[2:].split("/"):
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node[token]
        elif isinstance(node, list) and token.isdigit():
            node = node[int(token)]
        else:
            raise LookupError(ref)
    return node


# Where a `false` subschema gets its own message from its keyword, and so stays as it is.
_FALSE_KEPT = frozenset(
    {
        "items",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "additionalItems",
    }
)
# `false` elsewhere becomes this for jsonschema, which loses the path of a `false` subschema's
# error (its `descend` does not set it); `{"not": {}}` rejects the same values, path and all.
_NOTHING: dict[str, Any] = {"not": {}}


def _without_false(node: Any) -> Any:
    """A copy of a schema with `_NOTHING` standing for every `false` subschema (outside
    `_FALSE_KEPT`), for the reference validator."""
    if not isinstance(node, dict):
        return node

    def sub(value: Any, keep_false: bool = False) -> Any:
        if value is False and not keep_false:
            return copy.deepcopy(_NOTHING)
        return _without_false(value)

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SUBSCHEMA:
            out[key] = sub(value, key in _FALSE_KEPT)
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [sub(item) for item in value]
        elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: sub(member) for name, member in value.items()}
        else:
            out[key] = value
    return out


# -- the schema checks -----------------------------------------------------------------------


def _plain_copy(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A private deep copy, so that nobody can change a compiled form from outside."""
    if not isinstance(schema, Mapping):
        raise FormError(f"a form must be a JSON object, got {type(schema).__name__}")

    def mapping_as_dict(value: Any) -> Any:
        if isinstance(value, Mapping):
            return dict(value)
        raise TypeError(f"{type(value).__name__} is not a JSON value")

    try:
        plain: dict[str, Any] = json.loads(
            json.dumps(schema, allow_nan=False, default=mapping_as_dict)
        )
    except (TypeError, ValueError) as exc:
        raise FormError(f"a form must be plain JSON: {exc}") from None
    return plain


def _check(schema: dict[str, Any]) -> None:
    """Raise FormError for a schema a form cannot use."""
    declared = schema.get("$schema")
    if declared is not None and (
        not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12
    ):
        raise FormError(
            f'"$schema" is {declared!r}: forms use JSON Schema 2020-12 ({DRAFT_2020_12})'
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"/{_escape(str(part))}" for part in exc.absolute_path)
        raise FormError(f"not a valid JSON Schema 2020-12 at #{where}: {exc.message}") from None
    if schema.get("type") != "object":
        raise FormError('a form must be of "type": "object"')
    properties = schema.get("properties")
    if not properties:
        raise FormError('a form must list its fields in "properties"')
    if problems := _pattern_problems(schema):
        raise FormError("; ".join(problems))
    nodes_ = list(_subschemas(schema, "#"))
    if any("patternProperties" in node for node, _ in nodes_) and any(
        "unevaluatedProperties" in node for node, _ in nodes_
    ):
        raise FormError(
            'a form cannot combine "patternProperties" with "unevaluatedProperties" '
            "(their regexes would run on a backtracking engine); list the properties instead"
        )
    if schema.get("additionalProperties") is False:
        patterns = list(schema.get("patternProperties", {}))
        impossible = [
            name
            for name in schema.get("required", [])
            if name not in properties and not any(_matches(p, name) for p in patterns)
        ]
        if impossible:
            raise FormError(
                f"required field(s) {', '.join(map(repr, impossible))} are not in "
                '"properties" and "additionalProperties" is false: no data could be valid'
            )
    nodes = list(_subschemas(schema, "#"))
    anchors = {node["$anchor"] for node, _ in nodes if isinstance(node.get("$anchor"), str)}
    for node, pointer in nodes:
        if pointer != "#" and "$id" in node:
            raise FormError(f'{pointer}: "$id" inside a form is not supported')
        for keyword in ("$ref", "$dynamicRef"):
            ref = node.get(keyword)
            if ref is None:
                continue
            if not ref.startswith("#"):
                raise FormError(
                    f"{pointer}: {keyword} {ref!r} points outside the form; "
                    'only references inside it ("#/$defs/...") are allowed'
                )
            if ref in ("#", "#/") or ref.startswith("#/"):
                try:
                    target = _resolve(schema, ref)
                except (LookupError, ValueError):
                    target = None
                if not isinstance(target, dict | bool):
                    raise FormError(f"{pointer}: {keyword} {ref!r} does not point to a schema")
            elif ref[1:] not in anchors:
                raise FormError(f"{pointer}: {keyword} {ref!r} names no $anchor of the form")


# -- coercion of text values -----------------------------------------------------------------


class _NotConvertibleError(Exception):
    pass


_CONVERSION_ERRORS = (_NotConvertibleError, ValueError, TypeError, InvalidOperation)
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_MIDNIGHT = time()

Convert = Callable[[Any], Any]


def _to_integer(value: Any) -> Any:
    cls = value.__class__
    if cls is int:
        return value
    if cls is str:
        if _INT_TEXT.fullmatch(value):
            return int(value)
        if _NUMBER_TEXT.fullmatch(value):  # "12.0", "1e3"
            number = Decimal(value)
            # adjusted() bounds the size: int(Decimal("1e999999999")) would eat the memory.
            if number.adjusted() <= 100 and number == number.to_integral_value():
                return int(number)
        raise _NotConvertibleError
    if cls is float:
        if value.is_integer():
            return int(value)
        raise _NotConvertibleError
    if cls is bool:
        raise _NotConvertibleError
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise _NotConvertibleError


def _to_number(value: Any) -> Any:
    cls = value.__class__
    if cls is float:
        if math.isfinite(value):
            return value
        raise _NotConvertibleError
    if cls is int:
        return value
    if cls is str:
        if _NUMBER_TEXT.fullmatch(value):
            number = float(value)
            if math.isfinite(number):
                return number
        raise _NotConvertibleError
    if cls is bool:
        raise _NotConvertibleError
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal) and value.is_finite():
        return float(value)
    raise _NotConvertibleError


def _to_boolean(value: Any) -> Any:
    cls = value.__class__
    if cls is bool:
        return value
    if cls is str:
        text = value.lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _NotConvertibleError
    if cls in (int, float):  # a numeric spreadsheet cell holding 1 or 0
        if value == 1:
            return True
        if value == 0:
            return False
    raise _NotConvertibleError


def _to_array(value: Any) -> Any:
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    raise _NotConvertibleError


def _to_object(value: Any) -> Any:
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        return value
    raise _NotConvertibleError


def _to_null(value: Any) -> Any:
    raise _NotConvertibleError  # None never gets here: an absent value is left out


def _to_string(fmt: Any) -> Convert:
    def convert(value: Any) -> Any:
        cls = value.__class__
        if cls is str:
            return value
        if isinstance(value, datetime):  # a spreadsheet date cell
            if fmt == "time":
                return value.time().isoformat()
            if fmt != "date-time" and value.tzinfo is None and value.time() == _MIDNIGHT:
                return value.date().isoformat()
            return value.isoformat()
        if isinstance(value, date | time):
            return value.isoformat()
        if cls is float:  # 5551234567.0 in a phone column reads as "5551234567"
            return str(int(value)) if value.is_integer() else repr(value)
        if isinstance(value, dict | list | tuple):
            raise _NotConvertibleError
        return str(value)

    return convert


# Conversion order for a field of several types: text is tried as the most specific first.
_TYPE_ORDER = ("integer", "number", "boolean", "array", "object", "null", "string")
_ARTICLE = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_CONVERTERS: dict[str, Convert] = {
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "array": _to_array,
    "object": _to_object,
    "null": _to_null,
}


def _must_be(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return "must be " + " or ".join(_ARTICLE.get(name, repr(name)) for name in names)


def _first_success(converters: list[Convert]) -> Convert:
    def convert(value: Any) -> Any:
        for converter in converters:
            try:
                return converter(value)
            except _CONVERSION_ERRORS:
                continue
        raise _NotConvertibleError

    return convert


def _field_converter(prop: Any, root: dict[str, Any]) -> tuple[Convert, str] | None:
    """How to turn a text value into the field's declared type, following `$ref`s; None for a
    field without a type (its text is only stripped)."""
    types: Any = None
    fmt: Any = None
    node = prop
    for _ in range(32):  # a chain of $ref, bounded in case it loops
        if not isinstance(node, dict):
            break
        if types is None:
            types = node.get("type")
        if fmt is None:
            fmt = node.get("format")
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        node = _resolve(root, ref)
    if types is None:
        return None
    declared = {types} if isinstance(types, str) else set(types)
    ordered = [name for name in _TYPE_ORDER if name in declared]
    converters = [_to_string(fmt) if n == "string" else _CONVERTERS[n] for n in ordered]
    convert = converters[0] if len(converters) == 1 else _first_success(converters)
    return convert, _must_be(ordered)


# -- the form ----------------------------------------------------------------------------------


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clip(message: str) -> str:
    return message if len(message) <= 300 else message[:297] + "..."


def _unexpected(instance: dict[str, Any], schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        name
        for name in instance
        if name not in properties and not any(_matches(p, name) for p in patterns)
    ]


class Form:
    """A compiled form. Nothing changes after `__init__`, so one instance serves all threads."""

    __slots__ = ("_converters", "_date_times", "_fast", "_fields", "_order", "_validator")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        document = _plain_copy(schema)
        _check(document)
        self._validator = _Validator(_without_false(document), format_checker=_FORMATS)
        self._fast: jsonschema_rs.Draft202012Validator | None
        try:
            self._fast = jsonschema_rs.Draft202012Validator(
                document, validate_formats=True, pattern_options=jsonschema_rs.RegexOptions()
            )
        except Exception:  # a form jsonschema accepts and jsonschema-rs does not: go slow
            self._fast = None
        properties: dict[str, Any] = document["properties"]
        self._fields = tuple(properties)
        self._order = {name: index for index, name in enumerate(self._fields)}
        self._converters = {
            name: _field_converter(prop, document) for name, prop in properties.items()
        }
        self._date_times = frozenset(
            name
            for name, prop in properties.items()
            if isinstance(prop, dict) and prop.get("format") == "date-time"
        )

    @property
    def fields(self) -> list[str]:
        """The field (property) names, in the schema's order."""
        return list(self._fields)

    @property
    def fast_path(self) -> bool:
        """False when the form uses keywords only the (slow) reference validator knows."""
        return self._fast is not None

    def errors(self, data: Mapping[str, Any], row: int | None = None) -> list[FieldError]:
        """Every error of `data`, in field order; [] when it is valid."""
        if type(data) is not dict:
            if not isinstance(data, Mapping):
                return [FieldError("", "must be an object", row)]
            data = dict(data)
        fast = self._fast
        if fast is None:
            return self._explain(data, row, None)
        try:
            if fast.is_valid(data):
                return []
        except Exception:  # e.g. a value that is not JSON: jsonschema decides
            return self._explain(data, row, None)
        return self._explain(data, row, fast)

    def coerce(
        self, raw: Mapping[str, Any], row: int | None = None, zone: tzinfo | None = None
    ) -> tuple[dict[str, Any], list[FieldError]]:
        """Convert the text values of a CSV or spreadsheet row to the types the form declares.

        Blank values are left out (so `required` reports them); strings of declared fields are
        stripped; columns the form does not declare pass unchanged, for the schema to judge. A
        value that cannot be converted is left out and reported. A spreadsheet's date-time
        cell has no time zone: it is read as a time in `zone` (the client's), when given.
        """
        out: dict[str, Any] = {}
        problems: list[FieldError] = []
        converters = self._converters
        for key, value in raw.items():
            if value is None:
                continue
            if isinstance(value, str):
                text = value.strip()
                if not text:
                    continue
                if key not in converters:
                    out[key] = value
                    continue
                value = text
            elif key not in converters:
                out[key] = value
                continue
            elif key in self._date_times and type(value) is datetime and value.tzinfo is None:
                value = value.replace(tzinfo=zone) if zone is not None else value
            plan = converters[key]
            if plan is None:
                out[key] = value
                continue
            try:
                out[key] = plan[0](value)
            except _CONVERSION_ERRORS:
                problems.append(FieldError(key, f"{plan[1]}, got {_show(value)}", row))
        return out, problems

    def validate(
        self, raw: Mapping[str, Any], row: int | None = None, zone: tzinfo | None = None
    ) -> tuple[dict[str, Any], list[FieldError]]:
        """`coerce`, then `errors` on the result: the converted data and all its errors, a
        field that failed conversion being reported once (not again as missing)."""
        data, problems = self.coerce(raw, row, zone)
        found = self.errors(data, row)
        if not problems:
            return data, found
        failed = {problem.field for problem in problems}
        problems.extend(error for error in found if error.field not in failed)
        problems.sort(key=self._position)
        return data, problems

    def _position(self, error: FieldError) -> int:
        if not error.field:
            return -1
        return self._order.get(error.field.split(".", 1)[0], len(self._order))

    def _explain(
        self,
        data: dict[str, Any],
        row: int | None,
        rejected_by: jsonschema_rs.Draft202012Validator | None,
    ) -> list[FieldError]:
        found: list[tuple[tuple[Any, ...], str]] = []
        seen_required: set[tuple[tuple[Any, ...], int]] = set()
        for error in self._validator.iter_errors(data):
            path = tuple(error.absolute_path)
            keyword = error.validator
            instance = error.instance
            if keyword == "required":
                # jsonschema reports each missing name separately, without naming it.
                key = (path, id(error.schema))
                if key in seen_required or not isinstance(instance, dict):
                    continue
                seen_required.add(key)
                found.extend(
                    ((*path, name), "is required")
                    for name in error.validator_value
                    if name not in instance
                )
            elif keyword == "additionalProperties" and error.validator_value is False:
                names = _unexpected(instance, error.schema) if isinstance(instance, dict) else []
                found.extend(((*path, name), "is not allowed (unknown field)") for name in names)
            elif keyword == "type":
                found.append((path, _must_be(error.validator_value)))
            elif keyword is None or (keyword == "not" and error.validator_value == {}):
                found.append((path, "is not allowed"))  # a `false` schema
            else:
                found.append((path, _clip(error.message)))
        if not found and rejected_by is not None:
            # The validators disagree: trust the stricter one rather than pass the row.
            first = next(iter(rejected_by.iter_errors(data)), None)
            if first is not None:
                found.append((tuple(first.instance_path), _clip(first.message)))
        order = self._order
        last = len(order)
        found.sort(key=lambda item: order.get(item[0][0], last) if item[0] else -1)
        unique = dict.fromkeys((".".join(map(str, path)), message) for path, message in found)
        return [FieldError(field, message, row) for field, message in unique]
