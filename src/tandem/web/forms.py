"""A process's form as the console draws it, pure: each JSON Schema property becomes a labelled
control of the right kind, in the schema's order, with what the browser can check itself
(required, min/max, length, pattern) and the rest left to the server, whose errors name the
field. The page's script turns the controls back into JSON by their kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_FORMATS = {"date": "date", "date-time": "datetime-local", "email": "email", "uri": "url"}


@dataclass(frozen=True)
class Control:
    name: str
    label: str
    kind: str  # text | textarea | number | integer | checkbox | select | date | email | ...
    required: bool
    options: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)  # min, max, maxlength, pattern
    help: str | None = None


def controls(schema: Mapping[str, Any]) -> list[Control]:
    required = set(schema.get("required", ()))
    return [
        _control(name, spec, name in required)
        for name, spec in schema.get("properties", {}).items()
        if isinstance(spec, Mapping)
    ]


def _control(name: str, spec: Mapping[str, Any], required: bool) -> Control:
    label = str(spec.get("title") or name.replace("_", " ").capitalize())
    kind, attributes = "text", {}
    types = spec.get("type")
    type_ = types if isinstance(types, str) else next(iter(types or ["string"]), "string")
    if "enum" in spec:
        return Control(
            name,
            label,
            "select",
            required,
            [str(v) for v in spec["enum"]],
            {},
            spec.get("description"),
        )
    if type_ == "boolean":
        kind = "checkbox"
    elif type_ in ("number", "integer"):
        kind = type_
        attributes = {k: spec[k] for k in ("minimum", "maximum") if k in spec}
        attributes = {"min" if k == "minimum" else "max": v for k, v in attributes.items()}
        attributes["step"] = "1" if type_ == "integer" else "any"
    elif type_ == "string":
        kind = _FORMATS.get(str(spec.get("format")), "text")
        if kind == "text" and int(spec.get("maxLength", 0) or 0) > 200:
            kind = "textarea"
        for key, attribute in (("maxLength", "maxlength"), ("minLength", "minlength")):
            if key in spec:
                attributes[attribute] = spec[key]
        if "pattern" in spec:
            attributes["pattern"] = spec["pattern"]
    return Control(name, label, kind, required, [], attributes, spec.get("description"))
