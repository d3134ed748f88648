"""A minimal OpenAI-compatible chat server on 127.0.0.1 for the runtime wire tests.

Replies are scripted (a list used in order, the last one repeated); every request body
and its headers are recorded. ``stream: true`` requests get server-sent events, the
reply cut into ``chunk_size``-character deltas.

Example (in a test):
    with OpenAIStub(["Hello!"]) as stub:
        ...  # point a client at stub.url
        assert stub.requests[0]["messages"][-1]["content"] == "Hi"
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airloom.formats import openai_wire as wire


class OpenAIStub:
    """Start with ``with OpenAIStub(replies) as stub:``; ``stub.url`` ends in ``/v1``."""

    def __init__(self, replies: list[str], *, chunk_size: int = 3) -> None:
        self.replies = list(replies)
        self.chunk_size = chunk_size
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def next_reply(self) -> str:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                if self.path != "/v1/chat/completions":
                    self._send_json(404, {"error": {"message": "not found"}})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                stub.requests.append(body)
                stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = stub.next_reply()
                if body.get("stream"):
                    self._send_stream(body["model"], reply)
                else:
                    self._send_json(200, _completion(body["model"], reply))

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, model: str, reply: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                size = stub.chunk_size
                for start in range(0, len(reply), size):
                    piece = wire.Delta(content=reply[start : start + size])
                    chunk = wire.ChatCompletionChunk(
                        model=model, choices=[wire.ChunkChoice(delta=piece)]
                    ).model_dump_json(exclude_none=True, exclude={"routing_duration"})
                    self.wfile.write(f"data: {chunk}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler


def _completion(model: str, text: str) -> dict[str, Any]:
    return wire.ChatCompletion(
        id="stub-1",
        created=wire.now(),
        model=model,
        choices=[
            wire.ChatChoice(message=wire.AssistantMessage(content=text), finish_reason="stop")
        ],
        usage=wire.Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
    ).model_dump(exclude={"expert", "routing_duration"})
