"""The :class:`RoundContext` implementation the engine hands to an instructor round."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from airloom.backends.base import ChatRequest, Message
from airloom.engine.filters import ResponseFilter
from airloom.errors import BackendError, ContextLengthError, FatalBackendError
from airloom.formats.records import Record, dedup_key
from airloom.formats.transcripts import Turn
from airloom.instructors.base import (
    Filtering,
    InstructorSettings,
    PromptTemplate,
    Rejected,
    Truncated,
    map_rejecting,
)
from airloom.reasons import Reason
from airloom.scheduling.scheduler import Endpoint, describe_params

if TYPE_CHECKING:
    from airloom.engine.services import RunServices

__all__ = ["EngineRoundContext", "Provenance", "R", "T", "round_seed"]

T = TypeVar("T")
R = TypeVar("R")


def round_seed(seed: int, category: str, index: int) -> int:
    """The seed of one round, stable across runs and processes.

    Example:
        >>> round_seed(1, "general", 0) == round_seed(1, "general", 0)
        True
    """
    digest = hashlib.sha256(f"{seed}:{category}:{index}".encode()).hexdigest()
    return int(digest[:16], 16)


@dataclass
class Provenance:
    """Where a round's records came from."""

    model: str = ""
    endpoint: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    template_hash: str | None = None


class EngineRoundContext:
    """One round's view of the run (see :class:`airloom.instructors.base.RoundContext`)."""

    def __init__(
        self,
        services: RunServices,
        settings: InstructorSettings,
        index: int,
        *,
        endpoint: Endpoint,
        model: str,
        params: dict[str, Any],
        response_filter: ResponseFilter,
    ) -> None:
        self.services = services
        self.settings = settings
        self.round_index = index
        self.rng = random.Random(round_seed(services.seed, settings.name, index))
        self._endpoint = endpoint
        self._model = model
        self._params = params
        self._filter = response_filter
        self.provenance = Provenance(
            model=model, endpoint=endpoint.name, params=describe_params(params)
        )
        self.rejects: list[tuple[Reason, str]] = []

    @property
    def category(self) -> str:
        """The instructor's category."""
        return self.settings.name

    def reject(self, reason: Reason, detail: str = "") -> None:
        """Count one rejected item."""
        self.rejects.append((reason, detail[:300]))
        self.services.stats.category(self.category).reject(reason)

    async def source_records(self, categories: Sequence[str]) -> list[Record]:
        """Stored records of other categories (read once per run and category)."""
        return await self.services.source_records(categories)

    def topics(self, n: int) -> list[str]:
        """Topics for this round, from the instructor's or the global topics list."""
        return self.services.topic_sampler(self.category).sample(self.rng, n)

    async def complete(
        self,
        prompt: str | None,
        *,
        key: str,
        system: str | None = None,
        history: Sequence[Turn] = (),
        params: dict[str, Any] | None = None,
        filtered: Filtering = True,
        template: PromptTemplate | None = None,
    ) -> str:
        """One teacher call through the scheduler; rejects raise :class:`Rejected`."""
        messages: list[Message] = []
        if system:
            messages.append(Message("system", system))
        messages.extend(Message(turn.role, turn.content) for turn in history)
        if prompt is not None:
            messages.append(Message("user", prompt))
        merged = dict(self._params)
        merged.update(params or {})
        request = ChatRequest(self._model, tuple(messages), merged)
        cache_key = request.fingerprint(f"{self.category}/{self.round_index}/{key}")
        if template is not None:
            self.provenance.template_hash = template.digest
        try:
            call = await self.services.scheduler.call(self._endpoint, request, cache_key)
        except FatalBackendError:
            raise
        except ContextLengthError as exc:
            raise Rejected(Reason.TOO_LONG, exc.message) from exc
        except BackendError as exc:
            raise Rejected(Reason.FAILED_CALL, exc.message) from exc
        if call.model:  # the model the endpoint reports, not the name it was asked for
            self.provenance.model = call.model
        if not call.text.strip():
            raise Rejected(Reason.EMPTY, "the teacher returned no text")
        pattern = None
        if filtered:
            text = call.text
            pattern = self._filter.match(text) if filtered is True else self._filter.refusal(text)
        if pattern is not None:
            self.services.stats.filter_hits[pattern] += 1
            raise Rejected(Reason.FILTERED, pattern)
        if call.finish_reason == "length":
            raise Truncated(call.text)
        return call.text

    async def novel(self, texts: Sequence[str]) -> list[bool]:
        """Pre-check: not an exact or near duplicate of the store or of an earlier text."""
        texts = list(texts)
        if not texts:
            return []
        result = [True] * len(texts)
        keys = [dedup_key(text) for text in texts]
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key in self.services.dedup.keys or key in seen:
                result[i] = False
            seen.add(key)
        embedder = self.services.embedder
        if embedder is not None:
            vectors = await embedder.embed(texts)
            threshold = self.services.threshold(self.category)
            best = self.services.dedup.best(self.category, vectors)
            # the gate then searches only what is added meanwhile
            self.services.dedup.note_checked(self.category, keys, best)
            sims = vectors @ vectors.T
            for i in range(len(texts)):
                if best[i] >= threshold or (
                    i and result[i] and np.any(sims[i, :i][np.array(result[:i])] >= threshold)
                ):
                    result[i] = False
        for ok, text in zip(result, texts, strict=True):
            if not ok:
                self.reject(Reason.DUPLICATE, text[:120])
        return result

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R]:
        """Run ``fn`` over items concurrently; Rejected items are counted and dropped."""

        return await map_rejecting(fn, items, self.reject)
