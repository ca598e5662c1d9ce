"""Peak memory of `monitor once` over a farm of hostile servers.

Each shape of hostile answer is served to COPIES sources on loopback addresses of their own (so
the per-host bound does not serialize them): compression bombs, an entity bomb, a feed of
100,000 items, endless bodies, a feed whose one item is 9 MiB of text, a listing page of
100,000 links, a 50,000-URL sitemap, feeds whose items link to 9 MiB article pages, and
feeds of 48 items of 200 KB each. The
peak is the kernel's high-water mark (VmHWM) of the `monitor once` process, read from /proc
while it runs; the target assumes the default caps (10 MiB per decoded body).

    python -m bench.hostile [--copies 6] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from bench.report import environment, write_section
from tests.raw_server import NOT_FOUND, RawServer, send

TARGET_MB = 300
MIB = 1024 * 1024
Answer = Callable[[socket.socket, str], None]  # (connection, the request's Host header)


def _whole(content_type: str, body: bytes, encoding: str = "") -> Answer:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    if encoding:
        head += f"Content-Encoding: {encoding}\r\n"
    raw = head.encode() + b"\r\n" + body
    return lambda connection, _host: send(connection, raw)


def _endless(connection: socket.socket, _host: str) -> None:
    send(connection, b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
    send(connection, b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"<item><title>" + b"x" * 65536 + b"</title></item>"
    with contextlib.suppress(OSError):
        while True:
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def _words(size: int) -> bytes:
    unit = b"iron dome radar battery coast interceptor launcher crews budget "
    return unit * (size // len(unit))


def _feed(items: bytes) -> bytes:
    head = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    return head + items + b"</channel></rss>"


def _entity_bomb() -> bytes:
    laughs = b"".join(
        b'<!ENTITY l%d "%s">' % (level, (b"&l%d;" % (level - 1)) * 10 if level else b"lol")
        for level in range(10)
    )
    body = b"<rss><channel><item><title>&l9;</title></item></channel></rss>"
    return b'<?xml version="1.0"?><!DOCTYPE rss [' + laughs + b"]>" + body


def _linking_feed(connection: socket.socket, host: str) -> None:
    items = b"".join(
        b"<item><title>Page %d</title><link>http://%s/page/%d</link>" % (n, host.encode(), n)
        + b"<description>Iron Dome.</description></item>"
        for n in range(8)
    )
    _whole("application/rss+xml", _feed(items))(connection, host)


def _fat_items_feed(words: bytes) -> Answer:
    """48 items of 200 KB each, linking to a closed port: each item is new and kept."""

    def answer(connection: socket.socket, host: str) -> None:
        item = b"<item><title>Item %d</title><link>http://127.0.0.1:1/%s/%d</link><description>"
        items = b"".join(item % (n, host.encode(), n) + words + b"</description></item>" for n in range(48))
        _whole("application/rss+xml", _feed(items))(connection, host)

    return answer


def shapes() -> dict[str, tuple[str, Answer]]:
    """Shape name -> (source kind, answer), bodies built once; "page" is no source's own: the
    article page the linking feeds point at."""
    gzip_bomb = gzip.compress(_feed(b"<item><title>x</title><description>" + b"a" * (400 * MIB)), 9)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflate_bomb = deflater.compress(b"<rss>" + b"\0" * (400 * MIB)) + deflater.flush()
    # Links to a closed port: each of the items kept is refused at once, not fetched.
    item = b"<item><title>t%d</title><link>http://127.0.0.1:1/%d</link></item>"
    many_items = _feed(b"".join(item % (n, n) for n in range(100_000)))
    description = b"<description>" + _words(9 * MIB) + b"</description>"
    huge_item = _feed(b"<item><title>big</title><link>http://x.test/big</link>" + description + b"</item>")
    links = b"".join(b'<a href="/news/2026/12/%d-story">Story %d</a> ' % (n, n) for n in range(100_000))
    urls = b"".join(b"<url><loc>http://HOST/a/%d</loc></url>" % n for n in range(50_000))
    sitemap = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    sitemap += urls + b"</urlset>"

    def sitemap_answer(connection: socket.socket, host: str) -> None:
        # Its URLs point at a closed port of the same address: refused at once, not fetched.
        address = host.rsplit(":", 1)[0].encode()
        _whole("application/xml", sitemap.replace(b"HOST", address + b":1"))(connection, host)

    feed = "application/rss+xml"
    return {
        "gzip bomb (400 MiB in 0.4 MiB)": ("feed", _whole(feed, gzip_bomb, "gzip")),
        "deflate bomb": ("feed", _whole(feed, deflate_bomb, "deflate")),
        "entity bomb (billion laughs)": ("feed", _whole(feed, _entity_bomb())),
        "100,000-item feed": ("feed", _whole(feed, many_items)),
        "endless body": ("feed", _endless),
        "one 9 MiB item": ("feed", _whole(feed, huge_item)),
        "5 MB listing, 100,000 links": (
            "html",
            _whole("text/html", b"<html><body>" + links + b"</body></html>"),
        ),
        "50,000-URL sitemap": ("sitemap", sitemap_answer),
        "items linking to 9 MiB pages": ("feed", _linking_feed),
        "48 items of 200 KB": ("feed", _fat_items_feed(_words(200_000))),
        "page": (
            "page",
            _whole("text/html", b"<html><body><article><p>" + _words(9 * MIB) + b"</p></article>"),
        ),
    }


class HostileFarm:
    """One listening socket on every loopback address; the first path segment names the shape,
    `/page/...` is the article page, anything else a 404."""

    def __init__(self, answers: dict[str, Answer], port: int) -> None:
        self.answers = answers
        self.server = RawServer(self._answer, host="", port=port, timeout=30)
        self.port = self.server.port

    def close(self) -> None:
        self.server.close()

    def _answer(self, connection: socket.socket, path: str, host: str) -> None:
        answer = self.answers.get(path.strip("/").split("/", 1)[0])
        if answer is None:
            send(connection, NOT_FOUND)
        else:
            answer(connection, host)


@contextlib.contextmanager
def running(port: int = 0) -> Iterator[tuple[HostileFarm, dict[str, tuple[str, str]]]]:
    """The farm, and each source shape's path key and kind (name -> (key, kind))."""
    built = shapes()
    keys = {
        name: "page" if kind == "page" else f"s{index}"
        for index, (name, (kind, _)) in enumerate(built.items())
    }
    farm = HostileFarm({keys[name]: answer for name, (_, answer) in built.items()}, port)
    try:
        yield farm, {name: (keys[name], kind) for name, (kind, _) in built.items() if kind != "page"}
    finally:
        farm.close()


