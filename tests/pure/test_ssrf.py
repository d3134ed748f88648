"""The reference's blocked-URL table as vectors (DNS-independent: a fake resolver)."""

from __future__ import annotations

import ipaddress

import pytest

from airloom.errors import ToolError
from airloom.runtime.tools.ssrf import (
    BlockedURL,
    GuardPolicy,
    Target,
    blocked_reason,
    resolve_target,
)

FAKE_DNS = {
    "example.com": ["93.184.215.14"],
    "localhost": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.215.14", "10.1.2.3"],
    "v6.example": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
}


async def fake_resolver(host: str, port: int) -> list[str]:
    if host not in FAKE_DNS:
        raise ToolError(f"cannot resolve {host!r}")
    return FAKE_DNS[host]


BLOCKED = [
    ("http://127.0.0.1/", "127.0.0.1 (loopback)"),
    ("http://localhost/", "'localhost' is a local-only name"),
    ("http://localhost./", "'localhost' is a local-only name"),
    ("http://[::1]/", "::1 (loopback)"),
    ("http://0.0.0.0/", "0.0.0.0 (unspecified address)"),
    ("http://2130706433/", "'2130706433' is a non-canonical IPv4 spelling"),
    ("http://0x7f.1/", "'0x7f.1' is a non-canonical IPv4 spelling"),
    ("http://017700000001/", "'017700000001' is a non-canonical IPv4 spelling"),
    ("http://127.1/", "'127.1' is a non-canonical IPv4 spelling"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped address (embeds 127.0.0.1)"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 address (embeds 127.0.0.1)"),
    ("http://[64:ff9b:1::a00:1]/", "NAT64 address (embeds 10.0.0.1)"),
    ("http://[2002:7f00:1::]/", "6to4 address (embeds 127.0.0.1)"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo address"),
    ("http://[::127.0.0.1]/", "IPv4-compatible address (embeds 127.0.0.1)"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 (link-local address)"),
    ("http://metadata.google.internal/", "'metadata.google.internal' is a local-only name"),
    ("http://metadata.example/", "metadata.example resolves to 169.254.169.254 (link-local"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 (private address)"),
    ("http://100.64.0.1/", "100.64.0.1 (shared address space (CGNAT))"),
    ("http://224.0.0.1/", "224.0.0.1 (multicast address)"),
    ("http://[ff02::1]/", "ff02::1 (multicast address)"),
    ("http://10.0.0.1/", "10.0.0.1 (private address)"),
    ("http://192.168.1.1/", "192.168.1.1 (private address)"),
    ("http://198.18.0.1/", "198.18.0.1 (benchmarking range)"),
    ("http://240.0.0.1/", "240.0.0.1 (reserved address)"),
    ("http://user@127.0.0.1/", "credentials in the URL"),
    ("http://user:pw@example.com/", "credentials in the URL"),
    ("http://example.com\\@127.0.0.1/", "backslashes in the URL"),
    ("file:///etc/passwd", "scheme 'file' is not http or https"),
    ("gopher://example.com/", "scheme 'gopher' is not http or https"),
    ("ftp://example.com/", "scheme 'ftp' is not http or https"),
    ("data:text/html,hi", "scheme 'data' is not http or https"),
    ("javascript:alert(1)", "scheme 'javascript' is not http or https"),
    ("http://example.com:22/", "port 22 is not allowed"),
    ("http://example.com:99999/", "unreadable URL"),
    ("http:///nohost", "no host"),
    ("http://mixed.example/", "mixed.example resolves to 10.1.2.3 (private address)"),
    ("http://nat64.example/", "NAT64 address (embeds 169.254.169.254)"),
    ("http://[fe80::1%25eth0]/", "scoped"),
]


@pytest.mark.parametrize(("url", "reason"), BLOCKED, ids=[u for u, _ in BLOCKED])
async def test_blocked_urls(url, reason):
    with pytest.raises(BlockedURL) as info:
        await resolve_target(url, GuardPolicy(), fake_resolver)
    assert reason in info.value.message


@pytest.mark.parametrize(
    ("url", "pinned", "host_header", "sni"),
    [
        ("http://example.com/a?b=1", "http://93.184.215.14:80/a?b=1", "example.com", None),
        ("https://EXAMPLE.com./", "https://93.184.215.14:443/", "example.com", "example.com"),
        (
            "https://v6.example/x",
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443/x",
            "v6.example",
            "v6.example",
        ),
        ("http://93.184.215.14/", "http://93.184.215.14:80/", "93.184.215.14", None),
    ],
)
async def test_allowed_urls_are_pinned_to_the_checked_address(url, pinned, host_header, sni):
    target = await resolve_target(url, GuardPolicy(), fake_resolver)
    assert isinstance(target, Target)
    assert (target.pinned_url, target.host_header, target.sni) == (pinned, host_header, sni)


async def test_loopback_only_through_the_explicit_allowlist():
    policy = GuardPolicy.allowing_loopback()
    target = await resolve_target("http://127.0.0.1:8123/x", policy, fake_resolver)
    assert target.pinned_url == "http://127.0.0.1:8123/x"
    assert target.host_header == "127.0.0.1:8123"
    with pytest.raises(BlockedURL):
        await resolve_target("http://10.0.0.1/", policy, fake_resolver)
    with pytest.raises(BlockedURL):  # names stay blocked even with loopback allowed
        await resolve_target("http://localhost:8123/", policy, fake_resolver)


async def test_the_resolver_is_asked_once_per_check():
    calls = []

    async def counting(host, port):
        calls.append((host, port))
        return ["93.184.215.14"]

    await resolve_target("https://example.org/", GuardPolicy(), counting)
    assert calls == [("example.org", 443)]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("::", "unspecified address"),
        ("192.0.2.1", "private address"),
        ("::ffff:8.8.8.8", "IPv4-mapped address (embeds 8.8.8.8)"),
    ],
)
def test_blocked_reason(address, reason):
    assert blocked_reason(ipaddress.ip_address(address)) == reason
