"""The web pages as a person uses them, in headless Chromium (Debian's package, driven by
Playwright through its executable path; no browser is downloaded): search, a query error's
caret, a rule's chart, the sources' health, retrying a failed alert, and hostile markup from
feeds that must never run. Each page's screenshot is saved under storage/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from monitor.archive.sql import SqlArchive
from monitor.serve import rendering
from tests.configs import LOOPBACK_FETCH, RULES, monitor_config
from tests.serve.conftest import archive_with_articles, free_port, serving, start_serving, stop, wait_until_up
from tests.servers import Route, Site

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "storage" / "screenshots"
STYLE = Path(__file__).resolve().parents[2] / "monitor" / "serve" / "static" / "style.css"
# As the machine's own probe starts it: without the background-networking flags Chromium keeps
# trying hosts this closed network refuses.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
MARKUP = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '<svg onload="window.__xss=1"><circle r=1></circle></svg>',
    '<a href="javascript:window.__xss=1">click</a>',
    '<iframe src="javascript:window.__xss=1"></iframe>',
    '<b onmouseover="window.__xss=1">bold <i>unclosed',
    '"><script>window.__xss=1</script><"',
]


def _hostile_feed(site: Site) -> bytes:
    """Items whose titles and texts carry markup meant to run, each mentioning Iron Dome."""
    items = "".join(
        f"<item><title><![CDATA[Iron Dome {markup} item {n}]]></title>"
        f"<link>{site.url(f'/x/{n}')}</link><guid>x{n}</guid>"
        f"<description><![CDATA[<p>The Iron Dome {markup} was discussed, item {n}.</p>]]>"
        "</description></item>"
        for n, markup in enumerate(MARKUP)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>X</title>{items}</channel></rss>'.encode()
    )


def _odd_feed(site: Site) -> bytes:
    """An item whose title overrides the direction of what follows it, one whose title is a
    single word of 20,000 letters."""
    titles = ["Oddities \u202ereversed from here", "Oddities " + "x" * 20_000]
    items = "".join(
        f"<item><title>{title}</title><link>{site.url(f'/odd/{n}')}</link><guid>odd{n}</guid>"
        f"<description>Oddities \u202eof direction, entry {n}.</description></item>"
        for n, title in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>O</title>{items}</channel></rss>'.encode()
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: `make test` installs it (apt)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An archive with the served articles, a hostile feed's items stored by a real `monitor once`,
    two sources failing, a failed alert; served by `monitor serve` on loopback."""
    folder = tmp_path_factory.mktemp("desk")
    archive_with_articles(folder)
    site = Site()
    site.routes["/hostile.xml"] = Route(_hostile_feed(site))
    site.routes["/odd.xml"] = Route(_odd_feed(site))
    config = monitor_config(
        folder,
        watch=RULES,
        fetch=LOOPBACK_FETCH,
        defaults={"full_text": "never"},
        sources=[
            {"name": "Harbor Daily", "url": "http://127.0.0.1:9/harbor.xml"},
            {"name": "<i>Hostile</i> Feed", "url": site.url("/hostile.xml")},
            {"name": "Odd  \u202eWire", "url": site.url("/odd.xml")},  # two spaces: a form keeps them
        ],
    )
    polled = start_serving(config, "once")
    output, _ = polled.communicate(timeout=120)
    assert "2 ok, 1 failed" in output, output
    archive = SqlArchive(f"sqlite:///{folder / 'data' / 'monitor.db'}")
    try:
        [pending] = archive.outbox.alerts(10)
        archive.outbox.mark_alerts_failed(
            {pending.id: None}, "HTTP 500 from the webhook: <b>down</b>", datetime.now(UTC)
        )
    finally:
        archive.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_serving(config, "serve", "--listen", f"127.0.0.1:{port}")
    try:
        wait_until_up(base, process)
        yield base
    finally:
        stop(process)
        site.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _follow(page: Page, clicked: Locator) -> None:
    """Click what leads to another page and wait until that page has loaded: a locator's count
    does not wait, and read straight after the click it may see the page being left."""
    with page.expect_navigation():
        clicked.click()


def _titles(page: Page) -> list[str]:
    return page.locator("ol.results li.article h3").all_inner_texts()


