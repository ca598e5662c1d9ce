"""Matching one rule against one hostile 1 MB text: time and memory against the target.

Each rule is matched as `test-rule` and `search` do ("alone": the article scanned for the
query's terms) and as the daemon does ("in rule set": the automaton over every rule's terms).

Each shape pairs a rule of the language at its bounds (five NEARs, 256 terms, prefixes) with a
text built to give it the most work: its terms repeated back to back, the shortest tokens, every
token distinct, Chinese characters (a token each). Time is measured without tracing, memory with
tracemalloc (its peak while tokenizing and evaluating, the text itself excluded). The baseline is
tokenizing alone: what any matcher must at least pay to read the text.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

from bench.report import environment, write_section
from monitor.rules import MatchInput, parse_query
from monitor.rules.ast import Node
from monitor.rules.automaton import Matcher
from monitor.rules.match import CompiledRule, evaluate
from monitor.rules.parse import MAX_PHRASE
from monitor.rules.text import tokenize

TARGET_SECONDS, TARGET_MIB = 1.0, 50
MEGABYTE = 1_000_000


def _fill(unit: str, size: int) -> str:
    return unit * (size // len(unit.encode()))


def shapes(size: int) -> list[tuple[str, str, str]]:
    """(name, query, text) for each hostile shape, the text about `size` bytes of UTF-8."""
    chain = " NEAR/1000 ".join(["iron", "dome", "system"] * 2)
    distinct = " ".join(f"x{index}" if index % 2 else f"y{index}" for index in range(size // 7))
    return [
        ("5 NEARs, their 3 words repeated", chain, _fill("iron dome system ", size)),
        ("5 NEARs, one-letter words", " NEAR/1000 ".join("ababab"), _fill("a b ", size)),
        ("the longest phrase, of one word", f'"{" ".join("a" * MAX_PHRASE)}"', _fill("a ", size)),
        (
            f"{MAX_PHRASE} phrases inside each other",
            " OR ".join(f'"{" ".join("a" * length)}"' for length in range(1, MAX_PHRASE + 1)),
            _fill("a ", size),
        ),
        ("prefixes NEAR, every token distinct", "x* NEAR/1000 y*", distinct[:size]),
        (
            "256 prefixes, every token distinct",
            " OR ".join(f"x{index}*" for index in range(256)),
            distinct[:size],
        ),
        (
            "Chinese NEARs, a token per character",
            "鐵穹 NEAR/1000 系統 NEAR/1000 鐵穹 NEAR/100 系統",
            _fill("铁穹系统", size),
        ),
        (
            "256 terms over 4 words, ANDed and ORed",
            " OR ".join(["a", "b", "c", "d"] * 64),
            _fill("a b c d ", size),
        ),
        (
            "overlapping ANDs of ORs",
            " AND ".join(["(a OR b)", "(b OR a)", "(a OR b OR c)"] * 28),
            _fill("a b c ", size),
        ),
    ]


def seconds(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def peak_mib(run: Callable[[], object]) -> float:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def measure(size: int) -> list[str]:
    rows = []
    for name, query, text in shapes(size):
        node = parse_query(query)
        matcher = Matcher([CompiledRule("hostile", query, node)])

        def alone(text: str = text, node: Node = node) -> object:
            return evaluate(node, MatchInput("", "", text))

        def in_rule_set(text: str = text, matcher: Matcher = matcher) -> object:
            return matcher.match(MatchInput("", "", text))

        def read(text: str = text) -> object:
            return tokenize(text)

        alone(), in_rule_set()  # numpy loads parts of itself on first use
        times = seconds(alone), seconds(in_rule_set)
        memory = peak_mib(alone), peak_mib(in_rule_set)
        within = max(times) <= TARGET_SECONDS and max(memory) <= TARGET_MIB
        rows.append(
            f"| {name} | {len(text.encode()) / MEGABYTE:.2f} | {seconds(read):.2f} "
            f"| {times[0]:.2f} | {times[1]:.2f} | {max(times) / TARGET_SECONDS:.0%} "
            f"| {memory[0]:.0f} | {memory[1]:.0f} | {max(memory) / TARGET_MIB:.0%} "
            f"| {'yes' if within else '**no**'} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    header = [
        "| shape | MB | tokenize only s | alone s | in rule set s | worst of 1 s "
        "| alone MiB | in rule set MiB | worst of 50 MiB | within target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    body = "\n".join(header + measure(int(args.megabytes * MEGABYTE)))
    if not args.no_write:
        intro = (
            "One rule against one hostile text (see the module docstring for the shapes); "
            "time is the best of three runs, memory the tracemalloc peak of one.\n"
        )
        write_section(
            "Hostile texts (bench/adversarial.py)",
            environment("bench.adversarial", ["regex", "OpenCC"]) + "\n" + intro + "\n" + body,
        )


if __name__ == "__main__":
    main()
