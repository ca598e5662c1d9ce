"""Query AST -> full-text index query, the one place that knows the index's syntax.

The index query only narrows candidates: it must find a superset of what the matcher accepts
(NOT, fields and proximity are left to the matcher, which verifies every candidate exactly).
`None` means the query cannot narrow anything and every article is a candidate.
"""

from __future__ import annotations

from dataclasses import replace

from monitor.archive import SearchFilters
from monitor.rules import Field, Near, Node, Not, Op, Term
from monitor.rules.spellings import written_so
from monitor.rules.word_forms import MOST_TERM_FORMS, forms_count, position_forms, term_forms


def _phrase(tokens: tuple[str, ...], prefix: bool) -> str:
    quoted = '"' + " ".join(token.replace('"', '""') for token in tokens) + '"'
    return quoted + "*" if prefix else quoted


def _term(term: Term) -> str:
    if forms_count(term) > MOST_TERM_FORMS:  # a Russian phrase declined: each word, in any form
        last = len(term.tokens) - 1
        return " AND ".join(
            _any([_phrase((form,), term.prefix and place == last) for form in forms])
            for place, forms in enumerate(position_forms(term))
        )
    return _any([_phrase(form, term.prefix) for form in term_forms(term)])


def _any(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


LONGEST_EXACT = 1_000  # characters of a word the index holds as the matcher does


def fts_query(node: Node, refusing: bool = True) -> str | None:
    """An FTS5 MATCH expression whose results include every article the node matches. Beside
    what an AND asks, what it refuses (`dome -sport`) is left out by the index where the index
    finds exactly what the matcher does (index_exact): verifying each candidate's absence of
    a word tokenized the whole text (a crowd of `dome -x` over long articles held a server).
    Not under title: (`title:(dome -x)` takes an x in the text), `refusing` False there."""
    match node:
        case Term():
            return _term(node)
        case Not():
            return None
        case Op(op="AND", children=children):
            parts = [part for part in (fts_query(child, refusing) for child in children) if part is not None]
            if not parts:
                return None
            asked = " AND ".join(f"({part})" for part in parts)
            refused = [f"({part})" for part in map(exact_refusal, children) if part is not None]
            return f"({asked}) NOT ({' OR '.join(refused)})" if refused and refusing else asked
        case Op(children=children):
            alternatives = [fts_query(child, refusing) for child in children]
            if any(part is None for part in alternatives):
                return None
            return " OR ".join(f"({part})" for part in alternatives if part)
        case Near(left=left, right=right):
            return fts_query(Op("AND", (left, right)), refusing)
        case Field(name="title", child=child):
            return fts_query(child, refusing=False)
        case Field():
            return None


def exact_refusal(node: Node) -> str | None:
    """The FTS5 expression of what a NOT refuses, when the index finds it exactly as the matcher
    does (index_exact); None otherwise (the matcher verifies it)."""
    match node:
        case Not(child=child) if index_exact(child):
            return fts_query(child)
    return None


def fts_refusal(node: Node) -> str | None:
    """For a query of NOT alone (`NOT budget`, `NOT a AND NOT b`), every one exact: the FTS5
    expression of what it refuses, which leaves out of every article all the query refuses."""
    match node:
        case Not():
            return exact_refusal(node)
        case Op(op="AND", children=children):
            refused = [exact_refusal(child) for child in children]
            if refused and all(part is not None for part in refused):
                return " OR ".join(f"({part})" for part in refused)
    return None


def index_exact(node: Node, refusals: bool = False) -> bool:
    """Whether the index's matches are exactly the matcher's, so that candidates need no
    verification: an AND/OR of terms, and, with `refusals` (the backends whose index query
    leaves out a NOT's exact child: fts_query, fts_refusal), the NOTs of an AND (or of the
    query) of them. The index holds the matcher's own tokens, split where the matcher splits
    them, with the teaser and the text apart (see rules/text.index_fields), so a phrase, a
    prefix or a Hebrew prefixed form matches there just where the matcher finds it. Fields and
    proximity are left to the matcher."""
    match node:
        case Term():
            # Past MOST_TERM_FORMS its words are asked for apart; a word past LONGEST_EXACT is
            # cut by the index (FTS5 at 32,768 bytes): 40,000 a's found 200,000 (a review).
            short = all(len(token) <= LONGEST_EXACT for token in node.tokens)
            # The index holds no case: a term found only as the text writes it is verified.
            return short and forms_count(node) <= MOST_TERM_FORMS and not written_so(node)
        case Not(child=child) if refusals:
            return index_exact(child)
        case Op(op="AND", children=children) if refusals:
            refused = [child for child in children if isinstance(child, Not)]
            asked = [child for child in children if not isinstance(child, Not)]
            return all(index_exact(child, refusals=True) for child in refused) and all(
                index_exact(child) for child in asked
            )
        case Op(children=children):
            return all(map(index_exact, children))
        case _:
            return False


def language_asked_of_the_matcher(
    query: Node | None, filters: SearchFilters
) -> tuple[Node | None, SearchFilters]:
    """The query and filters with a language filter that names a script or a region (zh-TW,
    zh-Hant) split as a rule's lang:zh-TW is: the index narrows by the language (zh), the
    matcher decides the rest, where CLDR's likely subtags say which tags hold it (zh-Hant takes
    in zh-TW: language_codes.within). Checked first, it spares other tags a full verification."""
    code = filters.language
    if code is None or "-" not in code:
        return query, filters
    field = Field("lang", Term(code, (code,)))
    both = field if query is None else Op("AND", (field, query))
    return both, replace(filters, language=code.partition("-")[0])
