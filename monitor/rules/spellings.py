"""The other spellings outlets give a term's words: a designation with or without its hyphen
(`F-35`, `F35`, `F 35`; `S-400`, `S400`; `COVID-19`, `COVID19`), and a name run together in a
hashtag or a handle (`#IronDome`, `TaiwanShield`).

Tokenizing already makes `F-35` and `F 35` one spelling (two words) and `Iron-Dome` and
`Iron Dome` another; what it cannot see is that `F35` (one word) and `IronDome` are the same.
The parser puts each term's other spellings beside it in an OR, so the matcher, the automaton
and both indexes find them as any other term; `to_text` leaves them out, and a hit on one
names the term as written.

Some are only that term where the text writes them so (`written_so`): a name run together (a
term whose words are written with capitals: `Iron Dome`, not `air defence`) is found in camel
case or as a #tag or @handle (`IronDome`, `#irondome`), not as an ordinary word (`checkpoint`
is not Check Point); a designation's single letter the query writes as a capital is found as
one (`S-400`, `S 400`, not `Russia's 400`; `A330`, not `a 330-page report`; `в 2024 году` is as
ever). The matcher checks the text; the index, which
holds no case, only narrows (so a search of such a term reads each candidate's text).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from monitor.rules.ast import Term
from monitor.rules.text import TokenizedText, tokenize

# Where a word's letters meet its digits: F35 is F 35, PAC3 is PAC 3.
_LETTERS_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
LONGEST_RUN_TOGETHER = 3  # words of a term also looked for as one (Taiwan Shield: taiwanshield)
SHORTEST_RUN_TOGETHER = 3  # letters of that one word: `a b` is not `ab`


def other_spellings(
    tokens: Sequence[str], written: str, longest: int, prefix: bool = False
) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """A term's tokens as outlets also write them, at most `longest` tokens each, with the
    lengths of its words for a name run together (else nothing): a word of letters and the
    number after it as one word (`f 35`: `f35`), a word of letters then digits as two (`f35`:
    `f 35`), either with a plural's s (`F-35s`, `F35s`; not after a prefix), and a short Latin
    name, its words `written` with capitals, as one word (`Iron Dome`: `irondome`; not `air
    defence`, which the index then answers without the matcher's check of each article). Words
    of CJK characters, and abbreviations of single letters (`u s`: `us` would be the pronoun),
    have none."""
    as_written = tokenize(written)
    named = all(written[start].isupper() for start in as_written.starts)
    written_tokens = tuple(tokens)
    designations = [written_tokens, _designations_joined(written_tokens), _designations_split(written_tokens)]
    if not prefix:
        designations += [_plural(spelling) for spelling in designations]
    found: dict[tuple[str, ...], tuple[int, ...]] = dict.fromkeys(designations, ())
    run_together = _run_together(written_tokens) if named else None
    if run_together is not None:
        found.setdefault(run_together, tuple(map(len, written_tokens)))
    return [
        (spelling, joined)
        for spelling, joined in found.items()
        if spelling != written_tokens and len(spelling) <= longest
    ]


@lru_cache(maxsize=4096)
def capital_designation(written: str) -> bool:
    """Whether a term as written holds a designation whose letter is a single capital (`S-400`,
    `S400`, `A 10`): it is then found only with that letter a capital (`S 400`, not `Russia's
    400`), where a term that writes it small (`в 2024 году`, `a 10 percent`) is as ever."""
    tokenized = tokenize(written)
    letters = _designation_letters(tuple(tokenized.tokens))
    return any(written[tokenized.starts[place]].isupper() for place in letters)


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


def _plural(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """A designation in Latin letters ending in a number with a plural's s (`f 35s`, `f35s`)."""
    last = tokens[-1]
    letters = [char for token in tokens for char in token if char.isalpha()]
    if last[-1:].isdigit() and letters and all(char.isascii() for char in letters):
        return (*tokens[:-1], last + "s")
    return tokens


def _run_together(tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    """Latin words, two or three, as one (not numbers: `7.62` is not `762`)."""
    one = "".join(tokens)
    runs = 2 <= len(tokens) <= LONGEST_RUN_TOGETHER and one.isascii() and one.isalpha()
    if not runs or len(one) < SHORTEST_RUN_TOGETHER or all(len(token) == 1 for token in tokens):
        return None
    return (one,)


@lru_cache(maxsize=4096)
def written_so(term: Term) -> bool:
    """Whether the term is found only where the text writes it as `written_as_found` checks: a
    name run together, or a designation whose letter the query writes as a capital."""
    return bool(term.run_together or (capital_designation(term.text) and _designation_letters(term.tokens)))


@lru_cache(maxsize=4096)
def _designation_letters(tokens: tuple[str, ...]) -> tuple[int, ...]:
    """The places of the tokens that begin with a designation's single letter (one with a
    case): a letter before a number (`s 400`), or a letter and digits (`s400`)."""
    return tuple(
        place
        for place, token in enumerate(tokens)
        if token[:1].isalpha()
        and token[0].upper() != token[0]
        and (
            (len(token) == 1 and place + 1 < len(tokens) and tokens[place + 1][:1].isdigit())
            or token[1:2].isdigit()
        )
    )


def written_as_found(term: Term, doc: TokenizedText, starts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The occurrences of a `written_so` term that the text writes so (the others: all)."""
    if not written_so(term) or not len(starts):
        return starts
    if not term.run_together:
        capitals = doc.capitals()
        kept = np.ones(len(starts), dtype=np.bool_)
        for place in _designation_letters(term.tokens):
            kept &= capitals[starts + place]
        return starts[kept]
    text, token_starts, token_ends = doc.text, doc.starts, doc.ends
    written = [
        _camel_or_tagged(text, token_starts[first], token_ends[first], term.run_together)
        for first in starts.tolist()
    ]
    return starts[np.array(written, dtype=np.bool_)]


def _camel_or_tagged(text: str, start: int, end: int, lengths: tuple[int, ...]) -> bool:
    """Whether the word at start..end, words of these lengths run together, is a #tag or an
    @handle, or capitalizes each word after the first and is not all capitals (`IronDome`,
    `TDome`; not `Checkpoint`, nor `ANYONE` in a headline in capitals)."""
    if start and text[start - 1] in "#@＃＠":
        return True
    word = text[start:end]
    if word.isupper() or len(word) < sum(lengths):  # longer: a prefix's word (`"Iron Dom*"`)
        return False
    boundaries = itertools.accumulate(lengths[:-1])
    return all(word[boundary].isupper() for boundary in boundaries)
