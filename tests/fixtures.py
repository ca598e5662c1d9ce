"""Feeds and pages written for these tests (no text copied from any outlet)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

PUBLISHED = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)
RFC822 = format_datetime(PUBLISHED)
_PADDING_WORDS = [
    *("described", "technical", "further", "visits", "planned", "spring", "tides", "lanterns"),
    *("procurement", "committees", "meet", "review", "schedules", "engineers"),
    *("harbour", "coastline", "weather", "ministry", "council", "province", "village", "ferry"),
    *("railway", "bridge", "summer", "autumn", "winter", "morning", "evening", "report"),
    *("statement", "interview", "analysts", "region", "cooperation", "exchange", "training"),
]


def filler(item: str) -> str:
    """A hundred words of neutral padding, the item's own: long enough that the feed text stands
    without its page, and unlike any other item's (items sharing a long tail read as copies of
    one story, as a real outlet's would)."""
    rng = random.Random(item)
    return " " + " ".join(rng.choice(_PADDING_WORDS) for _ in range(100)) + "."


def rss(items: list[dict[str, str]], title: str = "Harbor Daily", encoding: str = "utf-8") -> bytes:
    body = "".join(
        f"<item><title>{item['title']}</title><link>{item['link']}</link>"
        f'<guid isPermaLink="false">{item.get("guid", item["link"])}</guid>'
        f"<pubDate>{item.get('date', RFC822)}</pubDate>"
        f"<description>{item.get('description', '')}</description></item>"
        for item in items
    )
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>"
        f"<description>test feed</description>{body}</channel></rss>"
    )
    return text.encode(encoding)


def english_feed(base: str) -> bytes:
    return rss(
        [
            {
                "title": "Delegation studies Iron-Dome battery",
                "link": f"{base}/news/1?utm_source=rss&amp;id=7",
                "guid": "harbor-1",
                "description": "Visitors from Tokyo toured an IRON DOME site near the coast."
                + filler("harbor-1"),
            },
            {
                "title": "Delegation studies Iron-Dome battery (updated link)",
                "link": f"{base}/news/1?id=7&amp;utm_medium=feed&amp;fbclid=abc",
                "guid": "harbor-1-copy",
                "description": "The same report, reached through a tracking link." + filler("harbor-1-copy"),
            },
            {
                "title": "Domestic politics roundup",
                "link": f"{base}/news/2",
                "guid": "harbor-2",
                "description": "Budget hearings on domestic programmes continued." + filler("harbor-2"),
            },
        ]
    )


JA_FILLER = "説明は技術的な内容に限られた。" * 40


def atom_feed(base: str) -> bytes:
    text = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ja">
  <title>関東ワイヤー</title><id>urn:test:kanto</id><updated>2026-01-06T09:30:00Z</updated>
  <entry>
    <title>防衛相、イスラエルの防空網を視察</title>
    <link rel="alternate" href="{base}/ja/100"/>
    <id>urn:test:kanto:100</id><updated>2026-01-06T09:30:00Z</updated>
    <content type="html">&lt;p&gt;代表団はアイアン・ドームの運用状況を確認した。
    {JA_FILLER}&lt;/p&gt;</content>
  </entry>
</feed>"""
    return text.encode("utf-8")


PADDING = filler("plains-5")


def rdf_feed(base: str) -> bytes:
    text = f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="{base}/rdf"><title>Plains Bulletin</title><link>{base}/</link>
    <description>test</description></channel>
  <item rdf:about="{base}/plains/5">
    <title>Koizumi visit focuses on lasers</title><link>{base}/plains/5</link>
    <dc:date>2026-01-06T09:30:00Z</dc:date>
    <description>Japan wants to learn how laser weapons intercept drones, Koizumi said.{PADDING}</description>
  </item>
</rdf:RDF>"""
    return text.encode("utf-8")


def big5_feed(base: str) -> bytes:
    return rss(
        [
            {
                "title": "國防部說明防空計畫",
                "link": f"{base}/tw/8",
                "description": "總統宣布加速打造「台灣之盾」，並參考以色列的鐵穹經驗。"
                + "立法院將審查預算。" * 40,
            }
        ],
        title="福爾摩沙報",
        encoding="big5",
    )


def shift_jis_feed(base: str) -> bytes:
    return rss(
        [
            {
                "title": "安保3文書の改定へ議論",
                "link": f"{base}/jp/9",
                "description": "政府は国家防衛戦略の見直しに着手した。" + "与党内で調整が続く。" * 40,
            }
        ],
        title="東海新報",
        encoding="shift_jis",
    )


def teaser_feed(base: str) -> bytes:
    return rss(
        [
            {
                "title": "Officials meet on air defence",
                "link": f"{base}/articles/shield.html",
                "description": "Officials met on Tuesday to discuss plans…",
            }
        ],
        title="Teaser Times",
    )


def article_page(paragraph: str) -> bytes:
    text = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Officials meet on air defence | Teaser Times</title>
<meta property="article:published_time" content="2026-01-06T08:00:00Z"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Officials meet on air defence</h1>
<p>{paragraph}</p>
<p>Engineers presented a layered design that links radars, interceptors and command posts,
and the ministry said a budget request would follow before the end of the quarter.</p>
<p>Lawmakers from several parties asked how quickly the first batteries could be deployed,
and whether domestic industry would build the launchers under licence.</p></article>
<footer>Copyright Teaser Times</footer></body></html>"""
    return text.encode("utf-8")


SHIELD_PARAGRAPH = (
    "Officials met on Tuesday to discuss plans for the T-Dome, the island's new "
    "multi-layered air defence network, after a visit to Israel."
)
LOGIN_PAGE = b"<!doctype html><html><head><title>Sign in</title></head><body><form>user</form></body></html>"
NOT_A_FEED = b"this is not a feed {{{ <<< at all"


def distinct_text(seed: str, words: int = 60) -> str:
    """Filler unlike any other seed's: stories built on it are not near-duplicates."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ba", "do"]
    return " ".join("".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(words)) + "."


def json_feed(base: str) -> bytes:
    """A JSON Feed 1.1 with the shapes the spec allows: HTML and text content, a relative URL,
    an external URL only, an item without any link, and a non-object item (skipped)."""
    import json

    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Strait Notes",
        "language": "en-US",
        "items": [
            {
                "id": "sn-1",
                "url": "/notes/1",
                "title": "T-Dome budget passes",
                "content_html": "<p>Lawmakers approved the <b>T-Dome</b> air-defence budget.</p>",
                "summary": "Budget approved.",
                "date_published": "2026-01-05T08:00:00+08:00",
            },
            {
                "id": 2,
                "external_url": "https://elsewhere.test/story",
                "content_text": "A plain-text item about 鐵穹.",
                "language": "zh-TW",
            },
            {"id": "sn-3", "title": "No link at all"},
            "not an object",
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
