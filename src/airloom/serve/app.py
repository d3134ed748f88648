"""The HTTP application of ``airloom serve`` (FastAPI), on a :class:`~.service.Service`.

Routes: ``GET /health``, ``GET /v1/models``, ``POST /v1/chat/completions`` and
``POST /v1/completions`` (plain JSON or server-sent events with ``stream: true``).
Every error has the OpenAI error shape: 400 for a bad parameter (validation errors
included), 401 without a valid key, 404 for an unknown model or expert, 413 for a body
over ``max_body_bytes``, 429 when the queue is full, 503 while not ready.

Example:
    >>> sse({"a": 1})
    'data: {"a":1}\\n\\n'
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from airloom.backends.base import ChatResponse
from airloom.errors import (
    AirloomError,
    BackendError,
    ContextLengthError,
    FatalBackendError,
    TransientBackendError,
)
from airloom.formats.openai_wire import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    Completion,
    CompletionChoice,
    CompletionRequest,
    Delta,
    ErrorResponse,
    ModelCard,
    ModelList,
    Usage,
    error_body,
    new_id,
    now,
)
from airloom.serve import service as svc
from airloom.serve.service import Plan, RequestError, Service

__all__ = ["ERRORS", "BodyLimit", "create_app", "error_response", "log", "sse"]

log = logging.getLogger("airloom.serve")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 429, 500, 503)
}


def sse(payload: dict[str, Any] | str) -> str:
    """One server-sent event line pair."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


def error_response(exc: BaseException) -> JSONResponse:
    """The OpenAI-shaped error response of an exception."""
    if isinstance(exc, RequestError):
        status, kind, code, param = exc.status, exc.kind, exc.code, exc.param
    elif isinstance(exc, ContextLengthError):
        status, kind, code, param = 400, "invalid_request_error", "context_length_exceeded", None
    elif isinstance(exc, TransientBackendError):
        status, kind, code, param = 503, "server_error", "engine_unavailable", None
    elif isinstance(exc, FatalBackendError) or (
        isinstance(exc, AirloomError) and not isinstance(exc, BackendError)
    ):
        status, kind, code, param = 400, "invalid_request_error", None, None
    else:
        log.error("request failed: %r", exc)
        status, kind, code, param = 500, "server_error", None, None
    message = str(exc) if isinstance(exc, AirloomError) else f"internal error: {exc!r}"
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    body = error_body(message, kind, code=code, param=param)
    return JSONResponse(body, status_code=status, headers=headers)


