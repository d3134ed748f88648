"""The round context: call outcomes become rejects, novelty pre-check, round seeds."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from airloom.backends.base import ChatRequest
from airloom.config import Config, InstructorConfig
from airloom.engine.context import EngineRoundContext, round_seed
from airloom.engine.dedup import BatchEmbedder, DedupState
from airloom.engine.filters import ResponseFilter
from airloom.engine.services import RunServices
from airloom.engine.topics import TopicSampler
from airloom.errors import BackendError, ContextLengthError, FatalBackendError
from airloom.formats.records import dedup_key
from airloom.instructors.base import InstructorSettings, Rejected, Turn
from airloom.scheduling.scheduler import Endpoint
from airloom.scheduling.stats import RunStats
from airloom.store.database import CachedCall
from airloom.vectors.embed import HashingEmbedder


class StubScheduler:
    def __init__(self, outcome: object) -> None:
        self.outcome = outcome
        self.requests: list[tuple[ChatRequest, str]] = []

    async def call(self, endpoint: Endpoint, request: ChatRequest, key: str) -> CachedCall:
        self.requests.append((request, key))
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        assert isinstance(self.outcome, CachedCall)
        return self.outcome


def scheduler_of(services: RunServices) -> StubScheduler:
    assert isinstance(services.scheduler, StubScheduler)
    return services.scheduler


def make_context(
    outcome: object = None, *, embedder: bool = True
) -> tuple[EngineRoundContext, RunServices]:
    config = Config(min_docsearch_score=0.2, instructors={"general": InstructorConfig()})
    dim = 64
    scheduler = StubScheduler(outcome or CachedCall("fine text", "stop", 1, 1, 0.0))

    async def no_sources(categories: object) -> list[dict[str, Any]]:
        return []

    services = RunServices(
        seed=7,
        stats=RunStats(),
        scheduler=scheduler,  # type: ignore[arg-type]
        dedup=DedupState(dim),
        embedder=BatchEmbedder(HashingEmbedder(dim)) if embedder else None,
        threshold=config.dedup_cosine,
        source_records=no_sources,
        topic_sampler=lambda category: TopicSampler(["rivers", "tides"]),
    )
    settings = InstructorSettings(
        name="general",
        section=config.instructors["general"],
        count=10,
        batch_size=3,
        language="English",
        flesch="",
        topic_avoidance="",
    )
    ctx = EngineRoundContext(
        services,
        settings,
        4,
        endpoint=Endpoint("e", object(), asyncio.Semaphore(1)),  # type: ignore[arg-type]
        model="teacher",
        params={"temperature": 0.5},
        response_filter=ResponseFilter(["language model"]),
    )
    return ctx, services


def test_round_seed_is_stable_and_distinct() -> None:
    assert round_seed(1, "general", 0) == round_seed(1, "general", 0)
    seeds = {round_seed(s, c, i) for s in (1, 2) for c in ("general", "coding") for i in range(3)}
    assert len(seeds) == 12


def test_context_rng_is_seeded_per_round() -> None:
    ctx, _ = make_context()
    assert ctx.rng.random() == random.Random(round_seed(7, "general", 4)).random()


def test_complete_builds_the_request() -> None:
    ctx, services = make_context()
    text = asyncio.run(
        ctx.complete(
            "Question?",
            key="tasks",
            system="Sys.",
            history=[Turn("user", "a"), Turn("assistant", "b")],
            params={"max_tokens": 5},
        )
    )
    assert text == "fine text"
    ((request, key),) = scheduler_of(services).requests
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Sys."),
        ("user", "a"),
        ("assistant", "b"),
        ("user", "Question?"),
    ]
    assert request.model == "teacher"
    assert dict(request.params) == {"temperature": 0.5, "max_tokens": 5}
    assert key == request.fingerprint("general/4/tasks")


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (CachedCall("cut off", "length", 1, 1, 0.0), "truncated"),
        (CachedCall("   \n", "stop", 1, 1, 0.0), "empty"),
        (CachedCall("As a language model I refuse.", "stop", 1, 1, 0.0), "filtered"),
        (ContextLengthError("too long"), "too_long"),
        (BackendError("bad request", status=400), "failed_call"),
    ],
)
def test_complete_outcomes_become_rejects(outcome: object, reason: str) -> None:
    ctx, services = make_context(outcome)
    with pytest.raises(Rejected) as info:
        asyncio.run(ctx.complete("x", key="k"))
    assert info.value.reason == reason
    if reason == "filtered":
        assert services.stats.filter_hits == {"language model": 1}


def test_unfiltered_call_keeps_matching_text() -> None:
    ctx, _ = make_context(CachedCall("As a language model...", "stop", 1, 1, 0.0))
    assert asyncio.run(ctx.complete("x", key="k", filtered=False)).startswith("As a")


def test_fatal_errors_propagate() -> None:
    ctx, _ = make_context(FatalBackendError("bad key", status=401))
    with pytest.raises(FatalBackendError):
        asyncio.run(ctx.complete("x", key="k"))


def test_novel_checks_store_keys_vectors_and_the_batch_itself() -> None:
    ctx, services = make_context()
    stored = "Write a haiku about autumn leaves falling in the park."
    services.dedup.add("coding", dedup_key(stored), HashingEmbedder(64).encode([stored])[0])
    services.dedup.keys.add(dedup_key("Exact twin of a stored task"))
    texts = [
        "Name three rivers in South America.",
        "write a haiku about autumn leaves falling in the park",  # near the stored one
        "Exact  twin of a STORED task",  # exact key match
        "Name three rivers in South America!",  # near an earlier text of this batch
        "Explain how tides work.",
    ]

    async def scenario() -> list[bool]:
        result = await ctx.novel(texts)
        assert services.embedder is not None
        await services.embedder.aclose()
        return result

    assert asyncio.run(scenario()) == [True, False, False, False, True]
    assert [r[0] for r in ctx.rejects] == ["duplicate"] * 3
    assert services.stats.categories["general"].rejects["duplicate"] == 3


def test_novel_without_embedder_uses_exact_keys_only() -> None:
    ctx, services = make_context(embedder=False)
    services.dedup.keys.add(dedup_key("known"))
    result = asyncio.run(ctx.novel(["Known", "new", "NEW ", "other"]))
    assert result == [False, True, False, True]
    assert asyncio.run(ctx.novel([])) == []


def test_map_drops_and_counts_rejected_items() -> None:
    ctx, services = make_context()

    async def work(item: int) -> int:
        if item % 2:
            raise Rejected("odd", str(item))
        return item * 10

    assert asyncio.run(ctx.map(work, [0, 1, 2, 3, 4])) == [0, 20, 40]
    assert ctx.rejects == [("odd", "1"), ("odd", "3")]
    assert services.stats.categories["general"].rejects == {"odd": 2}


def test_reject_detail_is_bounded() -> None:
    ctx, _ = make_context()
    ctx.reject("unparseable", "x" * 1000)
    assert len(ctx.rejects[0][1]) == 300


def test_topics_and_source_records_come_from_the_services_handed_over() -> None:
    ctx, _ = make_context(embedder=False)
    assert sorted(ctx.topics(2)) == ["rivers", "tides"]
    assert ctx.topics(1) != [] and asyncio.run(ctx.source_records(["general"])) == []
