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

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, cast

from monitor.errors import QueryError
from monitor.language_codes import filter_code, within
from monitor.rules.ast import Field, Near, Node, Not, Op, Term, all_terms
from monitor.rules.lex import Token, lex
from monitor.rules.spellings import other_spellings
from monitor.rules.text import join_tokens, tokenize

_NOT_A_CODE = "lang: takes a language code such as en, zh or zh-TW (lang:zh also finds zh-TW)"
# Bounds on one query, so that no rule or search can exhaust the stack, the memory or the
# matcher's time: far beyond what an analyst writes, far below what breaks.
MAX_DEPTH = 16  # nested parentheses, NOTs and fields (FTS5 overflows at about twice that)
MAX_NEAR = 5  # NEAR operators; each one is a pass over the occurrences of its operands
MAX_TERMS = 256  # words and phrases
MAX_PHRASE = 16  # words in one phrase (a Chinese phrase counts its characters)


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = lex(query)
        self.index = 0
        self.depth = 0
        self.nears = 0
        self.terms = 0
        self.in_language = False  # inside lang:, where terms are language codes
        self.in_field = ""  # the field the parser is inside, if any

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: Token, expected: str) -> QueryError:
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

    def one_language(self, start: Token, children: list[Node]) -> None:
        """QueryError for codes ANDed that no one article's language can be (lang:(en zh))."""
        codes = [child.text for child in children if isinstance(child, Term)]
        for index, code in enumerate(codes):
            for other in codes[index + 1 :]:
                if not (within(code, other) or within(other, code)):
                    message = f"an article has one language: {code} AND {other} never holds (write OR)"
                    raise QueryError(self.query, start.position, message)

    def unary(self) -> Node:
        if self.peek().kind == "NOT":
            with self.nested(self.take()):
                return Not(self.unary())
        return self.near()

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
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

    def language(self, token: Token) -> Term:
        """A term of lang:, a language code, kept whole (`zh-TW` is one code, not two words)."""
        code = filter_code(token.text)
        if code is None:
            raise QueryError(self.query, token.position, f"{_NOT_A_CODE}, not '{token.text}'")
        return Term(code, (code,))

    def term(self, token: Token) -> Node:
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
        term = Term(
            text,
            _words(text, words, self.query, token.position),
            prefix=prefix,
            quoted=token.kind == "PHRASE",
        )
        # A source's name is matched as configured: its other spellings would name no source.
        return term if self.in_field == "source:" else with_spellings(term)


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


def with_spellings(term: Term) -> Node:
    """The term, or an OR of it and its other spellings (F-35 OR F35)."""
    spellings = [
        Term(term.text, tokens, prefix=term.prefix, quoted=term.quoted, spelling=True, run_together=joined)
        for tokens, joined in other_spellings(term.tokens, term.text, MAX_PHRASE, term.prefix)
    ]
    return Op("OR", (term, *spellings)) if spellings else term


def spellings_shown(node: Node) -> list[str]:
    """The other spellings the parser added to the query's terms, as `check` lists them: `f35`,
    `IronDome or #irondome` (a name run together is found so)."""
    shown: list[str] = []
    for term in all_terms(node):
        if not term.spelling:
            continue
        if term.run_together:
            word, star = term.tokens[0], "*" if term.prefix else ""
            ends = list(itertools.accumulate(term.run_together))
            camel = "".join(
                word[end - length : end].capitalize()
                for end, length in zip(ends, term.run_together, strict=True)
            )
            shown.append(f"{camel}{star} or #{word}{star}")
        else:
            shown.append(to_text(Term(term.text, term.tokens, prefix=term.prefix)))
    return list(dict.fromkeys(shown))


def _as_written(node: Node) -> Node:
    """The node without the spellings the parser added to its terms."""
    if not isinstance(node, Op) or node.op != "OR":
        return node
    written = tuple(child for child in node.children if not (isinstance(child, Term) and child.spelling))
    if len(written) == len(node.children):
        return node
    return written[0] if len(written) == 1 else Op("OR", written)


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
        nodes.append(with_spellings(Term(term, _words(term, tokenize(term).tokens, term, 0), quoted=True)))
    if not nodes:
        raise QueryError("", 0, "empty terms list")
    return nodes[0] if len(nodes) == 1 else Op("OR", tuple(nodes))


_PRECEDENCE = {"OR": 1, "AND": 2, "NOT": 3, "NEAR": 4, "ATOM": 5}


def _precedence(node: Node) -> int:
    match _as_written(node):
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
    match _as_written(node):
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
