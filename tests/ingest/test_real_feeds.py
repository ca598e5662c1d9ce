"""Every feed of the real-world corpus in ../shared/bench/feeds goes through our adapter: no
exception, at least as many entries as feedparser alone reports (MANIFEST.json), and text in
its true encoding. Skipped when the corpus is absent."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import charsets
from monitor.errors import ParseError
from monitor.ingest.parse.feeds import parse_feed

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "bench" / "feeds"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
# The script a folder's feeds are written in (the folder names the true encoding).
SCRIPTS = {
    "Big5": r"[\u4e00-\u9fff]",
    "GB2312": r"[\u4e00-\u9fff]",
    "EUC-JP": r"[\u3040-\u30ff\u4e00-\u9fff]",
    "SHIFT_JIS": r"[\u3040-\u30ff\u4e00-\u9fff]",
    "CP949": r"[\uac00-\ud7af]",
    "EUC-KR": r"[\uac00-\ud7af]",
    "windows-1255-hebrew": r"[\u05d0-\u05ea]",
    "windows-1251-russian": r"[\u0400-\u04ff]",
    "iso-8859-7-greek": r"[\u0370-\u03ff]",
    "TIS-620": r"[\u0e00-\u0e7f]",
    "iso-8859-2-hungarian": r"[őűŐŰáéí]",
}
# Files the corpus README lists as holding bytes invalid in their declared encoding.
MALFORMED = {"Big5/coolloud.org.tw.xml", "Big5/upsaid.com.xml", "CP949/ricanet.com.xml"}

pytestmark = pytest.mark.skipif(not (CORPUS / "MANIFEST.json").exists(), reason="no feed corpus")


def _manifest() -> list[dict[str, Any]]:
    if not (CORPUS / "MANIFEST.json").exists():
        return []
    files: list[dict[str, Any]] = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    return files


def _parse(path: str) -> list[Any]:
    try:
        return parse_feed((CORPUS / path).read_bytes(), f"https://feeds.test/{path}", {}, NOW).entries
    except ParseError:
        return []


def test_every_feed_parses_with_at_least_feedparsers_entries() -> None:
    files = _manifest()
    short = []
    ours = theirs = 0
    for item in files:
        entries = _parse(item["path"])
        ours += len(entries)
        theirs += item["feedparser_entries"] or 0
        if len(entries) < (item["feedparser_entries"] or 0):
            short.append((item["path"], len(entries), item["feedparser_entries"]))
    assert len(files) == 299 and short == []
    assert ours >= theirs  # measured: 5,352 against feedparser's 5,122 (JSON Feeds included)


def test_json_feeds_of_the_corpus_are_read() -> None:
    json_feeds = {
        item["path"].rsplit("/", 1)[1]: len(_parse(item["path"]))
        for item in _manifest()
        if item["format"] == "jsonfeed"
    }
    # ScriptingNews.json is RSS 2.0 transcribed into JSON ({"rss": {"channel": ...}}), not JSON Feed.
    assert [name for name, count in json_feeds.items() if count == 0] == ["ScriptingNews.json"]
    assert sum(json_feeds.values()) >= 100


@pytest.mark.parametrize("folder", sorted(SCRIPTS))
def test_legacy_encodings_decode_to_their_script(folder: str) -> None:
    script = re.compile(SCRIPTS[folder])
    for path in sorted((CORPUS / "chardet" / folder).glob("*.xml")):
        relative = f"{folder}/{path.name}"
        text = " ".join(f"{e.title} {e.summary} {e.content}" for e in _parse(f"chardet/{relative}"))
        if not text.strip():
            continue
        assert script.search(text), f"{relative}: no {folder} text: {text[:80]!r}"
        if relative not in MALFORMED:
            assert "\ufffd" not in text, f"{relative}: replacement characters"


def test_an_undeclared_latin1_feed_reads_as_western_european() -> None:
    entries = _parse("miniflux/no_encoding_ISO-8859-1.xml")
    titles = " ".join(entry.title for entry in entries)
    assert "criminalité liée surtout à" in titles and "ŕ" not in titles


def test_real_feeds_and_pages_without_their_declarations_read_as_declared() -> None:
    """Encoding detection on the real corpus with every declaration removed (bench.charsets):
    at least 99% of the files with 200 bytes of non-ASCII text read exactly as declared."""
    counted, right, _ = charsets.measure()
    ours = sum(right[next(iter(charsets.DETECTORS))].values())
    assert counted >= 200 and ours / counted >= 0.99, (ours, counted)


def test_an_undeclared_feed_from_a_hinted_domain_reads_in_the_regions_encoding() -> None:
    body = (CORPUS / "chardet" / "iso-8859-2-hungarian" / "auto-apro.hu.xml").read_bytes()
    found = charsets.undeclared(body)
    assert found is not None
    _, stripped = found
    entries = parse_feed(stripped, "https://auto-apro.hu/rss", {}, NOW).entries
    text = " ".join(f"{entry.title} {entry.summary}" for entry in entries)
    assert re.search("[őű]", text) and "õ" not in text
