"""One HTTP POST to a receiver, refusing private targets before any connection is opened.

The host is resolved first and every address it resolves to must be public (not loopback,
link-local, private, shared, multicast, reserved or a cloud metadata address); the request
then goes to the checked address itself (``Host`` and TLS SNI keep the name), so a second
DNS answer cannot swap in another address. Redirects are not followed unless the endpoint
asks for it; each hop is checked again. The whole exchange has one deadline, and at most
``max_bytes`` of the answer are read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]
MAX_REDIRECTS = 3
SNIPPET_CHARS = 1000


class TargetRefused(Exception):
    """The URL may not be called (scheme, or an address that is not public)."""


@dataclass(frozen=True)
class Exchange:
    """What the receiver answered: status, ``Retry-After`` seconds, the start of the body."""

    status_code: int
    retry_after_seconds: float | None
    snippet: str
    latency_ms: int


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def refuse_reason(address: str) -> str | None:
    """Why an address is not a public one (``None`` when it is)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata)"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return "private or reserved"
    if not ip.is_global:
        return "not a public address"
    return None


def check_url(url: str, *, allow_local: bool) -> None:
    """Refuse what can be refused without DNS: the scheme and literal private addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefused("the URL must be an absolute https:// URL")
    if allow_local:
        return
    if parts.scheme != "https":
        raise TargetRefused("the URL must use https://")
    if parts.hostname in ("localhost",) or parts.hostname.endswith(".localhost"):
        raise TargetRefused(f"{parts.hostname} is a loopback name")
    try:
        reason = refuse_reason(parts.hostname)
    except ValueError:
        return  # a name: checked after resolution, at delivery time
    if reason:
        raise TargetRefused(f"{parts.hostname} is a {reason} address")


async def _pinned(url: str, *, resolver: Resolver, allow_local: bool) -> tuple[str, str]:
    """The URL rewritten to a checked address, and the host name to send as ``Host``."""
    check_url(url, allow_local=allow_local)
    parts = urlsplit(url)
    host = parts.hostname
    assert host is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except OSError as error:
            raise TargetRefused(f"{host} does not resolve: {error}") from None
    if not addresses:
        raise TargetRefused(f"{host} does not resolve")
    if not allow_local:
        for address in addresses:
            reason = refuse_reason(address)
            if reason:
                raise TargetRefused(f"{host} resolves to {address}, a {reason} address")
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl(), host_header


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - time.time())


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    resolver: Resolver = system_resolver,
    allow_local: bool = False,
    follow_redirects: bool = False,
    timeout_seconds: float = 10.0,
    max_bytes: int = 64 * 1024,
) -> Exchange:
    """POST ``body``; raise :class:`TargetRefused` before connecting to a refused target."""
    started = time.perf_counter()
    async with asyncio.timeout(timeout_seconds):
        for _hop in range(MAX_REDIRECTS + 1):
            pinned, host_header = await _pinned(url, resolver=resolver, allow_local=allow_local)
            request = client.build_request(
                "POST",
                pinned,
                content=body,
                headers={**headers, "host": host_header, "content-type": "application/json"},
                extensions={"sni_hostname": host_header.split(":")[0]},
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= max_bytes:
                        break  # enough to log; the rest is never read
            finally:
                await response.aclose()
            location = response.headers.get("location")
            if follow_redirects and response.is_redirect and location:
                url = urljoin(url, location)
                continue
            return Exchange(
                status_code=response.status_code,
                retry_after_seconds=_retry_after(response.headers.get("retry-after")),
                snippet=b"".join(chunks)[:max_bytes].decode("utf-8", "replace")[:SNIPPET_CHARS],
                latency_ms=round((time.perf_counter() - started) * 1000),
            )
    raise TargetRefused(f"more than {MAX_REDIRECTS} redirects")
