"""The OpenAI client against the test server, both speaking the one wire schema."""

from __future__ import annotations

import asyncio
import base64

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
