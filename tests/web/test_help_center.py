"""A brand's knowledge base in a real browser: a visitor searches the brand's help center and
reads an article (at 1280 and 390 px: never scrolling sideways), going on to the contact form
and back; the client's admin writes, previews and publishes an article from the console; an
agent answering a conversation sees the brand's articles suggested beside the thread, each
linking to the help center."""

from __future__ import annotations

import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe

from tandem.container import Container
from tandem.servicedesk.knowledge import articles
from tandem.tenancy.principal import SYSTEM
from tests.servicedesk import conftest as desks
from tests.servicedesk.test_email_in import FIRST
from tests.web.conftest import shoot, sign_in
from tests.web.phone import WIDTHS, page_at, shot

desk = desks.desk  # a brand for each client: the insurer's is "acme"

ARTICLES = (
    (
        "Tracking your order",
        "We email you a tracking link once the parcel is shipped.\n\nIf the parcel has not "
        "arrived **3 working days** after the expected date, write to us with your order "
        "number and we trace it with the courier.",
    ),
    (
        "Damaged or faulty items",
        "Send us a photo of the damaged item within 14 days: we replace it or refund you, "
        "and [the return label](https://acme.example/label) is on us.",
    ),
    ("Shipping times", "| Delivery | Time |\n|---|---|\n| Standard | 3-5 days |"),
    ("A draft", "Not published: a damaged parcel."),
)


AXE = Axe()


def _accessible(page: Any) -> None:
    """No serious or critical violation of axe-core's checks."""
    results = AXE.run(page)
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert blocking == [], (page.url, blocking)


def _seed(container: Container, desk: desks.Desk) -> None:
    with container.context(SYSTEM) as ctx:
        for title, body in ARTICLES:
            made = articles.create_article(ctx, desk.brand_id, articles.Draft(title, body))
            if title != "A draft":
                articles.publish(ctx, desk.brand_id, made.id)


@WIDTHS
def test_a_visitor_searches_the_help_center_and_reads_an_article(
    browser: Any, server: str, container: Container, desk: desks.Desk, width: int
) -> None:
    _seed(container, desk)
    page = page_at(browser, server, width)
    page.goto("/help/acme")
    assert page.locator("h1").inner_text() == "Acme help center"
    listed = page.locator(".kb-list li > a").all_inner_texts()
    assert listed == ["Damaged or faulty items", "Shipping times", "Tracking your order"]
    shot(page, f"help-center-{width}")
    _accessible(page)

    page.get_by_label("Search the articles").fill("damaged item")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/help/acme\?q=damaged"))
    assert page.locator(".kb-list li > a").all_inner_texts() == ["Damaged or faulty items"]
    assert page.get_by_label("Search the articles").input_value() == "damaged item"
    shot(page, f"help-center-search-{width}")

    page.get_by_role("link", name="Damaged or faulty items").click()
    page.wait_for_url("**/help/acme/articles/damaged-or-faulty-items")
    assert page.locator("h1").inner_text() == "Damaged or faulty items"
    label = page.get_by_role("link", name="the return label")
    assert label.get_attribute("rel") == "nofollow noopener"
    assert page.locator("script").count() == 0  # the public pages carry no script
    shot(page, f"help-article-{width}")
    _accessible(page)

    page.get_by_role("link", name="Contact Acme").click()
    page.wait_for_url("**/help/acme/contact")
    page.get_by_role("link", name="help center").click()
    page.wait_for_url("**/help/acme")

    page.get_by_label("Search the articles").fill('" * ((( :')
    page.get_by_role("button", name="Search").click()
    assert "No article matches" in page.locator("#results-title").inner_text()
    shot(page, f"help-center-nothing-{width}")
    page.context.close()


def test_the_clients_admin_writes_previews_and_publishes_an_article(
    page: Any, server: str, container: Container, desk: desks.Desk
) -> None:
    sign_in(page, container, "c@insurer.example")
    page.goto("/console/knowledge")
    assert page.get_by_role("link", name="Other").count() == 0  # the retailer's brand
    page.get_by_role("link", name="Acme", exact=True).click()
    page.get_by_label("Title").fill("Gift cards")
    page.get_by_label("Text (Markdown)").fill(
        "Gift cards **never expire**.\n\n<script>alert(1)</script>"
    )
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#kb-preview")
    preview.locator("strong").wait_for()
    assert preview.locator("strong").inner_text() == "never expire"
    assert preview.locator("script").count() == 0 and "<script>" in preview.inner_text()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"article=[0-9a-f-]+&saved=1$"))
    assert page.get_by_label("Address (slug)").input_value() == "gift-cards"
    page.get_by_role("button", name="Publish").click()
    page.get_by_role("button", name="Unpublish").wait_for()
    shoot(page, "knowledge-editor")
    page.get_by_role("link", name="Open on the help center").click()
    page.wait_for_url("**/help/acme/articles/gift-cards")
    assert page.locator(".kb-body strong").inner_text() == "never expire"


@WIDTHS
def test_an_agent_sees_articles_suggested_beside_the_conversation(
    browser: Any, server: str, container: Container, desk: desks.Desk, width: int
) -> None:
    _seed(container, desk)
    desk.send(FIRST)  # "My parcel has not arrived": the customer writes
    page = page_at(browser, server, width)
    sign_in(page, container, "a@provider.example")
    page.keyboard.press("n")  # takes it
    page.wait_for_url(re.compile(r"/console/work/[0-9a-f-]+$"))
    panel = page.locator("#suggestions")
    panel.locator(".suggested li").first.wait_for()
    links = panel.locator(".suggested a")
    assert links.first.inner_text() == "Tracking your order"
    assert "A draft" not in panel.inner_text()
    assert links.first.get_attribute("href") == "/help/acme/articles/tracking-your-order"
    assert links.first.get_attribute("target") == "_blank"
    shot(page, f"desk-suggestions-{width}")
    _accessible(page)
    with page.context.expect_page() as opened:
        links.first.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.locator("h1").inner_text() == "Tracking your order"
    page.context.close()
