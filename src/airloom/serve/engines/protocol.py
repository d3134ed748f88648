"""The engine protocol every serving engine implements.

A request is a :class:`~airloom.backends.base.ChatRequest` whose ``model`` names an
expert (or the base); ``params["prompt"]`` holds the raw text of a plain completion,
which is used as it is instead of a chat template.

Example:
    >>> info = EngineInfo(kind="local", base="tiny", experts={})
    >>> info.model_ids()
    ['tiny']
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from airloom.backends.base import ChatRequest, ChatResponse

__all__ = ["Engine", "EngineInfo"]


@dataclass(frozen=True)
class EngineInfo:
    """What an engine serves: its kind, the base model id and the experts' folders."""

    kind: str
    base: str
    experts: dict[str, Path] = field(default_factory=dict)

    def model_ids(self) -> list[str]:
        """The base first, then the experts in order."""
        return [self.base, *self.experts]


class Engine(Protocol):
    """Generation for the server: start once, then complete or stream requests."""

    info: EngineInfo

    async def start(self) -> None:
        """Load everything; raise a clear :class:`~airloom.errors.AirloomError` if unable."""
        ...

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One whole answer."""
        ...

    def events(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """Text deltas, then the whole :class:`ChatResponse` (usage and finish reason)."""
        ...

    async def aclose(self) -> None:
        """Free the model (and stop any process the engine started)."""
        ...
