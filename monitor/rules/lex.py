"""Query text -> tokens: words, phrases, operators, fields and parentheses, each with its
position in the query as given (full-width forms are read as ASCII one character for one)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from monitor.errors import QueryError
from monitor.rules.ast import FIELD_NAMES

_QUOTES = {'"': '"', "“": "”", "「": "」", "„": "“"}
_NEAR = re.compile(r"NEAR/(\d+)")
_SPECIAL = set("()") | set(_QUOTES)
# `name:` right before a term reads as a field, known or not (a colon before a space is text:
# "Analysis: dome"; a single letter is text too: C:\path).
_FIELD_LIKE = re.compile(r"[A-Za-z]{2,}")
_NARROW = {wide: wide - 0xFEE0 for wide in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
MAX_DISTANCE = 10_000  # of NEAR/n, in words


@dataclass(frozen=True, slots=True)
class Token:
    kind: Literal["(", ")", "PHRASE", "WORD", "AND", "OR", "NOT", "NEAR", "FIELD", "END"]
    text: str
    position: int
    distance: int = 0


def narrowed(query: str) -> str:
    """The query with full-width forms as ASCII, one character for one: as the lexer reads it."""
    return query.translate(_NARROW)


def lex(query: str) -> list[Token]:
    """The query's tokens, ending with END; QueryError for what no token can be."""
    # Read with full-width forms as ASCII (a CJK input method types ＂, （, ：, ＯＲ), one
    # character for one, so that positions stay the query's own.
    text = narrowed(query)
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(Token(cast(Literal["(", ")"], char), char, index))
            index += 1
        elif char in _QUOTES:
            close = text.find(_QUOTES[char], index + 1)
            while close > 0 and _is_gershayim(text, close):
                close = text.find(_QUOTES[char], close + 1)
            if close < 0:
                raise QueryError(query, index, "unclosed quote")
            tokens.append(Token("PHRASE", text[index + 1 : close], index))
            index = close + 1
        elif char == "-" and index + 1 < len(text) and not text[index + 1].isspace():
            tokens.append(Token("NOT", "-", index))
            index += 1
        else:
            index = _lex_word(query, text, index, tokens)
    tokens.append(Token("END", "", len(text)))
    return tokens


def _is_gershayim(text: str, index: int) -> bool:
    """Whether the " at index marks a Hebrew acronym (צה"ל, ארה"ב), as keyboards type ״: a
    letter on each side, so part of the word, not a quote."""
    return (
        text[index] == '"'
        and 0 < index < len(text) - 1
        and "\u05d0" <= text[index - 1] <= "\u05ea"
        and "\u05d0" <= text[index + 1] <= "\u05ea"
    )


def _lex_word(query: str, text: str, start: int, tokens: list[Token]) -> int:
    end = start
    while (
        end < len(text)
        and not text[end].isspace()
        and (text[end] not in _SPECIAL or _is_gershayim(text, end))
    ):
        end += 1
    word = text[start:end]
    name, colon, rest = word.partition(":")
    if colon and name.lower() in FIELD_NAMES:
        tokens.append(Token("FIELD", name.lower(), start))
        where = start + len(name) + 1
        if rest.startswith("-"):
            raise QueryError(query, where, f"'{name}:' takes a term: -{name}:{rest[1:]} leaves it out")
        inner, nested, _ = rest.partition(":")
        if nested and inner.lower() in FIELD_NAMES:
            raise QueryError(query, where, f"fields do not nest: {inner.lower()}: inside {name.lower()}:")
        if rest in ("AND", "OR", "NOT", "NEAR") or _NEAR.fullmatch(rest):
            raise QueryError(query, where, f"'{name}:' takes a term, not the operator {rest}")
        if rest:
            tokens.append(Token("WORD", rest, where))
        elif end >= len(text) or text[end].isspace():
            raise QueryError(query, end, f"expected a term after '{name}:'")
        return end
    term_next = rest or (end < len(text) and text[end] in _SPECIAL and text[end] != ")")
    if colon and term_next and _FIELD_LIKE.fullmatch(name):
        fields = ", ".join(f"{known}:" for known in FIELD_NAMES)
        raise QueryError(
            query, start, f"unknown field '{name}:' (the fields are {fields}); quote words holding a colon"
        )
    if word in ("AND", "OR", "NOT"):
        tokens.append(Token(cast(Literal["AND", "OR", "NOT"], word), word, start))
    elif near := _NEAR.fullmatch(word):
        distance = int(near.group(1))
        if distance > MAX_DISTANCE:
            raise QueryError(query, start, f"NEAR/n takes at most {MAX_DISTANCE:,} words")
        if distance == 0:  # two words are never 0 apart: it would never match
            raise QueryError(query, start, "NEAR/0 never matches: NEAR/1 is next to each other")
        tokens.append(Token("NEAR", word, start, distance=distance))
    elif word.startswith("NEAR"):
        raise QueryError(query, start, "NEAR needs a distance, as in NEAR/5")
    else:
        tokens.append(Token("WORD", word, start))
    return end
