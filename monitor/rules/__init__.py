"""The query language shared by watch rules and archive search. The matcher of many rules at
once (automaton.py: Aho-Corasick, numpy) is imported from its module by those who match
articles: searching the archive does without it."""

from monitor.rules.ast import Field, Near, Node, Not, Op, Term
from monitor.rules.match import CompiledRule, MatchInput, sourceless_fields
from monitor.rules.parse import parse_query, terms_query, to_text

__all__ = [
    "CompiledRule",
    "Field",
    "MatchInput",
    "Near",
    "Node",
    "Not",
    "Op",
    "Term",
    "parse_query",
    "sourceless_fields",
    "terms_query",
    "to_text",
]
