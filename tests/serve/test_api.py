"""The JSON API of `monitor serve`, run as a real process on loopback over a real archive."""

from __future__ import annotations

import html
import http.client
import json
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import feedparser
import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import TypeAdapter

from monitor import mentions
from monitor.archive import FetchOutcome, OutboxRow
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.sql import SqlArchive
from monitor.config.loading import load_settings
from monitor.errors import UsageError
from monitor.mentions import mention_series
from monitor.models import Hit, PollResult, PollStatus
from monitor.serve.cursors import write_cursor
from monitor.serve.shapes import AlertOut, ArticlePage, MentionsOut, RuleOut, SourceOut
from tests.archive.helpers import NOW, make_article
from tests.configs import LOOPBACK_FETCH, monitor_config
from tests.serve.conftest import (
    TOKEN,
    Served,
    archive_with_articles,
    free_port,
    serving,
    start_serving,
    stop,
    wait_until_up,
)
from tests.servers import Site


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [article["id"] for article in response.json()["articles"]]


def test_search_answers_as_the_command_line_does(served: Served) -> None:
    assert _ids(served.get("/api/v1/articles", q='"Iron Dome"')) == ["dome", "dome-copy"]
    assert _ids(served.get("/api/v1/articles", q="台灣之盾")) == ["shield"]
    assert _ids(served.get("/api/v1/articles", q="dome NOT stadium", limit=10)) == ["dome", "dome-copy"]
    assert _ids(served.get("/api/v1/articles", q="dome", source="Coast Wire")) == ["dome-copy"]
    [dome] = served.get("/api/v1/articles", q="iron", limit=1).json()["articles"]
    assert dome["also_reported_by"] == [{"source": "Coast Wire", "url": "https://wire.test/dome"}]
    assert dome["hits"] == [{"rule": "Iron Dome", "term": "Iron Dome", "snippet": "The Iron Dome was shown."}]


def test_every_search_answer_has_the_documented_shape(served: Served) -> None:
    # The search encodes its own JSON (no check by FastAPI on the way out): hits, copies, CJK,
    # markup and a next page's cursor must all come out as ArticlePage describes them.
    for query in ('"Iron Dome"', "台灣之盾", "laser", "budget", ""):
        response = served.get("/api/v1/articles", q=query, limit=5)
        assert response.headers["content-type"] == "application/json"
        page = ArticlePage.model_validate_json(response.content, strict=True)
        assert page.articles, query
    assert ArticlePage.model_validate(served.get("/api/v1/articles", q="budget", limit=5).json()).next_cursor


def test_the_search_form_keeps_a_rule_and_source_given_in_another_case(served: Served) -> None:
    page = served.get("/", q="dome", rule="iron dome", source="coast wire").text
    assert '<option value="Iron Dome" selected>Iron Dome</option>' in page
    assert '<option value="Coast Wire" selected>Coast Wire</option>' in page
    assert page.count(" selected>") == 2


def test_pages_follow_the_cursor_to_the_end(served: Served) -> None:
    every = _ids(served.get("/api/v1/articles", q="budget", limit=200))
    assert len(every) == 40
    shown, cursor = [], None
    while True:
        page = served.get("/api/v1/articles", q="budget", limit=15, **({"cursor": cursor} if cursor else {}))
        shown += _ids(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert shown == every


def test_a_search_pages_address_asks_the_api_the_same(served: Served) -> None:
    """The search form sends every field, the empty ones too: the API refused its query
    (no source named '', a 422 for limit=), so a page's address could not be asked of it."""
    form = "q=dome&rule=&source=&lang=&since=&until=&limit=&matched=&cursor="
    answer = httpx.get(f"{served.base}/api/v1/articles?{form}", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == served.get("/api/v1/articles", q="dome").json()
    both = httpx.get(f"{served.base}/api/v1/articles?q=dome&source=&source=Coast%20Wire", timeout=10)
    assert [article["id"] for article in both.json()["articles"]] == ["dome-copy"]


def test_a_parameter_left_empty_is_not_given_on_every_route(served: Served) -> None:
    """Found by a review: the search took `?source=` as none given, but the alerts refused
    `?state=` (not one of pending, held, ...) and `?limit=`, the counts `?interval=`, and the
    alerts page its own address with the state left empty."""
    for path, query in [
        ("/api/v1/alerts", "state=&limit="),
        ("/api/v1/alerts", "state"),
        ("/api/v1/stats/mentions", "rule=Iron%20Dome&interval=&since=&until=&by="),
        ("/api/v1/sources", "token="),
        ("/alerts", "state="),
        ("/rules/Iron%20Dome", "since=&&"),
        # Blank: a space typed into a form's field (a blank source was "no source named ' '").
        ("/api/v1/articles", "source=+&rule=%20&lang=%09&matched=%E3%80%80"),
        ("/api/v1/alerts", "state=%20&limit=+"),
        ("/alerts", "state=+"),
        ("/", "source=%20"),
    ]:
        answer = httpx.get(f"{served.base}{path}?{query}", timeout=10)
        assert answer.status_code == 200, (path, query, answer.text)
        assert answer.content == httpx.get(f"{served.base}{path}", timeout=10).content or path in (
            "/api/v1/stats/mentions",  # its `until` is the moment it answers
            "/alerts",  # a page's CSRF token
            "/",  # the search page's form keeps what was typed
        )
    assert served.get("/api/v1/alerts", state="sent", limit="").status_code == 200
    # What is given is still read as given: an empty value does not hide a wrong one.
    assert served.get("/api/v1/alerts", state="gone", limit="").status_code == 422
    assert served.get("/api/v1/alerts", limt="", limit="2").status_code == 200  # no value: nothing to refuse


@pytest.mark.parametrize("limit", [20, 40])
def test_a_full_last_page_has_no_cursor(served: Served, limit: int) -> None:
    """A client following next_cursor stops at the last article, not after an empty page."""
    first = served.get("/api/v1/articles", q="budget", limit=limit).json()
    if limit == 40:
        assert len(first["articles"]) == 40 and first["next_cursor"] is None
        return
    second = served.get("/api/v1/articles", q="budget", limit=limit, cursor=first["next_cursor"]).json()
    assert len(second["articles"]) == 20 and second["next_cursor"] is None


def test_the_search_page_links_the_older_articles_while_there_are_more(served: Served) -> None:
    first = served.get("/", q="budget").text
    assert first.count('<li class="article">') == 30 and "30 articles on this page" in first
    [older] = re.findall(r'<a href="([^"]+)" rel="next">Older articles', first)
    last = httpx.get(served.base + html.unescape(older), timeout=10).text
    assert last.count('<li class="article">') == 10 and 'rel="next"' not in last
    thirty = served.get("/", q="budget NOT (" + " OR ".join(str(n) for n in range(30, 40)) + ")").text
    assert thirty.count('<li class="article">') == 30 and 'rel="next"' not in thirty


def test_the_search_page_takes_the_apis_fetched_since_and_shows_it(served: Served) -> None:
    """Found by a review: an address with the API's fetched_since (shared from a program) was
    answered by the page as if it had none, every budget story where none was fetched since."""
    none = served.get("/", q="budget", fetched_since="2026-01-07").text
    assert '<li class="article">' not in none and 'name="fetched_since"' in none and "2026-01-07" in none
    first = served.get("/", q="budget", fetched_since="2026-01-05").text
    assert first.count('<li class="article">') == 30
    [older] = re.findall(r'<a href="([^"]+)" rel="next">Older articles', first)
    assert "fetched_since=2026-01-05" in html.unescape(older)
    refused = served.get("/", q="budget", fetched_since="yesterday")
    assert refused.status_code == 400 and 'name="fetched_since" aria-invalid="true"' in refused.text


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"q": '"Iron Dome'}, "pointer"),
        ({"q": "dome", "source": "Nowhere"}, "no source named 'Nowhere'"),
        ({"q": "dome", "since": "last week"}, "give a duration"),
        ({"q": "dome", "since": "86400"}, "give a duration (7d, 24h), a date"),  # no unit
        ({"q": "dome", "cursor": "not-a-cursor"}, "is not one this server gave"),
        ({"q": "dome", "limit": "0"}, "limit"),
        # A review found these a silent empty answer, though the mention counts refused them.
        ({"q": "dome", "since": "2026-03-02", "until": "2026-03-01"}, "since is not before until"),
        ({"q": "iron NEAR/0 dome"}, "NEAR/0 never matches"),
        # Found a silent empty answer, or a phrase, in session 24.
        ({"q": "dome", "lang": "english"}, "give a language code such as en"),
        ({"q": "dome", "lang": "zz"}, "give a language code such as en"),
        ({"q": "tilte:dome"}, "unknown field 'tilte:'"),
        ({"q": "dome source:Nowhere"}, "source:Nowhere: no source's name holds it (known: "),
        ({"q": "lang:english"}, "lang: takes a language code"),
        ((("q", "dome"), ("lang", "he"), ("lang", "english")), "lang is given 2 times: give it once"),
        ((("q", "tilte:x"), ("q", "dome")), "q is given 2 times"),
        ({"qq": "dome"}, "unknown parameter 'qq': /api/v1/articles takes cursor, fetched_since, lang"),
    ],
)
def test_a_bad_request_is_told_what_is_wrong(
    served: Served, params: tuple[tuple[str, str], ...] | dict[str, str], said: str
) -> None:
    response = httpx.get(served.base + "/api/v1/articles", params=httpx.QueryParams(params), timeout=10)
    assert response.status_code in (400, 422), response.text
    assert said in response.text
    assert response.json()["error"], "every refusal says what is wrong under one key"


