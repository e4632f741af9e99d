"""A brand's knowledge base: articles written, published and found through the real server
(the API, the public help center), full-text search safe from query syntax, scoped to the
caller's client, Markdown rendered safely, and articles suggested for a conversation."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tandem.container import Container
from tandem.core.db import transaction
from tandem.servicedesk.knowledge import articles, rendering, words
from tandem.servicedesk.models import Brand, Conversation
from tandem.tenancy.principal import SYSTEM
from tests.servicedesk.conftest import Desk

RETURNS = {
    "title": "Returns and refunds",
    "body": "Return any item within **30 days**. We refund to your card in 5 days.",
}
DAMAGED = {
    "title": "Damaged or faulty items",
    "body": "Send us a photo of the damaged parcel and we replace the item or refund you.",
}
SHIPPING = {"title": "Shipping times", "body": "Standard delivery takes 3-5 working days."}


def _articles(api: Any, brand_id: uuid.UUID) -> str:
    return f"/api/v1/brands/{brand_id}/articles"


def _published(api: Any, brand_id: uuid.UUID, *bodies: dict[str, str]) -> list[dict[str, Any]]:
    made = []
    for body in bodies:
        created = api("client").post(_articles(api, brand_id), json=body)
        assert created.status_code == 201, created.text
        published = api("client").post(f"{_articles(api, brand_id)}/{created.json()['id']}/publish")
        assert published.status_code == 200, published.text
        made.append(published.json())
    return made


def _titles(page: httpx.Response) -> list[str]:
    """The titles a help center page lists (links to articles), in order."""
    found = []
    for part in page.text.split('<a href="/help/acme/articles/')[1:]:
        found.append(part.split(">", 1)[1].split("</a>", 1)[0])
    return found


def test_articles_are_written_published_found_and_taken_down(
    desk: Desk, api: Any, server: str
) -> None:
    path = _articles(api, desk.brand_id)
    created = api("ops").post(path, json={**RETURNS, "slug": "returns"})
    assert created.status_code == 201, created.text
    article = created.json()
    assert article["state"] == "draft" and article["slug"] == "returns"
    assert article["created_by"].startswith("user:")
    # A draft is on no page and found by no search.
    assert httpx.get(f"{server}/help/acme/articles/returns").status_code == 404
    assert _titles(httpx.get(f"{server}/help/acme", params={"q": "refund"})) == []

    published = api("client").post(f"{path}/{article['id']}/publish")
    assert published.status_code == 200 and published.json()["state"] == "published"
    assert published.json()["updated_by"] != article["created_by"]  # the client's admin
    _published(api, desk.brand_id, SHIPPING)
    center = httpx.get(f"{server}/help/acme")
    assert center.status_code == 200
    assert _titles(center) == ["Returns and refunds", "Shipping times"]
    assert 'href="/help/acme/contact"' in center.text and "<script" not in center.text
    found = httpx.get(f"{server}/help/acme", params={"q": "How do I get a refund?"})
    assert _titles(found) == ["Returns and refunds"]  # "refund" a prefix of "refund"
    assert _titles(httpx.get(f"{server}/help/acme", params={"q": "deliv"})) == ["Shipping times"]
    page = httpx.get(f"{server}/help/acme/articles/returns")
    assert page.status_code == 200
    assert "<strong>30 days</strong>" in page.text and 'href="/help/acme"' in page.text

    # Edited, it stays published and the index follows: the old words no longer find it.
    edited = api("client").patch(
        f"{path}/{article['id']}", json={"body": "Exchanges within two weeks."}
    )
    assert edited.status_code == 200 and edited.json()["state"] == "published"
    assert _titles(httpx.get(f"{server}/help/acme", params={"q": "refund card"})) == [
        "Returns and refunds"  # the title's word "refunds" still matches
    ]
    assert _titles(httpx.get(f"{server}/help/acme", params={"q": "30 days"})) == []
    assert _titles(httpx.get(f"{server}/help/acme", params={"q": "exchanges"})) == [
        "Returns and refunds"
    ]
    listed = api("client").get(path)
    assert [a["slug"] for a in listed.json()] == ["returns", "shipping-times"]

    down = api("client").post(f"{path}/{article['id']}/unpublish")
    assert down.status_code == 200 and down.json()["state"] == "draft"
    assert httpx.get(f"{server}/help/acme/articles/returns").status_code == 404
    assert api("client").delete(f"{path}/{article['id']}").status_code == 204
    assert api("client").get(f"{path}/{article['id']}").status_code == 404
    assert _titles(httpx.get(f"{server}/help/acme", params={"q": "exchanges"})) == []


def test_bad_input_names_the_field_and_a_slug_is_the_brands_once(desk: Desk, api: Any) -> None:
    path = _articles(api, desk.brand_id)
    assert api("client").post(path, json=RETURNS).status_code == 201
    again = api("client").post(path, json=RETURNS)  # the same slug, made from the title
    assert again.status_code == 409, again.text
    bad_slug = api("client").post(path, json={**RETURNS, "slug": "Not A Slug"})
    assert bad_slug.status_code == 422 and "slug" in bad_slug.text
    blank = api("client").post(path, json={"title": "   ", "body": "x"})
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["title"]
    empty = api("client").post(path, json={"title": "Empty"})
    refused = api("client").post(f"{path}/{empty.json()['id']}/publish")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body"


FOUND = ["Returns and refunds"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"', []),
        ('""', []),
        ("AND", FOUND),  # a word like any other: the title has "and"
        ("OR NOT", []),
        ("*", []),
        ("refund*", FOUND),
        ("NEAR(refund card)", FOUND),  # no article has "near": any of the words then
        ("title:refund", FOUND),
        ("-refund", FOUND),
        ("^refund", FOUND),
        ("'; DROP TABLE knowledge_articles; --", []),
        ("refund & | ! :* <->", FOUND),
        ("(((", []),
        ("x" * 5000, []),
        ("\u00e9t\u00e9 \u0440\u0443\u0441 \u4e2d\u6587", []),
    ],
)
def test_query_syntax_in_a_search_is_words_or_nothing(
    desk: Desk, api: Any, container: Container, query: str, expected: list[str]
) -> None:
    _published(api, desk.brand_id, RETURNS)
    with transaction(container.sessions) as session:
        brand = session.get_one(Brand, (desk.world.client_id, desk.brand_id))
        found = articles.search(session, brand, query)
    assert [f.title for f in found] == expected


def test_the_help_center_takes_any_search_text(desk: Desk, api: Any, server: str) -> None:
    _published(api, desk.brand_id, RETURNS)
    for query in ('"', "*", "(((", "x" * 1000):
        page = httpx.get(f"{server}/help/acme", params={"q": query})
        assert page.status_code == 200 and "No article matches" in page.text
    too_long = httpx.get(f"{server}/help/acme", params={"q": "x" * 1001})
    assert too_long.status_code == 422 and "<script" not in too_long.text
    assert httpx.get(f"{server}/help/nobody").status_code == 404
    assert httpx.get(f"{server}/help/acme/articles/..%2F..").status_code == 404


def test_another_clients_brand_and_articles_are_not_found(desk: Desk, api: Any) -> None:
    [article] = _published(api, desk.brand_id, RETURNS)
    path = _articles(api, desk.brand_id)
    one = f"{path}/{article['id']}"
    other = api("other_client")
    missing = f"{path}/{uuid.uuid4()}"
    for method, url, body in (
        ("GET", path, None),
        ("POST", path, RETURNS),
        ("POST", f"{path}/preview", {"body": "x"}),
        ("GET", one, None),
        ("PATCH", one, {"title": "Taken"}),
        ("POST", f"{one}/publish", None),
        ("POST", f"{one}/unpublish", None),
        ("DELETE", one, None),
    ):
        answer = other.request(method, url, json=body)
        assert answer.status_code == 404, (method, url, answer.text)
    # Their own brand does not reach the insurer's article either.
    theirs = f"{_articles(api, desk.other_brand_id)}/{article['id']}"
    assert other.get(theirs).status_code == 404
    assert api("client").get(missing).status_code == 404
    # An agent does not manage the knowledge base.
    assert api("agent").get(path).status_code == 403
    assert api("client").get(one).json()["title"] == RETURNS["title"]  # unchanged


def test_markdown_is_rendered_safely(desk: Desk, api: Any, server: str) -> None:
    body = (
        "# Heading\n\n<script>alert('raw')</script>\n\n"
        '<img src=x onerror="alert(1)">\n\n'
        "[click](javascript:alert(2)) [data](data:text/html;base64,PHNjcmlwdD4=) "
        "[ok](https://shopwave.example/returns)\n\n"
        '<a href="https://evil.example" onclick="steal()">raw link</a>\n\n'
        "![pic](https://shopwave.example/p.png)"
    )
    _published(api, desk.brand_id, {"title": "Unsafe", "body": body})
    page = httpx.get(f"{server}/help/acme/articles/unsafe")
    assert page.status_code == 200
    html = page.text.split('<div class="kb-body">', 1)[1].split("</div>", 1)[0]
    tags = _tags(html)
    assert {name for name, _ in tags} <= set(rendering.TAGS)
    attributes = {name: value for _, attrs in tags for name, value in attrs}
    assert not [name for name in attributes if name.startswith("on")]
    hrefs = [value for name, attrs in tags for key, value in attrs if key in ("href", "src")]
    assert hrefs == ["https://shopwave.example/returns", "https://shopwave.example/p.png"]
    assert "&lt;script&gt;" in html  # raw HTML shown as text, never run
    assert '<a href="https://shopwave.example/returns" rel="nofollow noopener">ok</a>' in html
    preview = api("client").post(f"{_articles(api, desk.brand_id)}/preview", json={"body": body})
    assert preview.status_code == 200 and preview.json()["html"] == rendering.to_html(body)


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every tag of an HTML fragment with its attributes."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Parser().feed(html)
    return found


def _conversation(api: Any, desk: Desk, subject: str, text: str) -> str:
    opened = api("client").post(
        f"/api/v1/brands/{desk.brand_id}/conversations",
        json={
            "name": "Maria Lopez",
            "email": "maria@example.com",
            "subject": subject,
            "text": text,
        },
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["conversation_id"])


def test_articles_are_suggested_for_a_conversation_to_who_may_read_it(
    desk: Desk, api: Any, container: Container
) -> None:
    _published(api, desk.brand_id, RETURNS, DAMAGED, SHIPPING)
    draft = api("client").post(
        _articles(api, desk.brand_id), json={"title": "Damaged draft", "body": "damaged parcel"}
    )
    assert draft.status_code == 201
    conversation = _conversation(
        api, desk, "Parcel arrived damaged", "Hello, the box was crushed and the lamp is broken."
    )
    url = f"/api/v1/conversations/{conversation}/suggestions"
    suggested = api("client").get(url)
    assert suggested.status_code == 200, suggested.text
    assert [s["title"] for s in suggested.json()] == ["Damaged or faulty items"]
    assert suggested.json()[0]["url"] == "/help/acme/articles/damaged-or-faulty-items"
    # An agent sees them only while holding the conversation's work item.
    assert api("agent").get(url).status_code == 404
    with transaction(container.sessions) as session:
        item_id = session.get_one(
            Conversation, (desk.world.client_id, uuid.UUID(conversation))
        ).work_item_id
    assert item_id is not None
    with container.context(SYSTEM) as ctx:
        container.dispatcher.assign(ctx, item_id, desk.world.agent_id, "the desk")
    held = api("agent").get(url)
    assert held.status_code == 200 and len(held.json()) == 1
    assert api("other_client").get(url).status_code == 404
    assert api("other_agent").get(url).status_code == 404
    # Words of nothing in the base: no suggestion, no error.
    quiet = _conversation(api, desk, "Hello", "Thanks!")
    assert api("client").get(f"/api/v1/conversations/{quiet}/suggestions").json() == []
    # At most three, from the brand's own articles.
    _published(
        api,
        desk.brand_id,
        *({"title": f"Parcel {n}", "body": "parcel box lamp"} for n in range(4)),
    )
    assert len(api("client").get(url).json()) == 3


def test_words_are_taken_from_text_without_its_syntax() -> None:
    assert words.in_query('"refund" AND card* -x NEAR(a)') == [
        "refund",
        "and",
        "card",
        "x",
        "near",
        "a",
    ]
    assert words.in_query("a_b") == ["a", "b"]
    assert words.in_query("e\u0301te") == ["\u00e9te"]  # one word, composed
    assert words.fts5_query(["refund", "card"], any_=True) == '"refund"* OR "card"*'
    assert words.fts5_query(['re"fund'], any_=False) == '"re""fund"*'
    assert words.tsquery(["refund", "card"], any_=False) == "refund:* & card:*"
    assert words.tsquery(["a:b|c"], any_=True) == "abc:*"
    assert words.meaningful(
        ["Re: Where is my order?", "Hi, I am [PERSON] at [EMAIL]. My order 12345 is late, ok"]
    ) == ["order", "late"]
    assert words.slug_of("Returns & Refunds: été!") == "returns-refunds-ete"
    assert words.slug_of("???") == "article"
    assert words.slug_problem("good-slug-2") is None
    assert words.slug_problem("Bad--slug") is not None
