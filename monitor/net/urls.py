"""The URLs no fetch follows, told without the HTTP stack: the config checks its sources'
URLs with this at load, the fetcher every URL before it connects."""

from __future__ import annotations

from urllib.parse import urlsplit

from monitor.errors import FetchError


def check_url(url: str) -> None:
    """Refuse URLs no fetch should follow: other schemes, credentials, control characters."""
    if any(ord(char) < 0x21 or char in "\\\x7f" for char in url):
        raise FetchError(url, "refused: the URL holds spaces, control characters or backslashes")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(url, f"refused: scheme {parts.scheme!r} (only http and https)")
    if parts.username is not None or parts.password is not None:
        raise FetchError(url, "refused: the URL carries credentials")
    if not parts.hostname:
        raise FetchError(url, "refused: the URL has no host")
