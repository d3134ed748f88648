"""SSRF guard: decide whether a model-chosen URL may be fetched, and pin where to connect.

Rules (reference §3.4):

* http and https only; ports 80/443 unless configured; no credentials, no
  backslashes, no control characters in the URL;
* non-canonical IPv4 spellings (``2130706433``, ``0x7f.1``, ``017700000001``,
  ``127.1``) are refused outright, as are local-only names (``localhost``,
  ``*.internal``, ``*.local`` …);
* the name is resolved and **every** address is checked: loopback, private,
  link-local, multicast, reserved, unspecified, CGNAT, benchmark and other
  non-global ranges are refused, and so are addresses that embed an IPv4 address
  (IPv4-mapped/compatible, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4
  ``2002::/16``, Teredo ``2001::/32``);
* the result is a :class:`Target` pinned to one checked address, so the fetcher
  connects there (Host and SNI keep the name) and DNS cannot be re-asked.

Loopback (or any range) is allowed only through ``GuardPolicy.allow_networks``,
which tests use to reach their own server on 127.0.0.1.

Example:
    >>> import asyncio, ipaddress
    >>> blocked_reason(ipaddress.ip_address("64:ff9b::7f00:1"))
    'NAT64 address (embeds 127.0.0.1)'
    >>> try:
    ...     check_url_syntax("http://0x7f.1/", GuardPolicy())
    ... except BlockedURL as exc:
    ...     exc.message
    "refused http://0x7f.1/: '0x7f.1' is a non-canonical IPv4 spelling"
    >>> async def fake(host, port):
    ...     return ["93.184.215.14"]
    >>> target = asyncio.run(resolve_target("https://example.com/a?b=1", GuardPolicy(), fake))
    >>> target.pinned_url, target.host_header, target.sni
    ('https://93.184.215.14:443/a?b=1', 'example.com', 'example.com')
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from airloom.errors import ToolError

__all__ = [
    "DEFAULT_PORTS",
    "BlockedURL",
    "GuardPolicy",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "Target",
    "blocked_reason",
    "check_url_syntax",
    "resolve_target",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

DEFAULT_PORTS = frozenset({80, 443})
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_BENCHMARK = ipaddress.ip_network("198.18.0.0/15")
_LOCAL_NAMES = ("localhost",)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


class BlockedURL(ToolError):
    """A URL was refused by the SSRF guard; the message says why."""


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """What the guard allows. ``allowed_ports=None`` allows any port."""

    allowed_ports: frozenset[int] | None = DEFAULT_PORTS
    allow_networks: tuple[IPNetwork, ...] = ()
    max_redirects: int = 5

    @classmethod
    def allowing_loopback(cls, *, max_redirects: int = 5) -> GuardPolicy:
        """A policy for tests: loopback allowed, any port.

        Example:
            >>> GuardPolicy.allowing_loopback().allowed_ports is None
            True
        """
        networks = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
        return cls(allowed_ports=None, allow_networks=networks, max_redirects=max_redirects)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    ip: str

    @property
    def pinned_url(self) -> str:
        """The URL with the host replaced by the checked address."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        """The Host header: the original name, with the port when it is not the default."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def sni(self) -> str | None:
        """The TLS server name: the original name (``None`` for an address literal)."""
        if self.scheme != "https" or _ip_literal(self.host) is not None:
            return None
        return self.host


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped address", ip.ipv4_mapped
    for network in _NAT64:
        if ip in network:
            return "NAT64 address", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4 address", ip.sixtofour
    if ip.teredo is not None:
        return "Teredo address", ip.teredo[1]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return "IPv4-compatible address", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress, policy: GuardPolicy | None = None) -> str | None:
    """Why an address must not be contacted, or ``None`` when it may be.

    Example:
        >>> import ipaddress
        >>> blocked_reason(ipaddress.ip_address("100.64.0.1"))
        'shared address space (CGNAT)'
        >>> blocked_reason(ipaddress.ip_address("8.8.8.8")) is None
        True
    """
    if policy is not None and any(ip in net for net in policy.allow_networks):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return f"{embedded[0]} (embeds {embedded[1]})"
        if ip.scope_id:
            return "scoped IPv6 address"
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified address", ip.is_unspecified),
        ("link-local address", ip.is_link_local),
        ("multicast address", ip.is_multicast),
        ("shared address space (CGNAT)", ip in _CGNAT),
        ("benchmarking range", ip in _BENCHMARK),
        ("reserved address", ip.is_reserved),
        ("private address", ip.is_private),
        ("site-local address", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("not a global address", not ip.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


@dataclass(frozen=True, slots=True)
class _Parsed:
    scheme: str
    host: str
    port: int
    path: str


def check_url_syntax(url: str, policy: GuardPolicy) -> _Parsed:
    """Checks that need no DNS: scheme, credentials, port, host spelling, local names.

    Example:
        >>> check_url_syntax("HTTPS://Example.COM./x", GuardPolicy()).host
        'example.com'
    """

    def refuse(why: str) -> BlockedURL:
        return BlockedURL(f"refused {url[:200]}: {why}")

    if _CONTROL.search(url.strip()):
        raise refuse("spaces, control characters or backslashes in the URL")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise refuse(f"unreadable URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise refuse(f"scheme {scheme or '(none)'!r} is not http or https")
    if "@" in parts.netloc or parts.username is not None:
        raise refuse("credentials in the URL")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise refuse("no host")
    port = port if port is not None else (443 if scheme == "https" else 80)
    if policy.allowed_ports is not None and port not in policy.allowed_ports:
        raise refuse(f"port {port} is not allowed")
    if _ip_literal(host) is None:
        host = _check_name(host, refuse)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Parsed(scheme, host, port, path)


def _check_name(host: str, refuse: Callable[[str], BlockedURL]) -> str:
    if "%" in host:
        raise refuse("zone ids are not allowed")
    if all(_NUMERIC_LABEL.match(label) for label in host.split(".")):
        raise refuse(f"{host!r} is a non-canonical IPv4 spelling")
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        raise refuse(f"{host!r} is a local-only name")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise refuse(f"invalid host name {host!r}") from exc


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (A and AAAA); addresses in answer order.

    Example:
        >>> import asyncio
        >>> asyncio.run(system_resolver("127.0.0.1", 80))
        ['127.0.0.1']
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ToolError(f"cannot resolve {host!r}: {exc}", hint="check the URL") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_target(
    url: str, policy: GuardPolicy, resolver: Resolver = system_resolver
) -> Target:
    """Check a URL, resolve its host, check every address, pin the first.

    Example:
        >>> import asyncio
        >>> async def rebind(host, port):
        ...     return ["93.184.215.14", "10.0.0.7"]
        >>> try:
        ...     asyncio.run(resolve_target("http://evil.example/", GuardPolicy(), rebind))
        ... except BlockedURL as exc:
        ...     exc.message
        'refused http://evil.example/: evil.example resolves to 10.0.0.7 (private address)'
    """
    parsed = check_url_syntax(url, policy)
    literal = _ip_literal(parsed.host)
    addresses = (
        [parsed.host] if literal is not None else list(await resolver(parsed.host, parsed.port))
    )
    if not addresses:
        raise ToolError(f"cannot resolve {parsed.host!r}: no addresses")
    for address in addresses:
        ip = _ip_literal(address) if "%" not in address else None
        reason = "scoped or unreadable address" if ip is None else blocked_reason(ip, policy)
        if reason is not None:
            where = "" if literal is not None else f"{parsed.host} resolves to "
            raise BlockedURL(f"refused {url[:200]}: {where}{address} ({reason})")
    return Target(url, parsed.scheme, parsed.host, parsed.port, parsed.path, addresses[0])
