"""Text normalization and tokenization, used alike by matching and by the archive index.

A token is a run of letters, digits and combining marks, folded with NFKC + casefold, with
Latin/Greek/Cyrillic diacritics, Hebrew niqqud and Arabic harakat removed, soft hyphens and
zero-width characters dropped and Arabic letters written for one another read as one.
Everything else (spaces, hyphens, dashes, apostrophes, quotes, punctuation) is a gap between
tokens, so phrases ignore it. Chinese, Japanese and Korean characters are one token each, so a
term matches inside running text; Chinese characters are folded to Simplified so Traditional
(Hong Kong's variants too) and Simplified match each other.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from operator import add

import numpy as np
import numpy.typing as npt
import opencc
import regex

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_match_start = re.Match.start
_SPACE = re.compile(r"\s+")
_WORD = regex.compile(r"[\p{L}\p{N}\p{M}\u00AD\u200B-\u200D\u2060\uFEFF]+")
_STRIPPED_MARKS = regex.compile(
    "["
    "\u0300-\u036f"  # Latin, Greek, Cyrillic diacritics
    "\u0591-\u05c7"  # Hebrew cantillation and niqqud
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"  # Arabic signs and harakat
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u00ad\u200b-\u200d\u2060\ufeff"  # soft hyphen, zero-width characters
    "]+"
)
CJK_CLASS = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3040-\u30ff"  # Hiragana, Katakana (with the long-vowel mark)
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs, extension A
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003ffff"  # CJK extensions B and later
)
_CJK = regex.compile(f"[{CJK_CLASS}]")
_ARABIC_SCRIPT = regex.compile("[\u0600-\u06ff]")
_HAN = regex.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
# One CJK character, or a run of anything else, inside a word that holds CJK characters.
_CJK_PIECES = regex.compile(f"[{CJK_CLASS}]|[^{CJK_CLASS}]+")
# Arabic-script characters that writers and keyboards use for one another, read as one (as
# search engines' Arabic and Persian normalization does): ta marbuta as ha (القبة, القبه), Persian
# heh with yeh (خانۀ) as ha, Persian yeh and keheh as Arabic yeh and kaf (ی: ي, ک: ك), Arabic-Indic
# and Persian digits as digits (F-٣٥ is F-35), and the tatweel that stretches a word in headlines
# (القبـة) left out. Not alef maksura (ى): على (on) would be علي (Ali). The archive's index holds
# them so (revision r18).
ARABIC_READ_AS_ONE = str.maketrans(
    {
        "ة": "ه", "ۀ": "ه", "ی": "ي", "ک": "ك", "ـ": None,
        **{chr(0x0660 + digit): str(digit) for digit in range(10)},
        **{chr(0x06F0 + digit): str(digit) for digit in range(10)},
    }
)  # fmt: skip
# Katakana long-vowel marks are left out of tokens: outlets write ドーム, ドｰム and ド―ム alike.
_DROPPED_CJK = frozenset("ー")
SNIPPET_WIDTH = 160

# Traditional to Simplified, Hong Kong's own variants included (衞 as 衛: both 卫); hk2s differs
# from t2s in these characters alone, which archives made before are indexed again for (r19).
_converter = opencc.OpenCC("hk2s")
HONG_KONG_VARIANTS = "敍枱潀粧糭衞衹"


def is_cjk(char: str) -> bool:
    return _CJK.match(char) is not None


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
    if _ARABIC_SCRIPT.search(text) is not None:  # before decomposing, which makes ۀ another letter
        text = text.translate(ARABIC_READ_AS_ONE)
    decomposed = unicodedata.normalize("NFD", text)
    composed = unicodedata.normalize("NFC", _STRIPPED_MARKS.sub("", decomposed))
    if _HAN.search(composed) is None:
        return composed
    return _HAN.sub(lambda found: _fold_han(found.group()), composed)


def words_starting_with(ordered: list[str], prefix: str) -> list[str]:
    """The words of a sorted list that start with `prefix`, found by bisection."""
    found = []
    for word in islice(ordered, bisect_left(ordered, prefix), None):
        if not word.startswith(prefix):
            break
        found.append(word)
    return found


@dataclass(slots=True)
class TokenizedText:
    """A text with its tokens and where each token stands in the original.

    Equal tokens share one string and offsets are machine integers: a long text repeating a few
    words costs about 20 bytes a token, not a hundred."""

    text: str
    tokens: list[str] = field(default_factory=list)
    starts: array[int] = field(default_factory=lambda: array("l"))
    ends: array[int] = field(default_factory=lambda: array("l"))
    _token_ids: tuple[npt.NDArray[np.int64], dict[str, int]] | None = None
    _sorted_vocabulary: list[str] | None = None
    _joined: str | None = None
    _capitals: npt.NDArray[np.bool_] | None = None

    def token_ids(self) -> tuple[npt.NDArray[np.int64], dict[str, int]]:
        """The tokens as numbers (equal tokens, one number) and the numbering: a term is then
        looked for in all positions at once."""
        if self._token_ids is None:
            vocabulary: dict[str, int] = {}
            numbered = (vocabulary.setdefault(token, len(vocabulary)) for token in self.tokens)
            ids = np.fromiter(numbered, dtype=np.int64, count=len(self.tokens))
            self._token_ids = ids, vocabulary
        return self._token_ids

    def capitals(self) -> npt.NDArray[np.bool_]:
        """Per token, whether the text writes its first character as a capital."""
        if self._capitals is None:
            text = self.text
            self._capitals = np.fromiter(
                (text[start].isupper() for start in self.starts), dtype=np.bool_, count=len(self.starts)
            )
        return self._capitals

    def starting_with(self, prefix: str) -> list[str]:
        """The distinct tokens that start with `prefix` (found by bisection, not by a scan of the
        vocabulary per prefix: a query may hold 256 prefixes, a text 140,000 distinct words)."""
        if self._sorted_vocabulary is None:
            self._sorted_vocabulary = sorted(self.token_ids()[1])
        return words_starting_with(self._sorted_vocabulary, prefix)

    def snippet(self, first: int, last: int, width: int = SNIPPET_WIDTH) -> str:
        """About `width` characters around tokens first..last, cut at spaces (or anywhere in
        text written without them, such as Chinese), with ellipses where text was cut off.

        Only the text around the match is read: a long article costs no more than a short one.
        """
        return snippet_around(
            self.text, self.starts[first], self.ends[last], self.starts[0], self.ends[-1], width
        )

    def joined(self) -> str:
        """The tokens as " t0 t1 … tn " (a term " a b " then matches on token boundaries only)."""
        if self._joined is None:
            self._joined = " " + " ".join(self.tokens) + " "
        return self._joined


def snippet_around(
    text: str, start: int, end: int, words_start: int, words_end: int, width: int = SNIPPET_WIDTH
) -> str:
    """TokenizedText.snippet of the characters start..end of `text`, whose words run from
    words_start to words_end (before and after: punctuation or spaces alone)."""
    room = max(0, width - (end - start)) // 2
    head, tail = start - room, end + room
    if head <= words_start:  # nothing but punctuation or spaces before
        head = 0
    else:
        gap = text.find(" ", head, start)
        head = gap + 1 if gap >= 0 else _next_boundary(text, head, start)
    if tail >= words_end:
        tail = len(text)
    else:
        gap = text.rfind(" ", end, tail)
        tail = gap if gap >= 0 else previous_boundary(text, tail, end)
    piece = text[head:tail]
    if "  " in piece or not piece.isprintable():
        piece = " ".join(piece.split())
    if head:
        return "…" + piece + "…" if tail < len(text) else "…" + piece
    return piece + "…" if tail < len(text) else piece


_ZWJ = "\u200d"


def _inside_character(text: str, at: int) -> bool:
    """Whether `at` falls inside a character as a reader sees it (a grapheme cluster), which a
    snippet cut there would break: before a combining mark (Thai, Devanagari, Hebrew points), a
    variation selector, a skin tone or an emoji tag; after a zero-width joiner (a family, a
    profession) or a virama joining two consonants; between the two letters of a flag."""
    if not 0 < at < len(text):
        return False
    character = text[at]
    code = ord(character)
    if (
        unicodedata.category(character) in ("Mn", "Mc", "Me")
        or text[at - 1] == _ZWJ
        or (unicodedata.combining(text[at - 1]) == 9 and character.isalpha())  # a virama's conjunct
        or character == _ZWJ
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    ):
        return True
    if _regional(text[at]) and _regional(text[at - 1]):  # flags pair from their run's start
        run = at
        while run > 0 and _regional(text[run - 1]):
            run -= 1
        return (at - run) % 2 == 1
    return False


def _regional(character: str) -> bool:
    return 0x1F1E6 <= ord(character) <= 0x1F1FF


def _next_boundary(text: str, at: int, limit: int) -> int:
    """`at`, or the first place after it where a character as a reader sees it begins (at most
    `limit`)."""
    while at < limit and _inside_character(text, at):
        at += 1
    return at


def previous_boundary(text: str, at: int, limit: int) -> int:
    """`at`, or the last place before it where a character as a reader sees it ends (at least
    `limit`)."""
    while at > limit and _inside_character(text, at):
        at -= 1
    return at


def tokenize(text: str) -> TokenizedText:
    if text.isascii():
        return _tokenize_ascii(text)
    result = TokenizedText(text)
    tokens, starts, ends = result.tokens, result.starts, result.ends
    shared: dict[str, str] = {}
    for found in _WORD.finditer(text):
        pieces = _word_pieces(found.group())
        start = found.start()
        if len(pieces) == 1 and pieces[0][1] is None:
            token = pieces[0][0]
            tokens.append(shared.setdefault(token, token))
            starts.append(start)
            ends.append(found.end())
            continue
        for token, offsets in pieces:
            low, high = offsets or (0, found.end() - start)
            tokens.append(shared.setdefault(token, token))
            starts.append(start + low)
            ends.append(start + high)
    return result


Piece = tuple[str, tuple[int, int] | None]


@lru_cache(maxsize=262144)
def _word_pieces(word: str) -> tuple[Piece, ...]:
    """The tokens of one word, with their offsets inside it (None: the whole word).

    A word holding CJK characters gives one token per character; when folding changed the
    word's length the pieces cannot be placed exactly and each spans the whole word. Folding
    can also make several words of one character (NFKC spells U+FDFA, an Arabic ligature, as four
    words, and ⑴ as "(1)"): those are split again, so no token holds a space or punctuation.
    """
    folded = fold_word(word)
    runs = _WORD.findall(folded)
    if len(runs) != 1 or runs[0] != folded:
        return tuple((token, None) for run in runs for token, _ in _word_pieces(run))
    if _CJK.search(folded) is None:
        return ((folded, None),)
    exact = len(folded) == len(word)
    return tuple(
        (piece.group(), piece.span() if exact else None)
        for piece in _CJK_PIECES.finditer(folded)
        if piece.group() not in _DROPPED_CJK
    )


def _tokenize_ascii(text: str) -> TokenizedText:
    """The common case, at C speed: ASCII words need only lower-casing."""
    shared: dict[str, str] = {}
    tokens = [shared.setdefault(word, word) for word in _ASCII_WORD.findall(text.lower())]
    starts = array("l", map(_match_start, _ASCII_WORD.finditer(text)))
    return TokenizedText(text, tokens, starts, array("l", map(add, starts, map(len, tokens))))


# Between an article's teaser and its text in the index: a private-use character, never a token
# of the matcher's, so no phrase the matcher would not find (it reads the fields apart) spans both.
FIELD_BREAK = "\ue000"


def index_fields(title: list[str], teaser: list[str], text: list[str]) -> tuple[str, str]:
    """The two columns the archive's full-text index stores for an article, from the matcher's
    tokens of its fields: the title's tokens, and the teaser's and the text's with a break between.
    Tokens are joined by spaces, the only separator the index's tokenizer then meets."""
    return " ".join(title), f"{' '.join(teaser)} {FIELD_BREAK} {' '.join(text)}"


def index_article(title: str, teaser: str, text: str) -> tuple[str, str]:
    """`index_fields` of an article's text as stored."""
    return index_fields(tokenize(title).tokens, tokenize(teaser).tokens, tokenize(text).tokens)


def join_tokens(tokens: tuple[str, ...] | list[str]) -> str:
    """Tokens as readable text: spaces between words, none between CJK characters."""
    out: list[str] = []
    for index, token in enumerate(tokens):
        if index and not (is_cjk(token[0]) and is_cjk(tokens[index - 1][-1])):
            out.append(" ")
        out.append(token)
    return "".join(out)
