"""The query AST. Watch rules, `terms:` lists and archive searches all compile to these nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FIELD_NAMES = ("title", "source", "lang")


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase: consecutive normalized tokens; `prefix` makes the last one a prefix.
    `spelling`: another spelling of the term written `text` (see rules/spellings.py), found
    like it and not shown in the query's canonical text; `run_together`: that spelling is its
    words as one, of these lengths, found where the text writes it so (`IronDome`, `#irondome`)."""

    text: str
    tokens: tuple[str, ...]
    prefix: bool = False
    quoted: bool = False
    spelling: bool = False
    run_together: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Op:
    op: Literal["AND", "OR"]
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    distance: int


@dataclass(frozen=True, slots=True)
class Field:
    name: Literal["title", "source", "lang"]
    child: Node


Node = Term | Not | Op | Near | Field


def all_terms(node: Node) -> list[Term]:
    """Every term of a query, negated or not (fields included: the matcher scans them too)."""
    match node:
        case Term():
            return [node]
        case Not(child=child) | Field(child=child):
            return all_terms(child) if not (isinstance(node, Field) and node.name == "lang") else []
        case Op(children=children):
            return [term for child in children for term in all_terms(child)]
        case Near(left=left, right=right):
            return all_terms(left) + all_terms(right)


def field_terms(node: Node, name: str) -> list[Term]:
    """The terms a field of this name holds in the query (`source:Reuters` -> Reuters)."""
    match node:
        case Field(name=found, child=child) if found == name:
            return all_terms(child)
        case Term() | Field():
            return []
        case Not(child=child):
            return field_terms(child, name)
        case Op(children=children):
            return [term for child in children for term in field_terms(child, name)]
        case Near(left=left, right=right):
            return field_terms(left, name) + field_terms(right, name)
    return []
