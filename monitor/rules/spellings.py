"""The other spellings outlets give a term's words: a designation with or without its hyphen
(`F-35`, `F35`, `F 35`; `S-400`, `S400`; `COVID-19`, `COVID19`), and a name run together in a
hashtag or a handle (`#IronDome`, `TaiwanShield`).

Tokenizing already makes `F-35` and `F 35` one spelling (two words) and `Iron-Dome` and
`Iron Dome` another; what it cannot see is that `F35` (one word) and `IronDome` are the same.
The parser puts each term's other spellings beside it in an OR, so the matcher, the automaton
and both indexes find them as any other term; `to_text` leaves them out, and a hit on one
names the term as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Where a word's letters meet its digits: F35 is F 35, PAC3 is PAC 3.
_LETTERS_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
LONGEST_RUN_TOGETHER = 3  # words of a term also looked for as one (Taiwan Shield: taiwanshield)
SHORTEST_RUN_TOGETHER = 3  # letters of that one word: `a b` is not `ab`


def other_spellings(tokens: Sequence[str], longest: int) -> list[tuple[str, ...]]:
    """A term's tokens as outlets also write them, at most `longest` tokens each: with a word of
    letters and the number after it as one word (`f 35`: `f35`), with a word of letters then
    digits as two (`f35`: `f 35`), and a short Latin name as one word (`iron dome`:
    `irondome`). Words of CJK characters, and abbreviations of single letters (`u s`: `us`
    would be the pronoun), have none."""
    written = tuple(tokens)
    found = [_designations_joined(written), _designations_split(written), _run_together(written)]
    return [
        spelling
        for spelling in dict.fromkeys(found)
        if spelling and spelling != written and len(spelling) <= longest
    ]


def _is_letters(token: str) -> bool:
    return token.isalpha() and not any(_is_ideographic(char) for char in token)


def _is_ideographic(char: str) -> bool:
    """CJK characters (each is a token: `殲-20` is already `歼 20` like `殲20`) and kana."""
    return "\u2e80" <= char <= "\ufaff" or char >= "\U00020000"


def _designations_joined(tokens: tuple[str, ...]) -> tuple[str, ...]:
    joined: list[str] = []
    for token in tokens:
        if joined and token[:1].isdigit() and token.isalnum() and _is_letters(joined[-1]):
            joined[-1] += token
        else:
            joined.append(token)
    return tuple(joined)


def _designations_split(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        piece
        for token in tokens
        for piece in (_LETTERS_THEN_DIGIT.split(token) if token.isalnum() else (token,))
    )


def _run_together(tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    one = "".join(tokens)
    runs = 2 <= len(tokens) <= LONGEST_RUN_TOGETHER and one.isascii() and one.isalnum()
    if not runs or len(one) < SHORTEST_RUN_TOGETHER or all(len(token) == 1 for token in tokens):
        return None
    return (one,)