def config(
    farm: HostileFarm, shapes: dict[str, tuple[str, str]], copies: int, folder: Path
) -> dict[str, object]:
    sources = []
    every_copy = [(name, key, kind) for name, (key, kind) in shapes.items() for _ in range(copies)]
    for number, (name, key, kind) in enumerate(every_copy):
        host = f"127.0.{number // 250 + 1}.{number % 250 + 2}"
        sources.append(
            {
                "name": f"{name} #{number}",
                "url": f"http://{host}:{farm.port}/{key}/feed",
                "kind": kind,
                "allow_private": True,
                "robots": False,
            }
        )
    return {
        "storage": {"url": f"sqlite:///{folder / 'monitor.db'}"},
        "fetch": {"timeout": "20s", "host_gap": "0s"},
        "sources": sources,
        "watch": [{"name": "Iron Dome", "terms": ["Iron Dome"]}],
    }


def _high_water_mb(pid: int) -> int:
    """The process's peak RSS so far (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def measure(copies: int, only: str | None = None) -> tuple[int, float, int, str]:
    """Peak RSS of `monitor once` in MB, its seconds, the sources, and its summary line; `only`
    keeps one shape.

    The peak is read from /proc while the process runs: getrusage of a child would count the
    pages it shared, before its exec, with this process, which holds the farm's bodies."""
    with running() as (farm, shapes), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        chosen = {name: shape for name, shape in shapes.items() if only in (None, name)}
        data = config(farm, chosen, copies, folder)
        (folder / "monitor.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        started = time.perf_counter()
        once = subprocess.Popen(
            [sys.executable, "-m", "monitor", "-c", str(folder / "monitor.yaml"), "once"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        peak = 0
        while once.poll() is None:
            peak = max(peak, _high_water_mb(once.pid))
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        assert once.stdout is not None
        summary = (once.stdout.read().strip().splitlines() or [f"exit {once.returncode}"])[0]
        return peak, elapsed, len(data["sources"]), summary  # type: ignore[arg-type]


def _slow(body: bytes, seconds: float) -> Answer:
    """The whole body, sent in 64 KiB pieces spread over `seconds`."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {len(body)}\r\n\r\n"

    def answer(connection: socket.socket, _host: str) -> None:
        send(connection, head.encode())
        pieces = [body[start : start + 65536] for start in range(0, len(body), 65536)]
        for piece in pieces:
            send(connection, piece)
            time.sleep(seconds / len(pieces))

    return answer


def measure_starvation(slow: int, small: int) -> tuple[float, float, float]:
    """`slow` feeds of 1.1 MiB, each trickled over 10 s, and `small` ordinary feeds: the seconds
    of `monitor once`, and when the first and the last small feed were served."""
    item = b"<item><title>Iron Dome %d</title><link>http://127.0.0.1:1/%d</link></item>"
    large = _feed(
        b"<item><title>big</title><description>" + _words(int(1.1 * MIB)) + b"</description></item>"
    )
    served: list[float] = []
    small_body = _whole("application/rss+xml", _feed(b"".join(item % (n, n) for n in range(20))))

    def small_answer(connection: socket.socket, host: str) -> None:
        served.append(time.perf_counter())
        small_body(connection, host)

    farm = HostileFarm({"slow": _slow(large, 10.0), "small": small_answer}, 0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            data = config(farm, {"slow": ("slow", "feed")}, slow, folder)
            for number in range(small):
                url = f"http://127.0.9.{number + 2}:{farm.port}/small/feed"
                data["sources"].append(  # type: ignore[attr-defined]
                    {"name": f"small #{number}", "url": url, "allow_private": True, "robots": False}
                )
            data["fetch"] = {"timeout": "30s", "host_gap": "0s"}
            (folder / "monitor.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "monitor", "-c", str(folder / "monitor.yaml"), "once"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            elapsed = time.perf_counter() - started
    finally:
        farm.close()
    first, last = (min(served) - started, max(served) - started) if served else (elapsed, elapsed)
    return elapsed, first, last


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--only", help="one shape, by its name")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    peak, seconds, sources, summary = measure(args.copies, args.only)
    names = [name for name, (kind, _) in shapes().items() if kind != "page"]
    body = "\n".join(
        [
            f"`monitor once` over {sources} hostile sources ({args.copies} of each shape, each on a",
            f"loopback address of its own): {', '.join(names)}.",
            "",
            "| peak RSS | target | ours / target | seconds | the pass said |",
            "| ---: | ---: | ---: | ---: | --- |",
            f"| {peak} MB | {TARGET_MB} MB | {peak / TARGET_MB:.0%} | {seconds:.0f} | {summary} |",
        ]
    )
    slow_count, small_count = 18, 20
    elapsed, first, last = measure_starvation(slow_count, small_count)
    body += "\n".join(
        [
            "",
            "",
            f"Large bodies do not starve small feeds: {slow_count} feeds of 1.1 MiB, each trickled over",
            f"10 s, and {small_count} small feeds (each on a loopback address of its own).",
            "",
            "| pass seconds | first small feed served at | last small feed served at |",
            "| ---: | ---: | ---: |",
            f"| {elapsed:.0f} s | {first:.1f} s | {last:.1f} s |",
        ]
    )
    print(body)
    if not args.no_write:
        title = "Memory under hostile input (bench/hostile.py)"
        write_section(title, environment("bench.hostile", []) + "\n" + body)


if __name__ == "__main__":
    main()
