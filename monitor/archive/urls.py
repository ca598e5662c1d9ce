"""What a storage URL names, without opening it: the config checks it when it loads (so that
`monitor check` and every command refuse the same URLs, at `storage.url`), the archive again
when it opens one given in code."""

from __future__ import annotations

from urllib.parse import urlsplit

POSTGRES_PREFIXES = ("postgresql+psycopg://", "postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_PREFIXES)


def storage_url_problem(url: str) -> str | None:
    """Why the archive cannot live at `url`, or None."""
    if is_postgres_url(url):
        if not urlsplit(url).path.strip("/"):  # libpq would pick one: the user's, say
            return f"storage URL {url!r} names no database: give postgresql://user@host/database"
        return None
    if not url.startswith("sqlite:"):
        return (
            f"unsupported storage URL {url!r}: give sqlite:///path/to/file.db or postgresql://host/database"
        )
    memory = url in ("sqlite:", "sqlite://", "sqlite:///") or ":memory:" in url or "mode=memory" in url
    if memory:
        return (
            f"storage URL {url!r} is an in-memory database: every connection of the archive "
            "would see its own, empty one, and all would be lost at exit; give a file path"
        )
    path = url.removeprefix("sqlite:///")
    if path == url or path.rstrip("/").rsplit("/", 1)[-1] in ("", ".", "..") or path.endswith("/"):
        return f"storage URL {url!r} names no file: give sqlite:///relative/path.db or sqlite:////absolute/path.db"
    return None
