"""Debugging a miss: `monitor extract` and `monitor test-rule`."""

from __future__ import annotations

import codecs
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from monitor.config.settings import FetchSettings
from monitor.errors import MonitorError, UsageError
from monitor.highlights import marked
from monitor.ingest.fetch.client import Fetcher
from monitor.ingest.pages.extract import PageText, extract_page
from monitor.ingest.parse.charsets import guess
from monitor.ingest.parse.language import article_language
from monitor.models import Hit
from monitor.net.egress import EgressPolicy
from monitor.payloads import iso
from monitor.rules import CompiledRule, MatchInput, parse_query, to_text
from monitor.rules.match import rule_hits
from monitor.runtime import event_loop

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://")


async def _fetch_pages(urls: list[str]) -> list[tuple[bytes, str, str] | MonitorError]:
    settings = FetchSettings()
    fetcher = Fetcher(settings.user_agent, settings.timeout, settings.max_bytes, 4)
    # A URL typed on the command line is the operator's own: it may reach any address.
    trusted = EgressPolicy(allow_private=True)
    try:
        results: list[tuple[bytes, str, str] | MonitorError] = []
        for url in urls:
            try:
                response = await fetcher.get(url, policy=trusted, accept="text/html, */*;q=0.5")
                results.append((response.body, response.url, response.content_type))
            except MonitorError as error:
                results.append(error)
        return results
    finally:
        await fetcher.close()


def _refuse_other_schemes(source: str) -> None:
    scheme = _SCHEME.match(source)
    if scheme and scheme.group(1).lower() not in ("http", "https", "file"):
        raise UsageError(f"{source}: only http(s) URLs and files can be read, not {scheme.group(1)}:")


def _read(source: str) -> tuple[bytes, str, str]:
    """A page from a URL or a file: (body, url, content type)."""
    _refuse_other_schemes(source)
    if source.lower().startswith("file://"):
        source = unquote(urlsplit(source).path)
    if source.startswith(("http://", "https://")):
        fetched = event_loop.run(_fetch_pages([source]))[0]
        if isinstance(fetched, MonitorError):
            raise fetched
        return fetched
    path = Path(source)
    most = FetchSettings().max_bytes  # as a page fetched: /dev/zero must not fill the memory
    try:
        with path.open("rb") as file:
            body = file.read(most + 1)
    except OSError as error:
        raise MonitorError(f"cannot read {source}: {error.strerror or error}") from error
    if len(body) > most:
        raise MonitorError(f"larger than {most:,} bytes, the most a page may be")
    return body, path.resolve().as_uri(), ""


def page_json(source: str, page: PageText) -> dict[str, Any]:
    return {
        "input": source,
        "title": page.title,
        "text": page.text,
        "published": iso(page.published),
        "language": article_language(page.language, f"{page.title}\n{page.text}"),  # as polls do
    }


def extract_command(inputs: list[str], fmt: str) -> int:
    for source in inputs:
        _refuse_other_schemes(source)
    records: list[dict[str, Any]] = []
    failed = 0
    for source in inputs:
        try:
            body, url, content_type = _read(source)
            page = extract_page(body, url, content_type)
            if not page.text.strip():
                raise MonitorError("no article text found in the page")
            records.append(page_json(source, page))
        except MonitorError as error:
            print(f"monitor: {source}: {error}", file=sys.stderr)
            failed += 1
    if fmt == "json":
        print(json.dumps(records, ensure_ascii=False, indent=2))
    elif fmt == "ndjson":
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
    else:
        for record in records:
            print(f"== {record['input']}\ntitle: {record['title']}\npublished: {record['published']}")
            print(f"language: {record['language']}\n\n{record['text']}\n")
    return 1 if failed else 0


def test_rule_command(query: str, url: str | None, file: str | None, text: str | None) -> int:
    """grep's exit codes: 0 a match, 1 none, 2 trouble (a query that does not parse, a page
    that cannot be read or holds no text): never "no match" for what was not looked at."""
    node = parse_query(query)
    try:
        document = MatchInput("", "", text) if text is not None else _document(url or file or "", bool(file))
    except MonitorError as error:
        print(f"monitor: {url or file}: {error}", file=sys.stderr)
        return 2
    # As a poll does: a text that declares no language is identified, for lang: to read.
    document.language = article_language(document.language, f"{document.title}\n{document.text}")
    hits = rule_hits(CompiledRule("query", query, node), document)
    language = f" (language: {document.language or 'not told'})" if "lang:" in to_text(node) else ""
    if not hits:
        print(f"no match{language}")
        return 1
    shown = len([hit for hit in hits if hit.term])
    print(f"match: {shown} hit{'' if shown == 1 else 's'}{language}")
    for hit in hits:
        if not hit.term:
            print("  (it holds through NOT or lang:, with no term to show)")
            continue
        shown_snippet = _marked(getattr(document, hit.field), hit)
        print(f"  {hit.field} [{hit.start}:{hit.end}] {hit.term!r}: {shown_snippet}")
    return 0


def _document(source: str, is_file: bool) -> MatchInput:
    """What a rule reads of a page (a plain text file as it is); MonitorError when it cannot be
    read or holds no text."""
    body, page_url, content_type = _read(source)
    if is_file:
        text = _plain_text(body)
        if text is None:
            raise MonitorError("not a text file")
        if not text.strip():
            raise MonitorError("no text in the file")
        if not text.lstrip().startswith("<"):
            return MatchInput("", "", text)
    page = extract_page(body, page_url, content_type)
    if not (page.title.strip() or page.text.strip()):
        raise MonitorError("no article text found in the page (monitor extract shows what is read)")
    return MatchInput(page.title, "", page.text, language=page.language)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip


def _plain_text(body: bytes) -> str | None:
    """A file's text, decoded as a poll decodes a body that declares nothing: by its byte-order
    mark, else as UTF-8, else in the legacy encoding Firefox's detector guesses (Big5,
    Shift_JIS, windows-1255: read as UTF-8, a term there was no match); None for a binary."""
    for mark, codec in _BOMS:
        if body.startswith(mark):
            return body.decode(codec, errors="replace")
    if b"\x00" in body:
        return None
    return body.decode(guess(body) or "utf-8", errors="replace")


def _marked(text: str, hit: Hit) -> str:
    """The hit's snippet with the hit marked: bold on a terminal, »…« elsewhere. Placed by its
    offsets where the snippet is the field's text as cut (most are); else the term is marked
    where the matcher finds it in the snippet."""
    left, right = ("\033[1;7m", "\033[0m") if sys.stdout.isatty() else ("»", "«")
    snippet = hit.snippet
    body = snippet.removeprefix("…")
    lead = len(snippet) - len(body)
    body = body.removesuffix("…")
    head = text.rfind(body, 0, hit.start + len(body))
    if body and 0 <= head <= hit.start and hit.end <= head + len(body):
        start, end = lead + hit.start - head, lead + hit.end - head
        return f"{snippet[:start]}{left}{snippet[start:end]}{right}{snippet[end:]}"
    return marked(snippet, hit.term, lambda found: f"{left}{found}{right}")
