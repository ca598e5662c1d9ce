"""Guessing the encoding of a body that does not declare one, as Firefox does: chardetng
(chardetng-py), a detector trained on the web's legacy encodings and given the site's
top-level domain as a hint. A declaration (HTTP charset, BOM, XML declaration, <meta>) always
wins over a guess; the callers look for one first."""

from __future__ import annotations

from urllib.parse import urlsplit

import chardetng_py

SAMPLE_BYTES = 64 * 1024
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
    """The most likely encoding of an undeclared body (UTF-8 when it decodes as UTF-8), as a
    codec name; `url`'s top-level domain hints at the region's legacy encodings."""
    if is_utf8(body):
        return "utf-8"
    if body[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a BOM, as XML's own rule tells it
        return "utf-16-le" if body[0] == ord("<") else "utf-16-be"
    return canonical(chardetng_py.detect(body[:SAMPLE_BYTES], allow_utf8=False, tld=_tld(url)))


def _tld(url: str) -> bytes | None:
    """The last label of the URL's host, as chardetng wants it (ASCII, lower case), if any."""
    host = (urlsplit(url).hostname or "") if url else ""
    label = host.rsplit(".", 1)[-1]
    if "." not in host or not label.isascii() or not label.isalpha():
        return None
    return label.lower().encode("ascii")
