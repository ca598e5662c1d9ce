"""Which entries of a feed are articles of their own: entries at one page (a live blog's posts,
a blog's archive page, a podcast's items all linking to its home page) and a briefing that
comes back every day under one title are each stored; an entry read again is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.configs import LOOPBACK_FETCH, monitor_config
from tests.conftest import Cli
from tests.fixtures import rss
from tests.servers import Route, Site, WebhookReceiver

RULES = [{"name": "Iron Dome", "terms": ["Iron Dome"]}]


def _config(tmp_path: Path, site: Site, webhook: WebhookReceiver, full_text: str = "auto") -> Path:
    return monitor_config(
        tmp_path,
        watch=RULES,
        fetch=LOOPBACK_FETCH,
        defaults={"full_text": full_text},
        sources=[{"name": "Live Desk", "url": site.url("/feed.xml")}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )


def _page(*stories: str) -> str:
    """An article page of several paragraphs, each of its stories told at some length."""
    paragraphs = "".join(
        f"<p>{story}, said a statement. It came after {len(story)} days of talks about {story.lower()}; "
        f"more on {story.split()[-1]} is to follow, said those who spoke of {story.split()[0]}.</p>"
        for story in stories
    )
    return f"<html><head><title>Briefing</title></head><body><article>{paragraphs}</article></body></html>"


def _html(page: str) -> Route:
    return Route(page.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


def _found(cli: Cli, config: Path, query: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cli.json(
        "-c", str(config), "search", query, "--format", "json", "--limit", "100"
    )
    return found


def test_a_live_blogs_posts_at_one_page_are_each_an_article(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    """Found by a review: the posts of /live.html#u1, #u2 were one article, the first in the
    feed; the Iron Dome post was never stored, matched or alerted."""
    config = _config(tmp_path, site, webhook)
    site.routes["/live.html"] = _html(_page("Rain in the north tonight", "The Iron Dome intercepted rockets"))

    def serve(*posts: int) -> None:
        texts = {
            1: "Weather update: rain in the north this evening.",
            2: "The Iron Dome intercepted two rockets over the coast.",
            3: "Iron Dome batteries were moved north overnight.",
        }
        items = [
            {
                "title": f"Update {n}",
                "link": site.url(f"/live.html#u{n}"),
                "guid": f"live-u{n}",
                "description": texts[n],
            }
            for n in posts
        ]
        site.routes["/feed.xml"] = Route(rss(items))

    serve(1, 2)
    code, out, err = cli("-c", str(config), "once")
    assert code == 0 and "2 entries, 2 new articles" in out, out + err
    serve(3, 2, 1)
    assert "3 entries, 1 new article" in cli("-c", str(config), "once")[1]
    found = _found(cli, config, '"Iron Dome"')
    assert sorted(article["url"] for article in found) == [
        site.url("/live.html#u2"),
        site.url("/live.html#u3"),
    ]
    assert len(webhook.deliveries) == 2
    # The page holds every post: read as any one post's text, each would match what another says.
    assert site.hits("/live.html") == 0
    assert not _found(cli, config, "rockets weather")


def test_items_that_all_link_to_the_home_page_are_told_apart_by_their_guids(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    config = _config(tmp_path, site, webhook)
    items = [
        {"title": "Markets", "link": site.url("/"), "guid": "ep-1", "description": "Stocks fell on Monday."},
        {
            "title": "Defence",
            "link": site.url("/"),
            "guid": "ep-2",
            "description": "An Iron Dome battery arrived.",
        },
    ]
    site.routes["/feed.xml"] = Route(rss(items))
    assert "2 entries, 2 new articles, 0 updated, 1 matched" in cli("-c", str(config), "once")[1]
    [defence] = _found(cli, config, '"Iron Dome"')
    assert defence["title"] == "Defence" and defence["url"] == site.url("/#ep-2")  # the home page, still
    assert "0 new articles" in cli("-c", str(config), "once")[1]  # read again: nothing new


def test_a_briefing_under_one_title_and_teaser_on_a_new_day_is_a_new_article(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    """Found by a review: an entry whose title and teaser an earlier one had was taken for that
    one (an item whose link and GUID change on every fetch), so every briefing after the first
    was dropped, its page never read."""
    config = _config(tmp_path, site, webhook)
    teaser = "Our daily roundup of the news."
    site.routes["/brief/1.html"] = _html(_page("Rain is due in the north", "Markets opened higher"))
    site.routes["/brief/2.html"] = _html(_page("An Iron Dome battery moved north", "Schools reopen"))

    def brief(n: int, day: int) -> dict[str, str]:
        date = f"Tue, {day:02d} Jan 2026 06:00:00 GMT"
        link = site.url(f"/brief/{n}.html")
        return {
            "title": "Morning briefing",
            "link": link,
            "guid": f"b{n}",
            "date": date,
            "description": teaser,
        }

    site.routes["/feed.xml"] = Route(rss([brief(1, 6)]))
    assert "1 new article" in cli("-c", str(config), "once")[1]
    site.routes["/feed.xml"] = Route(rss([brief(2, 7), brief(1, 6)]))
    assert "2 entries, 1 new article, 0 updated, 1 matched" in cli("-c", str(config), "once")[1]
    assert [article["url"] for article in _found(cli, config, '"Iron Dome"')] == [site.url("/brief/2.html")]
    assert site.hits("/brief/2.html") == 1
