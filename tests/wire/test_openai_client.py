"""The OpenAI client against the test server, both speaking the one wire schema."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import aiohttp.web
import pytest

from airloom.backends.base import ChatRequest, Message
from airloom.backends.openai import OpenAIBackend
from airloom.backends.scripted import ScriptedBackend
from airloom.errors import BackendError, EndpointUnreachable


def _ask(url: str, params: dict[str, object], *, stream: bool = False) -> str:
    async def go() -> str:
        backend = OpenAIBackend(base_url=url, api_key=None)
        request = ChatRequest("m", (Message("system", "Be brief."), Message("user", "Hi")), params)
        try:
            if stream:
                return "".join([piece async for piece in backend.stream(request)])
            return (await backend.complete(request)).text
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_a_reply_and_its_stream_carry_the_same_text(openai_server) -> None:
    server = openai_server(
        backend=ScriptedBackend.from_rules([{"match": "Hi", "reply": "Hello there, friend."}])
    )
    assert _ask(server.url, {}) == "Hello there, friend."
    assert _ask(server.url, {}, stream=True) == "Hello there, friend."


def test_parameters_pass_through_and_unset_ones_stay_out(openai_server) -> None:
    server = openai_server()
    _ask(server.url, {"temperature": 0.3, "top_k": 40, "seed": None, "stop": ["\n\n"]})
    assert server.state.params_seen == [{"temperature": 0.3, "top_k": 40, "stop": ["\n\n"]}]
    assert server.state.headers_seen[0]["content-type"] == "application/json"


def test_an_endpoint_that_is_not_there_is_unreachable() -> None:
    with pytest.raises(EndpointUnreachable, match=r"cannot reach http://127\.0\.0\.1:9/v1"):
        _ask("http://127.0.0.1:9/v1", {})


def test_one_backend_serves_two_event_loops_in_turn(openai_server) -> None:
    server = openai_server()
    backend = OpenAIBackend(base_url=server.url, api_key=None)
    request = ChatRequest("m", (Message("user", "Hi"),), {})
    for _ in range(2):  # a new loop gets a new pool
        assert asyncio.run(backend.complete(request)).text
    asyncio.run(backend.aclose())


def test_a_value_the_schema_rejects_comes_back_with_the_servers_reason(openai_server) -> None:
    server = openai_server()
    with pytest.raises(BackendError, match=r"HTTP 400.*temperature.*less than or equal to 2"):
        _ask(server.url, {"temperature": 7})
    assert server.state.completed == 0


def test_credentials_in_the_url_are_sent_as_basic_auth(openai_server) -> None:
    server = openai_server()
    with_credentials = server.url.replace("http://", "http://alice:p%40ss@")
    backend = OpenAIBackend(base_url=with_credentials, api_key="sk-1")
    request = ChatRequest("m", (Message("user", "Hi"),), {})

    async def go() -> None:
        await backend.complete(request)
        await backend.aclose()

    asyncio.run(go())
    sent = server.state.headers_seen[0]["authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")) == b"alice:p@ss"


class _ForwardProxy:
    """A plain HTTP forward proxy (absolute-form requests) that passes calls on to the
    test server and counts them: a call that reaches the teacher through it used it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.targets: list[str] = []
        self.proxy_authorizations: list[str | None] = []

    async def handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        self.targets.append(str(request.url))
        self.proxy_authorizations.append(request.headers.get("Proxy-Authorization"))
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self.upstream + request.path.removeprefix("/v1"),
                data=await request.read(),
                headers={"Content-Type": "application/json"},
            ) as reply,
        ):
            body = await reply.read()
            return aiohttp.web.Response(
                body=body, status=reply.status, content_type="application/json"
            )


def _through_proxy(
    upstream: str, base_url: str, monkeypatch: pytest.MonkeyPatch, credentials: str = ""
) -> _ForwardProxy:
    """Ask ``base_url`` with HTTP_PROXY pointing at a forward proxy to ``upstream`` (with
    ``user:password@`` credentials if given); the proxy, with what it was asked."""
    proxy = _ForwardProxy(upstream)

    async def go() -> _ForwardProxy:
        app = aiohttp.web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy.handle)
        runner = aiohttp.web.AppRunner(app)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        monkeypatch.setenv("HTTP_PROXY", f"http://{credentials}127.0.0.1:{port}")
        backend = OpenAIBackend(base_url=base_url, api_key=None)
        try:
            await backend.complete(ChatRequest("m", (Message("user", "Hi"),), {}))
        finally:
            await backend.aclose()
            await runner.cleanup()
        return proxy

    return asyncio.run(go())


def test_calls_go_through_the_proxy_the_environment_names(openai_server, monkeypatch) -> None:
    server = openai_server()
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # teacher.invalid resolves nowhere: only the proxy can have answered
    proxy = _through_proxy(server.url, "http://teacher.invalid/v1", monkeypatch, "ann:pw@")
    assert proxy.targets == ["http://teacher.invalid/v1/chat/completions"]
    assert proxy.proxy_authorizations == ["Basic " + base64.b64encode(b"ann:pw").decode()]
    assert server.state.completed == 1


def test_no_proxy_sends_calls_to_the_teacher_directly(openai_server, monkeypatch) -> None:
    server = openai_server()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert _through_proxy(server.url, server.url, monkeypatch).targets == []
    assert server.state.completed == 1


def test_netrc_credentials_are_sent_when_no_key_is_set(
    openai_server, tmp_path, monkeypatch
) -> None:
    server = openai_server()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    _ask(server.url, {})
    expected = "Basic " + base64.b64encode(b"bob:s3cret").decode()
    assert server.state.headers_seen[-1]["authorization"] == expected
    # an API key wins over .netrc
    backend = OpenAIBackend(base_url=server.url, api_key="sk-1")
    asyncio.run(backend.complete(ChatRequest("m", (Message("user", "Hi"),), {})))
    asyncio.run(backend.aclose())
    assert server.state.headers_seen[-1]["authorization"] == "Bearer sk-1"
    # so does an Authorization header of the endpoint's, however it is spelled
    backend = OpenAIBackend(base_url=server.url, api_key=None, headers={"authorization": "T k"})
    asyncio.run(backend.complete(ChatRequest("m", (Message("user", "Hi"),), {})))
    asyncio.run(backend.aclose())
    assert server.state.headers_seen[-1]["authorization"] == "T k"
