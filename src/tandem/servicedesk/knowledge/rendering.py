"""An article's Markdown as safe HTML, pure. markdown-it renders it with raw HTML off (a tag
typed in the article is shown as text) and its own refusal of javascript:, vbscript: and
data: links; nh3 (Ammonia) then keeps only the tags and attributes Markdown makes, links to
http, https and mailto only, each with rel="nofollow noopener"."""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


def to_html(markdown: str) -> str:
    """The article's body as HTML safe to put in a page as it is."""
    rendered = _parser().render(markdown)
    return nh3.clean(
        rendered,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow noopener",
        filter_style_properties={"text-align"},
    )


def excerpt(markdown: str, length: int = 180) -> str:
    """The start of an article's text, without Markdown's marks, for a list or a result."""
    text = " ".join(html.unescape(nh3.clean(_parser().render(markdown), tags=set())).split())
    return text if len(text) <= length else text[: length - 1].rsplit(" ", 1)[0] + "…"
