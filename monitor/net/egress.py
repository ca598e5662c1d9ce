"""The egress gate: every connection the monitor opens is checked where it is opened.

A host is resolved once, each address is checked, and the connection goes to the checked
address, so redirects, DNS rebinding and odd spellings of an address (2130706433, 0x7f.1,
[::ffff:127.0.0.1]) are all caught. A non-public address (loopback, private, link-local,
CGNAT, multicast, reserved, IPv6 ULA, and IPv4 addresses embedded in IPv6) is refused unless
the fetch allows it: a source may reach its own origin (scheme, host and port of the URL the
operator configured), or any address when it says `allow_private: true`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Which non-public destinations one fetch may reach."""

    own_origin: tuple[str, int] | None = None  # (host, port) of the source's configured URL
    allow_private: bool = False

    @classmethod
    def for_source(cls, url: str, allow_private: bool = False) -> EgressPolicy:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        return cls(((parts.hostname or "").lower(), port), allow_private)

    def permits_private(self, host: str, port: int) -> bool:
        return self.allow_private or self.own_origin == (host.lower().strip("[]"), port)


# EgressPolicy is frozen, so a shared default is safe.
_policy: ContextVar[EgressPolicy] = ContextVar("egress_policy", default=EgressPolicy())  # noqa: B039


@contextmanager
def egress(policy: EgressPolicy) -> Iterator[None]:
    """Apply a policy to the connections opened inside the block (this task only)."""
    token = _policy.set(policy)
    try:
        yield
    finally:
        _policy.reset(token)


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, also for every IPv4 address embedded in an IPv6 one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _teredo_client(address)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or address.is_link_local
    )


def _teredo_client(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    teredo = address.teredo
    return teredo[1] if teredo else None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking every address before connecting."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        policy = _policy.get()
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        refused: list[str] = []
        for address in addresses:
            if not is_public(address) and not policy.permits_private(host, port):
                refused.append(str(address))
                continue
            return await self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
        raise httpcore.ConnectError(f"egress refused: {host} is a non-public address ({', '.join(refused)})")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("egress refused: unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connection pool opens connections through the gate.

    httpx 0.28 takes no network backend, so the pool it builds is replaced by one that does
    (the same settings); httpx is pinned below 0.29 for this.
    """
    transport = httpx.AsyncHTTPTransport(limits=limits)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(),
    )
    return transport