def _usage(responses: list[ChatResponse]) -> Usage:
    prompt = responses[0].usage.prompt_tokens if responses else 0
    completion = sum(r.usage.completion_tokens for r in responses)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 before it is parsed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = JSONResponse(
            error_body(
                f"the request body is over this server's limit of {self.limit} bytes",
                "invalid_request_error",
                code="request_too_large",
            ),
            status_code=413,
        )
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await too_big(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(service: Service, *, manage_engine: bool = True) -> FastAPI:
    """The FastAPI application; with ``manage_engine`` it starts and stops the engine."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_engine:
            await svc.start(service)
        try:
            yield
        finally:
            if manage_engine:
                await svc.stop(service)

    app = FastAPI(
        title="airloom serve",
        description="OpenAI-compatible server for airoboros models and LMoE experts.",
        version="1",
        lifespan=lifespan,
        responses=ERRORS,
    )
    config = service.config
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)

    @app.middleware("http")
    async def authenticate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith("/v1/") and not service.check_key(
            request.headers.get("authorization")
        ):
            return JSONResponse(
                error_body(
                    "Incorrect or missing API key: send 'Authorization: Bearer <key>'",
                    "invalid_request_error",
                    code="invalid_api_key",
                ),
                status_code=401,
            )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
        first = exc.errors()[0].get("loc", ()) if exc.errors() else ()
        param = ".".join(str(p) for p in first if p != "body") or None
        return JSONResponse(
            error_body(
                "; ".join(problems) or "invalid request", "invalid_request_error", param=param
            ),
            status_code=400,
        )

    @app.exception_handler(AirloomError)
    async def refused(request: Request, exc: AirloomError) -> JSONResponse:
        return error_response(exc)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Readiness and load: engine, models, requests generating and waiting."""
        return {
            "status": "ok" if service.ready else "loading",
            "engine": service.engine.info.kind,
            "models": service.model_ids(),
            "generating": service.generating,
            "waiting": service.waiting,
            "served": service.served,
        }

    @app.get("/v1/models", response_model=ModelList)
    async def models() -> ModelList:
        """The base, every expert (``parent``: the base), and the routed alias."""
        base = service.engine.info.base
        cards = [
            ModelCard(id=mid, parent=None if mid == base else base) for mid in service.model_ids()
        ]
        return ModelList(data=cards)

    @app.post("/v1/chat/completions", response_model=ChatCompletion)
    async def chat(body: ChatCompletionRequest) -> Any:
        """Chat completion; ``stream: true`` answers with server-sent chunks."""
        return await _answer(body, chat=True)

    @app.post("/v1/completions", response_model=Completion)
    async def completions(body: CompletionRequest) -> Any:
        """Text completion of a raw prompt (no chat template)."""
        return await _answer(body, chat=False)

    async def _answer(body: ChatCompletionRequest | CompletionRequest, *, chat: bool) -> Any:
        plan = await service.plan(body)
        if body.stream:
            return await _stream(plan, body, chat=chat)
        async with service.admit():
            responses = await service.complete(plan)
        extras: dict[str, Any] = {
            "created": now(),
            "model": plan.model,
            "usage": _usage(responses),
            "expert": plan.expert,
            "routing_duration": plan.routing_duration,
        }
        if chat:
            return ChatCompletion(
                id=new_id("chatcmpl"),
                choices=[
                    ChatChoice(
                        index=i,
                        message=AssistantMessage(content=r.text),
                        finish_reason=r.finish_reason,
                    )
                    for i, r in enumerate(responses)
                ],
                **extras,
            )
        prefix = body.prompt_text() if isinstance(body, CompletionRequest) and body.echo else ""
        return Completion(
            id=new_id("cmpl"),
            choices=[
                CompletionChoice(index=i, text=prefix + r.text, finish_reason=r.finish_reason)
                for i, r in enumerate(responses)
            ],
            **extras,
        )

    async def _stream(
        plan: Plan, body: ChatCompletionRequest | CompletionRequest, *, chat: bool
    ) -> Response:
        """Start generating; errors before the first event are plain HTTP errors."""
        admission = service.admit()
        await admission.__aenter__()
        events = service.events(plan)
        try:
            first = await anext(events)
        except StopAsyncIteration:
            first = None
        except BaseException as exc:
            await events.aclose()
            await admission.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        ident, created = new_id("chatcmpl" if chat else "cmpl"), now()
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def chunk(
            index: int,
            text: str | None,
            finish: str | None,
            *,
            role: bool = False,
            usage: Usage | None = None,
        ) -> str:
            extras = {"expert": plan.expert, "routing_duration": plan.routing_duration}
            model: BaseModel
            if chat:
                choices = (
                    []
                    if index < 0
                    else [
                        ChunkChoice(
                            index=index,
                            delta=Delta(role="assistant" if role else None, content=text),
                            finish_reason=finish,
                        )
                    ]
                )
                model = ChatCompletionChunk(
                    id=ident,
                    created=created,
                    model=plan.model,
                    choices=choices,
                    usage=usage,
                    **extras,
                )
            else:
                choices_c = (
                    []
                    if index < 0
                    else [CompletionChoice(index=index, text=text or "", finish_reason=finish)]
                )
                model = Completion(
                    id=ident,
                    created=created,
                    model=plan.model,
                    choices=choices_c,
                    usage=usage,
                    **extras,
                )
            return sse(model.model_dump(exclude_none=index >= 0 or not chat))

        async def body_events() -> AsyncIterator[str]:
            finals: list[ChatResponse] = []
            try:
                if chat:
                    for i in range(len(plan.requests)):
                        yield chunk(i, "", None, role=True)
                pending = [] if first is None else [first]
                while True:
                    if pending:
                        index, event = pending.pop()
                    else:
                        try:
                            index, event = await anext(events)
                        except StopAsyncIteration:
                            break
                    if isinstance(event, str):
                        yield chunk(index, event, None)
                    else:
                        finals.append(event)
                        yield chunk(index, None if chat else "", event.finish_reason)
                if include_usage:
                    yield chunk(-1, None, None, usage=_usage(finals))
                yield sse("[DONE]")
            except AirloomError as exc:
                error = error_response(exc)
                yield sse(json.loads(bytes(error.body)))
            finally:
                await events.aclose()
                await admission.__aexit__(None, None, None)

        return StreamingResponse(
            body_events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app
