"""What the pages show of an article: each snippet once, the direction of each, and a date the
source did not give marked as the time it was fetched."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from monitor.models import ArchivedArticle, Hit
from monitor.serve import rendering
from monitor.serve.chart import line_chart
from tests.archive.helpers import NOW, make_article
from tests.serve.conftest import Served


def test_a_snippet_found_again_in_the_pages_text_is_shown_once() -> None:
    teaser = "Officials discuss the T-Dome plan"
    hits = (
        Hit("Taiwan Shield", "T-Dome", "summary", 22, 28, f"…{teaser}…"),
        Hit("Taiwan Shield", "T-Dome", "text", 22, 28, f"{teaser} Officials met on Tuesday"),
        Hit("Taiwan Shield", "T-Dome", "text", 90, 96, "the T-Dome, a layered defence"),
        Hit("Air defence", "T-Dome", "text", 22, 28, f"{teaser} Officials met on Tuesday"),  # another rule's
        Hit("Iron Dome", "כיפת ברזל", "text", 0, 9, "כיפת ברזל יורטה"),
    )
    article = make_article("a", hits=hits)
    shown = rendering.hits_shown(article, None, with_rules=True)  # as the article's page shows them
    assert [(hit.rule, hit.field, hit.start) for hit in shown] == [
        ("Taiwan Shield", "text", 22),  # the teaser's words are in it: the longer shown
        ("Taiwan Shield", "text", 90),
        ("Air defence", "text", 22),  # the same words for another rule
        ("Iron Dome", "text", 0),
    ]
    assert [hit.start for hit in rendering.hits_shown(article, "Taiwan Shield")] == [22, 90]
    reversed_order = make_article("b", hits=hits[::-1])  # the longer first: the same shown
    assert {(hit.rule, hit.field) for hit in rendering.hits_shown(reversed_order, None, with_rules=True)} == {
        ("Taiwan Shield", "text"),
        ("Air defence", "text"),
        ("Iron Dome", "text"),
    }
    html = bytes(
        rendering.page("article.html", item=ArchivedArticle(article), article=article, paragraphs=[]).body
    ).decode()
    assert html.count("layered defence") == 1 and '<li><bdi class="rule">Iron Dome' in html


def test_a_term_two_rules_found_shows_once_where_the_lines_do_not_name_the_rule() -> None:
    hits = (
        Hit("Iron Dome", "כיפת ברזל", "text", 0, 9, "יירוט בכיפת ברזל"),
        Hit("Israel air defence", "כיפת ברזל", "text", 0, 9, "יירוט בכיפת ברזל"),
    )
    article = make_article("he", title="יירוט בכיפת ברזל", language="he", hits=hits)
    listed = _rendered("search.html", results=[ArchivedArticle(article)])
    assert listed.count('<bdi class="term">כיפת ברזל</bdi>') == 1
    shown = _rendered("article.html", item=ArchivedArticle(article), article=article, paragraphs=["יירוט"])
    assert shown.count('<bdi class="term">כיפת ברזל</bdi>') == 2  # each line names its rule


def test_article_text_carries_its_language_and_finds_its_direction() -> None:
    """A screen reader reads Hebrew or Japanese in its own voice, and a browser picks Japanese
    glyphs for Han characters, only when the element says its language."""
    hit = Hit("Iron Dome", "כיפת ברזל", "text", 0, 9, "יירוט בכיפת ברזל")
    article = make_article("he", title="יירוט", summary="סיכום", language="he", hits=(hit,))
    for html in (
        _rendered("search.html", results=[ArchivedArticle(article)]),
        _rendered("article.html", item=ArchivedArticle(article), article=article, paragraphs=["יירוט"]),
    ):
        assert 'lang="he" dir="auto">יירוט</' in html  # the title
        assert '<p class="summary" lang="he" dir="auto">סיכום</p>' in html
        assert '<bdi lang="he">' in html and '<li dir="auto">' not in html  # bullets on one side
    unknown = make_article("x", title="Untagged", language=None)
    assert ' lang="' not in _rendered("search.html", results=[ArchivedArticle(unknown)]).split("<main")[1]


def _rendered(template: str, **values: Any) -> str:
    defaults: dict[str, Any] = {
        "asked": None,
        "rule_names": [],
        "source_names": [],
        "error": None,
        "next_url": None,
    }
    if template == "search.html":
        values = {"asked": _Asked(), **{k: v for k, v in defaults.items() if k != "asked"}, **values}
    return bytes(rendering.page(template, **values).body).decode()


class _Asked:
    q = lang = since = until = source = rule = ""
    matched = False


def test_a_date_the_source_did_not_give_is_marked_as_the_fetch_time() -> None:
    undated = make_article("u", published=NOW, fetched=NOW)
    dated = make_article("d", published=NOW - timedelta(hours=3), fetched=NOW)
    for article, marked in ((undated, True), (dated, False)):
        html = bytes(
            rendering.page("article.html", item=ArchivedArticle(article), article=article, paragraphs=[]).body
        ).decode()
        assert ('class="inferred"' in html) is marked, article.id


def test_an_override_in_feed_text_does_not_turn_the_page_round() -> None:
    """Found by a review: "dome \\u202eevil\\u202c" showed "dome live" on the article page, its
    hit's snippet reversed too (isolating the element does not undo an override inside it)."""
    hits = (Hit("Iron Dome", "dome", "text", 0, 4, "dome \u202egnp.exe\u202c"),)
    article = make_article("o", title="dome \u202eevil\u202c", summary="\u202bdome\u202c plan", hits=hits)
    html = bytes(
        rendering.page("article.html", item=ArchivedArticle(article), article=article, paragraphs=[]).body
    ).decode()
    assert not any(chr(code) in html for code in range(0x202A, 0x202F))
    assert 'dir="auto">dome evil</h1>' in html and "gnp.exe" in html and "<mark>dome</mark>" in html