def test_searching_a_phrase_a_chinese_term_and_a_not(desk: str, page: Page) -> None:
    page.goto(desk + "/")
    page.fill("input[name=q]", '"Iron Dome" NOT item')
    _follow(page, page.locator("button[type=submit]"))
    assert _titles(page) == ["Iron Dome visit", "Iron Dome visit"]  # the story's copy is kept apart
    assert page.locator("li.article mark").first.inner_text() == "Iron Dome"
    assert "Also reported by" in page.locator("li.article").first.inner_text()
    _shot(page, "search-phrase")
    page.fill("input[name=q]", "台灣之盾")
    _follow(page, page.locator("button[type=submit]"))
    assert _titles(page) == ["台灣之盾 計畫"]
    _shot(page, "search-chinese")
    page.goto(desk + "/?q=dome+NOT+stadium+NOT+item")
    assert "Stadium dome" not in _titles(page) and len(_titles(page)) == 2


def test_a_source_chosen_in_the_form_is_asked_as_named(desk: str, page: Page) -> None:
    """An option's text is sent with its spaces run together: the form sends the name itself."""
    page.goto(desk + "/?q=Oddities")
    names = page.locator("select[name=source] option").all_text_contents()
    [chosen] = [at for at, name in enumerate(names) if name.startswith("Odd  ")]
    page.locator("select[name=source]").select_option(index=chosen)
    _follow(page, page.locator("button[type=submit]"))
    assert page.locator(".error").count() == 0, page.locator(".error").all_inner_texts()
    assert len(_titles(page)) == 2


def test_a_query_that_does_not_parse_shows_where(desk: str, page: Page) -> None:
    page.goto(desk + "/")
    page.fill("input[name=q]", "Japan AND (laser")
    _follow(page, page.locator("button[type=submit]"))
    pointer = page.locator(".error pre.pointer").inner_text()
    query, caret = pointer.splitlines()
    assert query == "Japan AND (laser" and caret.strip() == "^"
    _shot(page, "query-error")


def test_a_rules_chart_has_a_point_for_each_of_the_last_90_days(desk: str, page: Page) -> None:
    page.goto(desk + "/rules")
    _follow(page, page.locator("text=Japan documents"))
    assert page.locator("figure.chart svg circle.point").count() == 91
    assert page.locator("figure.chart figcaption").inner_text().startswith("2 articles")
    assert (
        page.locator("a[type='application/atom+xml']").get_attribute("href")
        == "/feeds/rules/Japan%20documents.atom"
    )
    _shot(page, "rule-chart")


def test_a_failing_source_comes_first_with_its_error(desk: str, page: Page) -> None:
    page.goto(desk + "/sources")
    first = page.locator("table.sources tbody tr").first
    assert first.get_attribute("class") == "failing" and "Harbor Daily" in first.inner_text()
    assert "failing since" in first.inner_text()
    assert first.locator("td.last-error").inner_text().strip(), "the last error, in full"
    _shot(page, "sources")


def test_retry_moves_a_failed_alert_to_pending(desk: str, page: Page) -> None:
    page.goto(desk + "/alerts")
    row = page.locator("table.alerts tbody tr.failed").first
    assert "<b>down</b>" in row.locator("td.last-error").inner_text()  # the error as text
    _shot(page, "alerts-failed")
    _follow(page, row.locator("button", has_text="Retry"))
    assert "1 queued again" in page.locator(".notice").inner_text()
    assert page.locator("table.alerts tbody tr.failed").count() == 0
    assert page.locator("table.alerts tbody tr.pending").count() == 1
    _shot(page, "alerts-retried")


def test_a_retry_from_another_site_is_refused(desk: str) -> None:
    refused = httpx.post(desk + "/alerts/retry", data={"csrf": "guessed", "id": "x"})
    assert refused.status_code == 403
    for site in ("cross-site", "same-site", "none"):  # same-site: another port of this host
        told = {"Sec-Fetch-Site": site}
        refused = httpx.post(desk + "/alerts/retry", data={"csrf": "guessed", "id": "x"}, headers=told)
        assert refused.status_code == 403, site


