"""Guessing the encoding of a body that does not declare one, as Firefox does: chardetng
(chardetng-py), a detector trained on the web's legacy encodings and given the site's
top-level domain as a hint. A declaration (HTTP charset, BOM, XML declaration, <meta>) always
wins over a guess; the callers look for one first."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import chardetng_py

SAMPLE_BYTES = 64 * 1024
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# Labels decoded with their superset, as browsers do (WHATWG Encoding): the bytes a publisher
# declares as EUC-KR or ISO-8859-1 are, in practice, CP949 or windows-1252.
_CANONICAL = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "iso_8859_1": "cp1252",
    "latin1": "cp1252",
    "tis_620": "cp874",
    "iso_8859_11": "cp874",
    "iso_8859_9": "cp1254",
    "us_ascii": "cp1252",
    "ascii": "cp1252",
    "windows_874": "cp874",  # WHATWG labels Python does not know
    "x_mac_cyrillic": "mac_cyrillic",
    "iso_8859_8_i": "iso8859_8",
}


def canonical(encoding: str) -> str:
    """The superset codec to decode with: GB18030 for GB2312/GBK, CP932 for Shift_JIS, …"""
    lowered = encoding.strip().lower().replace("_", "-").replace("-", "_")
    return _CANONICAL.get(lowered, encoding.strip().lower())


def is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def guess(body: bytes, url: str = "") -> str | None:
    """The most likely encoding of an undeclared body (UTF-8 when it decodes as UTF-8 but for a
    stray byte or two), as a codec name; `url`'s top-level domain hints at the region's legacy
    encodings."""
    if body[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a BOM, as XML's own rule tells it
        return "utf-16-le" if body[0] == ord("<") else "utf-16-be"
    if is_utf8(body) or _mostly_utf8(body):
        return "utf-8"
    return canonical(chardetng_py.detect(_sample(body), allow_utf8=False, tld=_tld(url)))


def _mostly_utf8(body: bytes) -> bool:
    """UTF-8 text with a few bytes that are not (a character cut in two, a pasted Latin-1
    quote): at least 20 characters decode, and at most one byte in a hundred does not. Legacy
    text read as UTF-8 decodes almost nothing, since its non-ASCII bytes rarely form a valid
    sequence."""
    text = body.decode("utf-8", errors="replace")
    stray = text.count("\ufffd")
    decoded = len(text) - len(text.encode("ascii", "ignore")) - stray
    return decoded >= 20 and stray * 100 <= decoded


def _sample(body: bytes) -> bytes:
    """SAMPLE_BYTES from the first non-ASCII byte: a page may open with more ASCII markup than
    that (scripts, styles), which tells the detector nothing."""
    first = _NON_ASCII.search(body)
    start = first.start() if first else 0
    return body[start : start + SAMPLE_BYTES]


def _tld(url: str) -> bytes | None:
    """The last label of the URL's host, as chardetng wants it (ASCII, lower case), if any."""
    host = (urlsplit(url).hostname or "") if url else ""
    label = host.rsplit(".", 1)[-1]
    if "." not in host or not label.isascii() or not label.isalpha():
        return None
    return label.lower().encode("ascii")
