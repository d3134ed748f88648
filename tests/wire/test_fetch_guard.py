"""The guarded fetcher against a real local website (127.0.0.1 only, allowlisted explicitly)."""

from __future__ import annotations

import ipaddress
import re
import socket
import time

import httpx
import pytest

from airloom.errors import BudgetExceeded, ToolError
from airloom.runtime.budget import Budget
from airloom.runtime.tools.base import ToolContext
from airloom.runtime.tools.fetch import FetchLimits, GuardedFetcher, TextScraper
from airloom.runtime.tools.ssrf import BlockedURL, GuardPolicy

LOOPBACK = GuardPolicy.allowing_loopback()


def fetcher(**limits) -> GuardedFetcher:
    return GuardedFetcher(policy=LOOPBACK, limits=FetchLimits(**limits))


async def test_fetches_a_page_and_extracts_text(site):
    server, state = site
    state.pages["hello.html"] = "<html><body><p>Hello from the test site.</p></body></html>"
    page = await fetcher().fetch(f"{server.url}/page/hello.html")
    assert page.status == 200 and page.content_type == "text/html"
    assert page.text() == "Hello from the test site."
    assert state.hosts[-1] == f"127.0.0.1:{server.port}"


async def test_default_policy_refuses_the_local_site(site):
    server, state = site
    before = sum(state.hits.values())
    with pytest.raises(BlockedURL, match=r"port \d+ is not allowed"):
        await GuardedFetcher().fetch(f"{server.url}/secret")
    with pytest.raises(BlockedURL, match=re.escape("127.0.0.1 (loopback)")):
        await GuardedFetcher(policy=GuardPolicy(allowed_ports=None)).fetch(f"{server.url}/secret")
    assert sum(state.hits.values()) == before


async def test_a_public_name_resolving_to_loopback_is_refused(site):
    server, state = site

    async def resolver(host, port):
        return ["127.0.0.1"]

    policy = GuardPolicy(allowed_ports=None)
    with pytest.raises(BlockedURL, match=re.escape("public.test resolves to 127.0.0.1 (loopback)")):
        await GuardedFetcher(policy=policy, resolver=resolver).fetch(
            f"http://public.test:{server.port}/secret"
        )
    assert state.hits["/secret"] == 0


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://localhost:PORT/secret", "local-only name"),
        ("http://2130706433:PORT/secret", "non-canonical IPv4"),
        ("http://0x7f.1:PORT/secret", "non-canonical IPv4"),
        ("http://127.1:PORT/secret", "non-canonical IPv4"),
        ("http://[::ffff:127.0.0.1]:PORT/secret", "IPv4-mapped"),
        ("http://10.0.0.1/secret", "private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("file:///etc/passwd", "scheme 'file'"),
    ],
)
async def test_redirects_are_rechecked_on_every_hop(site, location, reason):
    server, state = site
    with pytest.raises(BlockedURL, match=reason):
        await fetcher().fetch(f"{server.url}/redirect?to={location}")
    assert state.hits["/secret"] == 0


async def test_redirect_to_an_origin_outside_a_narrow_allowlist_is_never_followed(site, spawn_site):
    server, state = site
    other = type(state)()
    with spawn_site(other) as secret_server:
        narrow = GuardPolicy(
            allowed_ports=frozenset({server.port}),
            allow_networks=(ipaddress.ip_network("127.0.0.1/32"),),
        )
        url = f"{server.url}/redirect?to={secret_server.url}/secret"
        with pytest.raises(BlockedURL, match=f"port {secret_server.port} is not allowed"):
            await GuardedFetcher(policy=narrow).fetch(url)
    assert other.hits["/secret"] == 0


async def test_allowed_redirects_are_followed_and_recorded(site):
    server, state = site
    state.pages["target.txt"] = "landed"
    page = await fetcher().fetch(f"{server.url}/redirect?to=/page/target.txt")
    assert page.text() == "landed"
    assert page.redirects == (f"{server.url}/page/target.txt",)


async def test_redirect_loops_are_capped(site):
    server, _ = site
    with pytest.raises(ToolError, match="more than 5 redirects"):
        await fetcher().fetch(f"{server.url}/loop")


