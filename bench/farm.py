"""A feed farm: one asyncio process serving N generated feeds over many loopback addresses.

Feed j lives on host 127.1.(h // 250).(h % 250 + 1), h = j % hosts, at /feed/j.xml: RSS 2.0
with 20-100 items (titles and bodies in English, Chinese, Japanese, Hebrew and Russian; full
content in content:encoded; each item its own story, but for a share of wire copies carried
by many feeds), an ETag and a Last-Modified, and 304 for a matching
If-None-Match or If-Modified-Since. GET /generation?set=G (on any host) moves every feed to
generation G: each generation adds 5 new items on top (and drops 5 at the bottom). Article
pages are served at /article/j/k.html. HTTP/1.1 keep-alive, no TLS, no compression.

    python -m bench.farm --feeds 2000 --hosts 500 --port 8700     (prints "ready" when serving)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

NEW_PER_GENERATION = 5
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
WORDS = {
    "en": [
        "the",
        "ministry",
        "said",
        "officials",
        "would",
        "review",
        "the",
        "budget",
        "for",
        "air",
        "defence",
        "radar",
        "systems",
        "and",
        "coastal",
        "batteries",
        "after",
        "talks",
        "with",
        "partners",
        "on",
        "procurement",
        "schedules",
        "and",
        "training",
    ],
    "zh": list("國防部表示將審查防空雷達系統與海岸飛彈部署預算並與夥伴討論採購時程及訓練計畫"),
    "ja": list("防衛省は防空レーダーと沿岸ミサイルの配備予算を見直し調達計画と訓練について協議した"),
    "he": [
        "משרד",
        "הביטחון",
        "אמר",
        "כי",
        "יבחן",
        "את",
        "תקציב",
        "מערכות",
        "ההגנה",
        "האווירית",
        "והמכ״מים",
        "לאחר",
        "שיחות",
    ],
    "ru": [
        "министерство",
        "заявило",
        "что",
        "рассмотрит",
        "бюджет",
        "противовоздушной",
        "обороны",
        "и",
        "радаров",
    ],
}
SENTENCES = 2000  # per language; an item draws 18 of them
WIRE_SHARE = 0.05  # of items carry the wire story of their number (copies across feeds)
TERMS = ["Iron Dome", "T-Dome", "台灣之盾", "アイアンドーム", "כיפת ברזל", "Железный купол", "laser weapon"]


def host_of(feed: int, hosts: int) -> str:
    index = feed % hosts
    return f"127.1.{index // 250}.{index % 250 + 1}"


def feed_url(feed: int, hosts: int, port: int) -> str:
    return f"http://{host_of(feed, hosts)}:{port}/feed/{feed}.xml"


class Farm:
    def __init__(self, feeds: int, seed: int = 7, items: int = 0) -> None:
        rng = random.Random(seed)
        self.generation = 0
        self.sizes = [items or rng.randint(20, 100) for _ in range(feeds)]
        self.languages = [rng.choice(list(WORDS)) for _ in range(feeds)]
        self.sentences = {
            language: [self._sentence(rng, language) for _ in range(SENTENCES)] for language in WORDS
        }
        self.cache: dict[tuple[int, int], bytes] = {}

    @staticmethod
    def _sentence(rng: random.Random, language: str) -> str:
        picked = [rng.choice(WORDS[language]) for _ in range(rng.randint(10, 18))]
        if rng.random() < 0.15:
            picked.insert(rng.randrange(len(picked)), rng.choice(TERMS))
        return "".join(picked) + "。" if language in ("zh", "ja") else " ".join(picked) + "."

    def _body(self, feed: int, number: int) -> str:
        """Three paragraphs of six sentences drawn for this item (a wire story's for the item's
        number, in WIRE_SHARE of items): distinct items are distinct stories, as in real news."""
        language = self.languages[feed]
        rng = random.Random(feed * 1_000_003 + number)
        if rng.random() < WIRE_SHARE:
            rng = random.Random(-1 - number)
        joiner = "" if language in ("zh", "ja") else " "
        pool = self.sentences[language]
        return " ".join(joiner.join(rng.sample(pool, 6)) for _ in range(3))

    def item(self, feed: int, number: int) -> str:
        body = self._body(feed, number)
        stamp = format_datetime(EPOCH + timedelta(minutes=number), usegmt=True)
        title = f"{body[:60]} #{feed}-{number}"
        return (
            f"<item><title>{title}</title><link>/article/{feed}/{number}.html</link>"
            f'<guid isPermaLink="false">farm-{feed}-{number}</guid><pubDate>{stamp}</pubDate>'
            f"<description>{body[:200]}</description>"
            f"<content:encoded><![CDATA[<p>{body}</p>]]></content:encoded></item>"
        )

    def feed(self, feed: int) -> bytes:
        key = (feed, self.generation)
        cached = self.cache.get(key)
        if cached is None:
            size, newest = self.sizes[feed], self.sizes[feed] + NEW_PER_GENERATION * self.generation
            items = "".join(self.item(feed, number) for number in range(newest - 1, newest - size - 1, -1))
            cached = self.cache[key] = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
                f"<title>Farm feed {feed}</title><link>/</link><language>{self.languages[feed]}</language>"
                f"<description>generated</description>{items}</channel></rss>"
            ).encode()
        return cached

    def validators(self, feed: int) -> tuple[str, str]:
        changed = EPOCH + timedelta(hours=self.generation)
        return f'"{feed}-{self.generation}"', format_datetime(changed, usegmt=True)

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/generation?set="):
            self.generation = int(path.rsplit("=", 1)[1])
            self.cache.clear()
            return 200, {"Content-Type": "text/plain"}, str(self.generation).encode()
        if path.startswith("/feed/") and path.endswith(".xml"):
            feed = int(path[6:-4])
            if not 0 <= feed < len(self.sizes):
                return 404, {}, b"no such feed"
            etag, modified = self.validators(feed)
            common = {"ETag": etag, "Last-Modified": modified, "Content-Type": "application/rss+xml"}
            if headers.get("if-none-match") == etag or headers.get("if-modified-since") == modified:
                return 304, {"ETag": etag, "Last-Modified": modified}, b""
            return 200, common, self.feed(feed)
        if path.startswith("/article/"):
            feed, number = (int(part) for part in path[9:-5].split("/"))
            text = self.item(feed, number)
            return (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                f"<html><body><article>{text}</article></body></html>".encode(),
            )
        return 404, {}, b"not found"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                status, extra, body = self.answer(path, headers)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                out = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
                out += [f"{name}: {value}" for name, value in extra.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def main_async(feeds: int, hosts: int, port: int, items: int) -> None:
    farm = Farm(feeds, items=items)
    servers = [
        await asyncio.start_server(farm.serve, host_of(index, hosts), port, backlog=1024)
        for index in range(min(hosts, feeds))
    ]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--items", type=int, default=0, help="items per feed (default: 20-100)")
    args = parser.parse_args()
    try:
        asyncio.run(main_async(args.feeds, args.hosts, args.port, args.items))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
