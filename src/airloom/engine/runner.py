"""The generation engine: runs every enabled instructor to its target, resumably.

Start-up opens the store, takes the seed, counts, embeddings and request cache back
from it (nothing is re-embedded), and builds the backends. Instructors run in waves
ordered by their declared dependencies; inside a wave they run at once, each keeping
enough rounds in flight to fill the scheduler without overshooting its target.
Interrupted rounds are replayed first on resume: their completed calls come from the
request cache, so nothing paid for is paid again.

Example (the library API the CLI uses)::

    config = load_config("config.yaml")  # airloom.config_load
    stats = asyncio.run(Engine(config).run())
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import shutil
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from airloom.backends.base import Backend, ChatRequest, Message
from airloom.backends.factory import (
    build_default_backend,
    build_endpoint_backend,
    check_local_model,
    default_kind,
    describe_default,
)
from airloom.backends.pool import PoolBackend
from airloom.config import Config
from airloom.engine.context import EngineRoundContext
from airloom.engine.dedup import BatchEmbedder, DedupState
from airloom.engine.filters import ResponseFilter, avoidance_filter, avoided_subjects
from airloom.engine.gate import Gate, RejectRow
from airloom.engine.services import RunServices
from airloom.engine.topics import (
    TopicSampler,
    read_topics,
    shipped_topics_text,
    topics_from_reply,
)
from airloom.errors import (
    AirloomError,
    BackendError,
    BudgetExceeded,
    ConfigError,
    FatalBackendError,
    ParseError,
    RunStopped,
    StoreError,
)
from airloom.formats.records import Record
from airloom.instructors.base import (
    Draft,
    Instructor,
    InstructorSettings,
    PromptTemplate,
    Rejected,
    SourceExhausted,
)
from airloom.instructors.registry import load_enabled, run_order
from airloom.reasons import Reason
from airloom.scheduling.events import EventSink, NullSink
from airloom.scheduling.scheduler import AdaptiveLimiter, Budget, Endpoint, Scheduler, Spending
from airloom.scheduling.stats import TOPICS_ROW, RunStats
from airloom.store.database import CachedCall, Store
from airloom.threads import in_daemon_thread
from airloom.vectors.embed import (
    Embedder,
    backend_for_store,
    beside_event_loop,
    make_embedder,
    resolve_backend,
)
from airloom.vectors.index import set_search_threads

__all__ = ["Engine", "T", "gather_or_cancel"]

T = TypeVar("T")


async def gather_or_cancel(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Like ``asyncio.gather``, but the first exception cancels every sibling."""
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Engine:
    """One generation run over a config (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        *,
        base_dir: Path | None = None,
        events: EventSink | None = None,
        embedder: Embedder | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.events = events or NullSink()
        self._embedder_override = embedder
        self._backend_override = backend
        self.stats = RunStats()
        self.run_id = uuid.uuid4().hex[:12]
        self.seed = 0
        self._db_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="airloom-db")
        self._backends: dict[str, Backend] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._samplers: dict[str, TopicSampler] = {}
        self._sources: dict[str, list[Record]] = {}
        self._stop = asyncio.Event()
        self._exhausted: set[str] = set()
        self._main_task: asyncio.Task[Any] | None = None
        self.stop_reason = ""
        self._avoidance = avoidance_filter(avoided_subjects(config.topic_avoidance))

    # ---- helpers used by contexts and the gate ------------------------------------------
    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store method on the store's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._db_executor, fn, *args)

    async def source_records(self, categories: Sequence[str]) -> list[Record]:
        """Records of other categories, read from the store once per run and category."""
        out: list[Record] = []
        for category in categories:
            if category not in self._sources:
                rows = await self.db(lambda c=category: list(self.store.iter_records([c])))
                self._sources[category] = rows
            out.extend(self._sources[category])
        return out

    def topic_sampler(self, category: str) -> TopicSampler:
        """The topics of one instructor (its own file, or the global list)."""
        section = self.config.instructors[category]
        key = section.topics_path or "*"
        sampler = self._samplers.get(key)
        if sampler is None:
            path = self._path(section.topics_path or self.config.topics_path)
            sampler = self._samplers[key] = TopicSampler(read_topics(path))
        return sampler

    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() or self.base_dir is None else self.base_dir / path

    def request_stop(self, reason: str) -> None:
        """Stop cleanly: no new teacher calls; calls in flight may finish (and are cached)
        for ``concurrency.stop_grace`` seconds; accepted work is kept. A second
        interrupt cancels at once."""
        if self._stop.is_set():
            if reason == "interrupted":
                self._cancel_main()
            return
        self.stop_reason = reason
        self._stop.set()
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            scheduler.refusal = (
                BudgetExceeded(reason.removeprefix("budget: "))
                if reason.startswith("budget")
                else RunStopped(f"run stopped: {reason}")
            )
        if reason == "interrupted":
            # Nothing to wait for (loading, embedding, between calls): stop now; else
            # the calls in flight get the grace period, whatever phase the run is in.
            if self.stats.spending.in_flight == 0:
                self._cancel_main()
            else:
                with contextlib.suppress(RuntimeError):  # no running loop: nothing to cancel
                    asyncio.get_running_loop().call_later(
                        self.config.concurrency.stop_grace, self._cancel_main
                    )

    def _cancel_main(self) -> None:
        if self._main_task is not None and not self._main_task.done():
            self._main_task.cancel()

    async def _drain(self, tasks: set[asyncio.Task[Any]]) -> None:
        """Give tasks the grace period to finish, then cancel what is left.

        Drains nest (a wave drains its instructors, each instructor its rounds) and
        their grace periods run out together: when the outer one cancels an inner
        drain, the inner one still cancels and awaits its own tasks, so no round
        outlives the run.
        """
        try:
            pending = {task for task in tasks if not task.done()}
            if pending and self._stop.is_set():
                await asyncio.wait(pending, timeout=self.config.concurrency.stop_grace)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- start-up -----------------------------------------------------------------------
    def _open_store(self) -> Store:
        config = self.config
        path = config.resolved_store_path(self.base_dir)
        if path.exists() and config.overwrite:
            backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                source = Path(str(path) + suffix)
                if source.exists():
                    shutil.move(str(source), str(backup) + suffix)
            self.events.emit("store_backed_up", path=str(path), backup=str(backup))
        store = Store.open(
            path, embedding_model=self._embedding_name(), output_path=config.output_path
        )
        if not config.append and not config.overwrite and store.record_count():
            store.close()
            raise ConfigError(
                f"{path} already holds records and append is false",
                hint="set append: true to resume, or overwrite: true to start afresh "
                "(the old store is kept as a backup)",
            )
        return store

    def _embedding_name(self) -> str | None:
        if not self.config.dedup.enabled:
            return None
        if self._embedder_override is not None:
            return self._embedder_override.name
        return self.config.embedding_model

    def _embedding_backend(self) -> str:
        """The configured backend, held to the one the store's embeddings were made with."""
        if resolve_backend(self.config.embedding_model, "torch") == "hashing":
            return self.config.embedding_backend
        return backend_for_store(
            self.config.embedding_backend,
            self.store.get_meta("embedding_backend"),
            bool(self.store.record_count()),
            str(self.store.path),
        )

    def _take_seed(self) -> int:
        stored = self.store.get_meta("seed")
        if self.config.seed is not None:
            seed = self.config.seed
        elif stored is not None:
            seed = int(stored)
        else:
            seed = random.SystemRandom().randrange(1, 2**31)
        if stored is None:
            self.store.set_meta("seed", str(seed))
        return seed

    def _endpoint_for(self, name: str) -> tuple[Endpoint, str]:
        config = self.config
        section = config.instructors[name]
        if section.endpoint and section.endpoint != config.endpoint:
            endpoint_config = config.endpoints[section.endpoint]
            if section.endpoint not in self._endpoints:
                backend = build_endpoint_backend(
                    section.endpoint, endpoint_config, config.retry.timeout
                )
                self._backends[section.endpoint] = backend
                self._endpoints[section.endpoint] = Endpoint(
                    section.endpoint, backend, asyncio.Semaphore(endpoint_config.capacity)
                )
                self._watch(backend)
            model = section.model or endpoint_config.model or config.model
            if not model:
                raise ConfigError(
                    f"no model for instructor '{name}' on endpoint {section.endpoint}"
                )
            return self._endpoints[section.endpoint], model
        endpoint, default_model = self._default_endpoint()
        if section.model and self._backend_override is None and default_kind(config) == "local":
            check_local_model(config, section.model)
        return endpoint, section.model or default_model

    def _watch(self, backend: Backend) -> None:
        """A teacher pool's replicas go into the stats, its notices into the events."""
        self.stats.watch(backend)
        if isinstance(backend, PoolBackend):
            backend.notify = self.events.emit

    def _default_endpoint(self) -> tuple[Endpoint, str]:
        config = self.config
        _, endpoint_name, default_model = describe_default(config)
        if "*" not in self._endpoints:
            backend = self._backend_override or build_default_backend(config, self.base_dir)
            self._backends["*"] = backend
            self._watch(backend)
            self._endpoints["*"] = Endpoint(
                endpoint_name, backend, asyncio.Semaphore(config.concurrency.max_requests)
            )
        return self._endpoints["*"], default_model

    def _settings(self, name: str) -> InstructorSettings:
        config = self.config
        section = config.instructors[name]
        return InstructorSettings(
            name=name,
            section=section,
            count=config.instructor_count(name),
            batch_size=config.instructor_batch_size(name),
            language=section.language or config.language,
            flesch=section.flesch or config.default_flesch,
            topic_avoidance=config.topic_avoidance,
            base_dir=self.base_dir,
        )

    async def _load_dedup(self) -> None:
        embedder: Embedder | None = None
        if self.config.dedup.enabled:
            self.stats.phase = f"loading the embedding model {self.config.embedding_model}"
            embedder = self._embedder_override or await in_daemon_thread(
                make_embedder,
                self.config.embedding_model,
                self.config.embedding_device,
                self.config.dedup.batch_size,
                beside_event_loop(),
                await self.db(self._embedding_backend),
            )
            if embedder is not None:
                await self.db(self.store.set_meta, "embedding_backend", embedder.backend)
        dim = embedder.dim if embedder is not None else 0
        if embedder is not None:
            set_search_threads(1)  # small searches on the event loop's thread
        self.dedup = DedupState(dim, self.config.dedup.scope, self.config.dedup.hnsw_above)
        _, categories, keys, matrix = await self.db(self.store.load_index_data)
        await asyncio.to_thread(self.dedup.load, categories, keys, matrix)
        batcher = (
            BatchEmbedder(embedder, batch_size=self.config.dedup.batch_size) if embedder else None
        )
        if batcher is not None:
            batcher.warm_up()  # while the first list calls are in flight
        self.services = RunServices(
            seed=self.seed,
            stats=self.stats,
            scheduler=self.scheduler,
            dedup=self.dedup,
            embedder=batcher,
            threshold=self.config.dedup_cosine,
            source_records=self.source_records,
            topic_sampler=self.topic_sampler,
        )
        self.gate = Gate(self.services, commit=self._commit, run_id=self.run_id)

    async def _commit(
        self,
        records: list[Record],
        rejects: list[RejectRow],
        finished: list[tuple[str, int]],
    ) -> None:
        await self.db(self.store.commit_batch, records, rejects, finished)

    # ---- the run ------------------------------------------------------------------------
    async def _setup(self) -> None:
        config = self.config
        self.store = await asyncio.to_thread(self._open_store)
        self.seed = await self.db(self._take_seed)
        config_json = json.dumps(config.model_dump(mode="json"), sort_keys=True)
        await self.db(self.store.start_run, self.run_id, self.seed, config_json)
        totals = await self.db(self.store.totals)
        self.stats.resume_from(Spending.from_totals(totals))
        self.scheduler = Scheduler(
            limiter=AdaptiveLimiter(
                config.concurrency.max_requests,
                minimum=config.concurrency.min_requests,
                adaptive=config.concurrency.adaptive,
            ),
            retry=config.retry,
            budget=Budget(config.budget, config.token_budget(), self.stats.spending),
            prices=config.budget.prices,
            cache_get=lambda key: self.db(self.store.cache_get, key),
            cache_put=self._cache_put,
            events=self.events,
        )

    async def run(self) -> RunStats:
        """Run every enabled instructor to its target; return the final statistics."""
        config = self.config
        enabled = [n for n in config.instructors if config.instructor_count(n) > 0]
        registry = load_enabled(enabled)
        status = "failed"
        self._main_task = asyncio.current_task()
        await self._setup()
        try:
            counts = await self.db(self.store.counts)
            for name in enabled:
                stats = self.stats.category(name, target=config.instructor_count(name))
                stats.accepted = counts.get(name, 0)
            await self._load_dedup()
            self.gate.start()
            self.events.emit(
                "run_started",
                run_id=self.run_id,
                seed=self.seed,
                store=str(self.store.path),
                resumed_records=sum(counts.values()),
            )
            self.stats.started = time.monotonic()
            status = await self._run_waves(registry, enabled)
        except asyncio.CancelledError:
            status = "interrupted"
            if not self._stop.is_set():
                raise  # cancelled from outside: the caller wants the cancellation back
        finally:
            self.stats.status = status
            if status == "interrupted":
                self.stats.mark_interrupted()
            self.stats.phase = ""
            await self._shutdown(status)
        return self.stats

    async def write_topics(self) -> list[str]:
        """Have the teacher write the topics file (``airloom topics``); returns new topics."""
        status = "failed"
        self._main_task = asyncio.current_task()
        await self._setup()
        try:
            topics = await self._generate_topics()
            status = "interrupted" if self._stop.is_set() else "completed"
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        finally:
            self.stats.status = status
            await self._shutdown(status)
        return topics

    async def _generate_topics(self) -> list[str]:
        config = self.config
        path = self._path(config.topics_path)
        seen: set[str] = set()
        if path.exists():
            seen = {line.strip().lower() for line in path.read_text("utf-8").splitlines()}
        prompt = PromptTemplate("topic_prompt", config.topic_prompt).render(
            topic_avoidance=config.topic_avoidance
        )
        endpoint, model = self._default_endpoint()
        params = config.api_params.merged(None)
        response_filter = ResponseFilter(config.response_filters)
        stats = self.stats.category(TOPICS_ROW, target=config.topic_request_count)
        stats.state = "running"
        written: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)

        async def one(index: int) -> None:
            request = ChatRequest(model, (Message("user", prompt),), params)
            try:
                call = await self.scheduler.call(
                    endpoint, request, request.fingerprint(f"topics/{index}")
                )
            except (FatalBackendError, BudgetExceeded):
                raise
            except RunStopped:
                return  # stopping: calls in flight finish, no new one starts
            except BackendError as exc:
                stats.reject(Reason.FAILED_CALL)
                self.events.emit("topics_call_failed", error=exc.message)
                return
            if response_filter.match(call.text):
                stats.reject(Reason.FILTERED)
                return
            new = topics_from_reply(call.text, seen)
            if not new:
                stats.reject(Reason.UNPARSEABLE)
            with path.open("a", encoding="utf-8") as handle:
                handle.writelines(topic + "\n" for topic in new)
            written.extend(new)
            stats.accepted += 1
            stats.accepted_this_run += 1

        self.stats.phase = "the teacher writes topics (a topics file skips this)"
        await gather_or_cancel([one(i) for i in range(config.topic_request_count)])
        if self._stop.is_set():
            stats.state = "interrupted"
            return written
        stats.state = "done"
        if not written and not seen:
            raise ConfigError(
                "the teacher wrote no usable topics",
                hint="check topic_prompt (it must ask for a numbered list) or provide topics_path",
            )
        self.events.emit("topics_written", path=str(path), count=len(written))
        return written

    def _write_shipped_topics(self, path: Path) -> None:
        """The local teacher is slow and weak at topic lists: start from the shipped list
        (written to ``path``, where it can be edited or replaced by `airloom topics`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shipped_topics_text(), encoding="utf-8")
        self.events.emit("topics_shipped", path=str(path), count=len(read_topics(path)))

    async def _run_waves(self, registry: dict[str, type[Instructor]], enabled: list[str]) -> str:
        try:
            needs_topics = any(
                registry[n].uses_topics and not self.config.instructors[n].topics_path
                for n in enabled
            )
            topics_path = self._path(self.config.topics_path)
            if needs_topics and not topics_path.exists():
                if describe_default(self.config)[0] == "local":
                    self._write_shipped_topics(topics_path)
                else:
                    await self._generate_topics()
            self.stats.phase = ""
            for wave in run_order(enabled, registry, self.config.instructors):
                if self._stop.is_set():
                    break
                tasks = [
                    asyncio.create_task(self._run_instructor(registry[name](self._settings(name))))
                    for name in wave
                ]
                stop_task = asyncio.create_task(self._stop.wait())
                pending: set[asyncio.Task[Any]] = set(tasks)
                try:
                    while pending and not self._stop.is_set():
                        done, pending = await asyncio.wait(
                            pending | {stop_task}, return_when=asyncio.FIRST_COMPLETED
                        )
                        pending.discard(stop_task)
                        for task in done - {stop_task}:
                            task.result()
                finally:
                    stop_task.cancel()
                    await self._drain(set(tasks))
        except BudgetExceeded as exc:
            self.request_stop(f"budget: {exc.message}")
            self.stats.message = exc.message
            return "budget"
        except RunStopped:
            pass
        except (FatalBackendError, StoreError) as exc:
            self.stats.message = str(exc)
            raise
        if self._stop.is_set():
            self.stats.message = self.stop_reason
            return "budget" if self.stop_reason.startswith("budget") else "interrupted"
        return "completed"

    async def _run_instructor(self, instructor: Instructor) -> None:
        name = instructor.name
        stats = self.stats.category(name)
        if stats.done:
            stats.state = "done"
            return
        endpoint, model = self._endpoint_for(name)
        params = self.config.api_params.merged(instructor.config.api_params)
        patterns = instructor.config.response_filters
        response_filter = ResponseFilter(
            patterns if patterns is not None else self.config.response_filters
        )
        unfinished, next_index = await self.db(self.store.round_state, name)
        replay = list(unfinished)
        per_round = instructor.expected_yield()
        concurrency = self.config.concurrency.max_requests
        batch_capacity: int | None = getattr(endpoint.backend, "batch_capacity", None)
        in_flight: set[asyncio.Task[int]] = set()
        barren = 0
        stats.state = "running"

        def launch(index: int) -> None:
            ctx = EngineRoundContext(
                self.services,
                instructor.settings,
                index,
                endpoint=endpoint,
                model=model,
                params=params,
                response_filter=response_filter,
            )
            in_flight.add(asyncio.create_task(self._run_round(instructor, ctx)))

        stop_waiter = asyncio.create_task(self._stop.wait())
        try:
            while not stats.done and not self._stop.is_set():
                exhausted = name in self._exhausted
                if exhausted and not in_flight:
                    break
                remaining = stats.target - stats.accepted
                needed = math.ceil(remaining / per_round)
                cap = max(1, min(needed, math.ceil(2 * concurrency / per_round) + 4))
                if batch_capacity is not None:
                    # A local model works through its queue in order: many rounds at
                    # once would put every task list before the first answer.
                    cap = max(1, min(needed, math.ceil(batch_capacity / per_round)))
                while not exhausted and len(in_flight) < cap:
                    if replay:
                        index = replay.pop(0)
                    else:
                        index = next_index
                        next_index += 1
                        await self.db(self.store.start_round, name, index)
                    launch(index)
                    stats.rounds += 1
                done, _ = await asyncio.wait(
                    in_flight | {stop_waiter}, return_when=asyncio.FIRST_COMPLETED
                )
                done.discard(stop_waiter)
                in_flight -= done
                failures: list[BaseException] = []
                for task in done:  # every result is retrieved, even after a stop or error
                    try:
                        accepted = task.result()
                    except BudgetExceeded as exc:
                        self.request_stop(f"budget: {exc.message}")
                        continue
                    except RunStopped:
                        continue
                    except Exception as exc:
                        failures.append(exc)
                        continue
                    barren = 0 if accepted else barren + 1
                if failures:
                    raise failures[0]
                if barren >= self.config.stall_rounds and name not in self._exhausted:
                    stats.state = "stalled"
                    self.events.emit(
                        "instructor_stalled",
                        category=name,
                        rounds=barren,
                        rejects=dict(stats.rejects),
                    )
                    return
        finally:
            stop_waiter.cancel()
            await self._drain(in_flight)
        if stats.done:
            stats.state = "done"
        else:
            stats.state = "exhausted" if name in self._exhausted else "stopped"

    async def _run_round(self, instructor: Instructor, ctx: EngineRoundContext) -> int:
        try:
            drafts = await instructor.run_round(ctx)
        except Rejected as exc:
            ctx.reject(exc.reason, exc.detail)
            drafts = []
            if isinstance(exc, SourceExhausted):
                self._exhausted.add(ctx.category)
        except ParseError as exc:
            ctx.reject(Reason.UNPARSEABLE, exc.message)
            drafts = []
        except (AirloomError, asyncio.CancelledError):
            raise
        except Exception as exc:  # an instructor bug must not kill the run
            ctx.reject(Reason.ERROR, f"{type(exc).__name__}: {exc}")
            self.events.emit("round_error", category=ctx.category, error=repr(exc))
            drafts = []
        if instructor.uses_topics:
            drafts = self._without_avoided_subjects(ctx, drafts)
        return await self.gate.submit(ctx, drafts)

    def _without_avoided_subjects(
        self, ctx: EngineRoundContext, drafts: list[Draft]
    ) -> list[Draft]:
        """Drop the tasks that name a subject of ``topic_avoidance`` (a unit goes whole)."""
        avoided: dict[int, str] = {}
        for position, draft in enumerate(drafts):
            subject = self._avoidance.match(draft.text_for_dedup())
            if subject is not None:
                avoided[position] = subject
        units = {drafts[i].unit for i in avoided if drafts[i].unit is not None}
        kept = []
        for position, draft in enumerate(drafts):
            subject = avoided.get(position)
            if subject is None and (draft.unit is None or draft.unit not in units):
                kept.append(draft)
            elif subject is not None:
                self.stats.filter_hits[f"topic_avoidance: {subject}"] += 1
                ctx.reject(Reason.AVOIDED_TOPIC, subject)
        return kept

    async def _cache_put(self, key: str, call: CachedCall, model: str, endpoint: str) -> None:
        await self.db(
            lambda: self.store.cache_put(
                key, call, model=model, endpoint=endpoint, run_id=self.run_id
            )
        )

    async def _shutdown(self, status: str) -> None:
        gate = getattr(self, "gate", None)
        if gate is not None:
            await gate.aclose()
            if gate.embedder is not None:
                await gate.embedder.aclose()
        for backend in self._backends.values():
            with contextlib.suppress(Exception):
                await backend.aclose()
        try:
            await self.db(self.store.finish_run, self.run_id, status)
        finally:
            await self.db(self.store.close)
            self._db_executor.shutdown(wait=True)
        self.events.emit("run_finished", **self.stats.as_dict())
