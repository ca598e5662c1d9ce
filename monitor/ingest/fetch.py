"""HTTP fetching with httpx: one overall deadline per request, a decoded-size cap enforced while
streaming, conditional GET, a global and a per-host concurrency bound, and every connection
through the egress gate (egress.py). httpx shapes stay in this module.

Large bodies are what fill memory: a body read past LARGE_BODY bytes (or announced so by its
Content-Length, before any of it is read) takes one of LARGE_AT_ONCE slots, and `fetched` keeps
the slot while the caller parses it (a 9 MiB feed or page costs tens of megabytes to parse), so
however many fetches run at once, at most LARGE_AT_ONCE large bodies are read, held and parsed
together. A source's own large body also takes one of HEAVY_AT_ONCE turns, kept until its poll
ends: the entries it parses into are matched and stored after the slot is let go. Time spent
waiting does not count against the request's deadline, and a fetch waiting gives its fetch slot
back meanwhile, so that small feeds are never queued behind large ones. A slot's holder fetches
nothing more until it lets go (a holder waiting for a second slot would wait for itself)."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import httpx

from monitor.egress import EgressPolicy, check_url, egress, guarded_transport
from monitor.errors import FetchError, TooLargeError
from monitor.retry import retry_after
from monitor.runtime.arenas import release_free_memory

_CHUNK = 64 * 1024
LARGE_BODY = 1024 * 1024
LARGE_AT_ONCE = 1  # parsing is CPU-bound: a second at once bought no speed, and doubled the peak
HEAVY_AT_ONCE = 2  # polls of a large feed body, from its read to the poll's end (see `fetched`)
# A heavy turn's holders are polls, which end; the bound only turns an unforeseen wait-for cycle
# into an error instead of a hang.
HEAVY_WAIT_DEADLINES = 10


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
        """Decode at most _CHUNK more bytes of what was fed; whether more may remain. In steps,
        so that a compression bomb grows no faster than a plain body (see _LargeTurn)."""
        if self.inflater is None:
            return False
        limit = min(self.cap - self.size + 1, _CHUNK)
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


class _HostGate:
    """At most `per_host` requests to one host at once, started at least `gap` seconds apart."""

    def __init__(self, per_host: int, gap: float) -> None:
        self.per_host = per_host
        self.gap = gap
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.next_start: dict[str, float] = {}

    async def acquire(self, url: str) -> asyncio.Semaphore:
        """Wait for a slot of the URL's host and its start gap; returns the semaphore to release."""
        host = (urlsplit(url).hostname or "").lower()
        semaphore = self.slots.setdefault(host, asyncio.Semaphore(self.per_host))
        await semaphore.acquire()
        try:
            loop = asyncio.get_running_loop()
            start = max(loop.time(), self.next_start.get(host, 0.0))
            self.next_start[host] = start + self.gap
            await asyncio.sleep(start - loop.time())
        except BaseException:
            semaphore.release()
            raise
        return semaphore


