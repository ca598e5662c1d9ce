"""Feeds and pages in the encodings outlets use, declared, undeclared, or declared wrongly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.ingest.pages.extract import extract_page
from monitor.ingest.parse.feeds import parse_feed

NOW = datetime(2026, 1, 7, tzinfo=UTC)
SAMPLES = {
    "utf-8": "Iron Dome: 台灣之盾、アイアン・ドーム、כיפת ברזל",
    "utf-16": "Iron Dome: 台灣之盾、アイアン・ドーム、כיפת ברזל",
    "utf-16-le": "Iron Dome: 台灣之盾、アイアン・ドーム",
    "gb2312": "以色列的铁穹防空系统与台湾之盾计划",
    "gbk": "以色列的铁穹防空系统与台湾之盾计划",
    "gb18030": "以色列的铁穹防空系统与台湾之盾计划",
    "big5": "以色列的鐵穹防空系統與台灣之盾計畫",
    "shift_jis": "イスラエルのアイアンドームと防衛力整備計画",
    "euc-jp": "イスラエルのアイアンドームと防衛力整備計画",
    "euc-kr": "이스라엘의 아이언돔 방공 체계와 대만의 방패",
    "windows-1255": "מערכת כיפת ברזל יירטה את הרקטות מעל העיר",
    "iso-8859-8": "מערכת כיפת ברזל יירטה את הרקטות מעל העיר",
    "windows-1251": "Система Железный купол перехватила ракеты над городом",
}


def feed(encoding: str, text: str, declare: bool) -> bytes:
    declaration = f' encoding="{encoding}"' if declare else ""
    xml = (
        f'<?xml version="1.0"{declaration}?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{text}</title><link>http://x.test/1</link>"
        f"<description>{text}. {text}. {text}</description></item></channel></rss>"
    )
    if encoding == "utf-16":
        return xml.encode("utf-16")  # with a BOM
    return xml.encode(encoding)


@pytest.mark.parametrize("encoding", sorted(SAMPLES))
@pytest.mark.parametrize("declare", [True, False])
def test_feed_encodings(encoding: str, declare: bool) -> None:
    text = SAMPLES[encoding]
    [entry] = parse_feed(feed(encoding, text, declare), "http://x.test/f", {}, NOW).entries
    assert entry.title == text


@pytest.mark.parametrize("encoding", ["big5", "gbk", "shift_jis", "windows-1255", "windows-1251"])
def test_feed_whose_header_contradicts_the_body(encoding: str) -> None:
    text = SAMPLES[encoding]
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    [entry] = parse_feed(feed(encoding, text, True), "http://x.test/f", headers, NOW).entries
    assert entry.title == text


def page(encoding: str, text: str, meta: bool) -> bytes:
    head = f'<meta charset="{encoding}">' if meta else ""
    paragraphs = "".join(f"<p>{text}. {text}.</p>" for _ in range(6))
    html = f"<html><head>{head}<title>t</title></head><body><article>{paragraphs}</article></body></html>"
    return html.encode("utf-16" if encoding == "utf-16" else encoding)


@pytest.mark.parametrize("encoding", sorted(set(SAMPLES) - {"utf-16", "utf-16-le"}))
@pytest.mark.parametrize("meta", [True, False])
def test_page_encodings(encoding: str, meta: bool) -> None:
    text = SAMPLES[encoding]
    assert text in extract_page(page(encoding, text, meta), "http://x.test/a").text


@pytest.mark.parametrize("encoding", ["big5", "shift_jis", "windows-1255"])
def test_page_whose_header_contradicts_the_body(encoding: str) -> None:
    text = SAMPLES[encoding]
    body = page(encoding, text, True)
    assert text in extract_page(body, "http://x.test/a", "text/html; charset=utf-8").text


def test_invalid_bytes_and_nuls_never_reach_the_text() -> None:
    body = (
        b"<html><body><article><p>"
        + b"Iron Dome \x00\xff\xfe battery. " * 20
        + b"</p></article></body></html>"
    )
    text = extract_page(body, "http://x.test/a").text
    assert "Iron Dome" in text and "\x00" not in text


# Written for this test: Portuguese with the accents ISO-8859-1 and windows-1250/1257 disagree on.
PORTUGUESE = (
    "A liderança do partido criticou a perseguição política e pediu explicações ao governo. "
    "Segundo a oposição, Chávez não respondeu às acusações, e a população exige ação imediata."
)
JAPANESE = "防衛省は、イスラエル製の防空システムの導入について調査費を計上する方針を固めた。"


@pytest.mark.parametrize(
    ("text", "encoding", "url"),
    [
        (PORTUGUESE, "iso-8859-1", "https://noticias.example.com.br/rss"),
        (PORTUGUESE, "iso-8859-1", "https://news.example.com/rss"),
        (JAPANESE * 2, "euc-jp", "https://example.jp/rss"),
        (JAPANESE * 2, "euc-jp", "https://example.com/rss"),
        (JAPANESE * 2, "shift_jis", "https://example.com/rss"),
    ],
)
def test_undeclared_legacy_feeds_read_as_written(text: str, encoding: str, url: str) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><item>'
        f"<title>t</title><link>{url}/1</link><description>{text}</description></item></channel></rss>"
    ).encode(encoding)
    [entry] = parse_feed(body, url, {}, NOW).entries
    assert entry.summary == text


# Written for this test: Russian and Arabic, both outside Latin-1, so UTF-16 bytes stay below 0x80.
RUSSIAN = "Министерство обороны сообщило о новых испытаниях системы противоракетной обороны."
ARABIC = "أعلنت وزارة الدفاع عن اختبار جديد لمنظومة القبة الحديدية قرب الساحل."


def _rss(text: str, url: str = "https://example.com") -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><item>'
        f"<title>t</title><link>{url}/1</link><description>{text}</description></item></channel></rss>"
    )


@pytest.mark.parametrize("text", [RUSSIAN, ARABIC])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_undeclared_utf16_without_a_bom_is_not_taken_for_utf8(text: str, encoding: str) -> None:
    """Cyrillic and Arabic in UTF-16 have no byte above 0x7f: the body is valid UTF-8 too."""
    body = _rss(text).encode(encoding)
    [entry] = parse_feed(body, "https://example.com/rss", {}, NOW).entries
    assert entry.summary == text


@pytest.mark.parametrize("declared", [True, False])
def test_utf8_with_one_stray_byte_stays_utf8(declared: bool) -> None:
    """One byte cut from a character does not make a UTF-8 feed a legacy one: the rest reads."""
    text = JAPANESE * 3
    body = _rss(text).encode("utf-8")
    body = body.replace(JAPANESE.encode()[:3], JAPANESE.encode()[:2], 1)  # the first character cut
    if not declared:
        body = body.replace(b'<?xml version="1.0"?>', b"", 1)
    else:
        body = body.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="utf-8"?>', 1)
    [entry] = parse_feed(body, "https://example.com/rss", {}, NOW).entries
    assert entry.summary.endswith(JAPANESE * 2)


def test_the_guess_reads_past_a_long_ascii_opening() -> None:
    """A page whose first 100 KiB are ASCII (scripts, styles) is guessed from its text."""
    page = (
        "<html><head><script>" + "var x = 1;\n" * 10_000 + "</script></head>"
        f"<body><article><p>{RUSSIAN}</p><p>{RUSSIAN}</p><p>{RUSSIAN}</p></article></body></html>"
    ).encode("windows-1251")
    assert RUSSIAN in extract_page(page, "https://example.com/a").text


@pytest.mark.parametrize("text", [RUSSIAN, ARABIC])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_undeclared_utf16_pages_without_a_bom_are_read(text: str, encoding: str) -> None:
    page = f"<html><body><article><p>{text}</p><p>{text}</p></article></body></html>".encode(encoding)
    assert text in extract_page(page, "https://example.com/a").text