def test_a_parameter_out_of_its_schema_is_a_422_with_an_error_too(served: Served) -> None:
    for path, params, said in (
        (
            "/api/v1/articles",
            {"limit": "abc"},
            "limit: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "/api/v1/alerts",
            {"state": "bogus"},
            "state: Input should be 'pending', 'held', 'sent' or 'failed'",
        ),
    ):
        response = served.get(path, **params)
        assert response.status_code == 422 and response.json()["error"] == said, response.text
        assert response.json()["detail"][0]["loc"] == [
            "query",
            next(iter(params)),
        ]  # FastAPI's, as documented
    invalid = served.get("/openapi.json").json()["components"]["schemas"]["HTTPValidationError"]
    assert invalid["required"] == ["error", "detail"] and invalid["properties"]["error"]["type"] == "string"


def test_a_query_error_shows_where(served: Served) -> None:
    body = served.get("/api/v1/articles", q="dome AND (iron").json()
    assert body["pointer"].splitlines() == ["dome AND (iron", " " * body["position"] + "^"]


def test_until_a_date_takes_in_that_whole_day_in_search_and_counts_alike(served: Served) -> None:
    # The Iron Dome visit's copy was published on 2026-01-06 at 09:30, the visit at 10:30.
    def found(**params: str) -> int:
        return len(served.get("/api/v1/articles", q="iron dome", **params).json()["articles"])

    def counted(**params: str) -> int:
        [line] = served.get("/api/v1/stats/mentions", rule="Iron Dome", since="2026-01-01", **params).json()[
            "series"
        ]
        return sum(point["count"] for point in line["points"])

    for day_of, before in (("2026-01-06", "2026-01-05"), ("20260106", "20260105")):
        assert found(until=day_of) == counted(until=day_of) == 2
        assert found(until=before) == counted(until=before) == 0
    moments = {
        "2026-01-06T10:30:00Z": 2,
        "2026-01-06T10:29:59Z": 1,
        "2026-01-06T09:30+00:00": 1,
        "2026-01-06": 2,
    }
    moments |= {"2026-01-06T09:29:59Z": 0, "2026-01-06T00:00": 0, "2026-01-06T11:30+01:00": 2}
    for moment, taken in moments.items():  # a moment itself is taken in
        assert found(until=moment) == counted(until=moment) == taken, moment
    noon = served.get("/api/v1/stats/mentions", since="2026-01-06T12:00Z", until="2026-01-06T12:00Z").json()
    # The day counted whole from its start (its point is labelled with the day), to the moment.
    assert (noon["since"], noon["until"]) == ("2026-01-06T00:00:00Z", "2026-01-06T12:00:00.000001Z")


def test_one_article_with_its_copies_or_404(served: Served) -> None:
    article = served.get("/api/v1/articles/dome").json()
    assert article["id"] == "dome" and article["also_reported_by"][0]["source"] == "Coast Wire"
    missing = served.get("/api/v1/articles/nothing-here")
    assert missing.status_code == 404 and "nothing-here" in missing.text


def test_sources_and_alerts_as_the_command_line_shows_them(served: Served) -> None:
    sources = served.get("/api/v1/sources").json()
    assert [(source["name"], source["status"]) for source in sources] == [
        ("Harbor Daily", "new: not polled yet"),
        ("Coast Wire", "new: not polled yet"),
    ]
    harbor = sources[0]
    assert harbor["last_new_article"] is not None and harbor["articles_per_day"] == round(
        1 / 7, 1
    )  # docs-today
    [alert] = served.get("/api/v1/alerts").json()
    assert (
        alert["article"] == "Iron Dome visit"
        and alert["state"] == "pending"
        and alert["article_id"] == "dome"
    )


