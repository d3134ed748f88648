"""The one backend protocol: ``async complete(ChatRequest) -> ChatResponse``.

Every teacher (an OpenAI-compatible endpoint, the embedded local model, the scripted
backend used by tests and demos) implements :class:`Backend`. Streaming is an optional
capability (:class:`StreamingBackend`).

Example:
    >>> req = ChatRequest(model="m", messages=(Message("user", "Hi"),), params={"temperature": 0.0})
    >>> req.last_user_text()
    'Hi'
    >>> len(req.fingerprint())
    64
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Backend", "ChatRequest", "ChatResponse", "Message", "Role", "StreamingBackend", "Usage"]

Role = Literal["system", "user", "assistant", "function", "tool"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn."""

    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        """The OpenAI wire form, e.g. ``{"role": "user", "content": "Hi"}``."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat completion request, independent of any wire format.

    ``params`` holds sampling parameters (temperature, top_p, max_tokens, stop,
    presence_penalty, frequency_penalty, seed, …) passed through to the backend.
    """

    model: str
    messages: tuple[Message, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    def last_user_text(self) -> str:
        """The content of the last user message, or ``""``."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""

    def fingerprint(self, sample_key: str = "") -> str:
        """A stable hash of the rendered request plus a sample key (cache identity).

        Two calls with the same model, messages and parameters but different
        ``sample_key`` are different samples (a teacher at temperature 1 answers
        differently each time); a replay with the same key is the same call.
        """
        payload = {
            "model": self.model,
            "messages": [m.to_dict() for m in self.messages],
            "params": dict(sorted(self.params.items())),
            "sample": sample_key,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by the backend."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """The backend's answer: text, why it stopped, and usage."""

    text: str
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    model: str = ""

    @property
    def truncated(self) -> bool:
        """True when the generation hit its token limit."""
        return self.finish_reason == "length"


@runtime_checkable
class Backend(Protocol):
    """What every teacher implements."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Run one chat completion; raise :class:`airloom.errors.BackendError` subclasses."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and models."""
        ...


@runtime_checkable
class StreamingBackend(Backend, Protocol):
    """A backend that can also stream text deltas."""

    def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Yield text deltas as they arrive."""
        ...
