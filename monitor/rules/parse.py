"""Query text -> AST, and AST -> canonical text.

Grammar (NEAR binds tightest, then NOT, AND, OR):
    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*
    unary   := ("NOT" | "-") unary | near
    near    := primary ("NEAR/n" primary)*
    primary := "(" or_expr ")" | FIELD ":" primary | PHRASE | WORD["*"]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, cast

from monitor.errors import QueryError
from monitor.language_codes import is_language_code, macrolanguage
from monitor.rules.ast import FIELD_NAMES, Field, Near, Node, Not, Op, Term
from monitor.rules.text import join_tokens, tokenize

_QUOTES = {'"': '"', "“": "”", "「": "」", "„": "“"}
_NEAR = re.compile(r"NEAR/(\d+)")
_SPECIAL = set("()") | set(_QUOTES)
# `name:` right before a term reads as a field, known or not (a colon before a space is text:
# "Analysis: dome"; a single letter is text too: C:\path).
_FIELD_LIKE = re.compile(r"[A-Za-z]{2,}")
_NARROW = {wide: wide - 0xFEE0 for wide in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_NOT_A_CODE = "lang: takes a language code such as en, zh or zh-TW (lang:zh also finds zh-TW)"
# Bounds on one query, so that no rule or search can exhaust the stack, the memory or the
# matcher's time: far beyond what an analyst writes, far below what breaks.
MAX_DEPTH = 16  # nested parentheses, NOTs and fields (FTS5 overflows at about twice that)
MAX_NEAR = 5  # NEAR operators; each one is a pass over the occurrences of its operands
MAX_TERMS = 256  # words and phrases
MAX_PHRASE = 16  # words in one phrase (a Chinese phrase counts its characters)
MAX_DISTANCE = 10_000  # of NEAR/n, in words


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["(", ")", "PHRASE", "WORD", "AND", "OR", "NOT", "NEAR", "FIELD", "END"]
    text: str
    position: int
    distance: int = 0


def _lex(query: str) -> list[_Token]:
    # Read with full-width forms as ASCII (a CJK input method types ＂, （, ：, ＯＲ), one
    # character for one, so that positions stay the query's own.
    text = query.translate(_NARROW)
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(_Token(cast(Literal["(", ")"], char), char, index))
            index += 1
        elif char in _QUOTES:
            close = text.find(_QUOTES[char], index + 1)
            while close > 0 and _is_gershayim(text, close):
                close = text.find(_QUOTES[char], close + 1)
            if close < 0:
                raise QueryError(query, index, "unclosed quote")
            tokens.append(_Token("PHRASE", text[index + 1 : close], index))
            index = close + 1
        elif char == "-" and index + 1 < len(text) and not text[index + 1].isspace():
            tokens.append(_Token("NOT", "-", index))
            index += 1
        else:
            index = _lex_word(query, text, index, tokens)
    tokens.append(_Token("END", "", len(text)))
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


def _lex_word(query: str, text: str, start: int, tokens: list[_Token]) -> int:
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
        tokens.append(_Token("FIELD", name.lower(), start))
        where = start + len(name) + 1
        if rest.startswith("-"):
            raise QueryError(query, where, f"'{name}:' takes a term: -{name}:{rest[1:]} leaves it out")
        inner, nested, _ = rest.partition(":")
        if nested and inner.lower() in FIELD_NAMES:
            raise QueryError(query, where, f"fields do not nest: {inner.lower()}: inside {name.lower()}:")
        if rest in ("AND", "OR", "NOT", "NEAR") or _NEAR.fullmatch(rest):
            raise QueryError(query, where, f"'{name}:' takes a term, not the operator {rest}")
        if rest:
            tokens.append(_Token("WORD", rest, where))
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
        tokens.append(_Token(cast(Literal["AND", "OR", "NOT"], word), word, start))
    elif near := _NEAR.fullmatch(word):
        distance = int(near.group(1))
        if distance > MAX_DISTANCE:
            raise QueryError(query, start, f"NEAR/n takes at most {MAX_DISTANCE:,} words")
        if distance == 0:  # two words are never 0 apart: it would never match
            raise QueryError(query, start, "NEAR/0 never matches: NEAR/1 is next to each other")
        tokens.append(_Token("NEAR", word, start, distance=distance))
    elif word.startswith("NEAR"):
        raise QueryError(query, start, "NEAR needs a distance, as in NEAR/5")
    else:
        tokens.append(_Token("WORD", word, start))
    return end


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _lex(query)
        self.index = 0
        self.depth = 0
        self.nears = 0
        self.terms = 0
        self.in_language = False  # inside lang:, where terms are language codes
        self.in_field = ""  # the field the parser is inside, if any

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: _Token, expected: str) -> QueryError:
        found = "the end of the query" if token.kind == "END" else f"'{token.text}'"
        return QueryError(self.query, token.position, f"expected {expected}, found {found}")

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise QueryError(self.query, 0, "empty query")
        node = self.or_expr()
        if self.peek().kind != "END":
            raise self.fail(self.peek(), "an operator or the end of the query")
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.peek().kind == "OR":
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Op("OR", tuple(children))

    def and_expr(self) -> Node:
        start = self.peek()
        children = [self.unary()]
        while self.peek().kind in ("AND", "(", "PHRASE", "WORD", "NOT", "FIELD"):
            if self.peek().kind == "AND":
                self.take()
            children.append(self.unary())
        if self.in_language:
            self.one_language(start, children)
        return children[0] if len(children) == 1 else Op("AND", tuple(children))

    def one_language(self, start: _Token, children: list[Node]) -> None:
        """QueryError for codes ANDed that no one article's language can be (lang:(en zh))."""
        codes = [child.text for child in children if isinstance(child, Term)]
        for index, code in enumerate(codes):
            for other in codes[index + 1 :]:
                if not (_within_code(code, other) or _within_code(other, code)):
                    message = f"an article has one language: {code} AND {other} never holds (write OR)"
                    raise QueryError(self.query, start.position, message)

    def unary(self) -> Node:
        if self.peek().kind == "NOT":
            with self.nested(self.take()):
                return Not(self.unary())
        return self.near()

    @contextmanager
    def nested(self, token: _Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            message = f"the query nests deeper than {MAX_DEPTH} levels of parentheses, NOTs and fields"
            raise QueryError(self.query, token.position, message)
        yield
        self.depth -= 1

    def near(self) -> Node:
        node = self.primary()
        while self.peek().kind == "NEAR":
            operator = self.take()
            if self.in_language:
                raise QueryError(self.query, operator.position, "NEAR has no place in lang:")
            self.nears += 1
            if self.nears > MAX_NEAR:
                raise QueryError(
                    self.query, operator.position, f"a query may use NEAR at most {MAX_NEAR} times"
                )
            right = self.primary()
            if isinstance(node, Not) or isinstance(right, Not):
                raise QueryError(self.query, operator.position, "NEAR needs terms on both sides")
            if _outside_text(node) or _outside_text(right):
                message = "NEAR counts words of the text: lang: and source: have no place beside it"
                raise QueryError(self.query, operator.position, message)
            node = Near(node, right, operator.distance)
        return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "(":
            with self.nested(token):
                node = self.or_expr()
            if self.peek().kind != ")":
                raise self.fail(self.peek(), "')'")
            self.take()
            return node
        if token.kind == "FIELD":
            if self.in_language:
                raise QueryError(self.query, token.position, "lang: holds language codes, not fields")
            if self.in_field:
                message = f"fields do not nest: {token.text}: inside {self.in_field}"
                raise QueryError(self.query, token.position, message)
            name = cast(Literal["title", "source", "lang"], token.text)
            with self.nested(token):
                self.in_language, self.in_field = name == "lang", f"{name}:"
                child = self.primary()
                self.in_language, self.in_field = False, ""
                return Field(name, child)
        if token.kind in ("PHRASE", "WORD"):
            return self.language(token) if self.in_language else self.term(token)
        raise self.fail(token, "a word, a phrase or '('")

    def language(self, token: _Token) -> Term:
        """A term of lang:, a language code, kept whole (`zh-TW` is one code, not two words)."""
        code = token.text.strip().replace("_", "-").lower()
        if not is_language_code(code):
            raise QueryError(self.query, token.position, f"{_NOT_A_CODE}, not '{token.text}'")
        code = (macrolanguage(code) or code).lower()  # as stored, matched lowercased: lang:iw is he
        return Term(code, (code,))

    def term(self, token: _Token) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(
                self.query, token.position, f"a query may hold at most {MAX_TERMS} words and phrases"
            )
        text = token.text
        prefix = text.rstrip().endswith("*")
        if token.kind == "PHRASE" and "*" in text.rstrip().rstrip("*"):
            raise QueryError(self.query, token.position, "a * goes at the end of a phrase's last word")
        words = tokenize(text.rstrip().rstrip("*") if prefix else text).tokens
        return Term(
            text,
            _words(text, words, self.query, token.position),
            prefix=prefix,
            quoted=token.kind == "PHRASE",
        )


def _within_code(code: str, wider: str) -> bool:
    """Whether a language `code` is `wider` or one of its variants (zh-tw of zh)."""
    return code == wider or code.startswith(f"{wider}-")


def _outside_text(node: Node) -> bool:
    """Whether a lang: or source: field is in the node: no word of it is near one of the text."""
    match node:
        case Field(name="lang" | "source"):
            return True
        case Field(child=child) | Not(child=child):
            return _outside_text(child)
        case Op(children=children):
            return any(map(_outside_text, children))
        case Near(left=left, right=right):
            return _outside_text(left) or _outside_text(right)
    return False


def _words(text: str, words: list[str], query: str, position: int) -> tuple[str, ...]:
    if not words:
        raise QueryError(query, position, f"nothing to match in '{text}'")
    if len(words) > MAX_PHRASE:
        raise QueryError(query, position, f"a phrase may hold at most {MAX_PHRASE} words, not {len(words)}")
    return tuple(words)


def parse_query(query: str) -> Node:
    """Parse a query; raises QueryError naming the position and what was expected."""
    return _Parser(query).parse()


def terms_query(terms: list[str]) -> Node:
    """A `terms:` list: any of these literal words or phrases."""
    nodes: list[Node] = []
    if len(terms) > MAX_TERMS:
        raise QueryError(
            "", 0, f"a terms list may hold at most {MAX_TERMS} words and phrases, not {len(terms)}"
        )
    for term in terms:
        nodes.append(Term(term, _words(term, tokenize(term).tokens, term, 0), quoted=True))
    if not nodes:
        raise QueryError("", 0, "empty terms list")
    return nodes[0] if len(nodes) == 1 else Op("OR", tuple(nodes))


_PRECEDENCE = {"OR": 1, "AND": 2, "NOT": 3, "NEAR": 4, "ATOM": 5}


def _precedence(node: Node) -> int:
    match node:
        case Op(op=op):
            return _PRECEDENCE[op]
        case Near():
            return _PRECEDENCE["NEAR"]
        case Not():
            return _PRECEDENCE["NOT"]
        case _:
            return _PRECEDENCE["ATOM"]


def _wrapped(node: Node, minimum: int) -> str:
    text = to_text(node)
    return f"({text})" if _precedence(node) < minimum else text


def to_text(node: Node) -> str:
    """The canonical text of a query: how the parser understood it."""
    match node:
        case Term(tokens=tokens, prefix=prefix):
            if prefix:
                return "-".join(tokens) + "*"
            return tokens[0] if len(tokens) == 1 else f'"{join_tokens(tokens)}"'
        case Not(child=child):
            return f"NOT {_wrapped(child, _PRECEDENCE['NOT'])}"
        case Op(op=op, children=children):
            inner = _PRECEDENCE[op] + 1
            return f" {op} ".join(_wrapped(child, inner) for child in children)
        case Near(left=left, right=right, distance=distance):
            near = _PRECEDENCE["NEAR"]
            return f"{_wrapped(left, near)} NEAR/{distance} {_wrapped(right, near + 1)}"
        case Field(name=name, child=child):
            return f"{name}:{_wrapped(child, _PRECEDENCE['ATOM'])}"
