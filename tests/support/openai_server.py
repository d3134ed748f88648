"""An OpenAI-compatible test server on 127.0.0.1: scripted replies, latency, faults.

* Replies come from a :class:`ScriptedBackend` (the built-in demo script by default).
* ``latency`` seconds per request and a server-side concurrency cap (like vLLM's
  max sequences): requests beyond it queue, so throughput saturates at cap/latency.
* Faults are injected in order: each :class:`Fault` applies to the next ``times``
  matching requests — ``429`` (with Retry-After), ``500``, ``401``, ``404``,
  ``context`` (400 context_length_exceeded), ``timeout`` (hangs), ``truncated`` (half a
  JSON body), ``empty`` (no choices), ``length`` (finish_reason length).
* ``500`` and ``400`` with ``message`` answer that fixed message (a server's
  validation error).
* ``reported_model``: the model name the replies say answered (default: the asked one).
* :meth:`OpenAIServer.outage` takes the server down for a while and brings it back on
  the same port.
* ``GET /_stats`` reports requests served and the peak number in flight.

Use in-process (``with OpenAIServer(...) as server: server.url``) or as a process:
``python -m tests.support.openai_server --latency 0.2 --concurrency 8`` prints the URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from airloom.backends.base import Backend, ChatRequest, ChatResponse, Message
from airloom.backends.scripted import ScriptedBackend
from airloom.formats import openai_wire as wire


@dataclass
class Fault:
    """Inject ``kind`` into the next ``times`` requests (matching ``match`` if given)."""

    kind: str
    times: int = 1
    retry_after: float | None = None
    match: str | None = None
    message: str | None = None


@dataclass
class ServerState:
    """Counters the tests read."""

    requests: int = 0
    completed: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    faults_served: dict[str, int] = field(default_factory=dict)
    models_seen: set[str] = field(default_factory=set)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    params_seen: list[dict[str, Any]] = field(default_factory=list)


class HeldAfter:
    """A script for one server or several: once they have answered ``after`` calls
    between them, every further call is held until ``released`` is set. A test that takes
    the servers down waits for ``reached`` and sets ``released`` after the outage, so the
    outage always begins before the run could finish (a server takes up to 0.1 s to stop,
    more on a loaded machine)."""

    def __init__(self, after: int) -> None:
        self.script = ScriptedBackend.from_file("demo")
        self.name = "held"
        self.after = after
        self.answered = 0
        self.reached = threading.Event()
        self.released = threading.Event()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        while self.answered >= self.after and not self.released.is_set():
            self.reached.set()
            await asyncio.sleep(0.01)
        reply = await self.script.complete(request)
        self.answered += 1
        return reply

    async def aclose(self) -> None:
        """Nothing to release."""


class OpenAIServer:
    """The server (see the module docstring)."""

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        latency: float = 0.0,
        concurrency: int = 1024,
        faults: list[Fault] | None = None,
        api_key: str | None = None,
        models: list[str] | None = None,
        port: int = 0,
        reported_model: str | None = None,
    ) -> None:
        self.backend = backend or ScriptedBackend.from_file("demo")
        self.latency = latency
        self.concurrency = concurrency
        self.faults = list(faults or [])
        self.api_key = api_key
        self.models = models
        self.reported_model = reported_model
        self.state = ServerState()
        self._port = port
        self._semaphore: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/_stats", self._stats, methods=["GET"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- fault plan -------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        """Queue a fault (thread-safe)."""
        with self._lock:
            self.faults.append(fault)

    def _take_fault(self, text: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.match is None or re.search(fault.match, text)):
                    fault.times -= 1
                    self.state.faults_served[fault.kind] = (
                        self.state.faults_served.get(fault.kind, 0) + 1
                    )
                    return fault
        return None

    # ---- handlers ---------------------------------------------------------------------
    async def _models(self, request: Request) -> Response:
        listing = wire.ModelList(data=[wire.ModelCard(id=m) for m in self.models or []])
        return JSONResponse(listing.model_dump(exclude_none=True))

    async def _stats(self, request: Request) -> Response:
        s = self.state
        return JSONResponse(
            {
                "requests": s.requests,
                "completed": s.completed,
                "peak_in_flight": s.peak_in_flight,
                "faults_served": s.faults_served,
            }
        )

    async def _chat(self, request: Request) -> Response:
        self.state.requests += 1
        self.state.headers_seen.append(dict(request.headers))
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return JSONResponse(
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                    }
                },
                401,
            )
        try:
            body = wire.ChatCompletionRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            message = "; ".join(f"{error['loc']}: {error['msg']}" for error in exc.errors())
            return JSONResponse(wire.error_body(message, "invalid_request_error"), 400)
        model = body.model
        messages = tuple(Message(m.role, m.text()) for m in body.messages)
        params = body.model_dump(exclude_unset=True, exclude={"model", "messages"})
        self.state.models_seen.add(model)
        self.state.params_seen.append(params)
        if self.models is not None and model not in self.models:
            return JSONResponse({"error": {"message": f"The model `{model}` does not exist"}}, 404)
        chat = ChatRequest(model, messages, {k: v for k, v in params.items() if k != "stream"})
        fault = self._take_fault(chat.last_user_text())
        if fault is not None:
            early = await self._fault_response(fault)
            if early is not None:
                return early
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            self.state.in_flight += 1
            self.state.peak_in_flight = max(self.state.peak_in_flight, self.state.in_flight)
            try:
                if self.latency:
                    await asyncio.sleep(self.latency)
                reply = await self.backend.complete(chat)
            finally:
                self.state.in_flight -= 1
        self.state.completed += 1
        finish = "length" if fault is not None and fault.kind == "length" else reply.finish_reason
        payload = wire.ChatCompletion(
            id=f"cmpl-{self.state.requests}",
            created=wire.now(),
            model=self.reported_model or model,
            choices=[
                wire.ChatChoice(
                    index=0,
                    message=wire.AssistantMessage(content=reply.text),
                    finish_reason=finish,
                )
            ],
            usage=wire.Usage(
                prompt_tokens=reply.usage.prompt_tokens,
                completion_tokens=reply.usage.completion_tokens,
                total_tokens=reply.usage.total_tokens,
            ),
        ).model_dump(exclude={"expert", "routing_duration"})
        if body.stream:
            return StreamingResponse(self._sse(reply.text, model), media_type="text/event-stream")
        if fault is not None and fault.kind == "truncated":
            text = json.dumps(payload)
            return Response(text[: len(text) // 2], media_type="application/json")
        if fault is not None and fault.kind == "empty":
            return JSONResponse({"id": "x", "choices": []})
        return JSONResponse(payload)

    async def _sse(self, text: str, model: str) -> Any:
        for piece in re.findall(r"\S+\s*|\s+", text):
            chunk = wire.ChatCompletionChunk(
                id="chunk",
                created=wire.now(),
                model=model,
                choices=[wire.ChunkChoice(index=0, delta=wire.Delta(content=piece))],
            )
            data = chunk.model_dump_json(exclude_none=True, exclude={"routing_duration"})
            yield f"data: {data}\n\n"
        yield "data: [DONE]\n\n"

    async def _fault_response(self, fault: Fault) -> Response | None:
        kind = fault.kind
        if kind == "429":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return JSONResponse(
                {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
                429,
                headers=headers,
            )
        if kind == "500":
            message = fault.message or "server_error"
            return JSONResponse({"error": {"message": message, "type": "server_error"}}, 500)
        if kind == "400":
            message = fault.message or "bad request"
            return JSONResponse({"error": {"message": message, "type": "invalid_request"}}, 400)
        if kind == "401":
            return JSONResponse({"error": {"message": "Incorrect API key provided"}}, 401)
        if kind == "404":
            return JSONResponse({"error": {"message": "model not found"}}, 404)
        if kind == "context":
            return JSONResponse(
                {
                    "error": {
                        "message": "This model's maximum context length is 8192 tokens",
                        "code": "context_length_exceeded",
                    }
                },
                400,
            )
        if kind == "timeout":
            await asyncio.sleep(3600)
        return None

    # ---- lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL ending in /v1."""
        assert self._server is not None
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    def start(self) -> OpenAIServer:
        """Serve in a background thread; return when listening."""
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self._port, log_level="error", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def outage(self, seconds: float) -> threading.Thread:
        """Stop serving now and serve again, on the same port, ``seconds`` later (in a
        background thread, returned so that callers can join it)."""
        port = self.url.rsplit(":", 1)[1].split("/")[0]
        self.stop()

        def come_back() -> None:
            time.sleep(seconds)
            self._port = int(port)
            self.start()

        thread = threading.Thread(target=come_back, daemon=True)
        thread.start()
        return thread

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Run as a process: print the URL, serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=1024)
    parser.add_argument("--script", default="demo")
    args = parser.parse_args()
    server = OpenAIServer(
        ScriptedBackend.from_file(args.script),
        latency=args.latency,
        concurrency=args.concurrency,
        port=args.port,
    ).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
