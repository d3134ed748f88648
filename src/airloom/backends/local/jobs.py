"""One queued request of the local backend, and the channel that streams its text.

A :class:`Job` travels from the caller's event loop to the worker thread; its future is
resolved from that thread. A streamed job also carries a :class:`StreamSink`, through
which the worker pushes text deltas onto the caller's loop.

Example:
    >>> import concurrent.futures
    >>> from airloom.backends.base import ChatRequest, Message
    >>> from airloom.backends.local.params import parse_generation_params
    >>> params = parse_generation_params({"temperature": 0})
    >>> job = Job(ChatRequest("m", (Message("user", "hi"),)), params,
    ...           concurrent.futures.Future(), params.batch_key())
    >>> job.fail(RuntimeError("boom")); job.future.exception()
    RuntimeError('boom')
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from dataclasses import dataclass, field
from typing import Any

from airloom.backends.base import ChatRequest, ChatResponse
from airloom.backends.local.params import GenerationParams

__all__ = ["STREAM_END", "Job", "StreamSink"]

STREAM_END = object()
"""Put on a sink's queue after the last text of a stream."""


class StreamSink:
    """Carries text from the worker thread into an asyncio queue on the caller's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False
        self._ended = False

    def push(self, text: str) -> None:
        """Queue a text delta for the caller (dropped once the caller went away)."""
        if text and not self.closed:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self.loop.call_soon_threadsafe(self.queue.put_nowait, text)

    def end(self) -> None:
        """Tell the caller that no more text comes (once)."""
        if not self._ended:
            self._ended = True
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.queue.put_nowait, STREAM_END)


@dataclass(eq=False, slots=True)
class Job:
    """A request, its parsed parameters, the future of its answer and its batch key.

    ``prompt_ids`` and ``max_new_tokens`` are filled in by the worker before generation.
    """

    request: ChatRequest
    params: GenerationParams
    future: concurrent.futures.Future[ChatResponse]
    key: tuple[Any, ...] | None
    sink: StreamSink | None = None
    prompt_ids: list[int] = field(default_factory=list)
    max_new_tokens: int = 0

    def cancelled(self) -> bool:
        """True when the caller no longer waits for the answer."""
        return self.future.cancelled() or (self.sink is not None and self.sink.closed)

    def succeed(self, response: ChatResponse) -> None:
        """Hand the answer to the caller (unless it went away)."""
        if not self.future.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                self.future.set_result(response)

    def fail(self, error: BaseException) -> None:
        """End the stream and hand ``error`` to the caller."""
        if self.sink is not None:
            self.sink.end()
        if not self.future.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                self.future.set_exception(error)

    def cancel(self) -> None:
        """End the stream and cancel the answer (the caller went away)."""
        if self.sink is not None:
            self.sink.end()
        self.future.cancel()
