"""Near-duplicate detection: copies of one story (a wire story carried by several outlets, a
rewrite with a new first line) get one fingerprint family, so they can share a story id.

A fingerprint is a one-permutation MinHash over shingles of the normalized text: every run of
three tokens (words; single characters in Chinese, Japanese and Korean, where tokens are
characters) is hashed once, and each of BINS bins keeps the smallest hash that falls in it. The
share of bins two fingerprints agree on estimates the Jaccard similarity of their shingle sets.
For lookup, the bins are cut into bands; copies share at least one band with high probability
(locality-sensitive hashing), so the archive compares a new article only with the few stored
articles that share a band key with it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from monitor.rules.text import tokenize

BINS = 64
ROWS_PER_BAND = 4
SHINGLE = 3
MIN_SHINGLES = 5  # fewer (a headline alone) is not enough evidence to call two articles one story
EMPTY = -1
_BIN_BITS = 6  # 2**6 == BINS
_VALUE_MASK = (1 << (64 - _BIN_BITS)) - 1
_PACKING = struct.Struct(f">{BINS}q")
_EMPTY_HASH = hashlib.blake2b(digest_size=8)

Fingerprint = tuple[int, ...]


def shingles(tokens: Sequence[str]) -> set[str]:
    if len(tokens) < SHINGLE:
        return {" ".join(tokens)} if tokens else set()
    # The shifted copies are of unequal length on purpose: zip stops at the last full shingle.
    return set(map(" ".join, zip(*(tokens[offset:] for offset in range(SHINGLE)), strict=False)))


def fingerprint(title: str, text: str) -> Fingerprint | None:
    """The MinHash of an article's title and text; None when the text is too short to compare."""
    return fingerprint_tokens(tokenize(f"{title}\n{text}").tokens)


def fingerprint_tokens(tokens: Sequence[str]) -> Fingerprint | None:
    """The MinHash of normalized tokens (the pipeline passes the matcher's, tokenized once)."""
    found = shingles(tokens)
    if len(found) < MIN_SHINGLES:
        return None
    hashed = _hashes(found)
    # Hashed largest first, so that each bin's smallest value is the last written to it (one
    # bin's values share their top bits: ordering them orders what remains).
    hashed.sort()
    mins = {value >> (64 - _BIN_BITS): value & _VALUE_MASK for value in reversed(hashed)}
    return tuple(mins.get(index, EMPTY) for index in range(BINS))


def _hashes(found: set[str]) -> list[int]:
    """Each shingle's 64-bit BLAKE2b. A copy of an empty hash costs a third less than the
    constructor, which parses its keyword arguments for every shingle."""
    hashed: list[int] = []
    add, fresh, from_bytes = hashed.append, _EMPTY_HASH.copy, int.from_bytes
    for shingle in found:
        state = fresh()
        state.update(shingle.encode())
        add(from_bytes(state.digest()))
    return hashed


def similarity(one: Fingerprint, other: Fingerprint) -> float:
    """Estimated Jaccard similarity: agreeing bins among the bins either text filled."""
    filled = agreeing = 0
    for a, b in zip(one, other, strict=True):
        if a == EMPTY and b == EMPTY:
            continue
        filled += 1
        agreeing += a == b
    return agreeing / filled if filled else 0.0


def band_keys(print_: Fingerprint) -> list[int]:
    """One signed 64-bit key per band whose bins are all filled (an index column stores them)."""
    keys: list[int] = []
    for band in range(0, BINS, ROWS_PER_BAND):
        rows = print_[band : band + ROWS_PER_BAND]
        if EMPTY in rows:
            continue
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
