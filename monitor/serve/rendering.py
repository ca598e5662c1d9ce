"""The pages' HTML: Jinja2 templates, every value escaped, with no script at all, so the
Content-Security-Policy (web.py) can forbid every script: an article's text or title holding
markup shows as text and runs nothing. The hits' marks are the only HTML built from an article,
and that is cleaned against an allow-list (nh3) before it is sent."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from monitor.errors import ServerBusy
from monitor.highlights import html_marked
from monitor.models import Article, Hit
from monitor.names import name_key
from monitor.serve.searching import Searching, retry_after

# Paths answered for programs (JSON, feeds, metrics): everything else is a page for a person.
_NOT_PAGES = ("/api/", "/feeds/", "/static/", "/openapi.json", "/metrics", "/healthz", "/csp-report")


def is_page(path: str) -> bool:
    return not path.startswith(_NOT_PAGES)


# The page of the navigation each template belongs to (aria-current in the navigation).
_SECTIONS = {
    "search.html": "/",
    "article.html": "/",
    "rules.html": "/rules",
    "rule.html": "/rules",
    "sources.html": "/sources",
    "alerts.html": "/alerts",
}


def page(name: str, code: int = 200, headers: Mapping[str, str] | None = None, **values: Any) -> HTMLResponse:
    """The template `name` rendered with `values`, answered with `code` and `headers`."""
    rendered = _environment().get_template(name).render(section=_SECTIONS.get(name), **values)
    return HTMLResponse(rendered, code, dict(headers or {}))


async def counted_page(
    counting: Searching,
    request: Request,
    answer: Callable[..., HTMLResponse],
    *arguments: Any,
    title: str,
    path: str,
) -> HTMLResponse:
    """The page answer(*arguments) reads and renders, on a read thread once `counting` gives it
    a turn (with 10,000 sources the sources' page takes 0.3 s to render); busy, a page saying
    so, titled `title`, with a link to try `path` again."""
    try:
        return await counting.count(answer, *arguments, gone=request.is_disconnected)
    except ServerBusy as error:
        return page("busy.html", 503, retry_after(error), title=title, message=str(error), path=path)


def problem_page(
    code: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    links: Sequence[tuple[str, str]] = (),
    links_title: str = "",
) -> HTMLResponse:
    """A page saying what is wrong (a 404's missing rule, a 401's token), with `links` (name,
    address) to go on from."""
    title = HTTPStatus(code).phrase
    return page(
        "problem.html", code, headers, title=title, message=message, links=links, links_title=links_title
    )


def spelled(asked: str, names: list[str]) -> str | None:
    """The name among `names` that `asked` is (name_key), or None."""
    return next((name for name in names if name_key(name) == name_key(asked)), None) if asked else None


def path_part(name: str) -> str:
    """A name (a rule's) as part of a URL's path: its slashes kept (/rules/a/b reads as the
    rule "a/b" is written), all encoded when a part between them is . or .., which a browser
    resolves away (/rules/../etc is /etc)."""
    dots = any(part in (".", "..") for part in name.split("/"))
    return quote(name, safe="" if dots else "/")


# Places shown of an article in a list (results, a rule's matches, a feed's entry); its page
# shows all. A rule keeps up to 20 places an article: 30 results of three rules showed 1,800.
HITS_LISTED = 5


def _marked(snippet: str, term: str) -> Markup:
    """The snippet with the term marked where the matcher finds it (highlights.py); the HTML
    cleaned (nh3) to <mark>."""
    return Markup(nh3.clean(html_marked(snippet, term), tags={"mark"}, attributes={}, link_rel=None))


def hits_shown(article: Article, rule: str | None, with_rules: bool = False) -> list[Hit]:
    """The article's hits (of `rule`) to show, each snippet once: the same words found in the
    feed's teaser and again in the page's text show once, the longer (the JSON keeps every hit);
    so do one term's words found by two rules, unless the lines name the rule (`with_rules`).
    A hit filed under another spelling of the rule's name is the rule's (rule_names.py)."""
    shown: list[tuple[Hit, str]] = []
    asked = name_key(rule) if rule is not None else None
    for hit in article.hits:
        if not hit.term or (asked is not None and name_key(hit.rule) != asked):
            continue
        words = " ".join(hit.snippet.strip("…. ").split())
        same = [
            (other, seen)
            for other, seen in shown
            if other.term == hit.term and (other.rule == hit.rule or not with_rules)
        ]
        if any(words in seen for _, seen in same):
            continue
        within = {id(other) for other, seen in same if seen in words}
        shown = [(other, seen) for other, seen in shown if id(other) not in within] + [(hit, words)]
    return [hit for hit, _ in shown]


def shown_utc(stamp: str | None) -> str:
    """An ISO 8601 moment of the JSON shapes (2026-12-05T07:43:13Z) as the pages show moments
    (2026-12-05 07:43 UTC); empty for none, and as it is if it is not one."""
    if not stamp:
        return ""
    try:
        return (
            datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            .astimezone(UTC)
            .strftime("%Y-%m-%d %H:%M UTC")
        )
    except ValueError:
        return stamp


def _safe_link(url: str) -> str:
    """The URL when it is http(s); a page never links a javascript: or data: URL a feed gave."""
    return url if urlsplit(url).scheme in ("http", "https") else "#"


# Embeddings and overrides (U+202A-U+202E) in feed text: an override reverses the letters after
# it even within its isolated element ("dome \u202eevil" read "dome live", a file name's extension
# turned round). The pages and the feeds of matches show text as written; the archive and the
# API keep it (a program reading the API decides what it shows).
_SPOOFING = re.compile("[\u202a-\u202e]")


def as_written(text: str) -> str:
    """The text without embeddings and overrides. Searched for first: a page of thirty results
    shows some 300 values, and translating each (no character of which is one of these, mostly)
    took half a millisecond of the page's two."""
    return _SPOOFING.sub("", text) if _SPOOFING.search(text) else text


def _sent_back(value: str) -> Markup:
    """The value escaped for an attribute a form sends back (an option's value), every
    character kept: an embedding or override as a character reference, which as_written leaves
    (the option shows the name without it; the server knows the name with it)."""
    return Markup(_SPOOFING.sub(lambda mark: f"&#x{ord(mark.group()):x};", str(escape(value))))


def _as_written(value: Any) -> Any:
    """Each value a template shows, as_written (Jinja's finalize)."""
    if not isinstance(value, str):
        return value
    kept = as_written(value)
    if kept is value:
        return value
    return Markup(kept) if isinstance(value, Markup) else kept


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("monitor.serve", "templates"),
        autoescape=select_autoescape(default=True),
        finalize=_as_written,
    )
    environment.globals.update(
        marked=_marked, hits_of=hits_shown, safe_link=_safe_link, HITS_LISTED=HITS_LISTED
    )
    environment.filters["path_part"] = path_part
    environment.filters["utc"] = shown_utc
    environment.filters["sent_back"] = _sent_back
    return environment
