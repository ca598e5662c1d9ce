"""Databases of their own on the benchmark's PostgreSQL server, dropped when done."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def new_database(server: str, purpose: str, template: str | None = None) -> Iterator[str]:
    """A new database on `server` (a copy of `template`, which nobody may be connected to),
    named after its purpose; yields its URL and drops it at the end, sessions and all."""
    name = f"monitor_bench_{purpose}_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        try:
            yield server.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