def test_a_refused_field_is_marked_and_has_the_cursor(served: Served) -> None:
    """After a refusal the cursor stayed in the query box, and no field said it was wrong."""
    for params, field in (
        ({"q": "dome", "until": "29/03/2026"}, "until"),
        ({"q": "dome", "since": "last week"}, "since"),
        ({"q": "dome", "lang": "english"}, "lang"),
        ({"q": "dome", "source": "Nowhere"}, "source"),
        ({"q": '"iron'}, "q"),
    ):
        html = served.get("/", **params).text
        marked = re.findall(r'<(?:input|select) [^>]*name="(\w+)"[^>]*aria-invalid="true"', html)
        assert marked == [field], (params, marked)
        assert html.count("autofocus") == 1 and 'id="refusal"' in html
    assert '<a href="/" aria-current="page">Search</a>' in served.get("/", q="dome").text


def test_empty_states_say_what_comes_there() -> None:
    nothing_yet = _rendered("search.html", latest=[])
    assert "No rule has matched an article yet." in nothing_yet
    none_found = _rendered("search.html", results=[])
    assert "No article matches this search." in none_found and "0 articles" not in none_found
    no_alerts = bytes(
        rendering.page("alerts.html", alerts=[], counts=[], state=None, total=0, csrf="c", notice=None).body
    ).decode()
    assert "No alerts yet" in no_alerts and "<table" not in no_alerts


def test_each_retry_button_names_its_alert() -> None:
    failed = {
        "id": "x1", "created": "2026-12-05T01:00:00Z", "alert": "desk", "channel": "webhook:x",
        "rules": ["Iron Dome"], "article_id": "a1", "article": "Drill", "url": None, "state": "failed",
        "attempts": 3, "next_attempt": None, "last_error": "HTTP 500",
    }  # fmt: skip
    html = bytes(
        rendering.page(
            "alerts.html", alerts=[failed], counts=[], state=None, total=1, csrf="c", notice=None
        ).body
    ).decode()
    assert 'aria-label="Retry the alert of 2026-12-05 01:00 UTC about Drill">Retry</button>' in html
    assert '<th scope="col">Action</th>' in html and '<a href="/alerts" aria-current="page">' in html


def test_search_results_show_where_the_query_finds_them(served: Served) -> None:
    """The results showed the rules' hits: a search for a word no rule has showed nothing of
    where it was, and a search for one term showed another rule's (a review)."""
    page = served.get("/", q="talks went").text  # words of the budget stories, which no rule matched
    first = page.split('<li class="article">')[1]
    assert '<bdi class="term">talks went</bdi>' not in first  # each term its own line
    assert "<mark>talks</mark>" in first and "<mark>went</mark>" in first
    stadium = served.get("/", q="stadium").text.split('<li class="article">')[1]
    assert "<mark>stadium</mark>" in stadium.lower()
    dome = served.get("/", q='"iron dome" AND visit').text.split('<li class="article">')[1]
    assert "<mark>Iron Dome</mark>" in dome and "<mark>visit</mark>" in dome
    # With no query (filters alone, or the first page), the rules' hits, as before.
    latest = served.get("/").text
    assert '<bdi class="term">Iron Dome</bdi>' in latest


def test_moments_show_as_the_pages_show_them_and_an_empty_chart_claims_no_scale() -> None:
    assert rendering.shown_utc("2026-12-05T07:43:13Z") == "2026-12-05 07:43 UTC"
    assert rendering.shown_utc(None) == "" and rendering.shown_utc("soon") == "soon"
    quiet, busy = line_chart([("2026-01-01", 0)] * 3), line_chart([("2026-01-01", 0), ("2026-01-02", 4)])
    assert quiet.count("<text") == 2 and busy.count("<text") == 3  # the scale's top only over a line
    assert ">4</text>" in busy


def test_a_query_of_no_words_shows_the_rules_hits(served: Served) -> None:
    page = served.get("/", q="lang:en AND NOT budget").text
    assert '<bdi class="term">Iron Dome</bdi>' in page  # no word of the query to show: the rules'
