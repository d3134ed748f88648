"""In-process servers on 127.0.0.1: a small website and an OpenAI-compatible chat endpoint."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class ThreadServer:
    """Run an ASGI app with uvicorn in a daemon thread on 127.0.0.1 and a free port."""

    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class SiteState:
    hits: Counter[str] = field(default_factory=Counter)
    hosts: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    pages: dict[str, str] = field(default_factory=dict)
    port: int = 0


def make_site(state: SiteState) -> Starlette:
    async def page(request: Request) -> Response:
        name = request.path_params["name"]
        state.hits[f"/page/{name}"] += 1
        state.hosts.append(request.headers.get("host", ""))
        if name not in state.pages:
            return Response("not found", status_code=404)
        kind = "text/plain" if name.endswith(".txt") else "text/html; charset=utf-8"
        return Response(state.pages[name], media_type=kind)

    async def secret(request: Request) -> Response:
        state.hits["/secret"] += 1
        return Response("TOP SECRET", media_type="text/plain")

    async def redirect(request: Request) -> Response:
        state.hits["/redirect"] += 1
        target = request.query_params["to"].replace("PORT", str(state.port))
        return Response(status_code=302, headers={"location": target})

    async def loop(request: Request) -> Response:
        return Response(status_code=302, headers={"location": "/loop"})

    async def drip(request: Request) -> StreamingResponse:
        async def body():
            for _ in range(200):
                yield b"x"
                await asyncio.sleep(0.1)

        return StreamingResponse(body(), media_type="text/plain")

    async def huge(request: Request) -> Response:
        return Response(b"a" * 5_000_000, media_type="text/plain")

    async def bomb(request: Request) -> Response:
        data = gzip.compress(b"A" * 10_000_000)  # about 10 kB on the wire
        return Response(data, media_type="text/plain", headers={"content-encoding": "gzip"})

    async def binary(request: Request) -> Response:
        return Response(b"\x7fELF" + b"\0" * 100, media_type="application/octet-stream")

    async def slow(request: Request) -> Response:
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        await asyncio.sleep(0.1)
        state.in_flight -= 1
        return Response(f"slow page {request.path_params['i']}", media_type="text/plain")

    async def cookie(request: Request) -> Response:
        state.hits[f"cookie:{request.headers.get('cookie', '')}"] += 1
        response = Response("<p>cookie page</p>", media_type="text/html")
        response.set_cookie("session", "abc")
        return response

    return Starlette(
        routes=[
            Route("/page/{name}", page),
            Route("/secret", secret),
            Route("/redirect", redirect),
            Route("/loop", loop),
            Route("/drip", drip),
            Route("/huge", huge),
            Route("/bomb", bomb),
            Route("/binary", binary),
            Route("/slow/{i}", slow),
            Route("/cookie", cookie),
        ]
    )


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[ThreadServer, SiteState]]:
    state = SiteState()
    with ThreadServer(make_site(state)) as server:
        state.port = server.port
        yield server, state


@pytest.fixture
def spawn_site() -> Callable[[SiteState], ThreadServer]:
    """Start one more website (for tests that need two origins); use it as a context manager."""
    return lambda state: ThreadServer(make_site(state))


Reply = Callable[[list[dict[str, str]]], str]


@dataclass
class ChatState:
    requests: list[dict[str, object]] = field(default_factory=list)
    reply: Reply = lambda messages: "ok"


def make_chat(state: ChatState) -> Starlette:
    async def complete(request: Request) -> Response:
        payload = json.loads(await request.body())
        state.requests.append(payload)
        text = state.reply(payload["messages"])
        return JSONResponse(
            {
                "id": "x",
                "model": payload["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 10},
            }
        )

    return Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])


@pytest.fixture
def chat() -> Iterator[tuple[ThreadServer, ChatState]]:
    state = ChatState()
    with ThreadServer(make_chat(state)) as server:
        yield server, state


@pytest.fixture
def teacher_processes():
    """Factory: the scripted OpenAI-compatible server as a separate process (one that a
    test may kill outright), given its latency per call; returns the process and its
    URL. Stopped after the test."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    processes: list[subprocess.Popen[str]] = []

    def start(latency: float) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.openai_server", "--latency", str(latency)],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(proc)
        assert proc.stdout is not None
        return proc, proc.stdout.readline().strip()

    yield start
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def teacher_process(teacher_processes):
    """Factory: like ``teacher_processes``, returning the URL alone."""

    def start(latency: float) -> str:
        return teacher_processes(latency)[1]

    return start