def test_the_alert_history_is_paged_older_by_its_link(tmp_path: Path) -> None:
    """The history had no way past its newest 5,000 alerts (the API) or 500 (the page): a page
    with older alerts after it links to them (a Link header; a link on the page)."""
    archive_with_articles(tmp_path)  # one alert
    archive = SqlArchive(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    keys = [f"alerted{n:03d}" for n in range(505)]  # stored at once: many share their moment
    rows = [OutboxRow("desk", "webhook:x", key, key, ("Iron Dome",)) for key in keys]
    archive.store_new([make_article(key, hits=()) for key in keys], rows)
    oldest = archive.outbox.alerts(1000)[-1]  # last in the history's order: on the older page
    archive.outbox.mark_alerts_failed({oldest.id: None}, "HTTP 500 from the webhook", datetime.now(UTC))
    archive.close()
    with serving(monitor_config(tmp_path)) as base, httpx.Client(timeout=10) as client:
        whole = client.get(base + "/api/v1/alerts", params={"limit": 1000})
        assert len(whole.json()) == 506 and "link" not in whole.headers
        seen: list[str] = []
        address: str | None = base + "/api/v1/alerts?limit=200&state=pending"
        while address:
            answer = client.get(address)
            assert answer.status_code == 200
            seen += [alert["id"] for alert in answer.json()]
            link = answer.headers.get("link")
            address = link.split(">")[0].lstrip("<") if link else None
            assert address is None or ("state=pending" in address and "limit=200" in address)
        assert seen == [alert["id"] for alert in whole.json() if alert["state"] == "pending"]
        wrong = client.get(base + "/api/v1/alerts", params={"cursor": "not-a-cursor"})
        assert wrong.status_code == 400 and "is not one this server gave" in wrong.text
        page = client.get(base + "/alerts")
        older = re.search(r'<a href="(/alerts\?cursor=[^"]+)" rel="next">Older alerts</a>', page.text)
        assert older and page.text.count('<tr class="pending"') == 500
        rest = client.get(base + html.unescape(older.group(1)))
        assert rest.status_code == 200 and rest.text.count('<tr class="pending"') == 5
        assert "Older alerts, 6 of 506" in rest.text and ">Older alerts</a>" not in rest.text
        # Found by a review: a retry on an older page came back to the newest.
        [csrf] = re.findall(r'name="csrf" value="([^"]+)"', rest.text)
        [cursor] = re.findall(r'name="cursor" value="([^"]+)"', rest.text)
        retried = client.post(base + "/alerts/retry", data={"csrf": csrf, "id": oldest.id, "cursor": cursor})
        assert retried.status_code == 303
        assert retried.headers["location"] == f"/alerts?cursor={cursor}&retried=1"
        # A cursor past every alert (they were purged since): said so, not "no alerts yet".
        past = write_cursor(datetime(2001, 1, 1, tzinfo=UTC), "x", of="alerts")
        beyond = client.get(base + "/alerts", params={"cursor": past})
        assert "No older alerts" in beyond.text and "yet" not in beyond.text
        # Nor does a cursor of the articles page the alerts, or one of the alerts the articles.
        for path, other in (("/api/v1/alerts", write_cursor(NOW, "b00")), ("/api/v1/articles", past)):
            assert client.get(base + path, params={"cursor": other}).status_code == 400, path


def test_rules_as_written_and_understood_with_recent_matches(served: Served) -> None:
    rules = {rule["name"]: rule for rule in served.get("/api/v1/rules").json()}
    assert list(rules) == ["Iron Dome", "Taiwan Shield", "Japan documents", "Japan-Israel laser", "Dome word"]
    assert rules["Japan documents"]["matches"] == {"24h": 1, "7d": 1, "30d": 2}
    assert rules["Iron Dome"]["matches"] == {"24h": 0, "7d": 0, "30d": 0}  # published in January
    assert rules["Taiwan Shield"]["query"] == '"Taiwan Shield" OR "T-Dome" OR 台灣之盾'
    assert rules["Taiwan Shield"]["understood"] == '"taiwan shield" OR "t dome" OR "台湾之盾"'


def test_a_rules_page_tells_its_counts_in_words_too(served: Served) -> None:
    """The chart's only text was "91 points, highest 1", even for a rule of no match: a screen
    reader or a keyboard (the days' tooltips need a mouse) got nothing else."""
    page = served.get("/rules/Japan documents").text
    assert "91 points from " in page and ", 2 in all, at most 1 at one point" in page
    table = page.split('<details class="counts">')[1].split("</details>")[0]
    assert table.count("<tr><td>") == 2 and table.count("<td>1</td>") == 2
    assert "Matches published in the last 24 hours: 1, 7 days: 1, 30 days: 2." in page
    empty = served.get("/rules/Dome word").text
    assert "No article has matched this rule yet." in empty and '<ol class="results">' not in empty
    assert '<details class="counts">' not in empty and ", 0 in all, at most 0 at one point" in empty


def test_mentions_have_a_point_for_every_day(served: Served) -> None:
    default = served.get("/api/v1/stats/mentions", rule="Japan documents").json()
    [series] = default["series"]
    assert len(series["points"]) == 91  # 90 days back to today, both ends
    assert sum(point["count"] for point in series["points"]) == 2
    # docs-today was published two hours ago: yesterday's point just after midnight.
    published = served.get("/api/v1/articles/docs-today").json()["published"]
    counted = {point["start"]: point["count"] for point in series["points"] if point["count"]}
    assert counted[published[:10]] == 1
    january = {"since": "2026-01-01", "until": "2026-01-10"}
    basic = served.get("/api/v1/stats/mentions", rule="Iron Dome", since="20260101", until="20260110")
    # A date alone as until takes in its whole day: the count ends as the 11th begins.
    assert (basic.json()["since"], basic.json()["until"]) == ("2026-01-01T00:00:00Z", "2026-01-11T00:00:00Z")
    [line] = served.get("/api/v1/stats/mentions", rule="Iron Dome", **january).json()["series"]
    assert [point["start"] for point in line["points"]][:2] == ["2026-01-01", "2026-01-02"]
    assert [point["count"] for point in line["points"]] == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0]  # to the 10th
    until_noon = served.get(
        "/api/v1/stats/mentions", rule="Iron Dome", since="2026-01-01", until="2026-01-10T12:00"
    )
    assert len(until_noon.json()["series"][0]["points"]) == 10
    by_source = served.get("/api/v1/stats/mentions", rule="Iron Dome", by="source", **january).json()[
        "series"
    ]
    assert [(line["source"], sum(p["count"] for p in line["points"])) for line in by_source] == [
        ("Coast Wire", 1),
        ("Harbor Daily", 1),
    ]
    weekly = served.get("/api/v1/stats/mentions", rule="Iron Dome", interval="week", **january).json()
    assert [point["start"] for point in weekly["series"][0]["points"]] == ["2025-12-29", "2026-01-05"]
    assert weekly["since"] == "2025-12-29T00:00:00Z"  # the first week counted whole, as labelled
    # A since late in the day of the Iron Dome story (09:30 and 10:30) counts that day whole.
    late = served.get(
        "/api/v1/stats/mentions", rule="Iron Dome", since="2026-01-06T23:00", until="2026-01-07"
    )
    assert [(point["start"], point["count"]) for point in late.json()["series"][0]["points"]] == [
        ("2026-01-06", 2),
        ("2026-01-07", 0),
    ]
    assert served.get("/api/v1/stats/mentions", interval="hour").status_code == 400
    # 1,200 intervals at most, counted as the intervals they are: a century of months fits
    century = served.get("/api/v1/stats/mentions", rule="Iron Dome", interval="month", since="1930-01-01")
    assert century.status_code == 200 and len(century.json()["series"][0]["points"]) > 1100
    too_long = served.get("/api/v1/stats/mentions", rule="Iron Dome", interval="month", since="1900-01-01")
    assert too_long.json()["error"] == "since to until is more than 1200 months: narrow it"
    days = served.get("/api/v1/stats/mentions", rule="Iron Dome", since="2020-01-01")
    assert days.json()["error"] == "since to until is more than 1200 days: narrow it or count by month"
    assert served.get("/api/v1/stats/mentions", rule="Nope").status_code == 400
    # An empty rule is none, as in the search: every rule's line.
    every = served.get("/api/v1/stats/mentions", rule="", **january).json()["series"]
    assert [line["rule"] for line in every] == [
        line["rule"] for line in served.get("/api/v1/stats/mentions", **january).json()["series"]
    ]


JANUARY = {"since": "2026-01-01", "until": "2026-01-10"}


@pytest.mark.parametrize(
    ("path", "shape", "params"),
    [
        ("/api/v1/sources", list[SourceOut], {}),
        ("/api/v1/rules", list[RuleOut], {}),
        ("/api/v1/alerts", list[AlertOut], {}),
        ("/api/v1/alerts", list[AlertOut], {"state": "pending", "limit": "1"}),
        ("/api/v1/stats/mentions", MentionsOut, {}),
        ("/api/v1/stats/mentions", MentionsOut, {"rule": "Iron Dome", "by": "source", **JANUARY}),
        ("/api/v1/stats/mentions", MentionsOut, {"by": "language", "interval": "week", **JANUARY}),
        ("/api/v1/stats/mentions", MentionsOut, {"interval": "month", "since": "2025-01-01"}),
    ],
)
def test_every_count_answer_has_the_documented_shape(
    served: Served, path: str, shape: Any, params: dict[str, str]
) -> None:
    # The counts encode their own JSON too: every key the document gives, no other, as typed.
    response = served.get(path, **params)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    model = TypeAdapter(shape)
    checked = model.validate_json(response.content, strict=True)
    assert response.json() == json.loads(model.dump_json(checked))


