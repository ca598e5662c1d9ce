"""glibc's malloc, told to hold less: fewer arenas for the daemon's threads, and freed memory
given back after a large body.

glibc gives threads that allocate at once arenas of their own, up to eight per core, and memory
freed in an arena stays with it. A pass parses and writes in a pool of threads, so the freed
bodies and articles of one moment spread over many arenas, each keeping its own high-water
mark; two arenas lower the daemon's peak without slowing a pass (bench/RESULTS.md has the
figures). MALLOC_ARENA_MAX in the environment wins; elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap the arenas of threads created from now on; whether the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ or _libc is None:
        return False
    return bool(_libc.mallopt(_M_ARENA_MAX, arenas) == 1)


def release_free_memory() -> None:
    """Give the heap's free memory back to the system (glibc's malloc_trim; elsewhere nothing).

    Parsing a large body frees tens of megabytes in many small blocks, which glibc keeps; the
    next large body is rarely parsed in the same place, so without this the peak grows with
    each one (bench.hostile)."""
    if _libc is not None:
        _libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None
    # musl and others have neither: nothing to tune there.
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_libc = _glibc()
