"""Text normalization and tokenization, used alike by matching and by the archive index.

A token is a run of letters, digits and combining marks, folded with NFKC + casefold, with
Latin/Greek/Cyrillic diacritics, Hebrew niqqud and Arabic harakat removed and soft hyphens and
zero-width characters dropped. Everything else (spaces, hyphens, dashes, apostrophes, quotes,
punctuation) is a gap between tokens, so phrases ignore it. Chinese, Japanese and Korean
characters are one token each, so a term matches inside running text; Chinese characters are
folded to Simplified so Traditional and Simplified match each other.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import opencc
import regex

_WORD = regex.compile(r"[\p{L}\p{N}\p{M}\u00AD\u200B-\u200D\u2060\uFEFF]+")
_IGNORABLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
_STRIPPED_MARK_RANGES = (
    (0x0300, 0x036F),  # Latin, Greek, Cyrillic diacritics
    (0x0591, 0x05C7),  # Hebrew cantillation and niqqud
    (0x0610, 0x061A),  # Arabic signs
    (0x064B, 0x065F),  # Arabic harakat
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)
_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3040, 0x30FF),  # Hiragana, Katakana (with the long-vowel mark)
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
HEBREW_PREFIXES = "והבכלמש"
# Katakana long-vowel marks are left out of tokens: outlets write ドーム, ドｰム and ド―ム alike.
_DROPPED_CJK = frozenset("ー")

_converter = opencc.OpenCC("t2s")


def _in_ranges(char: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def is_cjk(char: str) -> bool:
    return _in_ranges(char, _CJK_RANGES)


def is_hebrew(token: str) -> bool:
    return bool(token) and "\u05d0" <= token[0] <= "\u05ea"


@lru_cache(maxsize=65536)
def _fold_han(char: str) -> str:
    folded: str = _converter.convert(char)
    return folded if len(folded) == 1 else char


@lru_cache(maxsize=262144)
def fold_word(word: str) -> str:
    """Fold one word as the matcher sees it (without splitting CJK characters)."""
    if word.isascii():
        return word.lower()
    text = unicodedata.normalize("NFKC", word).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(
        char for char in decomposed if char not in _IGNORABLE and not _in_ranges(char, _STRIPPED_MARK_RANGES)
    )
    composed = unicodedata.normalize("NFC", kept)
    return "".join(_fold_han(char) if is_cjk(char) else char for char in composed)


@dataclass(slots=True)
class TokenizedText:
    """A text with its tokens and where each token stands in the original."""

    text: str
    tokens: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    _positions: dict[str, list[int]] | None = None

    def positions(self) -> dict[str, list[int]]:
        if self._positions is None:
            index: dict[str, list[int]] = {}
            for position, token in enumerate(self.tokens):
                index.setdefault(token, []).append(position)
            self._positions = index
        return self._positions

    def _add(self, token: str, start: int, end: int) -> None:
        self.tokens.append(token)
        self.starts.append(start)
        self.ends.append(end)


def tokenize(text: str) -> TokenizedText:
    result = TokenizedText(text)
    for found in _WORD.finditer(text):
        word, start, end = found.group(), found.start(), found.end()
        folded = fold_word(word)
        if not folded:
            continue
        if not any(is_cjk(char) for char in folded):
            result._add(folded, start, end)
            continue
        _add_split(result, folded, start, end, same_length=len(folded) == len(word))
    return result


def _add_split(result: TokenizedText, folded: str, start: int, end: int, same_length: bool) -> None:
    """Add a word holding CJK characters: each such character is a token of its own."""
    run_start: int | None = None
    for offset, char in enumerate(folded):
        if char in _DROPPED_CJK:
            if run_start is not None:
                _add_span(result, folded[run_start:offset], run_start, offset, start, end, same_length)
                run_start = None
        elif is_cjk(char):
            if run_start is not None:
                _add_span(result, folded[run_start:offset], run_start, offset, start, end, same_length)
                run_start = None
            _add_span(result, char, offset, offset + 1, start, end, same_length)
        elif run_start is None:
            run_start = offset
    if run_start is not None:
        _add_span(result, folded[run_start:], run_start, len(folded), start, end, same_length)


def _add_span(
    result: TokenizedText,
    token: str,
    low: int,
    high: int,
    start: int,
    end: int,
    same_length: bool,
) -> None:
    if same_length:
        result._add(token, start + low, start + high)
    else:
        result._add(token, start, end)


def index_text(text: str) -> str:
    """The normalized text the archive's full-text index stores: tokens joined by spaces."""
    return " ".join(tokenize(text).tokens)


def snippet(text: str, start: int, end: int, width: int = 160) -> str:
    """About `width` characters around text[start:end], cut at word gaps, with ellipses."""
    room = max(0, width - (end - start)) // 2
    low, high = max(0, start - room), min(len(text), end + room)
    if low > 0:
        gap = _next_gap(text, low, start)
        low = gap if gap is not None else low
    if high < len(text):
        gap = _previous_gap(text, end, high)
        high = gap if gap is not None else high
    piece = " ".join(text[low:high].split())
    return f"{'…' if low > 0 else ''}{piece}{'…' if high < len(text) else ''}"


def _next_gap(text: str, low: int, limit: int) -> int | None:
    for index in range(low, limit):
        if text[index].isspace():
            return index + 1
    return None


def _previous_gap(text: str, limit: int, high: int) -> int | None:
    for index in range(high, limit, -1):
        if text[index - 1].isspace():
            return index - 1
    return None


def join_tokens(tokens: tuple[str, ...] | list[str]) -> str:
    """Tokens as readable text: spaces between words, none between CJK characters."""
    out: list[str] = []
    for index, token in enumerate(tokens):
        if index and not (is_cjk(token[0]) and is_cjk(tokens[index - 1][-1])):
            out.append(" ")
        out.append(token)
    return "".join(out)