def test_mentions_past_so_many_points_are_refused_at_once(tmp_path: Path) -> None:
    archive_with_articles(tmp_path)
    watch = [{"name": f"rule {number}", "terms": [f"word{number}"]} for number in range(460)]
    config = monitor_config(tmp_path, watch=watch)
    port = free_port()
    process = start_serving(config, "serve", "--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        three_years = {"since": "2023-01-01", "until": "2026-01-01"}
        refused = httpx.get(base + "/api/v1/stats/mentions", params=three_years, timeout=10)
        assert refused.status_code == 400
        assert "460 lines (rules) of 1097 days is more than 500,000 points" in refused.json()["error"]
        one_rule = httpx.get(base + "/api/v1/stats/mentions", params={**three_years, "rule": "rule 7"})
        assert one_rule.status_code == 200 and len(one_rule.json()["series"][0]["points"]) == 1097
    finally:
        stop(process)


def test_mentions_by_source_stop_reading_once_past_so_many_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive_with_articles(tmp_path)
    settings = load_settings(monitor_config(tmp_path))
    archive = SqlArchive(settings.database_url())
    names = [rule.name for rule in settings.watch]
    since, until = datetime(2025, 1, 1, tzinfo=UTC), datetime.now(UTC)
    every = archive.stats.mentions(names, since, until, "source")
    assert len({(each.rule, each.key) for each in every}) > 2
    stopped = archive.stats.mentions(names, since, until, "source", most_lines=1)
    assert len({(each.rule, each.key) for each in stopped}) == 2 and len(stopped) < len(every)
    monkeypatch.setattr(mentions, "MOST_POINTS_IN_ALL", 15)  # room for one line of 10 days
    refused = r"2 or more lines \(rule and source pairs\) of 10 days .* no by=source"
    with pytest.raises(UsageError, match=refused):
        mention_series(archive, settings, ["Iron Dome"], "day", "2026-01-01", "2026-01-10", "source")
    archive.close()


def test_the_openapi_document_lists_every_route(served: Served) -> None:
    paths = served.get("/openapi.json").json()["paths"]
    assert {"/api/v1/articles", "/api/v1/articles/{article_id}", "/api/v1/sources", "/api/v1/alerts"} <= set(
        paths
    )
    assert {"/api/v1/rules", "/api/v1/stats/mentions", "/healthz", "/metrics"} <= set(paths)
    mentions_refused = paths["/api/v1/stats/mentions"]["get"]["responses"]
    assert "more than 500,000 points" in mentions_refused["400"]["description"]
    assert (
        "Retry-After" in mentions_refused["503"]["description"]
        and "Retry-After" in mentions_refused["503"]["headers"]
    )
    one_article = paths["/api/v1/articles/{article_id}"]["get"]["responses"]["503"]
    assert one_article["description"] == "the archive does not answer" and "headers" not in one_article
    # Found by a review: the routes refusing an unknown parameter with a 400 did not say so,
    # and the document did not say how a token is shown.
    for path in (
        "/api/v1/articles/{article_id}",
        "/api/v1/sources",
        "/api/v1/alerts",
        "/api/v1/rules",
    ):
        assert "given twice" in paths[path]["get"]["responses"]["400"]["description"], path
    # The routes programs poll take no parameter and ignore any (a feed reader's cache-buster,
    # Prometheus's `params`), as /healthz does: their document says so (a review, session 30).
    for path in ("/metrics", "/feeds/rules/{name}.atom", "/feeds/rules/{name}.json"):
        refused = paths[path]["get"]["responses"]["400"]["description"]
        assert refused == "the request's path or query holds a NUL character (%00)", path
    for path in ("/metrics", "/healthz", "/feeds/rules/Iron%20Dome.atom"):
        assert httpx.get(f"{served.base}{path}?x=1&_=1733390000", timeout=10).status_code == 200, path
    document = served.get("/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"bearer", "token"}
    assert document["security"] == [{"bearer": []}, {"token": []}, {}]
    assert paths["/healthz"]["get"]["security"] == []


NAVIGATING = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}  # a browser opening a page


def test_with_tokens_a_client_must_show_one(tmp_path: Path) -> None:
    archive_with_articles(tmp_path)
    port = free_port()
    config = monitor_config(tmp_path, serve={"listen": f"127.0.0.1:{port}", "tokens": [TOKEN]})
    process = start_serving(config, "serve")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        assert httpx.get(base + "/api/v1/articles", params={"q": "iron"}).status_code == 401
        wrong = httpx.get(base + "/api/v1/articles", headers={"Authorization": "Bearer wrong-token-0000000"})
        assert wrong.status_code == 401 and "the token given is not one of serve.tokens" in wrong.text
        bearer = httpx.get(
            base + "/api/v1/articles", params={"q": "iron"}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert _ids(bearer) == ["dome", "dome-copy"]
        assert _ids(httpx.get(base + "/api/v1/articles", params={"q": "iron", "token": TOKEN})) == [
            "dome",
            "dome-copy",
        ]
        assert httpx.get(base + "/openapi.json").status_code == 401  # the document too
        # Which routes there are is told to no one without a token (found by a review: 404s).
        unknown_routes = [
            ("GET", "/nonexistent"), ("GET", "/api/v1/nonexistent"), ("GET", "/search"),
            ("DELETE", "/api/v1/articles"), ("GET", "/static/nothing.css"),
            ("GET", "/api/v1/rules/"), ("GET", "/sources/"), ("GET", "/metrics/"),  # no slash redirect
        ]  # fmt: skip
        for method, path in unknown_routes:
            unknown = httpx.request(method, base + path)
            assert unknown.status_code == 401 and "a token is required" in unknown.text, (method, path)
            shown = httpx.request(method, base + path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert shown.status_code in (404, 405), (method, path)
        assert httpx.get(base + "/api/v1/articles/nonexistent", params={"token": TOKEN}).status_code == 404
        refused_page = httpx.get(base + "/sources")  # a person's browser is told so on a page
        assert refused_page.status_code == 401 and refused_page.headers["www-authenticate"] == "Bearer"
        assert "a token is required" in refused_page.text and "<h1>Unauthorized</h1>" in refused_page.text
        assert "open this page once as ?token=TOKEN" in refused_page.text  # what a browser's user can do
        upload: dict[str, tuple[str | None, bytes]] = {
            "csrf": (None, b"x"),
            "id": ("big.bin", b"0" * 1_000_000),
        }
        assert httpx.post(base + "/alerts/retry", files=upload).status_code == 401
        with_token = httpx.post(
            base + "/alerts/retry", files=upload, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert with_token.status_code == 400 and "not a retry form" in with_token.text
        assert httpx.get(base + "/openapi.json", params={"token": TOKEN}).status_code == 200
        # A page's ?token= is kept in a cookie and the address is given again without it (it
        # stayed in the address bar, the history, the bookmarks, and any address shared).
        with httpx.Client(base_url=base, timeout=10, headers=NAVIGATING) as browser:
            first = browser.get(f"/rules/..%2Fetc?q=%E5%8F%B0&token={TOKEN}&lang=")
            assert first.status_code == 303
            assert first.headers["location"] == "/rules/..%2Fetc?q=%E5%8F%B0&lang="
            assert "SameSite=Lax" in first.headers["set-cookie"]  # sent when a mail's link led here
            assert browser.get("/?q=dome").status_code == 200  # by the cookie
            spelled = browser.get(f"/?tok%65n={TOKEN}")  # the name escaped: the token seen, and moved
            assert spelled.status_code == 303 and spelled.headers["location"] == "/"
            # Never to another host: a path the browser would read as one is answered, not moved.
            for path in ("//evil.example/", "/\\evil.example/"):
                asked = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # the path as written
                asked.request("GET", f"{path}?token={TOKEN}", headers=NAVIGATING)
                assert asked.getresponse().status != 303, path
                asked.close()
        assert (
            httpx.get(base + "/?token=wrong", headers=NAVIGATING).status_code == 401
        )  # no cookie, no redirect
        # A program (curl, a feed reader reading a rule's page for its feeds) keeps no cookie:
        # it is answered at the address it asked.
        rule_page = httpx.get(base + "/rules/Iron Dome", params={"token": TOKEN})
        assert rule_page.status_code == 200
        # Its feeds' links carry the token it was opened with: a reader keeps no cookie.
        [atom] = re.findall(
            r'<link rel="alternate" type="application/atom\+xml"[^>]* href="([^"]+)"', rule_page.text
        )
        assert atom == f"/feeds/rules/Iron%20Dome.atom?token={TOKEN}"
        assert httpx.get(base + html.unescape(atom)).status_code == 200
        assert f'.json?token={TOKEN}" type="application/feed+json">JSON Feed</a>' in rule_page.text
        feed = httpx.get(base + "/feeds/rules/Iron Dome.atom", params={"token": TOKEN})
        assert feed.status_code == 200  # a feed reader's address keeps its token
        # Its own address and its rule's page too (a reader re-subscribing to it got a 401), but
        # never a token sent in a header; and no shared cache keeps it.
        parsed = feedparser.parse(feed.content)
        assert parsed.feed.links[0].href == f"{base}/feeds/rules/Iron%20Dome.atom?token={TOKEN}"
        assert parsed.feed.link == f"{base}/rules/Iron%20Dome?token={TOKEN}"
        assert httpx.get(parsed.feed.links[0].href).status_code == 200
        assert feed.headers["cache-control"] == "private"
        by_header = httpx.get(
            base + "/feeds/rules/Iron Dome.json", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert (
            by_header.json()["feed_url"] == f"{base}/feeds/rules/Iron%20Dome.json"
            and TOKEN not in by_header.text
        )
        # A browser following a page's Subscribe link is sent on without it, as to a page.
        clicked = httpx.get(
            base + "/feeds/rules/Iron%20Dome.atom", params={"token": TOKEN}, headers=NAVIGATING
        )
        assert clicked.status_code == 303 and clicked.headers["location"] == "/feeds/rules/Iron%20Dome.atom"
        assert rule_page.headers["cache-control"] == "private"  # its links hold the token
        rules = httpx.get(base + "/rules", params={"token": TOKEN}).text
        assert f'href="/feeds/rules/Iron%20Dome.atom?token={TOKEN}">Atom</a>' in rules
        # Never a token sent as a header (a proxy adding it for its users: they would read it).
        for path in ("/rules", "/rules/Iron Dome"):
            by_header = httpx.get(base + path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert by_header.status_code == 200 and TOKEN not in by_header.text, path
    finally:
        stop(process)


def test_a_token_of_any_printable_characters_is_kept_by_the_cookie(tmp_path: Path) -> None:
    """Found by a review: a token the config takes but a cookie cannot carry as it is (`!`,
    `;`, `"`) worked in the address, set no cookie, and the 401 told the browser's user to do
    what had just failed: open the page once with ?token=."""
    odd = 'desk!token;with,"odd"%41chars\\'
    archive_with_articles(tmp_path)
    with serving(monitor_config(tmp_path, serve={"tokens": [odd]})) as base:
        with httpx.Client(base_url=base, timeout=10, headers=NAVIGATING) as browser:
            first = browser.get("/rules", params={"token": odd})
            assert first.status_code == 303 and first.headers["location"] == "/rules"
            assert browser.get("/rules").status_code == 200  # by the cookie
            assert browser.get("/api/v1/sources").status_code == 200
            assert browser.get("/api/v1/sources", params={"q": "x"}).status_code == 400  # read, then refused
        # Read once: the token's own %41 is not taken for an A.
        near = {"monitor_token": quote('desk!token;with,"odd"Achars\\', safe="")}
        assert httpx.get(base + "/rules", cookies=near).status_code == 401


def test_behind_a_tls_proxy_the_cookie_is_secure_and_retry_works(tmp_path: Path) -> None:
    # A proxy on this host (trusted by default) terminating TLS for https://desk.example: it
    # passes the Host and says the scheme with X-Forwarded-Proto.
    archive_with_articles(tmp_path)
    archive = SqlArchive(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    [alert] = archive.outbox.alerts(10)
    archive.outbox.mark_alerts_failed({alert.id: None}, "HTTP 500 from the webhook", datetime.now(UTC))
    archive.close()
    port = free_port()
    config = monitor_config(tmp_path, serve={"listen": f"127.0.0.1:{port}", "tokens": [TOKEN]})
    process = start_serving(config, "serve")
    base = f"http://127.0.0.1:{port}"
    proxied = {"Host": "desk.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    try:
        wait_until_up(base, process)
        kept = httpx.get(base + "/alerts", params={"token": TOKEN}, headers={**proxied, **NAVIGATING})
        # The token kept in a cookie sent over TLS only, the address given again without it.
        assert kept.status_code == 303 and kept.headers["location"] == "/alerts"
        assert "Secure" in kept.headers["set-cookie"]
        cookie = kept.headers["set-cookie"].split(";")[0]
        page = httpx.get(base + "/alerts", headers={**proxied, "Cookie": cookie})  # as the browser on https
        assert page.status_code == 200
        plain = httpx.get(base + "/alerts", params={"token": TOKEN})
        assert "Secure" not in plain.headers["set-cookie"]
        [csrf] = re.findall(r'name="csrf" value="([^"]+)"', page.text)
        signed = {**proxied, "Authorization": f"Bearer {TOKEN}"}
        form = {"csrf": csrf, "id": alert.id}
        from_page = httpx.post(
            base + "/alerts/retry", data=form, headers={**signed, "Origin": "https://desk.example"}
        )
        assert from_page.status_code == 303, from_page.text
        elsewhere = httpx.post(
            base + "/alerts/retry", data=form, headers={**signed, "Origin": "http://desk.example"}
        )
        assert elsewhere.status_code == 403
    finally:
        stop(process)


def test_off_loopback_without_a_token_it_refuses_to_start(tmp_path: Path) -> None:
    config = monitor_config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "-c", str(config), "serve", "--listen", "0.0.0.0:8080"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "off loopback: give serve.tokens" in done.stderr
    bad = monitor_config(tmp_path, name="bad.yaml", serve={"listen": "0.0.0.0:8080"})
    checked = subprocess.run(
        [sys.executable, "-m", "monitor", "-c", str(bad), "check"], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 2 and "serve" in checked.stderr and "off loopback" in checked.stderr
    for listen, said in (
        ("not a host:18345", "'not a host' is neither an IP address nor a host name"),
        ("127.0.0.1", "is not host:port"),
        ("[::1]:99999", "is not host:port"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "-c", str(config), "serve", "--listen", listen],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and said in done.stderr, done.stderr


def test_an_address_in_use_is_said_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = monitor_config(tmp_path)
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "-c", str(config), "serve", "--listen", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr


def _daemon_serving(folder: Path, site: Site, port: int, broken: bool = False) -> Path:
    """A config for `monitor run` serving on the port, polling the site's feed every second (and,
    `broken`, a feed the site does not have)."""
    sources = [{"name": "English", "url": site.url("/english.xml"), "every": "1s"}]
    if broken:
        sources.append({"name": "Broken", "url": site.url("/missing.xml"), "every": "1s"})
    return monitor_config(
        folder, serve={"listen": f"127.0.0.1:{port}"}, fetch=LOOPBACK_FETCH, sources=sources
    )


@pytest.mark.slow
def test_the_daemon_serves_the_api_its_metrics_and_health(tmp_path: Path, site: Site) -> None:
    archive_with_articles(tmp_path)
    port = free_port()
    config = _daemon_serving(tmp_path, site, port, broken=True)
    process = start_serving(config, "run")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        assert _ids(httpx.get(base + "/api/v1/articles", params={"q": "台灣之盾"})) == ["shield"]
        deadline = time.monotonic() + 30
        while (health := httpx.get(base + "/healthz").json())["last_poll_seconds_ago"] is None:
            assert time.monotonic() < deadline, health
            time.sleep(0.2)
        assert health["scheduler"] == "running" and health["archive"] == "ok"
        ok, failing = ("monitor_polls_total", (("outcome", "ok"),)), ("monitor_sources_failing", ())
        while (metrics := _metrics(httpx.get(base + "/metrics").text))[ok] < 1 or metrics[failing] < 1:
            assert time.monotonic() < deadline, metrics  # each source's first poll
            time.sleep(0.2)
        assert metrics[("monitor_polls_total", (("outcome", "ok"),))] >= 1
        assert metrics[("monitor_articles_stored_total", ())] >= 1
        assert metrics[("monitor_poll_duration_seconds_count", ())] >= 1
        assert metrics[("monitor_outbox_depth", ())] >= 1
        # What an operator alerts on: sources failing, and a daemon that stopped polling.
        assert metrics[("monitor_polls_total", (("outcome", "error"),))] >= 1
        assert metrics[("monitor_sources_failing", ())] == 1
        assert 0 <= time.time() - metrics[("monitor_last_poll_end_timestamp_seconds", ())] < 30
    finally:
        output = stop(process)
    assert "serving the archive on http://127.0.0.1" in output


def test_an_archive_file_deleted_under_the_server_fails_its_health_and_is_not_made_again(
    tmp_path: Path,
) -> None:
    archive_with_articles(tmp_path)
    database = tmp_path / "data" / "monitor.db"
    port = free_port()
    process = start_serving(monitor_config(tmp_path), "serve", "--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        assert httpx.get(base + "/healthz").status_code == 200
        for leftover in database.parent.iterdir():
            leftover.unlink()
        health = httpx.get(base + "/healthz")
        assert health.status_code == 503
        assert f"{database} was deleted, moved or replaced" in health.json()["archive"]
        # More at once than the read threads had connections for: new ones, which must not make
        # the file again (how many threads the server starts depends on its timing: a few rounds).
        answers: list[httpx.Response] = []
        with ThreadPoolExecutor(30) as clients:
            for _round in range(10):
                answers += clients.map(lambda _: httpx.get(base + "/", params={"q": "dome"}), range(60))
                if any(answer.status_code == 503 and "is gone" in answer.text for answer in answers):
                    break
        assert {answer.status_code for answer in answers} <= {200, 503}
        assert any(answer.status_code == 503 and "is gone" in answer.text for answer in answers)
        assert not database.exists()
    finally:
        output = stop(process)
    assert not database.exists(), output


@pytest.mark.slow
def test_the_daemon_stops_when_its_archive_file_is_deleted(tmp_path: Path, site: Site) -> None:
    """What it would write goes to a file no one will read: it says so and stops, and a
    supervisor's restart opens a new archive where the file was."""
    port = free_port()
    config = _daemon_serving(tmp_path, site, port)
    database = tmp_path / "data" / "monitor.db"
    process = start_serving(config, "run")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        deadline = time.monotonic() + 30
        while httpx.get(base + "/healthz").json()["last_poll_seconds_ago"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        database.unlink()
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, output
    assert f"monitor: the archive's file {database} was deleted, moved or replaced" in output
    assert "start it again to open the file there now" in output
    assert not database.exists()


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_served_alone_the_metrics_come_from_the_archive(served: Served) -> None:
    metrics = _metrics(served.get("/metrics").text)
    assert metrics[("monitor_archive_up", ())] == 1
    assert metrics[("monitor_alerts", (("state", "pending"),))] == 1
    assert metrics[("monitor_alerts", (("state", "sent"),))] == 0
    assert metrics[("monitor_outbox_depth", ())] == 1
    assert metrics[("monitor_rule_matches_24h", (("rule", "Japan documents"),))] == 1
    assert metrics[("monitor_rule_matches_24h", (("rule", "Iron Dome"),))] == 0
    # Found by a review: an operator could not alert on failing sources or a dead daemon, and
    # the error outcome had no series until the first failure.
    assert metrics[("monitor_polls_total", (("outcome", "error"),))] == 0  # no poll in this process
    assert metrics[("monitor_sources_failing", ())] == 0  # none polled yet
    assert ("monitor_last_poll_end_timestamp_seconds", ()) not in metrics
    scraped = httpx.get(
        served.base + "/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=10,
    )
    assert scraped.headers["content-type"].startswith("application/openmetrics-text")
    assert scraped.text.endswith("# EOF\n")
    assert served.get("/healthz").json() == {
        "archive": "ok",
        "scheduler": "not in this process",
        "last_poll_seconds_ago": None,
    }


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        ("application/openmetrics-text; version=1.0.0", True),
        ("application/openmetrics-text;version=1.0.0;q=0, text/plain;version=0.0.4", False),
        ("application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=1.0.0;q=0.9", False),
        # Prometheus's own, most wanted first: OpenMetrics
        (
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;"
            "version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            True,
        ),
        ("text/plain;q=0.1, application/openmetrics-text;version=1.0.0;q=0.8", True),
        ("application/openmetrics-text;version=1.0.0;q=nonsense", True),  # as if none given
        ("", False),
        # Found by a review: Prometheus's header with its text first, and wildcards, which
        # prometheus_client reads past to OpenMetrics; commas and q=0 in a quoted parameter.
        (
            "text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.3",
            False,
        ),
        ("*/*;q=0.9, application/openmetrics-text;q=0.1", False),
        ("text/*;q=0.9, application/openmetrics-text;q=0.2", False),
        ('application/openmetrics-text;foo="a,b";q=0, text/plain', False),
        ('application/openmetrics-text;foo="a;q=0;b", text/plain;q=0.5', True),
        ("application/openmetrics-text;version=0.0.1", True),  # 1.0.0 answered: Prometheus reads both
        # A version prometheus_client cannot read was a 500; the format answered is wanted.
        ("application/openmetrics-text;version=nonsense", True),
        ("text/plain;version=abc", False),
    ],
)
def test_metrics_are_in_the_format_most_wanted(served: Served, accept: str, openmetrics: bool) -> None:
    """Left from earlier sessions: prometheus_client takes the first format it knows in Accept,
    weights unread: OpenMetrics refused with q=0 was sent all the same (metrics_format.py)."""
    scraped = httpx.get(served.base + "/metrics", headers={"Accept": accept}, timeout=10)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("application/openmetrics-text") is openmetrics
    assert scraped.text.endswith("# EOF\n") is openmetrics


@pytest.mark.parametrize(
    "accept",
    [
        "a/b," + " " * 60_000 + ",c/d",
        "a/b," + "\t" * 60_000 + ";q=0",
        '"' + " ," * 30_000,
        "a/b;q=0.5," * 6_000,
        "," * 60_000,
    ],
)
def test_metrics_read_a_hostile_accept_header_in_one_pass(served: Served, accept: str) -> None:
    """Found before closing: a pattern reading Accept backtracked over runs of white space, 25 s
    for 60,000 spaces (a megabyte of headers is let in: hours)."""
    scraped = httpx.get(served.base + "/metrics", headers={"Accept": accept}, timeout=10)
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")


def test_served_alone_the_last_poll_is_the_daemons_as_the_archive_has_it(tmp_path: Path) -> None:
    """Found by a review: beside a daemon, `monitor serve` said `"last_poll_seconds_ago": null`
    whether the daemon polled or had died, so a probe of it could not tell."""
    archive_with_articles(tmp_path)
    archive = SqlArchive(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:
        archive.sync_sources([("Harbor Daily", "https://x.test/feed")], datetime.now(UTC))
        polled = datetime.now(UTC) - timedelta(seconds=90)
        ok = PollStatus(PollResult.OK, "200")
        archive.record_fetches([("Harbor Daily", FetchOutcome(polled, polled, ok))])
    finally:
        archive.close()
    with serving(monitor_config(tmp_path)) as base:
        health = httpx.get(base + "/healthz").json()
    assert health["scheduler"] == "not in this process"
    assert 90 <= health["last_poll_seconds_ago"] < 150, health


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/articles", {"q": "dome", "since": "1000000d"}),
        ("/api/v1/articles", {"q": "dome", "until": "9999-12-31T23:59:59-10:00"}),
        ("/api/v1/articles", {"q": "dome", "since": "0999-01-01"}),
        ("/", {"q": "dome", "since": "1000000d"}),
        ("/api/v1/stats/mentions", {"since": "0001-01-01"}),
        ("/api/v1/stats/mentions", {"since": "1000-01-01"}),  # 365,000 days: too many points
        ("/api/v1/stats/mentions", {"until": "9999-12-31"}),
    ],
)
def test_dates_out_of_reach_are_refused_not_failed(served: Served, path: str, params: dict[str, str]) -> None:
    """Found by a review: each gave a 500 (an overflow) or, for years before 1000, a wrong answer
    (SQLite compares dates as text); a far-past since made 122 MB of points for 20 s."""
    response = served.get(path, **params)
    assert response.status_code == 400, response.text[:300]


def test_a_source_field_no_source_has_is_said_on_the_page_and_a_right_one_finds(served: Served) -> None:
    refused = served.get("/", q="dome source:Harbr")
    assert refused.status_code == 400 and "source:Harbr: no source&#39;s name holds it" in refused.text
    found = served.get("/api/v1/articles", q="dome source:harbor").json()["articles"]
    assert found and {article["source"] for article in found} == {"Harbor Daily"}


def test_a_csp_report_larger_than_a_report_is_refused_unread(served: Served) -> None:
    response = httpx.post(served.base + "/csp-report", content=b"x" * (64 * 1024), timeout=10)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "localhost.attacker.example",
        # Names that begin like a loopback address (found by a review: each read the archive
        # and could post a retry, as 127.0.0.1.attacker.example resolved to 127.0.0.1 would).
        "127.0.0.1.attacker.example:8080",
        "127.0.0.1-rebind.attacker.example",
        "127.0.0.1evil.example",
        "127.0.0.1:80@attacker.example",
        "[::1].attacker.example",
        "",
        "localhost:99999",  # no such port: a second review
        "localhost..",
        "127.0.0.1.",  # a name, not an address: resolved as any other
    ],
)
def test_another_host_name_is_refused_on_loopback(served: Served, host: str) -> None:
    """DNS rebinding: a page of another site, its name resolved to 127.0.0.1, must read nothing."""
    response = httpx.get(served.base + "/api/v1/alerts", headers={"Host": host}, timeout=10)
    assert response.status_code == 421 and "content-security-policy" in response.headers
    # JSON as every refusal of the API, naming the way to another name (a review, behind a proxy).
    assert "to reach it by another name (a proxy's), give serve.tokens" in response.json()["error"]


def test_two_host_headers_are_refused(served: Served) -> None:
    """Found by a second review: with `Host: localhost` then `Host: evil.example` the first was
    read; no browser sends two, and RFC 9112 wants such a request refused."""
    address, port = served.base.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /api/v1/alerts HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n")
        answer = connection.recv(1 << 16)
    assert answer.startswith(b"HTTP/1.1 421 "), answer[:200]


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:{port}", "localhost.:{port}", "127.0.0.1:{port}", "127.1.2.3", "[::1]:{port}"],
)
def test_loopback_names_are_answered(served: Served, host: str) -> None:
    port = served.base.rsplit(":", 1)[1]
    response = httpx.get(served.base + "/healthz", headers={"Host": host.format(port=port)}, timeout=10)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/sources", "/feeds/rules/Iron%20Dome.atom", "/"])
def test_head_answers_as_get_without_the_body(served: Served, path: str) -> None:
    got = httpx.get(served.base + path, timeout=10)
    head = httpx.head(served.base + path, timeout=10)
    assert head.status_code == got.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


def test_a_method_not_allowed_names_head_with_get(served: Served) -> None:
    for path in ("/api/v1/articles", "/"):
        refused = httpx.delete(served.base + path, timeout=10)
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD", path
    retry = httpx.get(served.base + "/alerts/retry", timeout=10)  # a form's POST alone
    assert retry.status_code == 405 and retry.headers["allow"] == "POST"


def test_a_search_past_the_time_limit_is_stopped_and_said(tmp_path: Path) -> None:
    archive_with_articles(tmp_path)
    archive = SqlArchive(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:  # enough stories titled Iron Dome that `NOT title:iron` reads for longer than the limit (the
        # matcher verifies each, few pass: on SQLite the index answers `NOT iron` alone); marked as
        # the rule's matches (as if it had changed since), so that its search reads them all too
        # (with none its search of the rule's hits took 0.8-0.9 ms, the limit 1 ms: flaky)
        marked = (Hit("Everything but budgets", "", "text", 0, 0, ""),)
        more = [make_article(f"m{n:04d}", text="Budget talks went on.", hits=marked) for n in range(3000)]
        archive.store_new(more, [])
    finally:
        archive.close()
    port = free_port()
    slow_rule = {"name": "Everything but budgets", "query": "NOT title:iron"}
    config = monitor_config(
        tmp_path, watch=[slow_rule], serve={"listen": f"127.0.0.1:{port}", "search_timeout": "1ms"}
    )
    process = start_serving(config, "serve")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        stopped = httpx.get(base + "/api/v1/articles", params={"q": "NOT title:iron"})
        assert stopped.status_code == 503
        assert "ran longer than 0.001 s and was stopped: narrow it" in stopped.json()["error"]
        assert "retry-after" not in stopped.headers  # asked again, it would be stopped again
        page = httpx.get(base + "/", params={"q": "NOT title:iron"})
        assert page.status_code == 503 and "ran longer than 0.001 s and was stopped" in page.text
        # A rule's page searches its matches under the same limit; its feeds read the matches
        # stored as they came, no search: they answer whatever the rule's query.
        feed = httpx.get(base + "/feeds/rules/Everything but budgets.atom")
        assert feed.status_code == 200 and feed.text.count("<entry ") + feed.text.count("<entry>") == 50
        rule_page = httpx.get(base + "/rules/Everything but budgets")
        assert rule_page.status_code == 200 and "ran longer than 0.001 s" in rule_page.text
        assert "asks too much of the archive: narrow its query" in rule_page.text
        assert "Mentions per day" in rule_page.text and "No article has matched" not in rule_page.text
        # The server reads on: other routes answer.
        assert httpx.get(base + "/healthz").status_code == 200
        assert httpx.get(base + "/api/v1/articles/dome").status_code == 200
    finally:
        stop(process)


def test_health_says_when_the_postgresql_archive_stops_answering(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    port = free_port()
    storage = f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"
    config = monitor_config(tmp_path, storage=storage, serve={"listen": f"127.0.0.1:{port}"})
    process = start_serving(config, "serve")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        assert httpx.get(base + "/healthz").json()["archive"] == "ok"
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP TABLE "{postgres_schema}".articles CASCADE')
        health = httpx.get(base + "/healthz", timeout=10)
        assert health.status_code == 503
        assert "reaching the archive" in health.json()["archive"]
        assert "articles" in health.json()["archive"]
    finally:
        stop(process)


_WITH_NUL = [
    "/api/v1/articles?lang=%00",
    "/api/v1/articles?q=dome%00",
    "/api/v1/articles/a%00b",
    "/?lang=%00",
    "/articles/%00",
    "/feeds/rules/Iron%00Dome.atom",
]


def test_a_nul_character_is_refused_as_asked_not_failed_by_postgresql(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    """Found by a review: on PostgreSQL, which refuses NUL in text, each of these answered 503
    "cannot read the archive" (a server fault, to retry); SQLite answered 200 or 404."""
    archive = PostgresArchive(postgres_url, schema=postgres_schema)
    try:  # a failed alert, for the alerts page to offer its retry form
        article = make_article("dome")
        alert = OutboxRow("desk", "webhook:x", article.story, article.id, ("Iron Dome",))
        archive.store_new([article], [alert])
        archive.outbox.mark_alerts_failed({alert.id: None}, "HTTP 500", datetime.now(UTC))
    finally:
        archive.close()
    port = free_port()
    storage = f"{postgres_url}?options=-csearch_path%3D{postgres_schema}"
    config = monitor_config(tmp_path, storage=storage, serve={"listen": f"127.0.0.1:{port}"})
    process = start_serving(config, "serve")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        for path in _WITH_NUL:
            response = httpx.get(base + path, timeout=10)
            assert response.status_code == 400 and "NUL" in response.text, (path, response.text)
            if path.startswith("/api/"):
                assert "NUL character" in response.json()["error"]
        [csrf] = re.findall(r'name="csrf" value="([^"]+)"', httpx.get(base + "/alerts", timeout=10).text)
        retried = httpx.post(base + "/alerts/retry", data={"csrf": csrf, "id": "a\x00b"}, timeout=10)
        assert retried.status_code == 400 and "NUL" in retried.text, retried.text
    finally:
        stop(process)


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/api/v1/articles?q=%FF", "query"),
        ("/api/v1/articles?q=caf%C3", "query"),  # a character cut in two
        ("/api/v1/articles/%FF", "path"),
        ("/?q=%E5%8F", "query"),
        ("/rules/%C0%AF", "path"),  # an overlong '/'
        ("/feeds/rules/%FF.atom", "path"),
    ],
)
def test_an_address_not_utf8_is_refused_saying_so(served: Served, path: str, where: str) -> None:
    """Found by a review: ?q=%FF was read as U+FFFD and answered "nothing to match in '\ufffd'"."""
    response = httpx.get(served.base + path, timeout=10)
    said = f"the request's {where} is not UTF-8 text"
    assert response.status_code == 400 and said in response.text, response.text
    if path.startswith("/api/"):
        assert response.json()["error"].startswith(said)
    assert httpx.get(served.base + "/api/v1/articles?q=%E5%8F%B0", timeout=10).status_code == 200


def test_a_page_that_cannot_be_shown_is_a_page_saying_why(served: Served) -> None:
    """Found by a review: a missing rule's or article's page, or a mistyped address, answered
    JSON to the browser; a missing rule's page now lists the rules to go on to."""
    rule = served.get("/rules/Nothing")
    assert rule.status_code == 404 and rule.headers["content-type"].startswith("text/html")
    assert "no watch rule &#39;Nothing&#39;" in rule.text and 'href="/rules/Iron%20Dome"' in rule.text
    for path, said in (("/articles/nothing-here", "no article"), ("/no-such-page", "Not Found")):
        response = served.get(path)
        assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
        assert said in response.text and "<h1>Not Found</h1>" in response.text
    assert served.get("/api/v1/nothing").json() == {"error": "Not Found"}  # programs still get JSON
    # A parameter of the wrong type: a page naming it (found by a review: FastAPI's 422 JSON).
    for path, params, said in (
        ("/", {"q": "dome", "matched": "maybe"}, "matched: Input should be a valid boolean"),
        ("/alerts", {"retried": "abc"}, "retried: Input should be a valid integer"),
    ):
        response = served.get(path, **params)
        assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
        assert said in response.text, response.text
    assert served.get("/api/v1/alerts", limit="abc").json()["detail"][0]["loc"] == ["query", "limit"]


def test_every_route_refuses_a_parameter_of_one_value_given_twice(served: Served) -> None:
    answer = httpx.get(
        served.base + "/api/v1/stats/mentions",
        params=httpx.QueryParams((("interval", "day"), ("interval", "week"))),
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json() == {"error": "interval is given 2 times: give it once"}
    rules = httpx.QueryParams((("rule", "Iron Dome"), ("rule", "Japan documents")))
    assert httpx.get(served.base + "/api/v1/stats/mentions", params=rules, timeout=10).status_code == 200
    page = httpx.get(served.base + "/", params=httpx.QueryParams((("q", "a"), ("q", "b"))), timeout=10)
    assert page.status_code == 400 and "q is given 2 times: give it once" in page.text
    assert page.headers["content-type"].startswith("text/html")
    # The page's form shows one source: two were searched as the last alone (a review found it).
    sources = httpx.QueryParams((("q", "dome"), ("source", "Harbor Daily"), ("source", "Coast Wire")))
    page = httpx.get(served.base + "/", params=sources, timeout=10)
    assert page.status_code == 400 and "the page takes one; the API, /api/v1/articles, several" in page.text
    tokens = httpx.QueryParams((("token", "a"), ("token", "b")))
    assert httpx.get(served.base + "/api/v1/rules", params=tokens, timeout=10).status_code == 400


@pytest.mark.parametrize(
    ("path", "params", "said"),
    [
        ("/api/v1/stats/mentions", {"rule": "Iron Dome", "intervall": "week"}, "parameter 'intervall'"),
        ("/api/v1/alerts", {"limt": "1"}, "unknown parameter 'limt': /api/v1/alerts takes cursor, limit"),
        ("/api/v1/rules", {"x": "1"}, "/api/v1/rules takes none"),
    ],
)
def test_every_route_refuses_a_parameter_it_does_not_take(
    served: Served, path: str, params: dict[str, str], said: str
) -> None:
    """Found by a review in session 24: ?limt=1 answered every alert, ?intervall=week by day."""
    answer = served.get(path, **params)
    assert answer.status_code == 400 and said in answer.json()["error"]
    known = {key: value for key, value in params.items() if key == "rule"}
    assert served.get(path, **known).status_code == 200


def test_serving_an_archive_not_there_is_refused_and_makes_none(tmp_path: Path) -> None:
    """Found by a review: serving a path no daemon writes (a mistyped storage.url) made an empty
    archive there and answered every search with nothing, /healthz with "ok"."""
    config = monitor_config(tmp_path, storage="sqlite:///nodir/monitr.db")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "-c", str(config), "serve", "--listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no archive at " in done.stderr and "nothing to serve; start the daemon first" in done.stderr
    assert not (tmp_path / "nodir").exists()


def test_the_alerts_page_counts_every_alert_and_reaches_old_failed_ones(tmp_path: Path) -> None:
    """Found by a review: the page counted only the newest 500 alerts and showed no others, so
    older failed alerts had no Retry button anywhere."""
    archive = SqlArchive(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:

        def stored(keys: range) -> list[OutboxRow]:
            rows = [OutboxRow("desk", "webhook:x", f"s{key}", f"a{key}", ("Iron Dome",)) for key in keys]
            fetched = [NOW + timedelta(minutes=key) for key in keys]  # an alert's creation
            articles = [
                make_article(f"a{key}", story=f"s{key}", fetched=at)
                for key, at in zip(keys, fetched, strict=True)
            ]
            archive.store_new(articles, rows)
            return rows

        old = stored(range(3))
        archive.outbox.mark_alerts_failed({row.id: None for row in old}, "HTTP 500", datetime.now(UTC))
        stored(range(3, 520))
    finally:
        archive.close()
    with serving(monitor_config(tmp_path)) as base:
        page = httpx.get(base + "/alerts").text
        assert "517 pending" in page and '<a href="/alerts?state=failed">3 failed</a>' in page
        assert "The newest 500 of 520 alerts." in page, page[:3000]
        assert 'name="csrf"' not in page
        failed = httpx.get(base + "/alerts", params={"state": "failed"}).text
        assert failed.count('action="/alerts/retry"') == 3 and "<strong>3 failed</strong>" in failed
        assert "The newest" not in failed
        api = httpx.get(base + "/api/v1/alerts", params={"state": "failed"}).json()
        assert sorted(alert["id"] for alert in api) == sorted(row.id for row in old)
        # A retry from the failed ones' page goes back to it (a review: it went to them all).
        [csrf] = set(re.findall(r'name="csrf" value="([^"]+)"', failed))
        form = {"csrf": csrf, "state": "failed", "id": old[0].id}
        retried = httpx.post(base + "/alerts/retry", data=form)
        assert retried.status_code == 303 and retried.headers["location"] == "/alerts?state=failed&retried=1"
        assert "No held alerts." in httpx.get(base + "/alerts", params={"state": "held"}).text
        wrong = httpx.get(base + "/alerts", params={"state": "lost"})
        assert wrong.status_code == 400 and "state: Input should be" in wrong.text


def test_a_retry_that_queued_nothing_says_why(served: Served) -> None:
    """Found by a review: a retry of a sent alert (a double submit) came back to the page
    without a word."""
    page = served.get("/alerts", retried="0")
    assert page.status_code == 200
    assert "Nothing queued again: the alert was sent already or held until its digest" in page.text
    assert "queued again" not in served.get("/alerts").text


def test_the_search_page_asked_nothing_shows_the_latest_matches(served: Served) -> None:
    """Found by a review: the first page was an empty search box until one searched."""
    page = served.get("/")
    assert page.status_code == 200 and "<h2>Latest matches</h2>" in page.text
    latest = page.text.split("<h2>Latest matches</h2>", 1)[1]
    assert "Iron Dome visit" in latest and "台灣之盾 計畫" in latest  # matched
    assert "Budget talks" not in latest and "Stadium dome" not in latest  # matched no rule
    assert latest.count("Iron Dome visit") == 1  # the story once, its copy under it
    assert "Latest matches" not in served.get("/", q="budget").text  # a search shows its results
