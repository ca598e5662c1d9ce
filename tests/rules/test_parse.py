from __future__ import annotations

import pytest

from monitor.errors import QueryError
from monitor.rules import Field, Near, Not, Op, Term, parse_query, terms_query, to_text
from monitor.rules.ast import all_terms


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("iron", "iron"),
        ('"Iron Dome"', '"iron dome"'),
        ("T-Dome", '"t dome"'),
        ("a b", "a AND b"),
        ("a AND b OR c", "a AND b OR c"),
        ("a OR b AND c", "a OR b AND c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("NOT a b", "NOT a AND b"),
        ("-a b", "NOT a AND b"),
        ("NOT (a OR b)", "NOT (a OR b)"),
        ("weapon*", "weapon*"),
        ("a NEAR/5 b", "a NEAR/5 b"),
        ('laser NEAR/10 (weapon* OR "Iron Beam")', 'laser NEAR/10 (weapon* OR "iron beam")'),
        ('title:"Iron Dome"', 'title:"iron dome"'),
        ("source:Harbor lang:en", "source:harbor AND lang:en"),
        ("lang:zh-TW", "lang:zh-tw"),  # one code, not the phrase "zh tw"
        ('lang:(EN OR "zh") NOT lang:zh-Hant', "lang:(en OR zh) AND NOT lang:zh-hant"),
        ("10:30", '"10 30"'),  # a colon after no field name is part of the text
        # Found by a review in session 24: a colon before a space, or after one letter, is text.
        ("Analysis: dome", "analysis AND dome"),
        ("C:\\path", '"c path"'),
        # Full-width syntax, as a CJK input method types it, reads as its ASCII.
        ("title：dome", "title:dome"),
        ("＂Iron Dome＂", '"iron dome"'),
        ("（a OR b） c", "(a OR b) AND c"),
        ("－dome", "NOT dome"),
        ("ａ ＯＲ ｂ", "a OR b"),
        ('"iron dom*"', "iron-dom*"),  # a phrase whose last word is a prefix
        ('ארה"ב OR צה"ל', '"ארה ב" OR "צה ל"'),  # " inside a Hebrew acronym is no quote
        ("台灣之盾", '"台湾之盾"'),
        ("“Iron Dome”", '"iron dome"'),
        ("「台灣之盾」", '"台湾之盾"'),
    ],
)
def test_canonical_text_round_trips(query: str, canonical: str) -> None:
    node = parse_query(query)
    assert to_text(node) == canonical
    assert parse_query(to_text(node)) == parse_query(canonical)


def test_precedence_not_over_and_over_or() -> None:
    node = parse_query("a OR NOT b c")
    assert isinstance(node, Op) and node.op == "OR"
    right = node.children[1]
    assert isinstance(right, Op) and right.op == "AND"
    assert isinstance(right.children[0], Not)


def test_hyphenated_word_is_a_phrase_not_a_negation() -> None:
    assert parse_query("T-Dome") == Op(
        "OR", (Term("T-Dome", ("t", "dome")), Term("T-Dome", ("tdome",), spelling=True, run_together=(1, 4)))
    )
    assert to_text(parse_query("T-Dome")) == '"t dome"'


def test_other_spellings_sit_beside_a_term_and_are_not_shown() -> None:
    node = parse_query('F-35 AND ("Iron Dome" OR S400) NEAR/3 Japan source:"Iron Dome"')
    assert to_text(node) == '"f 35" AND ("iron dome" OR s400) NEAR/3 japan AND source:"iron dome"'
    spellings = {term.tokens for term in all_terms(node) if term.spelling}
    assert spellings == {  # none in a source's name
        ("f35",),
        ("f", "35s"),
        ("f35s",),
        ("irondome",),
        ("s", "400"),
        ("s400s",),
        ("s", "400s"),
    }
    assert all(term.text in ("F-35", "Iron Dome", "S400") for term in all_terms(node) if term.spelling)
    assert parse_query("U.S.") == Term("U.S.", ("u", "s"))  # single letters are not run together
    assert parse_query("殲-20") == Term("殲-20", ("歼", "20"))


def test_near_binds_tighter_than_not() -> None:
    assert parse_query("NOT a NEAR/1 b") == Not(parse_query("a NEAR/1 b"))
    assert to_text(parse_query("NOT (a NEAR/1 b)")) == "NOT a NEAR/1 b"


def test_fields_and_near_nodes() -> None:
    assert parse_query("title:dome") == Field("title", Term("dome", ("dome",)))
    node = parse_query("a NEAR/3 b")
    assert isinstance(node, Near) and node.distance == 3


