"""HTTP fetching with httpx: one overall deadline per request, a decoded-size cap enforced while
streaming, conditional GET, a global and a per-host concurrency bound, and every connection
through the egress gate (monitor/net/egress.py). httpx shapes stay in this module.

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
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypedDict, Unpack

import httpx

from monitor.archive import HostTurns
from monitor.errors import FetchError, TooLargeError
from monitor.ingest.fetch.bodies import CHUNK, BodyDecoder
from monitor.ingest.fetch.turns import LARGE_BODY, FetchSlots, LargeTurn
from monitor.net.egress import EgressPolicy, egress, guarded_transport
from monitor.net.retry import retry_after
from monitor.net.urls import check_url

CONNECT_WITHIN = 15.0  # seconds


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


class RequestOptions(TypedDict, total=False):
    """How to GET a URL. `content` marks a URL that came from fetched content (an article link,
    a sitemap entry) rather than from the operator; `types`, when given, are the Content-Type
    prefixes to accept (another type is refused before its body is read)."""

    content: bool
    etag: str | None
    last_modified: str | None
    accept: str
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    policy: EgressPolicy
    content: bool = False
    etag: str | None = None
    last_modified: str | None = None
    accept: str = "*/*"
    types: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        headers = {"Accept": self.accept}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


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
        shared_hosts: HostTurns | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.slots = FetchSlots.bounded(timeout, concurrency, per_host, host_gap, shared_hosts)
        # httpcore walks every pooled connection (a readability check on each idle one) whenever
        # a request starts or ends, so only some of them are kept idle: enough that a host's
        # next feed still finds one.
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
            # The deadline bounds the whole request (fetched()); only a connection has less: a
            # host that does not answer within CONNECT_WITHIN is down, however long a fetch may take.
            timeout=httpx.Timeout(self.slots.deadline, connect=min(self.slots.deadline, CONNECT_WITHIN)),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=guarded_transport(limits),
        )

    async def close(self) -> None:
        await self.client.aclose()
        await self.content_client.aclose()

    async def get(
        self, url: str, *, policy: EgressPolicy, **options: Unpack[RequestOptions]
    ) -> FetchResponse:
        """GET url within the overall deadline; FetchError on any failure or HTTP error."""
        async with self.fetched(url, policy=policy, **options) as response:
            return response

    @asynccontextmanager
    async def fetched(
        self,
        url: str,
        *,
        policy: EgressPolicy,
        poll_scope: AsyncExitStack | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[FetchResponse]:
        """As `get`, the response held while the block runs: a large body keeps its slot until
        the block (its parsing) ends. Fetch nothing else inside the block.

        `poll_scope` is the scope of the poll a source's own body feeds: a large body's poll
        then holds one of HEAVY_AT_ONCE turns until that scope closes, since its entries,
        matched and stored after the parse, fill memory as much as the parse. The heavy turn is
        always taken before the large-body slot, never after: a heavy poll's large page waits
        for the slot only, and the slot's holder never waits for a heavy turn."""
        async with AsyncExitStack() as large_slot:
            turn = LargeTurn(self.slots, url, large_slot, poll_scope)
            yield await self._fetch(Request(url, policy, **options), turn)

    async def _fetch(self, request: Request, turn: LargeTurn) -> FetchResponse:
        url = request.url
        check_url(url)
        client = self.content_client if request.content else self.client
        deadline = self.slots.deadline
        await self.slots.fetches.acquire()
        try:
            turn.host_slot = await self.slots.hosts.acquire(url)
            with egress(request.policy):
                async with asyncio.timeout(deadline) as turn.deadline:
                    return await self._get(client, url, request.headers(), request.types, turn)
        except TimeoutError:
            raise FetchError(url, f"no complete answer within {deadline:g}s") from None
        except httpx.TooManyRedirects:
            raise FetchError(url, "too many redirects") from None
        except httpx.InvalidURL as error:
            raise FetchError(url, f"invalid URL: {error}") from None
        except UnicodeError as error:  # a host name IDNA cannot write (xn--zz-zz.org), at connect
            raise FetchError(url, f"invalid host name: {error}") from None
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
        turn: LargeTurn,
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
            decoder = BodyDecoder(response.headers.get("content-encoding", ""), url, self.max_bytes)
            async for chunk in response.aiter_raw(CHUNK):
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
