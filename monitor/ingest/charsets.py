"""Guessing the encoding of a body that does not declare one (charset_normalizer: measured
detection across legacy CJK, Hebrew and Cyrillic code pages, no hand-written heuristics)."""

from __future__ import annotations

import charset_normalizer

SAMPLE_BYTES = 64 * 1024
_CANONICAL = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "shift_jis": "cp932"}


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
    best = charset_normalizer.from_bytes(body[:SAMPLE_BYTES]).best()
    return canonical(best.encoding) if best is not None else None