def test_terms_list_is_an_or_of_literal_phrases() -> None:
    node = terms_query(["Iron Dome", "NOT", "铁穹"])
    assert isinstance(node, Op) and node.op == "OR"
    assert [term.tokens for term in all_terms(node) if not term.spelling] == [
        ("iron", "dome"),
        ("not",),
        ("铁", "穹"),
    ]
    assert to_text(node) == '"iron dome" OR not OR "铁穹"'


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("", 0, "empty query"),
        ('"iron dome', 0, "unclosed quote"),
        ("(iron OR dome", 13, "expected ')'"),
        ("iron AND", 8, "expected a word, a phrase or '('"),
        ("iron )", 5, "expected an operator or the end of the query"),
        ("a NEAR b", 2, "NEAR needs a distance"),
        ("a NEAR/3 (NOT b)", 2, "NEAR needs terms on both sides"),
        ("a NEAR/3 NOT b", 9, "expected a word, a phrase or '('"),
        ("title: dome", 6, "expected a term after 'title:'"),
        ("OR dome", 0, "expected a word, a phrase or '('"),
        ("***", 0, "nothing to match"),
        ("tilte:dome", 0, "unknown field 'tilte:' (the fields are title:, source:, lang:)"),
        ('iron Titel:"dome"', 5, "unknown field 'Titel:'"),
        ("https://example.org", 0, "quote words holding a colon"),
        ("lang:english", 5, "lang: takes a language code such as en, zh or zh-TW"),
        ("lang:(en OR chinese)", 12, "not 'chinese'"),
        ("lang:en*", 5, "not 'en*'"),
        # Codes of no language, or of none CLDR knows, found a silent empty answer (session 24).
        ("lang:zz", 5, "lang: takes a language code such as en, zh or zh-TW"),
        ("lang:(en OR und)", 12, "not 'und'"),
        ("lang:zxx-TW", 5, "not 'zxx-TW'"),
        ("lang:en-ZZ", 5, "not 'en-ZZ'"),  # a region or script CLDR does not know (a review)
        ("lang:en-Zzzz", 5, "not 'en-Zzzz'"),
        ("lang:zh-QQ", 5, "not 'zh-QQ'"),
        ("lang:(en NEAR/2 zh)", 9, "NEAR has no place in lang:"),
        ("lang:(title:dome)", 6, "lang: holds language codes, not fields"),
        ("title:-sport", 6, "'title:' takes a term: -title:sport leaves it out"),
        ("title:NOT dome", 6, "'title:' takes a term, not the operator NOT"),
        ("lang:OR", 5, "not the operator OR"),
        ("dome NEAR/3 lang:en", 5, "NEAR counts words of the text: lang: and source: have no place"),
        ('(source:"EN Wire" OR x) NEAR/3 dome', 24, "NEAR counts words of the text"),
        ('"ir* dome"', 0, "a * goes at the end of a phrase's last word"),
        ("foo:(bar)", 0, "unknown field 'foo:'"),
        ("title:(lang:he)", 7, "fields do not nest: lang: inside title:"),
        ("lang:(en zh)", 6, "an article has one language: en AND zh never holds (write OR)"),
        ("title:title:x", 6, "fields do not nest: title: inside title:"),
    ],
)
def test_errors_name_the_position(query: str, position: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.position == position
    assert message in str(caught.value)
    assert caught.value.pointer().splitlines()[-1] == " " * position + "^"


@pytest.mark.parametrize(
    ("query", "said", "pointer"),
    [
        # A wide character takes two columns of a terminal; a tab stays a tab.
        ("台灣之盾 tilte:x", "at position 6", "台灣之盾 tilte:x\n         ^"),
        ("a\ttilte:x", "at position 3", "a\ttilte:x\n \t^"),
        # A rule written over lines in YAML: the line at fault, its caret under it.
        ('"Iron Dome"\nAND tilte:x\n', "at line 2, column 5", "AND tilte:x\n    ^"),
    ],
)
def test_the_pointer_is_under_the_fault_as_a_terminal_shows_it(query: str, said: str, pointer: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert str(caught.value).endswith(said)
    assert caught.value.pointer() == pointer


def test_a_long_query_shows_the_part_around_the_fault() -> None:
    query = " OR ".join(f"w{i}" for i in range(80)) + " tilte:x " + " OR ".join(f"v{i}" for i in range(80))
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    line, caret = caught.value.pointer().split("\n")
    assert line.startswith("…") and line.endswith("…") and len(line) == QueryError.SHOWN + 2
    assert line[len(caret) - 1 :].startswith("tilte:x")
