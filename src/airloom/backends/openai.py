"""Any OpenAI-compatible chat endpoint: OpenAI, vLLM, llama.cpp server, Ollama, TGI, ours.

One class; the endpoint settings (base URL, key, headers, timeout) make the difference.
Requests are written and replies read with the shared wire schema
(:mod:`airloom.formats.openai_wire`). Errors are classified here once, so that the
scheduler can decide what to retry.

The transport is aiohttp: one keep-alive pool sized to the concurrency. Measured against
httpx at 64 connections (``benchmarks/engine.py``), httpx's pool spent most of the event
loop's time in per-request bookkeeping over every connection; aiohttp's does not.

Example:
    >>> backend = OpenAIBackend(base_url="http://127.0.0.1:8000/v1", api_key=None)
    >>> backend.name
    'http://127.0.0.1:8000/v1'
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import json
import time
import urllib.parse
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airloom.backends.base import ChatRequest, ChatResponse, Usage
from airloom.errors import (
    BackendError,
    ContextLengthError,
    EndpointUnreachable,
    FatalBackendError,
    RateLimitedError,
    TransientBackendError,
)
from airloom.formats.openai_wire import (
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    chat_request_json,
    choice_text,
)
from airloom.redact import mask_url, remember_headers

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "KEEPALIVE_SECONDS",
    "OpenAIBackend",
    "classify_http_error",
    "parse_completion",
    "parse_retry_after",
    "server_message",
    "split_credentials",
    "sse_json",
]

# Below the 5 s idle timeout of common servers (uvicorn, vLLM), so that a pooled
# connection is not reused just as the server closes it.
KEEPALIVE_SECONDS = 4.0

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "too many tokens",
    "prompt is too long",
    "input is too long",
)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, from ``Retry-After`` or ``retry-after-ms``.

    Accepts delta-seconds and HTTP dates; returns ``None`` when absent or unreadable.

    Example:
        >>> parse_retry_after({"Retry-After": "2"})
        2.0
        >>> parse_retry_after({"retry-after-ms": "1500"})
        1.5
        >>> parse_retry_after({}) is None
        True
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def server_message(body: str) -> str:
    """The server's own words from an error body: ``error.message`` (OpenAI, vLLM,
    llama.cpp), ``detail`` (FastAPI), ``message``, or the text itself; one line.

    Example:
        >>> server_message('{"error": {"message": "top_p must be in (0, 1]", "code": 500}}')
        'top_p must be in (0, 1]'
        >>> server_message('{"detail": [{"msg": "field required", "loc": ["body", "n"]}]}')
        'body.n: field required'
        >>> server_message("Bad Gateway")
        'Bad Gateway'
    """
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        data = body
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message", data)))
        if isinstance(error, dict):
            error = error.get("message", error.get("msg", error))
        data = error
    if isinstance(data, list):  # FastAPI validation: [{"loc": [...], "msg": "..."}]
        parts = []
        for item in data:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [])
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        data = "; ".join(parts)
    text = data if isinstance(data, str) else json.dumps(data)
    return " ".join(text.split())[:300]


def classify_http_error(
    status: int,
    body: str,
    headers: Mapping[str, str],
    *,
    model: str,
    base_url: str,
    api_key_env: str | None,
) -> BackendError:
    """Turn a non-2xx reply into the right error, with a message saying what to fix.

    Example:
        >>> err = classify_http_error(404, "no such model", {}, model="gpt-x",
        ...                           base_url="http://h/v1", api_key_env=None)
        >>> type(err).__name__
        'FatalBackendError'
    """
    snippet = body[:500]
    lowered = snippet.lower()
    said = server_message(body)
    quoted = f": {said}" if said else ""
    if status == 429:
        return RateLimitedError(
            f"rate limited by {base_url}",
            retry_after=parse_retry_after(headers),
            body=snippet,
        )
    if status in (401, 403):
        where = f"the environment variable {api_key_env}" if api_key_env else "api_key_env"
        return FatalBackendError(
            f"{base_url} refused the API key (HTTP {status}){quoted}",
            status=status,
            body=snippet,
            hint=f"check the key in {where} and that it may use model '{model}'",
        )
    if status == 404:
        return FatalBackendError(
            f"{base_url} does not know model '{model}' or the path (HTTP 404){quoted}",
            status=status,
            body=snippet,
            hint="check 'model' and 'base_url' (it usually ends in /v1)",
        )
    if status in (400, 413, 422) and any(marker in lowered for marker in _CONTEXT_MARKERS):
        return ContextLengthError(
            f"request too long for model '{model}' (HTTP {status}){quoted}",
            status=status,
            body=snippet,
            hint="the item is skipped; lower max_tokens or shorten the prompt template",
        )
    if status >= 500 or status == 408:
        return TransientBackendError(
            f"{base_url} failed with HTTP {status}{quoted}", status=status, body=snippet
        )
    return BackendError(
        f"{base_url} rejected the request (HTTP {status}){quoted}",
        status=status,
        body=snippet,
        hint="check api_params for parameters this endpoint does not accept",
    )


def parse_completion(
    body: bytes | str, base_url: str, *, text_completion: bool = False
) -> ChatResponse:
    """A chat completion reply (a text completion one with ``text_completion``) read with
    the wire schema; a reply that is not JSON or has no choice is a
    :class:`TransientBackendError` (it is worth asking again).

    Example:
        >>> parse_completion(b'{"choices": [{"message": {"content": "Hi"}}]}', "u").text
        'Hi'
    """
    schema: type[ChatCompletion | Completion] = Completion if text_completion else ChatCompletion
    try:
        reply = schema.model_validate_json(body)
    except ValidationError as exc:
        garbled = any(error["type"] == "json_invalid" for error in exc.errors())
        what = "a reply that is not valid JSON" if garbled else "a reply without choices"
        raise TransientBackendError(f"{base_url} sent {what}", body=_text(body)[:500]) from exc
    if not reply.choices:
        raise TransientBackendError(
            f"{base_url} sent a reply without choices", body=_text(body)[:500]
        )
    choice = reply.choices[0]
    counts = reply.usage
    usage = Usage(counts.prompt_tokens, counts.completion_tokens) if counts else Usage()
    return ChatResponse(
        text=choice_text(choice),
        finish_reason=choice.finish_reason or "stop",
        usage=usage,
        model=reply.model,
    )


def _text(body: bytes | str) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else body


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without its ``user:password@`` part, and the Basic ``Authorization`` value
    those credentials stand for (``None`` without any): as other HTTP clients do, the
    credentials in the URL are sent as Basic authentication.

    Example:
        >>> split_credentials("http://alice:pw@host:8000/v1")
        ('http://host:8000/v1', 'Basic YWxpY2U6cHc=')
        >>> split_credentials("http://host/v1")
        ('http://host/v1', None)
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), f"Basic {token}"


async def sse_json(lines: AsyncIterable[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of server-sent-events lines, up to ``[DONE]``; garbled ones skipped.

    Example:
        >>> async def demo():
        ...     async def lines():
        ...         for line in ['data: {"a": 1}', "", "data: oops", "data: [DONE]", "data: {}"]:
        ...             yield line
        ...     return [chunk async for chunk in sse_json(lines())]
        >>> import asyncio; asyncio.run(demo())
        [{'a': 1}]
    """
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            continue
        if isinstance(chunk, dict):
            yield chunk


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The text lines of a streaming aiohttp response, whatever their length."""
    pending = b""
    async for piece in response.content.iter_any():
        pending += piece
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


class OpenAIBackend:
    """Client for ``POST {base_url}/chat/completions`` with one shared connection pool.

    The pool is opened on the first call, in the running event loop (a new loop, as in a
    second ``asyncio.run``, gets a new pool).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        api_key_env: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 600.0,
        max_connections: int = 256,
        name: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name or mask_url(self.base_url)
        self.api_key_env = api_key_env
        remember_headers({"Authorization": api_key or "", **(headers or {})})
        all_headers = {"Content-Type": "application/json"}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        all_headers.update(headers or {})
        self._endpoint, basic = split_credentials(self.base_url)
        if basic is not None:  # the URL's credentials win, as with other clients
            all_headers["Authorization"] = basic
            remember_headers({"Authorization": basic})
        # the proxy arguments of every request (proxy, and the proxy's credentials)
        self._via: dict[str, Any] = {}
        self._headers = all_headers
        self._timeout = timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            import aiohttp

            # per read, not per request: a long stream is fine while tokens keep coming
            timeout = aiohttp.ClientTimeout(
                total=None, sock_read=self._timeout, connect=min(self._timeout, 30.0)
            )
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=KEEPALIVE_SECONDS
            )
            headers, self._via = self._trusted_environment()
            self._session = aiohttp.ClientSession(
                connector=connector, headers=headers, timeout=timeout, trust_env=False
            )
            self._loop = loop
        return self._session

    def _trusted_environment(self) -> tuple[dict[str, str], dict[str, Any]]:
        """What aiohttp's ``trust_env`` reads from the environment, read once per pool
        (``trust_env`` reads it again on every request, on an executor thread, parsing
        ``.netrc`` each time): the session's headers, with the endpoint's ``.netrc`` entry
        when no ``Authorization`` is set, and the proxy arguments of every request (the
        proxy that ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` name, and its credentials)."""
        from aiohttp.helpers import basicauth_from_netrc, get_env_proxy_for_url, netrc_from_env
        from yarl import URL

        endpoint = URL(self._endpoint)
        headers = dict(self._headers)
        if not any(key.lower() == "authorization" for key in headers):
            with contextlib.suppress(LookupError):
                basic = basicauth_from_netrc(netrc_from_env(), endpoint.host or "").encode()
                headers["Authorization"] = basic
                remember_headers({"Authorization": basic})
        try:
            proxy, auth = get_env_proxy_for_url(endpoint)
        except LookupError:
            return headers, {"proxy": None}
        via: dict[str, Any] = {"proxy": proxy}
        if auth is not None:  # on the tunnel's CONNECT for https, else on the request
            tunnel = endpoint.scheme == "https"
            via["proxy_headers" if tunnel else "headers"] = {"Proxy-Authorization": auth.encode()}
        return headers, via

    def _payload(self, request: ChatRequest, *, stream: bool) -> bytes:
        messages = ((m.role, m.content) for m in request.messages)
        return chat_request_json(request.model, messages, request.params, stream=stream).encode()

    def _error(
        self, status: int, headers: Mapping[str, str], body: str, model: str
    ) -> BackendError:
        return classify_http_error(
            status,
            body,
            headers,
            model=model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
        )

    def _transport_error(self, exc: Exception) -> BackendError:
        """The error for a failure below HTTP (connect, timeout, lost connection)."""
        import aiohttp

        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return EndpointUnreachable(
                f"cannot reach {self.base_url}: {exc!r}",
                hint="check that the server is running and base_url is right",
            )
        if isinstance(exc, TimeoutError):
            return TransientBackendError(f"{self.base_url} timed out: {exc!r}")
        return TransientBackendError(
            f"lost the connection to {self.base_url}: {exc!r}",
            hint="check that the server is running and base_url is right",
        )

    async def post(self, path: str, body: bytes, model: str) -> bytes:
        """POST a JSON ``body`` to ``base_url + path``; the reply body, or the
        :class:`BackendError` of the failure (``model`` is named in it)."""
        import aiohttp

        try:
            async with self._pool().post(self._endpoint + path, data=body, **self._via) as reply:
                data = await reply.read()
                status, headers = reply.status, reply.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc) from exc
        if status >= 300:
            raise self._error(status, headers, data.decode("utf-8", "replace"), model)
        return data

    async def post_events(
        self, path: str, body: bytes, model: str
    ) -> AsyncIterator[dict[str, Any]]:
        """POST a streaming request; the JSON objects of its server-sent events."""
        import aiohttp

        try:
            async with self._pool().post(self._endpoint + path, data=body, **self._via) as reply:
                if reply.status >= 300:
                    text = (await reply.read()).decode("utf-8", "replace")
                    raise self._error(reply.status, reply.headers, text, model)
                async for chunk in sse_json(_lines(reply)):
                    yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc) from exc

    async def probe(self, path: str, timeout: float) -> int | None:
        """The HTTP status of ``GET base_url + path``, ``None`` when nothing answers."""
        import aiohttp

        try:
            wait = aiohttp.ClientTimeout(total=timeout)
            async with self._pool().get(self._endpoint + path, timeout=wait, **self._via) as reply:
                return reply.status
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """POST one chat completion; map every failure to a :class:`BackendError`."""
        body = await self.post(
            "/chat/completions", self._payload(request, stream=False), request.model
        )
        return parse_completion(body, self.base_url)

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Yield text deltas from a server-sent-events stream."""
        payload = self._payload(request, stream=True)
        async for chunk in self.post_events("/chat/completions", payload, request.model):
            try:
                choices = ChatCompletionChunk.model_validate(chunk).choices
            except ValidationError:
                continue
            text = choice_text(choices[0]) if choices else None
            if text:
                yield text

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None