async def test_dns_rebinding_cannot_switch_the_connection(site, monkeypatch):
    server, state = site
    state.pages["pinned.txt"] = "pinned page"
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])
    asked = []

    async def rebinding(host, port):
        asked.append(host)
        return next(answers)

    real = socket.getaddrinfo

    def poisoned(host, *args, **kwargs):
        if host == "rebind.test":  # the client must never resolve the name itself
            return real("10.9.9.9", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", poisoned)
    guarded = GuardedFetcher(policy=LOOPBACK, resolver=rebinding)
    page = await guarded.fetch(f"http://rebind.test:{server.port}/page/pinned.txt")
    assert page.text() == "pinned page"
    assert asked == ["rebind.test"]
    assert state.hosts[-1] == f"rebind.test:{server.port}"


async def test_every_resolved_address_is_checked():
    async def mixed(host, port):
        return ["127.0.0.1", "10.0.0.5"]

    with pytest.raises(BlockedURL, match=re.escape("resolves to 10.0.0.5")):
        await GuardedFetcher(policy=LOOPBACK, resolver=mixed).fetch("http://two.test:80/")


async def test_https_keeps_host_and_sni_while_connecting_to_the_checked_address():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="secure", headers={"content-type": "text/plain"})

    async def resolver(host, port):
        return ["93.184.215.14"]

    guarded = GuardedFetcher(resolver=resolver, transport=httpx.MockTransport(handler))
    page = await guarded.fetch("https://www.example.org/doc?x=1")
    assert page.text() == "secure"
    request = seen[0]
    assert str(request.url) == "https://93.184.215.14/doc?x=1"
    assert request.headers["host"] == "www.example.org"
    assert request.extensions["sni_hostname"] == "www.example.org"


async def test_slow_drip_server_is_cut_off_by_the_total_time_cap(site):
    server, _ = site
    start = time.perf_counter()
    with pytest.raises(ToolError, match=r"took longer than 1s|too slow"):
        await fetcher(total_timeout_s=1.0, read_timeout_s=30).fetch(f"{server.url}/drip")
    assert time.perf_counter() - start < 2.5


async def test_deadline_of_the_run_also_caps_a_fetch(site):
    server, _ = site
    start = time.perf_counter()
    with pytest.raises(ToolError, match="took longer than"):
        await fetcher(total_timeout_s=30).fetch(f"{server.url}/drip", Budget(deadline_s=0.5))
    assert time.perf_counter() - start < 2


async def test_oversized_body_is_cut_at_the_size_cap(site):
    server, _ = site
    budget = Budget()
    page = await fetcher(max_bytes=100_000).fetch(f"{server.url}/huge", budget)
    assert page.truncated and len(page.body) == 100_000
    assert budget.fetched_bytes == 100_000


async def test_gzip_bomb_is_cut_after_decoding(site):
    server, _ = site
    page = await fetcher(max_bytes=50_000).fetch(f"{server.url}/bomb")
    assert page.truncated and len(page.body) == 50_000


async def test_byte_budget_caps_and_then_refuses(site):
    server, _ = site
    budget = Budget(max_fetched_bytes=1000)
    page = await fetcher().fetch(f"{server.url}/huge", budget)
    assert len(page.body) == 1000 and page.truncated
    with pytest.raises(BudgetExceeded, match="fetched-bytes budget spent"):
        await fetcher().fetch(f"{server.url}/huge", budget)


async def test_binary_content_type_is_refused(site):
    server, _ = site
    with pytest.raises(ToolError, match="application/octet-stream, not a text page"):
        await fetcher().fetch(f"{server.url}/binary")


async def test_http_errors_are_tool_errors(site):
    server, _ = site
    with pytest.raises(ToolError, match="answered HTTP 404"):
        await fetcher().fetch(f"{server.url}/page/missing.html")


async def test_proxy_settings_in_the_environment_are_ignored(site, monkeypatch):
    server, state = site
    state.pages["direct.txt"] = "direct"
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:1")
    page = await fetcher().fetch(f"{server.url}/page/direct.txt")
    assert page.text() == "direct"


async def test_cookies_are_never_stored_or_sent(site):
    server, state = site
    guarded = fetcher()
    await guarded.fetch(f"{server.url}/cookie")
    await guarded.fetch(f"{server.url}/cookie")
    assert state.hits["cookie:"] == 2
    assert not any(key.startswith("cookie:session") for key in state.hits)


async def test_scraper_limits_connections_per_host(site):
    server, state = site
    state.max_in_flight = 0
    links = "\n".join(f"{server.url}/slow/{i}" for i in range(20))
    scraper = TextScraper(GuardedFetcher(policy=LOOPBACK, per_host=2), max_urls=20)
    out = await scraper.run(links, ToolContext(Budget()))
    assert out.count("--- http://127.0.0.1") == 20
    assert "slow page 19" in out
    assert 1 <= state.max_in_flight <= 2


async def test_scraper_reports_per_url_errors_inline(site):
    server, state = site
    state.pages["ok.txt"] = "fine page"
    text = f"first {server.url}/page/ok.txt then http://10.0.0.1/x and {server.url}/binary"
    out = await TextScraper(fetcher()).run(text, ToolContext(Budget()))
    sections = out.split("\n\n")
    assert sections[0] == f"--- {server.url}/page/ok.txt ---\nfine page"
    assert sections[1].startswith("--- http://10.0.0.1/x ---\n[error: refused")
    assert "not a text page" in sections[2]
