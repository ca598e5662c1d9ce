from __future__ import annotations

import pytest
import regex

from monitor.rules.text import FIELD_BREAK, fold_word, index_article, tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Iron Dome's radar", ["iron", "dome", "s", "radar"]),
        ("IRON-DOME", ["iron", "dome"]),
        ("T－Dome and T—Dome", ["t", "dome", "and", "t", "dome"]),
        ("Ｔ－ＤＯＭＥ", ["t", "dome"]),
        ("Straße", ["strasse"]),
        ("café résumé", ["cafe", "resume"]),
        ("Do\u00adme zero\u200bwidth", ["dome", "zerowidth"]),
        ("ΣΟΦΟΣ", ["σοφοσ"]),
        ("כִּיפַּת בַּרְזֶל", ["כיפת", "ברזל"]),
        ("القُبَّة", ["القبه"]),  # harakat removed, ta marbuta read as ha
        ("القبـة على علي", ["القبه", "على", "علي"]),  # the tatweel left out; on and Ali apart
        ("ﺍﻟﻘﺒﺔ خانۀ ٣٥", ["القبه", "خانه", "35"]),  # presentation forms, heh with yeh, digits
        ("台灣之盾", ["台", "湾", "之", "盾"]),
        ("アイアン・ドーム", ["ア", "イ", "ア", "ン", "ド", "ム"]),
        ("ドｰム ド―ム", ["ド", "ム", "ド", "ム"]),
        ("ｱｲｱﾝ", ["ア", "イ", "ア", "ン"]),
        ("Tドーム計画", ["t", "ド", "ム", "计", "画"]),
        ("아이언돔", ["아", "이", "언", "돔"]),
        ("Arrow-3", ["arrow", "3"]),
    ],
)
def test_tokens(text: str, tokens: list[str]) -> None:
    assert tokenize(text).tokens == tokens


def test_offsets_point_into_the_original_text() -> None:
    text = "Visit: the Iron-Dome's battery; 台灣之盾."
    tokenized = tokenize(text)
    spans = [text[start:end] for start, end in zip(tokenized.starts, tokenized.ends, strict=True)]
    assert spans == ["Visit", "the", "Iron", "Dome", "s", "battery", "台", "灣", "之", "盾"]


def test_kana_voicing_marks_are_kept() -> None:
    assert fold_word("ガ") != fold_word("カ")


def test_index_text_is_space_separated_tokens() -> None:
    assert index_article("Iron-Dome 鐵穹", "", "")[0] == "iron dome 铁 穹"


def test_snippet_cuts_at_word_gaps() -> None:
    doc = tokenize("word " * 100 + "Iron Dome" + " tail" * 100)
    cut = doc.snippet(100, 101)
    assert cut.startswith("…word") and cut.endswith("tail…")
    assert "Iron Dome" in cut and len(cut) <= 170


def test_snippet_keeps_a_short_text_whole_and_collapses_whitespace() -> None:
    doc = tokenize("«Iron\n\n  Dome» arrives.")
    assert doc.snippet(0, 1) == "«Iron Dome» arrives."


def test_snippet_of_running_cjk_text() -> None:
    doc = tokenize("前文" * 100 + "鐵穹" + "後文" * 100)
    cut = doc.snippet(200, 201)
    assert cut.startswith("…") and cut.endswith("…") and "鐵穹" in cut
    assert 150 <= len(cut) <= 170


@pytest.mark.parametrize(
    "joined",
    [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family: three people joined
        "\U0001f1f9\U0001f1fc\U0001f1ef\U0001f1f5",  # two flags, four letters
        "\U0001f44d\U0001f3fd",  # a thumb and its skin tone
        "\u0e01\u0e31\u0e49\u0e19",  # Thai: a consonant and its marks
        "\u0915\u094d\u0937",  # Devanagari: a conjunct
    ],
)
def test_a_snippet_of_running_text_is_not_cut_inside_a_character(joined: str) -> None:
    """Text without spaces is cut anywhere: never inside what a reader sees as one character
    (a joined emoji, a flag, a letter with its marks), which was shown broken."""
    for shift in range(len(joined) * 2):
        text = "前" * (100 + shift) + joined * 30 + "鐵穹" + joined * 30 + "後" * 100
        doc = tokenize(text)
        [at] = [index for index, token in enumerate(doc.tokens) if token == "铁"]
        cut = doc.snippet(at, at + 1).strip("…")
        inner = cut.strip("前後")
        assert text.find(inner) >= 0
        begins, ends = text.find(inner), text.find(inner) + len(inner)
        clusters = [found.span() for found in regex.finditer(r"\X", text)]
        edges = {edge for span in clusters for edge in span}
        assert begins in edges and ends in edges, (shift, cut[:3], cut[-3:])


def test_the_index_keeps_the_teaser_and_the_text_apart() -> None:
    teaser, body = "Iron-Dome: 鐵穹 teaser", "Body text with ＴＡＩＷＡＮ and כיפת ברזל."
    title, indexed = index_article("T", teaser, body)
    before, after = indexed.split(f" {FIELD_BREAK} ")
    assert (title, before, after) == ("t", " ".join(tokenize(teaser).tokens), " ".join(tokenize(body).tokens))
    assert not any(FIELD_BREAK in token for token in tokenize(f"{teaser} {FIELD_BREAK} {body}").tokens)
