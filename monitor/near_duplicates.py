"""Near-duplicate detection: copies of one story (a wire story carried by several outlets, a
rewrite with a new first line) get one fingerprint family, so they can share a story id.

A fingerprint is a one-permutation MinHash over shingles of the normalized text: every run of
three tokens (words; single characters in Chinese, Japanese and Korean, where tokens are
characters) is hashed once, and each of BINS bins keeps the smallest hash that falls in it. The
share of bins two fingerprints agree on estimates the Jaccard similarity of their shingle sets.

A short text (a feed teaser of thirty words) leaves many bins empty. Fingerprints are stored as
computed, and densified where they are used: an empty bin borrows the value of the first filled
bin in an order of its own (optimal densification, Shrivastava 2017), so two copies borrow alike
and every bin counts. For lookup, the bins are cut into bands; copies share at least one band
with high probability (locality-sensitive hashing), so the archive compares a new article only
with the few stored articles that share a band key with it.

Shingles a source repeats across its items (a disclaimer, a newsletter pitch) say nothing about
the story: the poll learns them (`repeated_shingles`) from its new items and the feed's other
newest entries (a feed that brings one new item per poll teaches as well as one that brings
thirty), remembers them per source (`remembered_boilerplate`) and leaves them out of the
fingerprint.
"""

from __future__ import annotations

import hashlib
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from monitor.rules.text import tokenize

BINS = 64
ROWS_PER_BAND = 3  # 21 bands over the first 63 bins: copies 0.6 alike share one 99.6% of the time
BANDS = BINS // ROWS_PER_BAND
SHINGLE = 3
MIN_SHINGLES = 5  # fewer (a headline alone) is not enough evidence to call two articles one story
EMPTY = -1
_BIN_BITS = 6  # 2**6 == BINS
_VALUE_MASK = (1 << (64 - _BIN_BITS)) - 1
_PACKING = struct.Struct(f">{BINS}q")
_EMPTY_HASH = hashlib.blake2b(digest_size=8)
# Boilerplate: a shingle in at least this many of the items a poll learns from, and in half.
REPEATED_IN = 3
LEARN_FROM = 8  # items a poll learns from at least, its new ones first, then the feed's newest
MAX_BOILERPLATE = 1024  # shingles remembered per source
_HASH_PACKING = ">Q"

Fingerprint = tuple[int, ...]


def _probe_order(index: int) -> tuple[int, ...]:
    """The bins an empty bin borrows from, first choice first: a fixed pseudo-random order per
    bin, so that neighbouring empty bins do not all copy the same filled one."""
    others = [other for other in range(BINS) if other != index]
    return tuple(sorted(others, key=lambda other: hashlib.blake2b(bytes((index, other))).digest()))


_PROBES = tuple(_probe_order(index) for index in range(BINS))


def shingles(tokens: Sequence[str]) -> set[str]:
    if len(tokens) < SHINGLE:
        return {" ".join(tokens)} if tokens else set()
    # The shifted copies are of unequal length on purpose: zip stops at the last full shingle.
    return set(map(" ".join, zip(*(tokens[offset:] for offset in range(SHINGLE)), strict=False)))


def fingerprint(title: str, text: str) -> Fingerprint | None:
    """The MinHash of an article's title and text; None when the text is too short to compare."""
    return fingerprint_hashes(article_shingles(tokenize(title).tokens, tokenize(text).tokens))


def article_shingles(title: Sequence[str], text: Sequence[str]) -> set[int]:
    """An article's hashed shingles: its title's and its text's, none spanning the two. The end
    of a headline and the start of a text make shingles that no copy under a headline of its
    own shares, and in a short teaser they are a large part of all (bench.stories, tiny)."""
    return shingle_hashes(title) | shingle_hashes(text)


def fingerprint_tokens(tokens: Sequence[str]) -> Fingerprint | None:
    """The MinHash of normalized tokens (the pipeline passes the matcher's, tokenized once)."""
    return fingerprint_hashes(shingle_hashes(tokens))


def shingle_hashes(tokens: Sequence[str]) -> set[int]:
    """Each shingle's 64-bit BLAKE2b. A copy of an empty hash costs a third less than the
    constructor, which parses its keyword arguments for every shingle."""
    hashed: set[int] = set()
    add, fresh, from_bytes = hashed.add, _EMPTY_HASH.copy, int.from_bytes
    for shingle in shingles(tokens):
        state = fresh()
        state.update(shingle.encode())
        add(from_bytes(state.digest()))
    return hashed


