"""The ``vllm`` engine's side of the wire, against a stand-in vLLM server on 127.0.0.1:
the requests it sends (prompt or messages, stops, stream options) and how it reads the
replies (text cut at the stops, usage, finish reason, errors). vLLM itself is exercised
in test_serve_vllm.py when it is installed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from airloom.backends.base import ChatRequest, ChatResponse, Message
from airloom.backends.openai import OpenAIBackend
from airloom.errors import FatalBackendError
from airloom.formats import openai_wire as wire
from airloom.serve.config import load_serve_config
from airloom.serve.engines.vllm import VllmEngine
from tests.support.openai_server import OpenAIServer

ANSWER = ["The sea", " is wide", " ### and this is past the stop"]


class StandInVllm(OpenAIServer):
    """The test server plus vLLM's ``/health`` and ``/v1/completions``."""

    def __init__(self) -> None:
        super().__init__(models=["base", "code"])
        self.completions: list[dict[str, Any]] = []
        self.app.router.routes.append(Route("/health", self._health, methods=["GET"]))
        self.app.router.routes.append(Route("/v1/completions", self._completion, methods=["POST"]))

    async def _health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def _completion(self, request: Request) -> Response:
        raw = json.loads(await request.body())
        self.completions.append(raw)
        body = wire.CompletionRequest.model_validate(raw)
        usage = wire.Usage(prompt_tokens=len(body.prompt_text()), completion_tokens=3)
        if body.stream:
            return StreamingResponse(
                self._pieces(body.model, usage), media_type="text/event-stream"
            )
        choice = wire.CompletionChoice(index=0, text="".join(ANSWER), finish_reason="stop")
        reply = wire.Completion(id="c", created=1, model=body.model, choices=[choice], usage=usage)
        return JSONResponse(reply.model_dump(exclude={"expert", "routing_duration"}))

    async def _pieces(self, model: str, usage: wire.Usage) -> AsyncIterator[str]:
        for n, piece in enumerate(ANSWER):
            finish = "stop" if n == len(ANSWER) - 1 else None
            choice = wire.CompletionChoice(index=0, text=piece, finish_reason=finish)
            chunk = wire.Completion(id="c", created=1, model=model, choices=[choice])
            yield f"data: {chunk.model_dump_json()}\n\n"
        last = wire.Completion(id="c", created=1, model=model, choices=[], usage=usage)
        yield f"data: {last.model_dump_json()}\n\ndata: [DONE]\n\n"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInVllm]:
    with StandInVllm() as server:
        yield server


def engine_at(server: StandInVllm, *settings: str) -> VllmEngine:
    """An engine wired to the running stand-in (what ``start`` does after launching vLLM)."""
    config = load_serve_config(None, ["engine=vllm", "base=base", *settings])
    engine = VllmEngine(config, base_name="base", adapters={})
    engine.url = server.url.removesuffix("/v1")
    engine._client = OpenAIBackend(base_url=engine.url, api_key=None, name="vLLM")
    return engine


def ask(model: str = "base", **params: Any) -> ChatRequest:
    return ChatRequest(model, (Message("user", "Write about the sea."),), params)


def test_a_templated_model_is_sent_a_rendered_prompt_and_its_answer_cut_at_the_stop(
    stand_in: StandInVllm,
) -> None:
    engine = engine_at(stand_in, "template=airoboros-2.2")

    async def main() -> tuple[ChatResponse, int | None]:
        try:
            return await engine.complete(
                ask(max_tokens=9, stop=["###"])
            ), await engine._http().probe("/health", timeout=2)
        finally:
            await engine.aclose()

    reply, health = asyncio.run(main())
    assert health == 200
    sent = stand_in.completions[-1]
    assert "Write about the sea." in sent["prompt"] and "messages" not in sent
    assert sent["model"] == "base" and sent["max_tokens"] == 9 and "stream" not in sent
    assert sent["stop"][0] == "###" and len(sent["stop"]) > 1  # the template's stops follow
    assert reply.text == "The sea is wide " and reply.finish_reason == "stop"
    assert reply.usage.completion_tokens == 3 and reply.usage.prompt_tokens == len(sent["prompt"])
    assert reply.model == "base"


def test_a_stream_yields_the_deltas_then_the_whole_answer_with_its_usage(
    stand_in: StandInVllm,
) -> None:
    engine = engine_at(stand_in, "template=airoboros-2.2")

    async def main() -> list[str | ChatResponse]:
        try:
            return [event async for event in engine.events(ask(prompt="Q: sea?\nA:"))]
        finally:
            await engine.aclose()

    *deltas, whole = asyncio.run(main())
    sent = stand_in.completions[-1]
    assert sent["prompt"] == "Q: sea?\nA:" and sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert deltas == ANSWER
    assert isinstance(whole, ChatResponse) and whole.text == "".join(ANSWER)
    assert whole.finish_reason == "stop" and whole.usage.completion_tokens == 3


def test_without_a_template_messages_go_to_chat_completions(stand_in: StandInVllm) -> None:
    engine = engine_at(stand_in)

    async def main() -> tuple[ChatResponse, list[str | ChatResponse]]:
        try:
            whole = await engine.complete(ask("code", temperature=0.0))
            return whole, [event async for event in engine.events(ask("code"))]
        finally:
            await engine.aclose()

    reply, events = asyncio.run(main())
    assert stand_in.state.params_seen[-2]["temperature"] == 0.0
    assert stand_in.state.params_seen[-1]["stream_options"] == {"include_usage": True}
    assert reply.text and reply.model == "code"
    streamed = events[-1]
    assert isinstance(streamed, ChatResponse) and streamed.text == "".join(events[:-1])
    assert len(events) > 2 and streamed.text.strip()


def test_an_unknown_model_is_the_clients_error(stand_in: StandInVllm) -> None:
    engine = engine_at(stand_in)

    async def main() -> None:
        try:
            await engine.complete(ask("nobody"))
        finally:
            await engine.aclose()

    with pytest.raises(FatalBackendError, match="does not know model 'nobody'") as info:
        asyncio.run(main())
    assert info.value.status == 404
