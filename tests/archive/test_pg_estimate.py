"""Search on PostgreSQL estimates how many articles its index query matches in the process, from
the index's statistics (pg_estimate.py), instead of asking the planner each time: the estimate
must be the planner's own."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from monitor.archive import SearchFilters
from monitor.archive.pg_archive import PostgresArchive
from monitor.archive.pg_estimate import DEFAULT_SHARE, PREFIX_SHARE, IndexStatistics, index_statistics
from monitor.archive.pg_text import search_query
from monitor.rules import Term, parse_query
from tests.archive.helpers import make_article
from tests.postgres import new_schema

# Words from common to rare; Hebrew for the prefixed forms the index query adds.
VOCABULARY = [
    "budget", "radar", "coast", "radio", "frigate", "radical",
    "lattice", "orbital", "ממשלה", "ביטחון", "台灣之盾",
]  # fmt: skip


@pytest.fixture(scope="module")
def analyzed(postgres_url: str) -> Iterator[tuple[PostgresArchive, psycopg.Cursor[Any]]]:
    """An archive of 3,000 articles whose words are drawn with falling odds, analyzed."""
    with new_schema(postgres_url) as schema:
        archive = PostgresArchive(postgres_url, schema=schema)
        rng = random.Random(11)
        articles = []
        for index in range(3000):
            words = [word for rank, word in enumerate(VOCABULARY) if rng.random() < 0.7 / (rank + 1)]
            articles.append(make_article(f"e{index}", title=f"Report {index}", text=" ".join(words), hits=()))
        archive.store_new(articles, [])
        with psycopg.connect(postgres_url, autocommit=True, options=f"-csearch_path={schema}") as connection:
            connection.execute("ANALYZE articles")
            yield archive, connection.cursor()
        archive.close()


def _planner_rows(cursor: psycopg.Cursor[Any], index_query: str) -> float:
    [[plan]] = cursor.execute(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM articles WHERE search @@ %s::tsquery", (index_query,)
    ).fetchall()
    return float(plan[0]["Plan"]["Plan Rows"])


def _random_query(rng: random.Random) -> str:
    def operand() -> str:
        choice = rng.random()
        if choice < 0.2:
            return f'"{rng.choice(VOCABULARY[:6])} {rng.choice(VOCABULARY[:6])}"'
        if choice < 0.35:
            # Prefixes of one common lexeme, of several (rad: radar, radio, radical; 1: the
            # numbers of the titles), of none.
            return rng.choice(["bud", "ra", "rad", "co", "zz", "orb", "1", "12", "re"]) + "*"
        if choice < 0.45:
            return f"NOT {rng.choice(VOCABULARY)}"
        return rng.choice(VOCABULARY)

    query = operand()
    for _ in range(rng.randint(0, 3)):
        joined = f"{query} {rng.choice(['AND', 'OR'])} {operand()}"
        query = f"({joined})" if rng.random() < 0.3 else joined
    return query


def test_the_estimate_is_the_planners_for_random_queries(
    analyzed: tuple[PostgresArchive, psycopg.Cursor[Any]],
) -> None:
    _archive, cursor = analyzed
    statistics = index_statistics(cursor)
    assert statistics.total == 3000 and statistics.shares["budget"] > 0.5
    rng = random.Random(5)
    compared = 0
    for _ in range(300):
        query = _random_query(rng)
        index_query = search_query(parse_query(query))
        if index_query is None:
            continue
        ours, planners = statistics.matches(index_query), _planner_rows(cursor, index_query)
        assert abs(ours - planners) <= max(1.0, planners * 1e-3), (query, index_query, ours, planners)
        compared += 1
    assert compared > 200


def test_lexemes_are_read_back_as_written() -> None:
    """Quotes and backslashes in a lexeme are escaped in the literal and read back exactly."""
    others = {f"word{n}": 0.001 for n in range(200)}
    statistics = IndexStatistics(1000.0, {"o'neil\\x": 0.5, "o'neal": 0.25, **others})
    literal = search_query(Term("o'neil\\x", ("o'neil\\x",)))
    assert literal is not None and statistics.matches(literal) == 500
    prefix = search_query(Term("o'ne", ("o'ne",), prefix=True))
    assert (
        prefix is not None and 625 < statistics.matches(prefix) < 630
    )  # 0.5 + 0.25 - 0.5 * 0.25, and a little


def test_with_few_common_lexemes_a_prefix_is_taken_as_two_percent() -> None:
    statistics = IndexStatistics(1000.0, {"budget": 0.9, "budgetary": 0.5})
    assert statistics.matches("'bud':*") == 1000 * PREFIX_SHARE
    assert statistics.matches("'unknown'") == 1000 * DEFAULT_SHARE


@pytest.mark.parametrize("literal", ["'a' &", "('a' | 'b'", "'a' 'b'", "& 'a'", "'a' ) 'b'", "'a"])
def test_a_malformed_literal_is_refused(literal: str) -> None:
    with pytest.raises(ValueError, match="index query"):
        IndexStatistics().matches(literal)


def test_an_archive_never_analyzed_is_estimated_without_statistics(postgres_url: str) -> None:
    with new_schema(postgres_url) as schema:
        archive = PostgresArchive(postgres_url, schema=schema)
        try:
            with archive.db.read_cursor() as cursor:
                statistics = index_statistics(cursor)
            assert statistics.shares == {} and statistics.other_share == DEFAULT_SHARE
            archive.store_new([make_article("n1", text="budget radar", hits=())], [])
            found = archive.search(parse_query("budget"), SearchFilters(limit=5))
            assert [item.article.id for item in found] == ["n1"]
        finally:
            archive.close()
