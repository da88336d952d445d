"""SSRF guard for a connection's `baseUrl` (DESIGN.md §5).

An admin chooses the upstream URL, and the console then calls it with server-side
credentials; without this check an admin could make the console reach internal
services (cloud metadata at 169.254.169.254, databases on 10.x, the console itself).
Every address the host name resolves to must be public, unless the deployment allows
the host by name, address or CIDR range in `UPSTREAM_ALLOWED_HOSTS`.

Checked when a connection is saved, again right before each upstream call (with a clear
message), and once more where the one outbound client resolves the host to connect
(`integrations.outbound.GuardedResolver`): the addresses judged are the ones
connected to, so a DNS answer that changes between the check and the call (DNS
rebinding) cannot reach a private address.
"""

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Verdicts cached in-process by the call-time helper (host, port) → (expiry, error).
CALL_TIME_CACHE_SECONDS = 30.0
_verdicts: dict[tuple[str, int], tuple[float, "UnsafeUpstreamError | None"]] = {}


class UnsafeUpstreamError(ValueError):
    """The URL may not be called. The message is safe to show to the user."""


def _allowed_entries() -> tuple[set[str], list[IPNetwork]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in settings.UPSTREAM_ALLOWED_HOSTS:
        entry = raw.strip().lower().strip("[]")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return names, networks


def _is_public(address: IPAddress) -> bool:
    # An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 one.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_link_local
    )


def _parse(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUpstreamError("The base URL is not a valid URL.") from error
    if parts.scheme not in ("http", "https"):
        raise UnsafeUpstreamError("The base URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeUpstreamError("The base URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeUpstreamError("The base URL may not contain a user name or password.")
    return parts.hostname.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80)


def judge_addresses(host: str, addresses: list[str]) -> None:
    """Raise `UnsafeUpstreamError` unless `host` may be reached at every one of
    `addresses` (what it resolved to)."""
    host = host.lower().rstrip(".")
    names, networks = _allowed_entries()
    if host in names:
        return
    if not addresses:
        raise UnsafeUpstreamError(f"The host “{host}” could not be resolved.")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
        if _is_public(address):
            continue
        if any(address in network for network in networks):
            continue
        raise UnsafeUpstreamError(
            f"The base URL points at a private, loopback or link-local address "
            f"({address}); this deployment does not allow “{host}”."
        )


def _addresses(infos) -> list[str]:
    return sorted({info[4][0] for info in infos})


def check_base_url(url: str) -> None:
    """Raise `UnsafeUpstreamError` unless every address of the URL's host may be called."""
    host, port = _parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        infos = []
    judge_addresses(host, _addresses(infos))


async def acheck_base_url(url: str) -> None:
    """`check_base_url` without blocking the event loop."""
    host, port = _parse(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        infos = []
    judge_addresses(host, _addresses(infos))


async def acheck_upstream(url: str) -> None:
    """The gateway's call-time check: `acheck_base_url` with each (host, port) verdict
    remembered in-process for `CALL_TIME_CACHE_SECONDS`, so a busy model API does not
    resolve its upstream on every call."""
    host, port = _parse(url)
    now = time.monotonic()
    cached = _verdicts.get((host, port))
    if cached and cached[0] > now:
        if cached[1] is not None:
            raise cached[1]
        return
    try:
        await acheck_base_url(url)
    except UnsafeUpstreamError as error:
        _verdicts[(host, port)] = (now + CALL_TIME_CACHE_SECONDS, error)
        raise
    _verdicts[(host, port)] = (now + CALL_TIME_CACHE_SECONDS, None)


def clear_call_time_cache() -> None:
    _verdicts.clear()
