"""Search words and queries, pure. A visitor's or a conversation's text is never handed to a
database's query syntax as it is: it is cut into words (letters and digits only, so nothing
of FTS5's or tsquery's syntax, quotes, operators, stars, colons, survives), and the query is
built from those words, each a prefix term, joined by AND (the help center's search box) or
OR (suggestions), then bound as a parameter."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_QUERY = 200  # characters of a search box's text looked at
MAX_TERMS = 8  # words of a search
MAX_SUGGESTION_TERMS = 12  # words of a conversation's text an OR-query takes
MAX_TERM = 40  # characters of one word
MAX_SLUG = 120
MAX_TITLE = 200
MAX_BODY = 100_000

_WORD = re.compile(r"[^\W_]+")  # letters and digits (any script); everything else separates
# What the free-text scanner leaves in place of personal data: [EMAIL], [PERSON], [CARD ••••1234]
_PLACEHOLDER = re.compile(r"\[[A-Z_]+[^\]]{0,20}\]")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Words that say nothing of what a conversation is about (English, the demo's and most
# brands' language; other languages' common words only widen an OR-query a little).
_STOP = """
    about above after again against all also am an and any are aren as at be because been
    before being below between both but by can cannot could did didn do does doesn doing don
    down during each few for from further get got had has have having he her here hers him
    his how however if in into is isn it its itself just let like me more most much must my
    myself no nor not now of off on once only or other our ours out over own please same she
    should so some still such than thank thanks that the their theirs them then there these
    they this those through to too under until up very via was wasn we were weren what when
    where which while who whom why will with within without would you your yours yourself
    hello hi dear regards best kind sincerely cheers team yes ok okay re fw fwd wrote sent
    one two want need know see make made today yesterday tomorrow day days week still already
    """
STOP_WORDS = frozenset(_STOP.split())


def in_query(text: str, limit: int = MAX_TERMS) -> list[str]:
    """The distinct words of a search box's text, lower case, in order, at most `limit`."""
    found: list[str] = []
    for match in _WORD.finditer(unicodedata.normalize("NFC", text[:MAX_QUERY])):
        word = match.group().lower()[:MAX_TERM]
        if word not in found:
            found.append(word)
        if len(found) == limit:
            break
    return found


def meaningful(texts: Iterable[str], limit: int = MAX_SUGGESTION_TERMS) -> list[str]:
    """The words that say what a conversation is about: no stop words, no numbers, none
    shorter than three letters, no placeholder of masked personal data; the first `limit`."""
    found: list[str] = []
    for text in texts:
        cleaned = _PLACEHOLDER.sub(" ", unicodedata.normalize("NFC", text[:20_000]))
        for match in _WORD.finditer(cleaned):
            word = match.group().lower()
            if len(word) < 3 or len(word) > MAX_TERM or word.isdigit() or word in STOP_WORDS:
                continue
            if word not in found:
                found.append(word)
            if len(found) == limit:
                return found
    return found


def fts5_query(terms: Iterable[str], *, any_: bool) -> str:
    """An FTS5 MATCH expression: each word a quoted prefix term ("word"*), a quote doubled
    (none should be left: `words` keeps letters and digits only)."""
    quoted = ['"' + t.replace('"', '""') + '"*' for t in terms]
    return (" OR " if any_ else " AND ").join(quoted)


def tsquery(terms: Iterable[str], *, any_: bool) -> str:
    """A to_tsquery expression: each word a prefix term (word:*). Words are letters and
    digits only, so no operator of tsquery's syntax can be in them."""
    cleaned = [t for t in (re.sub(r"[^\w]", "", t) for t in terms) if t]
    return (" | " if any_ else " & ").join(f"{t}:*" for t in cleaned)


def slug_of(title: str) -> str:
    """A URL slug from a title: ASCII letters and digits joined by hyphens."""
    ascii_ = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:MAX_SLUG].strip("-")
    return slug or "article"


def slug_problem(slug: str) -> str | None:
    """What is wrong with a slug given (None: nothing)."""
    if not slug:
        return "is empty"
    if len(slug) > MAX_SLUG:
        return f"at most {MAX_SLUG} characters"
    if not _SLUG.match(slug):
        return "lower-case letters and digits, words joined by single hyphens"
    return None
