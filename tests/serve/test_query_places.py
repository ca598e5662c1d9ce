"""Where a search's query finds a result, as the search page shows it: found as written where
it is so (cheap: a pattern over the raw text, the snippet marked by it), else as the matcher
reads the article."""

from __future__ import annotations

import pytest

from monitor.models import Hit
from monitor.rules import parse_query
from monitor.serve.query_places import Place, query_hits, query_places
from tests.archive.helpers import make_article


def _shown(query: str, title: str = "A title", text: str = "", teaser: str = "") -> list[tuple[str, str]]:
    """(term, its snippet: marked HTML when found as written, else the matcher's snippet and
    field in brackets)."""
    article = make_article("a", title=title, text=text, teaser=teaser)
    return [(hit.term, _marks(hit)) for hit in query_hits(query_places(parse_query(query)), article)]


def _marks(hit: Place | Hit) -> str:
    return str(hit.marked) if isinstance(hit, Place) else f"{hit.snippet} [{hit.field}]"


@pytest.mark.parametrize(
    ("query", "text", "term", "shown"),
    [
        (
            '"iron dome"',
            "Japan looked at the IRON-DOME system.",
            "iron dome",
            "the <mark>IRON-DOME</mark> system",
        ),
        ("weapon*", "New weaponry was shown.", "weapon*", "New <mark>weaponry</mark> was"),
        ("台灣之盾", "國防部說明台灣之盾的進度。", "台灣之盾", "說明<mark>台灣之盾</mark>的"),
        # Not as written: as the matcher reads them.
        ("アイアンドーム", "防衛省はアイアン・ドームを視察した。", "アイアンドーム", "アイアン・ドーム"),
        ('"כיפת ברזל"', "יירוט בכיפת ברזל הצליח", "כיפת ברזל", "בכיפת ברזל"),  # a prefix
        ("铁穹", "以色列的鐵穹系統", "铁穹", "鐵穹"),  # Simplified asked, Traditional written
    ],
)
def test_a_term_is_found_as_written_or_as_the_matcher_reads_it(
    query: str, text: str, term: str, shown: str
) -> None:
    [(said, marked)] = _shown(query, text=text)
    assert said == term and shown in marked


def test_terms_under_not_and_of_sources_and_languages_are_not_shown() -> None:
    shown = _shown("laser AND NOT sport AND source:Harbor AND lang:en", text="A laser test; no sport.")
    assert shown == [("laser", "A <mark>laser</mark> test; no sport.")]


def test_the_text_is_preferred_to_the_title_and_a_word_is_not_found_inside_another() -> None:
    assert _shown("dome", title="Dome news", text="The dome reopened.") == [
        ("dome", "The <mark>dome</mark> reopened.")
    ]
    assert _shown("dome", title="Dome news", text="Domestic news only.") == [
        ("dome", "<mark>Dome</mark> news")
    ]


def test_a_snippet_is_escaped_and_only_the_term_marked() -> None:
    [(_, marked)] = _shown("dome", text='<script>x</script> the dome & "more"')
    assert marked == "&lt;script&gt;x&lt;/script&gt; the <mark>dome</mark> &amp; &#34;more&#34;"


def test_a_title_term_is_shown_in_the_title_and_a_source_never() -> None:
    shown = _shown(
        "title:weapons AND laser", title="Weapons fair", text="A new weapons shipment and a laser."
    )
    assert shown == [
        ("weapons", "<mark>Weapons</mark> fair"),
        ("laser", "A new weapons shipment and a <mark>laser</mark>."),
    ]
    assert _shown("source:Harbor", text="Harbor Daily news.") == []  # the rules' hits are shown instead


def test_a_phrase_apart_by_a_full_width_hyphen_or_a_minus_is_found_as_written() -> None:
    [(_, marked)] = _shown('"T-Dome"', text="The T－Dome and the T−Dome.")
    assert marked == "The <mark>T－Dome</mark> and the <mark>T−Dome</mark>."


def test_a_term_every_result_holds_is_shown_where_another_spelling_has_it() -> None:
    """Found by a review: with one term found as written, one written otherwise (Simplified
    asked, Traditional written; a Hebrew prefix) was not shown at all."""
    shown = _shown("laser AND 铁穹", text="A laser test near the 鐵穹 battery.")
    assert shown == [
        ("laser", "A <mark>laser</mark> test near the 鐵穹 battery."),
        ("铁穹", "A laser test near the 鐵穹 battery. [text]"),
    ]
    shown = _shown('"Iron Dome" NEAR/5 "כיפת ברזל"', text="Iron Dome, known as בכיפת ברזל here")
    assert [term for term, _ in shown] == ["Iron Dome", "כיפת ברזל"]
    # A term with its own other spellings is still one term every result holds.
    assert [term for term, _ in _shown("dome AND F-35", text="The dome and the F35 jets.")] == [
        "dome",
        "F-35",
    ]


def test_an_ors_terms_absent_as_written_do_not_send_a_result_to_the_matcher() -> None:
    """An OR's terms are most of them absent from each result: reading every result as the
    matcher does for them cost a crowd two thirds of its answers."""
    article = make_article("a", text="A laser test; 鐵穹 too.")
    places = query_places(parse_query("laser OR radar OR 铁穹 OR sonar"))
    assert [hit.term for hit in query_hits(places, article)] == ["laser"]
    assert all(isinstance(hit, Place) for hit in query_hits(places, article))


def test_a_query_of_no_term_a_result_is_found_by_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a review: the results of `NOT zzzq` over long articles were each tokenized for
    places no query term has (a crowd of 40 held the server for 30 s)."""
    monkeypatch.setattr("monitor.serve.query_places._read_as_the_matcher_reads", _never_read)
    article = make_article("a", text="dome " * 4_000)
    for query in ("NOT zzzq", "source:Harbor", "lang:en AND NOT sport"):
        assert query_hits(query_places(parse_query(query)), article) == []


def _never_read(*_: object) -> list[Hit]:
    raise AssertionError("read as the matcher reads")


def test_a_term_found_in_another_spelling_shows_its_first_place_not_the_title() -> None:
    """Found by a review: `dome F-35` over "F35 dome" listed every F35 place, the title's too,
    where a term found as written shows its first place only."""
    shown = _shown("dome AND F-35", title="F35 dome", text="The dome guards F35 jets; more F35 jets came.")
    assert [term for term, _ in shown] == ["dome", "F-35"]
    assert shown[1][1].endswith("[text]")
    alone = _shown("F-35", title="F35 jets", text="F35 jets came, then more F35 jets.")
    assert [(term, marks.endswith("[text]")) for term, marks in alone] == [("F-35", True)]
