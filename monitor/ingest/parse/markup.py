"""HTML fragments to plain text (feed summaries and content), with lxml."""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

from monitor.ingest.parse.charsets import canonical, guess

_BLOCKS = (
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "table", "tr", "section", "article", "figure", "figcaption", "hr",
)  # fmt: skip
_DROPPED = ("script", "style", "noscript", "iframe", "svg", "template")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_SPACE_RUNS = re.compile(r"  +")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Collapse spaces, keep paragraph breaks, drop NULs and control characters."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BLANK_LINES.sub("\n\n", "\n".join(map(_clean_line, text.split("\n")))).strip()


def _clean_line(line: str) -> str:
    # Most lines are printable (no tabs, no-break spaces or control characters): C-speed tests
    # spare them the regular expressions.
    if not line.isprintable():
        line = _SPACES.sub(" ", _CONTROL.sub("", line))
    elif "  " in line:
        line = _SPACE_RUNS.sub(" ", line)
    return line.strip()


def html_to_text(markup: str) -> str:
    if "<" not in markup and "&" not in markup:
        return clean_text(markup)
    try:
        root = lxml.html.fragment_fromstring(_CONTROL.sub("", markup), create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return clean_text(re.sub(r"<[^>]*>", " ", markup))
    for element in [element for element in root.iter(*_DROPPED)]:
        element.drop_tree()
    for element in root.iter(*_BLOCKS):
        element.tail = "\n" + (element.tail or "")
        if element.tag not in ("br", "hr"):
            element.text = "\n" + (element.text or "")
    return clean_text(root.text_content())


def decode_html(body: bytes, content_type: str = "", url: str = "") -> str:
    """Bytes to text: a BOM, the header's charset, the page's <meta>, else a guess (hinted by
    the top-level domain of `url`).

    A declared encoding that does not decode the body is skipped (headers and meta tags lie).
    """
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return body.decode("utf-16" if body[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig", "replace")
    candidates: list[str] = []
    header = re.search(r"charset=[\"']?([\w\-]+)", content_type, re.I)
    if header:
        candidates.append(header.group(1))
    meta = _META_CHARSET.search(body[:4096])
    if meta:
        candidates.append(meta.group(1).decode("ascii", "ignore"))
    for encoding in candidates:
        try:
            return body.decode(canonical(encoding))
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode(guess(body, url) or "utf-8", errors="replace")
