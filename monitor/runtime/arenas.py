"""Fewer malloc arenas for the daemon's threads (glibc).

glibc gives threads that allocate at once arenas of their own, up to eight per core, and memory
freed in an arena stays with it. A pass parses and writes in a pool of threads, so the freed
bodies and articles of one moment spread over many arenas: `monitor run` with 3,000 sources
peaked at 184 MB with the default and at 166 MB with two arenas, in the same pass time
(python -m bench.memory --feeds 3000, MALLOC_ARENA_MAX=2). MALLOC_ARENA_MAX in the environment
wins; elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap the arenas of threads created from now on; whether the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl has no arenas to cap)
        return False
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt and mallopt(_M_ARENA_MAX, arenas) == 1)