def test_a_retry_from_a_page_another_process_drew_is_taken(browser: Browser, tmp_path: Path) -> None:
    """Found by a review: the form's token was its process's, so a page drawn before a restart,
    or by another `monitor serve` behind the same address, was refused (403) on Retry."""
    archive_with_articles(tmp_path)
    archive = SqlArchive(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:
        [pending] = archive.outbox.alerts(10)
        archive.outbox.mark_alerts_failed({pending.id: None}, "HTTP 500", datetime.now(UTC))
    finally:
        archive.close()
    config, port = monitor_config(tmp_path), free_port()
    base = f"http://127.0.0.1:{port}"
    context = browser.new_context()
    page = context.new_page()
    first = start_serving(config, "serve", "--listen", f"127.0.0.1:{port}")
    try:
        wait_until_up(base, first)
        page.goto(base + "/alerts?state=failed")
    finally:
        stop(first)
    second = start_serving(config, "serve", "--listen", f"127.0.0.1:{port}")
    try:
        wait_until_up(base, second)
        _follow(page, page.locator("button", has_text="Retry").first)
        assert "1 queued again" in page.locator("body").inner_text()
    finally:
        context.close()
        stop(second)


def test_markup_from_feeds_never_runs(desk: str, page: Page) -> None:
    visited = ["/", "/?q=item", "/?q=iron+dome", "/sources", "/alerts", "/rules", "/rules/Iron%20Dome"]
    articles = httpx.get(desk + "/api/v1/articles", params={"q": "item", "limit": 50}).json()["articles"]
    assert len(articles) == len(MARKUP)
    visited += [f"/articles/{article['id']}" for article in articles] + ["/articles/hostile"]
    for path in visited:
        page.goto(desk + path)
        page.mouse.move(300, 300)  # an onmouseover has its chance
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("script").count() == 0, path
    _shot(page, "hostile-article")
    assert _csp_reports(desk) == 0
    # The reports are counted: a script the page did not send is refused and reported.
    page.goto(desk + "/")
    with pytest.raises(Exception, match=r"(?i)content security policy|refused"):
        page.add_script_tag(content="window.__xss = 1")
    assert page.evaluate("window.__xss") is None
    deadline = time.monotonic() + 10
    while _csp_reports(desk) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _csp_reports(desk) >= 1


def test_text_from_feeds_keeps_its_direction_and_its_width_to_itself(desk: str, page: Page) -> None:
    """Found by a review: a right-to-left override in a source's name or a title reversed the
    rest of its line (the date, the rules), and a title of one long word made the page hundreds
    of thousands of pixels wide."""
    articles = httpx.get(desk + "/api/v1/articles", params={"q": "oddities"}).json()["articles"]
    assert len(articles) == 2
    for path in ["/?q=oddities", *(f"/articles/{article['id']}" for article in articles)]:
        page.goto(desk + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        for element in page.locator("h1, h3, .source, .summary, .hits li, .text p").all():
            style = element.evaluate("(node) => getComputedStyle(node).unicodeBidi")
            assert style in ("isolate", "plaintext"), (path, element.inner_text()[:40], style)
    page.goto(desk + "/?q=oddities")
    _shot(page, "direction-and-width")


def _csp_reports(base: str) -> float:
    for line in httpx.get(base + "/metrics").text.splitlines():
        if line.startswith("monitor_csp_reports_total "):
            return float(line.split()[1])
    raise AssertionError("no monitor_csp_reports_total in /metrics")


def test_a_long_title_leaves_the_alerts_tables_other_columns_readable(browser: Browser) -> None:
    """Found by a review: a title of one 2,000-letter word took the whole alerts table, every
    other column squeezed to a letter a line ("Retry" written downwards)."""
    alert = {
        "id": "x1", "created": "2026-12-05T01:00:00Z", "alert": "desk", "channel": "webhook:hooks.test",
        "rules": ["Iron Dome", "Taiwan Shield"], "article_id": "a1", "article": "Iron Dome " + "x" * 2000,
        "url": None, "state": "failed", "attempts": 3, "next_attempt": None, "last_error": "HTTP 500",
    }  # fmt: skip
    counts = [("pending", 0), ("held", 0), ("sent", 0), ("failed", 1)]
    html = rendering.page(
        "alerts.html", alerts=[alert], counts=counts, state=None, total=1, csrf="c", notice=None
    ).body
    style = STYLE.read_text()
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        opened = context.new_page()
        opened.set_content(bytes(html).decode())
        opened.add_style_tag(content=style)
        assert opened.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        for header in ("Created", "State", "Attempts"):
            cell = opened.locator("table.alerts th", has_text=header)
            assert cell.evaluate("(node) => node.scrollWidth <= node.clientWidth + 1"), header
        assert opened.locator("button", has_text="Retry").bounding_box()["height"] < 40  # type: ignore[index]
    finally:
        context.close()


def test_every_page_fits_a_phone(desk: str, browser: Browser) -> None:
    """Found by a review: 390 px wide, the alerts page took 800 px (its last error a few letters
    a line), the sources page 610 (the last error off the screen) and the chart's labels were
    5 px high."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        [article] = httpx.get(desk + "/api/v1/articles", params={"q": "台灣之盾"}).json()["articles"]
        for name, path in (
            ("search", "/?q=dome"),
            ("rules", "/rules"),
            ("rule", "/rules/Japan%20documents"),
            ("sources", "/sources"),
            ("alerts", "/alerts"),
            ("article", f"/articles/{article['id']}"),
        ):
            page.goto(desk + path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
            _shot(page, f"phone-{name}")
        page.goto(desk + "/sources")
        error = page.locator("table.sources tbody tr").first.locator("td.last-error")
        assert _within_the_screen(error, 390)
        label = error.evaluate("(node) => getComputedStyle(node, '::before').content")
        assert label == '"Last error: "'  # each cell under its column's name
        page.goto(desk + "/rules/Japan%20documents")
        day = page.locator("figure.chart svg text").first.bounding_box()
        assert day is not None and day["height"] >= 12, day  # readable (it was 6): the chart scrolls
        # ... shown first at its end: today's point on the screen, the first day's scrolled off.
        points = page.locator("figure.chart svg circle.point")
        today, first = points.last.bounding_box(), points.first.bounding_box()
        assert today is not None and first is not None and first["x"] < 0 <= today["x"] <= 390, (first, today)
        scale = page.locator("figure.chart svg text", has_text=re.compile(r"^[0-9]+$")).bounding_box()
        assert scale is not None and 0 <= scale["x"] <= 390, scale  # the scale's top beside them
        assert (
            page.locator("figure.chart svg text").last.evaluate("(node) => getComputedStyle(node).direction")
            == "ltr"
        )
        failed = {
            "id": "x1", "created": "2026-12-05T01:00:00Z", "alert": "desk",
            "channel": "webhook:http://127.0.0.1:18606#21c2ec8b", "rules": ["Iron Dome"],
            "article_id": "a1", "article": "防衛相、イスラエルの防空網を視察", "url": None, "state": "failed",
            "attempts": 3, "next_attempt": None, "last_error": "webhook:http://127.0.0.1:18606: HTTP 500",
        }  # fmt: skip
        html = rendering.page(
            "alerts.html", alerts=[failed], counts=[("failed", 1)], state=None, total=1, csrf="c", notice=None
        ).body
        blank = context.new_page()  # not the desk's page, whose CSP refuses a style added
        blank.set_content(bytes(html).decode())
        blank.add_style_tag(content=STYLE.read_text())
        assert blank.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert _within_the_screen(blank.locator("button", has_text="Retry"), 390)
        assert _within_the_screen(blank.locator("td.last-error"), 390)
        _shot(blank, "phone-alerts-failed")
        # A name of 150 letters without a space (found by a third review: 1,417 px at 320).
        long_name = "Wire" * 38
        source = {
            "name": long_name, "url": "https://x.test/feed", "status": "ok (200)", "failing": False,
            "last_fetch": "2026-12-05T01:00:00Z", "consecutive_errors": 0, "next_due": None,
            "last_new_article": None, "articles_per_day": 1.5, "last_error": None,
        }  # fmt: skip
        rule = {"name": long_name, "query": long_name, "matches": {"24h": 1, "7d": 2, "30d": 30}}
        for width in (320, 390, 1366):
            blank.set_viewport_size({"width": width, "height": 800})
            for html in (
                rendering.page("sources.html", sources=[source], failing=0).body,
                rendering.page("rules.html", rules=[rule]).body,
            ):
                blank.set_content(bytes(html).decode())
                blank.add_style_tag(content=STYLE.read_text())
                assert blank.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
    finally:
        context.close()


def _within_the_screen(element: Locator, width: int) -> bool:
    box = element.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] < 200


def test_a_token_link_from_another_site_opens_the_page_and_leaves_the_address_clean(
    browser: Browser, tmp_path: Path
) -> None:
    """An analyst clicks /?token=… in a mail or a chat: the page opens (the cookie set on the
    redirect is sent on its way back: a Strict one was not, and the page was a 401), and the
    address bar no longer holds the token."""
    archive_with_articles(tmp_path)
    token = "a-token-for-the-desk-0123456789"
    with serving(monitor_config(tmp_path, serve={"tokens": [token]})) as base:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.set_content(f'<a id="go" href="{base}/?q=dome&token={token}">the desk</a>')  # another origin
            with page.expect_navigation():
                page.click("#go")
            assert page.url == f"{base}/?q=dome"
            assert "Iron Dome visit" in page.content()
            page.goto(base + "/sources")  # the other pages by the cookie
            assert "Unauthorized" not in page.content()
        finally:
            context.close()
