"""Guessing the encoding of a body that does not declare one (charset_normalizer: measured
detection across legacy CJK, Hebrew and Cyrillic code pages, no hand-written heuristics)."""

from __future__ import annotations

import charset_normalizer

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


def guess(body: bytes) -> str | None:
    """The most likely encoding of an undeclared body, or None."""
    if is_utf8(body):
        return "utf-8"
    matches = list(charset_normalizer.from_bytes(body[:SAMPLE_BYTES]))
    if not matches:
        return None
    best = matches[0]
    # Latin text often reads equally well in several single-byte code pages (é is the same byte
    # in windows-1250 and -1252, but à is not): on a tie, windows-1252, the web's legacy default
    # (WHATWG), is the likelier one.
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    western = next((m for m in tied if m.encoding in ("cp1252", "latin_1", "iso8859_15")), None)
    return canonical((western or best).encoding)
