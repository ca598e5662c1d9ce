"""A response body as it comes off the wire, decoded (gzip, deflate) in steps and never past the
size cap: a compression bomb is stopped at the cap, not after inflating."""

from __future__ import annotations

import zlib

from monitor.errors import FetchError, TooLargeError

CHUNK = 64 * 1024


class BodyDecoder:
    """Incremental Content-Encoding decoding that never produces more than the cap."""

    def __init__(self, encoding: str, url: str, cap: int) -> None:
        self.url = url
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []
        self.tail = b""  # compressed input not decoded yet
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self.inflater: zlib._Decompress | None = None
        elif encoding in ("gzip", "x-gzip"):
            self.inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self.inflater = zlib.decompressobj()
        else:
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")

    def feed(self, chunk: bytes) -> None:
        """Take a chunk as it came off the wire; `drain` decodes it."""
        if self.inflater is None:
            self._keep(chunk)
        else:
            self.tail += chunk

    def drain(self) -> bool:
        """Decode at most CHUNK more bytes of what was fed; whether more may remain. In steps,
        so that a compression bomb grows no faster than a plain body (see turns.LargeTurn)."""
        if self.inflater is None:
            return False
        limit = min(self.cap - self.size + 1, CHUNK)
        try:
            out = self.inflater.decompress(self.tail, limit)
        except zlib.error as error:
            raise FetchError(self.url, f"corrupt compressed body: {error}") from error
        self.tail = self.inflater.unconsumed_tail
        self._keep(out)
        return len(out) == limit or bool(self.tail)

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise TooLargeError(self.url, f"body larger than the {self.cap:,}-byte cap")
        self.parts.append(data)

    def body(self) -> bytes:
        return b"".join(self.parts)
