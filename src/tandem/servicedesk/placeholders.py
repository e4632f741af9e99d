"""The variables a macro's text may hold, such as `{{customer.first_name}}`, and their filling
in (pure).

A reply holding a variable is written by the agent as the variable, and filled in by the
server when the reply is stored: the customer's name is personal data the agent sees masked,
while the customer must read it in clear. Only the names below exist; anything else written
between double braces is refused when a macro is saved (a typo would reach customers as
`{{customer.frist_name}}`), and left as written in an agent's own text."""

from __future__ import annotations

import re
from collections.abc import Mapping

VARIABLES: dict[str, str] = {
    "customer.first_name": 'the customer\'s first name ("there" when we have no name)',
    "customer.name": 'the customer\'s full name ("customer" when we have no name)',
    "agent.first_name": "the first name of the agent who sends the reply",
    "brand.name": "the brand's name",
}
_FALLBACK = {"customer.first_name": "there", "customer.name": "customer"}
_BRACED = re.compile(r"\{\{\s*([^{}]{0,80}?)\s*\}\}")


def unknown(text: str) -> list[str]:
    """The names written between double braces that are no variable, in order, once each."""
    found = dict.fromkeys(m.group(1) for m in _BRACED.finditer(text))
    return [name for name in found if name not in VARIABLES]


def fill(text: str, values: Mapping[str, str | None]) -> str:
    """`text` with each known variable replaced by its value (or its fallback when the value
    is missing); anything else between braces is left as written."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in VARIABLES:
            return match.group(0)
        return values.get(name) or _FALLBACK.get(name, "")

    return _BRACED.sub(value, text)


def first_name(name: str | None) -> str | None:
    """The first word of a name, as a greeting uses it."""
    words = (name or "").split()
    return words[0] if words else None
