"""The query language shared by watch rules and archive search."""

from monitor.rules.ast import Field, Near, Node, Not, Op, Term
from monitor.rules.automaton import Matcher
from monitor.rules.match import CompiledRule, MatchInput
from monitor.rules.parse import parse_query, terms_query, to_text

__all__ = [
    "CompiledRule",
    "Field",
    "MatchInput",
    "Matcher",
    "Near",
    "Node",
    "Not",
    "Op",
    "Term",
    "parse_query",
    "terms_query",
    "to_text",
]
