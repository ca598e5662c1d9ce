"""`monitor extract` and `monitor test-rule`: debugging a miss."""

from __future__ import annotations

import json
from pathlib import Path

from tests import fixtures
from tests.conftest import Cli
from tests.serve.conftest import free_port
from tests.servers import Site


def test_extract_a_url_and_a_file_as_json(cli: Cli, site: Site, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(fixtures.article_page("Engineers discussed the Iron Dome radar in detail."))
    code, out, err = cli("extract", site.url("/articles/shield.html"), str(page), "--format", "json")
    assert code == 0, err
    records = json.loads(out)
    assert [record["input"] for record in records] == [site.url("/articles/shield.html"), str(page)]
    assert set(records[0]) == {"input", "title", "text", "published", "language"}
    assert "T-Dome" in records[0]["text"]
    assert records[0]["published"] == "2026-01-06T08:00:00Z"
    assert records[0]["language"] == "en"
    assert "Iron Dome radar" in records[1]["text"]


def test_extract_reports_failures_and_keeps_going(cli: Cli, site: Site, tmp_path: Path) -> None:
    code, out, err = cli("extract", str(tmp_path / "missing.html"), site.url("/articles/shield.html"))
    assert code == 1
    assert "missing.html" in err
    assert "T-Dome" in out


def test_test_rule_exit_codes(cli: Cli, site: Site) -> None:
    code, out, _ = cli("test-rule", '"T-Dome" OR 台灣之盾', "--url", site.url("/articles/shield.html"))
    assert code == 0
    assert "match: 1 hit\n" in out and "»T-Dome«" in out
    code, out, _ = cli("test-rule", "laser NEAR/3 weapon*", "--text", "Koizumi wants laser weapons")
    assert code == 0 and "»laser«" in out and "»weapons«" in out
    code, out, _ = cli("test-rule", "dome", "--text", "domestic politics")
    assert code == 1 and out.strip() == "no match"
    # Each hit marked at its own place (a review: the first occurrence of its text, or all).
    code, out, _ = cli("test-rule", '"Iron Dome"', "--text", "IronDomeSystem was sold; the #IronDome works")
    assert code == 0 and "IronDomeSystem was sold; the #»IronDome« works" in out
    code, out, _ = cli("test-rule", "S-400", "--text", "the S 400 and the S400")
    assert out.splitlines()[1:] == [
        "  text [4:9] 'S-400': the »S 400« and the S400",
        "  text [18:22] 'S-400': the S 400 and the »S400«",
    ]
    code, _, err = cli("test-rule", "(dome", "--text", "dome")
    assert code == 2 and "expected ')'" in err


def test_test_rule_on_a_plain_text_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("The delegation toured a כיפת ברזל battery.", encoding="utf-8")
    code, out, _ = cli("test-rule", '"כיפת ברזל"', "--file", str(path))
    assert code == 0 and "»כיפת ברזל«" in out


def test_test_rule_reads_a_text_file_in_a_legacy_encoding_or_utf16_as_a_poll_would(
    cli: Cli, tmp_path: Path
) -> None:
    """Found by a review: Big5, Shift_JIS and windows-1255 text files were read as UTF-8 (the
    term there, "no match"), and UTF-16 with its byte-order mark was "not a text file"."""
    files = {
        "big5.txt": ("台灣之盾", "總統宣布加速打造台灣之盾，國防部表示鐵穹系統將納入評估。".encode("big5")),
        "sjis.txt": ("アイアンドーム", "アイアンドームの導入を検討する防衛省の担当者".encode("shift_jis")),
        "hebrew.txt": ('"כיפת ברזל"', "סוללת כיפת ברזל יירטה את הרקטות מעל העיר".encode("windows-1255")),
        "utf16.txt": ('"Iron Dome"', "The Iron Dome intercepted rockets".encode("utf-16")),
    }
    for name, (query, body) in files.items():
        (tmp_path / name).write_bytes(body)
        code, out, err = cli("test-rule", query, "--file", str(tmp_path / name))
        assert code == 0 and out.startswith("match: 1 hit"), (name, out, err)
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01dome")
    assert cli("test-rule", "dome", "--file", str(tmp_path / "binary.bin"))[0] == 2


def test_extract_says_in_one_line_why_a_page_gave_nothing(cli: Cli, tmp_path: Path) -> None:
    binary = tmp_path / "binary.html"
    binary.write_bytes(b"\x00\x01\x02 not a page")
    code, out, err = cli("extract", str(binary))
    assert code == 1 and out == ""
    assert err == f"monitor: {binary}: no article text found in the page\n"


def test_extract_refuses_schemes_it_cannot_read(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("extract", "ftp://example.org/page.html")
    assert code == 2
    assert err == "monitor: ftp://example.org/page.html: only http(s) URLs and files can be read, not ftp:\n"
    page = tmp_path / "page.html"
    page.write_bytes(fixtures.article_page("Engineers discussed the Iron Dome radar in detail."))
    code, out, _ = cli("extract", page.as_uri())
    assert code == 0 and "Iron Dome radar" in out


def test_test_rule_says_trouble_with_grep_exit_2_not_no_match(cli: Cli, site: Site, tmp_path: Path) -> None:
    """Found by a review: a file or URL that could not be read, and a page with no text to read,
    each printed "no match" or an error with exit 1, grep's "none found"."""
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"<html><body><script>1</script></body></html>")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01dome\x00")
    unreachable = f"http://127.0.0.1:{free_port()}/gone.html"
    for given in (
        ["--file", str(tmp_path / "missing.html")],
        ["--url", unreachable],
        ["--file", str(empty)],
        ["--file", str(tmp_path / "empty.txt")],  # these two: a second review
        ["--file", str(tmp_path / "binary.bin")],
    ):
        code, out, err = cli("test-rule", "dome", *given)
        assert code == 2 and out == "" and err.startswith(f"monitor: {given[1]}: "), (given, code, out, err)
        if given[1] == str(empty):
            assert "no article text found" in err
    assert "not a text file" in err  # the last: the binary one


def test_a_file_larger_than_a_page_may_be_is_not_read_whole(cli: Cli) -> None:
    """Found by a review: `test-rule dome --file /dev/zero` took 5.9 GB in 15 s (a URL was
    capped, a file was not)."""
    code, out, err = cli("test-rule", "dome", "--file", "/dev/zero")
    assert (code, out) == (2, "") and "larger than 10,485,760 bytes" in err, err
    code, out, err = cli("extract", "/dev/zero")
    assert code == 1 and "larger than 10,485,760 bytes" in err, err


ENGLISH = "This is a long English sentence about the Iron Dome and the radar it uses."


def test_test_rule_reads_the_language_as_a_poll_does(cli: Cli, tmp_path: Path) -> None:
    """Found in session 24: a text declaring no language was identified by polls, not by
    test-rule, whose lang:en then said no match where the daemon matched."""
    code, out, _ = cli("test-rule", "lang:en dome", "--text", ENGLISH)
    assert code == 0 and out.startswith("match: 1 hit (language: en)\n")
    code, out, _ = cli("test-rule", "lang:ja", "--text", ENGLISH)
    assert code == 1 and out == "no match (language: en)\n"
    code, out, _ = cli("test-rule", "lang:en", "--text", ENGLISH)
    assert code == 0 and "it holds through NOT or lang:, with no term to show" in out
    page = tmp_path / "page.html"
    page.write_bytes(fixtures.article_page(ENGLISH).replace(b' lang="en"', b""))
    code, out, _ = cli("extract", str(page), "--format", "json")
    assert code == 0 and json.loads(out)[0]["language"] == "en"


def test_a_query_may_begin_with_a_dash(cli: Cli) -> None:
    code, out, _ = cli("test-rule", "-sport", "--text", "Japan studies laser weapons")
    assert code == 0 and out.startswith("match: 0 hits")
    code, out, _ = cli("test-rule", "--text", "sport results", "-sport")
    assert code == 1 and out == "no match\n"
    code, _, err = cli("test-rule", "laser", "-sport", "--text", "laser")
    assert code == 2 and "unrecognized arguments: -sport (a query of several words goes in one pair" in err
    code, _, err = cli("test-rule", "--text", "laser")
    assert code == 2 and "test-rule: the following arguments are required: query" in err
    # A mistyped option is no query (a review found --matchd searched for "matchd").
    code, _, err = cli("search", "--matchd")
    assert code == 2 and err.endswith("unrecognized arguments: --matchd\n")
    code, _, err = cli("search", "-c", "other.yaml", "dome")
    assert code == 2 and "-c, --config and -v go before the command: monitor -c FILE search" in err


def test_an_option_of_one_value_given_twice_is_refused(cli: Cli) -> None:
    code, _, err = cli("search", "dome", "--lang", "en", "--lang", "he")
    assert code == 2 and "--lang is given twice: give it once (for either language, lang:(en OR zh)" in err
    code, _, err = cli("search", "dome", "--lang", "english")
    assert code == 2 and "give a language code such as en" in err