class Fetcher:
    """GETs through the egress gate: feeds with keep-alive, content URLs on fresh connections
    (a pooled connection would skip the gate's check for a fetch with another policy)."""

    def __init__(
        self,
        user_agent: str,
        timeout: timedelta,
        max_bytes: int,
        concurrency: int,
        per_host: int = 2,
        host_gap: timedelta = timedelta(0),
    ) -> None:
        self.deadline = timeout.total_seconds()
        self.max_bytes = max_bytes
        self.semaphore = asyncio.Semaphore(concurrency)
        self.large = asyncio.Semaphore(LARGE_AT_ONCE)
        self.large_waiting = asyncio.Semaphore(concurrency)
        self.heavy = asyncio.Semaphore(HEAVY_AT_ONCE)
        self.hosts = _HostGate(per_host, host_gap.total_seconds())
        # httpcore walks every pooled connection (a readability check on each idle one) whenever
        # a request starts or ends: a quarter of the concurrency kept idle cut the walk's cost
        # (16% of a changed pass's CPU with 64 kept) while a host's next feed still finds one.
        keepalive = max(4, concurrency // 4)
        self.client = self._client(
            user_agent, httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=keepalive)
        )
        self.content_client = self._client(
            user_agent, httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=0)
        )

    def _client(self, user_agent: str, limits: httpx.Limits) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=5,
            timeout=httpx.Timeout(min(self.deadline, 15.0)),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=guarded_transport(limits),
        )

    async def close(self) -> None:
        await self.client.aclose()
        await self.content_client.aclose()

    async def get(
        self,
        url: str,
        *,
        policy: EgressPolicy,
        content: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        types: tuple[str, ...] = (),
    ) -> FetchResponse:
        """GET url within the overall deadline; FetchError on any failure or HTTP error.

        `content` marks a URL that came from fetched content (an article link, a sitemap entry)
        rather than from the operator. `types`, when given, are the Content-Type prefixes to
        accept; another type is refused before its body is read.
        """
        async with self.fetched(
            url,
            policy=policy,
            content=content,
            etag=etag,
            last_modified=last_modified,
            accept=accept,
            types=types,
        ) as response:
            return response

    @asynccontextmanager
    async def fetched(
        self,
        url: str,
        *,
        policy: EgressPolicy,
        content: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        types: tuple[str, ...] = (),
        poll_scope: AsyncExitStack | None = None,
    ) -> AsyncIterator[FetchResponse]:
        """As `get`, the response held while the block runs: a large body keeps its slot until
        the block (its parsing) ends. Fetch nothing else inside the block.

        `poll_scope` is the scope of the poll a source's own body feeds: a large body's poll
        then holds one of HEAVY_AT_ONCE turns until that scope closes, since its entries,
        matched and stored after the parse, fill memory as much as the parse. The heavy turn is
        always taken before the large-body slot, never after: a heavy poll's large page waits
        for the slot only, and the slot's holder never waits for a heavy turn."""
        async with AsyncExitStack() as large_slot:
            turn = _LargeTurn(self, url, large_slot, poll_scope)
            yield await self._fetch(url, policy, content, etag, last_modified, accept, types, turn)

    async def _fetch(
        self,
        url: str,
        policy: EgressPolicy,
        content: bool,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        types: tuple[str, ...],
        turn: _LargeTurn,
    ) -> FetchResponse:
        check_url(url)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        client = self.content_client if content else self.client
        await self.semaphore.acquire()
        try:
            turn.host_slot = await self.hosts.acquire(url)
            with egress(policy):
                async with asyncio.timeout(self.deadline) as turn.deadline:
                    return await self._get(client, url, headers, types, turn)
        except TimeoutError:
            raise FetchError(url, f"no complete answer within {self.deadline:g}s") from None
        except httpx.TooManyRedirects:
            raise FetchError(url, "too many redirects") from None
        except httpx.InvalidURL as error:
            raise FetchError(url, f"invalid URL: {error}") from None
        except httpx.HTTPError as error:
            raise FetchError(url, _describe(error)) from None
        finally:
            turn.give_back_slots()

    async def _get(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        types: tuple[str, ...],
        turn: _LargeTurn,
    ) -> FetchResponse:
        async with client.stream("GET", url, headers=headers) as response:
            final_url = str(response.url)
            moved = _permanent_redirect(response)
            if response.status_code == 304:
                return FetchResponse(final_url, 304, headers=dict(response.headers), not_modified=True)
            if response.status_code >= 400:
                raise FetchError(
                    url,
                    f"HTTP {response.status_code} {response.reason_phrase or 'error'}",
                    response.status_code,
                    retry_after(response.headers.get("retry-after")),
                )
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if types and kind and not kind.startswith(types):
                raise FetchError(url, f"refused content type {kind!r}", response.status_code)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise TooLargeError(url, f"Content-Length {int(declared):,} exceeds the cap")
            if declared.isdigit() and int(declared) > LARGE_BODY:
                await turn.take()  # announced large: wait before reading, holding nothing
            decoder = _Decoder(response.headers.get("content-encoding", ""), url, self.max_bytes)
            async for chunk in response.aiter_raw(_CHUNK):
                decoder.feed(chunk)
                while True:
                    if decoder.size > LARGE_BODY:
                        await turn.take()
                    if not decoder.drain():
                        break
            return FetchResponse(
                final_url,
                response.status_code,
                decoder.body(),
                dict(response.headers),
                permanent_redirect=moved,
            )


class _LargeTurn:
    """A fetch's claim on one of the fetcher's large-body slots, taken once and kept by `stack`;
    while waiting for it, the fetch gives its fetch slot back."""

    def __init__(
        self, fetcher: Fetcher, url: str, stack: AsyncExitStack, poll_scope: AsyncExitStack | None
    ) -> None:
        self.fetcher, self.url, self.stack, self.poll_scope = fetcher, url, stack, poll_scope
        self.deadline: asyncio.Timeout | None = None
        self.taken = False
        self.holds_fetch_slot = True
        self.host_slot: asyncio.Semaphore | None = None

    def give_back_slots(self) -> None:
        """Let go of the fetch slot and the host's slot: a waiting fetch reads nothing, and the
        turn's holders may need both (a heavy poll fetches its pages, often from that host)."""
        if self.holds_fetch_slot:
            self.holds_fetch_slot = False
            self.fetcher.semaphore.release()
        host_slot, self.host_slot = self.host_slot, None
        if host_slot is not None:
            host_slot.release()

    async def take(self) -> None:
        """Wait for the slot, the request's deadline stopped meanwhile, the fetch and host slots
        given back. A source's own body first waits for a heavy turn: its holders are polls,
        which end. The slot itself is waited for one deadline at most, so that a slow server
        holding it (until its own deadline) can stall the fetches queued behind it only that
        long."""
        if self.taken:
            return
        assert self.deadline is not None, "take() runs inside the request's deadline"
        loop = asyncio.get_running_loop()
        waited_from, when = loop.time(), self.deadline.when()
        self.deadline.reschedule(None)  # waiting is not the server's slowness: the clock stops
        self.stack.callback(release_free_memory)  # last, once the body's parsing is done
        try:
            if self.poll_scope is not None:
                # Without a waiting ticket: the tickets are for the slot, and a heavy poll's page
                # needs one (waiters for a heavy turn are polls in flight, bounded by the pipeline).
                self.give_back_slots()
                async with asyncio.timeout(HEAVY_WAIT_DEADLINES * self.fetcher.deadline):
                    await self.poll_scope.enter_async_context(self.fetcher.heavy)
            async with asyncio.timeout(self.fetcher.deadline):
                async with self.fetcher.large_waiting:  # at most `concurrency` fetches wait so
                    self.give_back_slots()
                    await self.stack.enter_async_context(self.fetcher.large)
        except TimeoutError:
            raise FetchError(
                self.url,
                "waited too long for its turn to read a large body (one at a time); "
                "it is tried again at the next poll",
            ) from None
        self.taken = True
        if when is not None:
            self.deadline.reschedule(when + loop.time() - waited_from)


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
