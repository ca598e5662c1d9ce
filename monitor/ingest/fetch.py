"""HTTP fetching with httpx: one overall deadline per request, a decoded-size cap enforced while
streaming, conditional GET, and a global concurrency bound. httpx shapes stay in this module."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from monitor.errors import FetchError, TooLargeError

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchResponse:
    url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False
    permanent_redirect: str | None = None

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class _Decoder:
    """Incremental Content-Encoding decoding that never produces more than the cap."""

    def __init__(self, encoding: str, url: str, cap: int) -> None:
        self.url = url
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []
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
        if self.inflater is None:
            self._keep(chunk)
            return
        data = chunk
        while data:
            try:
                out = self.inflater.decompress(data, self.cap - self.size + 1)
            except zlib.error as error:
                raise FetchError(self.url, f"corrupt compressed body: {error}") from error
            self._keep(out)
            data = self.inflater.unconsumed_tail

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise TooLargeError(self.url, f"body larger than the {self.cap:,}-byte cap")
        self.parts.append(data)

    def body(self) -> bytes:
        return b"".join(self.parts)


class Fetcher:
    def __init__(
        self,
        user_agent: str,
        timeout: timedelta,
        max_bytes: int,
        concurrency: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.deadline = timeout.total_seconds()
        self.max_bytes = max_bytes
        self.semaphore = asyncio.Semaphore(concurrency)
        self.client = httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=5,
            timeout=httpx.Timeout(min(self.deadline, 15.0)),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=32),
            transport=transport,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> FetchResponse:
        """GET url within the overall deadline; FetchError on any failure or HTTP error."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self.semaphore:
            try:
                async with asyncio.timeout(self.deadline):
                    return await self._get(url, headers)
            except TimeoutError:
                raise FetchError(url, f"no complete answer within {self.deadline:g}s") from None
            except httpx.TooManyRedirects:
                raise FetchError(url, "too many redirects") from None
            except httpx.InvalidURL as error:
                raise FetchError(url, f"invalid URL: {error}") from None
            except httpx.HTTPError as error:
                raise FetchError(url, _describe(error)) from None

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResponse:
        async with self.client.stream("GET", url, headers=headers) as response:
            final_url = str(response.url)
            moved = _permanent_redirect(response)
            if response.status_code == 304:
                return FetchResponse(final_url, 304, headers=dict(response.headers), not_modified=True)
            if response.status_code >= 400:
                reason = response.reason_phrase or "error"
                raise FetchError(url, f"HTTP {response.status_code} {reason}", response.status_code)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise TooLargeError(url, f"Content-Length {int(declared):,} exceeds the cap")
            decoder = _Decoder(response.headers.get("content-encoding", ""), url, self.max_bytes)
            async for chunk in response.aiter_raw(_CHUNK):
                decoder.feed(chunk)
            return FetchResponse(
                final_url,
                response.status_code,
                decoder.body(),
                dict(response.headers),
                permanent_redirect=moved,
            )


def _permanent_redirect(response: httpx.Response) -> str | None:
    """Where a 301/308 at the start of the chain points, to update the stored URL."""
    history = response.history
    if history and history[0].status_code in (301, 308):
        return str(response.url)
    return None


def _describe(error: httpx.HTTPError) -> str:
    kinds: dict[type[httpx.HTTPError], str] = {
        httpx.ConnectTimeout: "connection timed out",
        httpx.ReadTimeout: "read timed out",
        httpx.ConnectError: "cannot connect",
        httpx.RemoteProtocolError: "the server broke the HTTP protocol",
        httpx.UnsupportedProtocol: "unsupported URL scheme",
    }
    kind = kinds.get(type(error), type(error).__name__)
    detail = str(error).strip()
    return f"{kind}: {detail}" if detail else kind