def fingerprint_hashes(hashed: Iterable[int]) -> Fingerprint | None:
    """The MinHash of hashed shingles; None when there are too few to compare."""
    ordered = sorted(hashed)
    if len(ordered) < MIN_SHINGLES:
        return None
    # Largest first, so that each bin's smallest value is the last written to it (one bin's
    # values share their top bits: ordering them orders what remains).
    mins = {value >> (64 - _BIN_BITS): value & _VALUE_MASK for value in reversed(ordered)}
    return tuple(mins.get(index, EMPTY) for index in range(BINS))


def repeated_shingles(items: Sequence[set[int]]) -> frozenset[int]:
    """The shingles that at least REPEATED_IN of these items, and half of them, share: a
    source's boilerplate when the items are one poll's articles of the source."""
    if len(items) < REPEATED_IN:
        return frozenset()
    least = max(REPEATED_IN, (len(items) + 1) // 2)
    counts = Counter(value for item in items for value in item)
    repeated = [value for value, count in counts.most_common() if count >= least]
    return frozenset(repeated[:MAX_BOILERPLATE])


def remembered_boilerplate(known: frozenset[int], learned: frozenset[int]) -> frozenset[int]:
    """A source's boilerplate once a poll taught it `learned`: what it knew and what it learned
    (a new disclaimer does not make the old one count again), the newly learned kept first
    when there are more than MAX_BOILERPLATE."""
    if learned <= known:
        return known
    room = max(0, MAX_BOILERPLATE - len(learned))
    return learned | frozenset(sorted(known - learned)[:room])


def pack_shingles(hashed: Iterable[int]) -> bytes:
    return b"".join(value.to_bytes(8, "big") for value in sorted(hashed))


def unpack_shingles(packed: bytes) -> frozenset[int]:
    return frozenset(int.from_bytes(packed[i : i + 8], "big") for i in range(0, len(packed) - 7, 8))


def densified(print_: Fingerprint) -> Fingerprint:
    """Every empty bin filled with the value of the first filled bin in its probe order."""
    if EMPTY not in print_:
        return print_
    return tuple(
        value if value != EMPTY else next(print_[other] for other in _PROBES[index] if print_[other] != EMPTY)
        for index, value in enumerate(print_)
    )


def similarity(one: Fingerprint, other: Fingerprint) -> float:
    """Estimated Jaccard similarity: the share of densified bins the two agree on."""
    if all(value == EMPTY for value in one) or all(value == EMPTY for value in other):
        return 0.0
    agreeing = sum(a == b for a, b in zip(densified(one), densified(other), strict=True))
    return agreeing / BINS


def band_keys(print_: Fingerprint) -> list[int]:
    """One signed 64-bit key per band of the densified bins (an index column stores them)."""
    if all(value == EMPTY for value in print_):
        return []
    dense = densified(print_)
    keys: list[int] = []
    for band in range(BANDS):
        rows = dense[band * ROWS_PER_BAND : (band + 1) * ROWS_PER_BAND]
        digest = hashlib.blake2b(struct.pack(f">B{ROWS_PER_BAND}q", band, *rows), digest_size=8).digest()
        keys.append(int.from_bytes(digest, signed=True))
    return keys


def pack(print_: Fingerprint) -> bytes:
    return _PACKING.pack(*print_)


def unpack(blob: bytes) -> Fingerprint:
    return tuple(_PACKING.unpack(blob))


def best_copy(
    print_: Fingerprint, candidates: Sequence[tuple[str, bytes]], threshold: float
) -> tuple[str, float] | None:
    """The story of the most similar candidate at or above the threshold, with its similarity."""
    best: tuple[str, float] | None = None
    for story, blob in candidates:
        score = similarity(print_, unpack(blob))
        if score >= threshold and (best is None or score > best[1]):
            best = (story, score)
    return best


@dataclass(frozen=True, slots=True)
class StoryGrouping:
    """When two articles are one story: at least `similarity` alike, and fetched within `window` of each
    other (copies of a news story appear within days; older look-alikes are new stories)."""

    similarity: float = 0.5
    window: timedelta = timedelta(days=3)
