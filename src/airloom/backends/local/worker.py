"""The thread that owns the model: it queues requests and generates them in batches.

Requests that arrive while the model is busy (or within ``batch_window_ms`` of each
other), streamed or not, are generated together as one left-padded batch when their
sampling parameters are compatible (:meth:`GenerationParams.batch_key`). ``max_tokens``,
stop strings and penalties are tracked per row; a finished row stops counting.

Example:
    >>> stats = LocalBackendStats()
    >>> worker = BatchWorker(LocalModelSettings(), stats, load=load_model,
    ...                      prompt_text=render, generate_kwargs=extras)  # doctest: +SKIP
    >>> worker.submit(job)  # doctest: +SKIP
    >>> stats.batches, stats.largest_batch
    (0, 0)
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airloom.backends.base import ChatRequest, ChatResponse, Usage
from airloom.backends.local.jobs import Job
from airloom.backends.local.penalties import PenaltyProcessor
from airloom.backends.local.runtime import LoadedModel
from airloom.backends.local.stops import cut_at_stop
from airloom.backends.local.tracker import BatchTracker
from airloom.errors import AirloomError, BackendError, ContextLengthError
from airloom.local_settings import LocalModelSettings
from airloom.weights.device import available_cores

__all__ = ["BatchWorker", "LocalBackendStats"]

_STOP_WORKER = object()


@dataclass(slots=True)
class LocalBackendStats:
    """Counters for throughput reports and tests."""

    batches: int = 0
    requests: int = 0
    largest_batch: int = 0
    completion_tokens: int = 0
    generation_seconds: float = 0.0


def closed_error() -> BackendError:
    """The error of a request that a closing backend leaves unanswered."""
    return BackendError("the local backend was closed", hint="open a new one")


class BatchWorker:
    """One daemon thread that takes :class:`Job` s from a queue and answers them in batches.

    ``load`` returns the model (loading it on first call; its error fails the waiting
    jobs), ``prompt_text`` renders a request's prompt, ``generate_kwargs`` adds keyword
    arguments of ``generate`` for a batch (the serving engines pass adapters).
    """

    def __init__(
        self,
        settings: LocalModelSettings,
        stats: LocalBackendStats,
        *,
        load: Callable[[], LoadedModel],
        prompt_text: Callable[[ChatRequest], str],
        generate_kwargs: Callable[[Sequence[Job]], dict[str, Any]],
    ) -> None:
        self.settings = settings
        self.stats = stats
        self._load = load
        self._prompt_text = prompt_text
        self._generate_kwargs = generate_kwargs
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the caller's side ------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """Queue a job, starting the thread if it is not running."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._main, name="airloom-local-model", daemon=True
                )
                self._thread.start()
        self._queue.put(job)

    def is_alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to stop after its current batch; wait up to ``timeout`` seconds.

        Returns True when the thread has ended. Jobs still queued fail as closed.
        """
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP_WORKER)
            if timeout > 0:
                thread.join(timeout)
        self.fail_queued(closed_error())
        return thread is None or not thread.is_alive()

    def fail_queued(self, error: BaseException) -> None:
        """Fail every job still in the queue with ``error``."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Job):
                item.fail(error)

    # -- the thread -------------------------------------------------------------------

    def _main(self) -> None:
        pending: deque[Job] = deque()
        threads_set = False
        while True:
            if not pending:
                item = self._queue.get()
                if item is _STOP_WORKER:
                    return
                assert isinstance(item, Job)
                pending.append(item)
                if self._collect(pending):
                    return
            elif self._drain(pending):
                return
            try:
                loaded = self._load()
            except BaseException as exc:
                while pending:
                    pending.popleft().fail(exc)
                continue
            if not threads_set:
                # torch keeps the CPU thread count per calling thread; set it here too.
                loaded.torch.set_num_threads(self.settings.threads or available_cores())
                threads_set = True
            batch = self._next_batch(pending, loaded)
            try:
                if batch:
                    self._run_batch(batch, loaded)
            except BaseException as exc:  # never leave a caller waiting on a dead worker
                error = (
                    exc
                    if isinstance(exc, AirloomError)
                    else BackendError(f"local generation failed: {exc!r}")
                )
                for job in batch:
                    job.fail(error)

    def _drain(self, pending: deque[Job]) -> bool:
        """Move everything queued into ``pending``; True when asked to stop."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP_WORKER:
                self._fail_pending(pending)
                return True
            assert isinstance(item, Job)
            pending.append(item)

    def _collect(self, pending: deque[Job]) -> bool:
        """After a first job, wait up to the batch window for companions."""
        deadline = time.monotonic() + self.settings.batch_window_ms / 1000.0
        while len(pending) < self.settings.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is _STOP_WORKER:
                self._fail_pending(pending)
                return True
            assert isinstance(item, Job)
            pending.append(item)
        return self._drain(pending)

    @staticmethod
    def _fail_pending(pending: deque[Job]) -> None:
        error = closed_error()
        while pending:
            pending.popleft().fail(error)

    def _next_batch(self, pending: deque[Job], loaded: LoadedModel) -> list[Job]:
        """Take the oldest job and the compatible ones after it (up to the size cap)."""
        ready: deque[Job] = deque()
        while pending:
            job = pending.popleft()
            if job.cancelled():
                job.cancel()
                continue
            try:
                self._prepare(job, loaded)
            except BaseException as exc:
                job.fail(exc)
                continue
            ready.append(job)
        if not ready:
            return []
        first = ready.popleft()
        batch = [first]
        if first.key is not None:
            rest: deque[Job] = deque()
            for job in ready:
                if job.key == first.key and len(batch) < self.settings.max_batch_size:
                    batch.append(job)
                else:
                    rest.append(job)
            ready = rest
        pending.extend(ready)
        return batch

    def _prepare(self, job: Job, loaded: LoadedModel) -> None:
        """Render the prompt, count tokens, and check the context window."""
        if job.prompt_ids:
            return
        ids = loaded.tokenizer(self._prompt_text(job.request), add_special_tokens=False)
        prompt_tokens = len(ids["input_ids"])
        room = loaded.context_length - prompt_tokens
        asked = job.params.max_tokens
        if asked is not None and asked > room:
            raise ContextLengthError(
                f"prompt ({prompt_tokens} tokens) + max_tokens ({asked}) exceed the "
                f"context window of {loaded.context_length} tokens",
                hint="the item is skipped; lower max_tokens or shorten the prompt",
            )
        if room < 1:
            raise ContextLengthError(
                f"the prompt ({prompt_tokens} tokens) fills the context window of "
                f"{loaded.context_length} tokens",
                hint="the item is skipped; shorten the prompt",
            )
        job.prompt_ids = list(ids["input_ids"])
        job.max_new_tokens = asked if asked is not None else min(self.settings.max_new_tokens, room)

    @staticmethod
    def _generation_config(transformers: Any, jobs: Sequence[Job], loaded: LoadedModel) -> Any:
        params = jobs[0].params
        # Every sampling field is set explicitly, so that a model's own generation
        # defaults (e.g. temperature 0.7) never override what the request asked for.
        sampling: dict[str, Any] = {}
        if params.do_sample:
            sampling = {"temperature": params.temperature, "top_p": params.top_p}
            sampling["top_k"] = params.top_k
        return transformers.GenerationConfig(
            max_new_tokens=max(job.max_new_tokens for job in jobs),
            do_sample=params.do_sample,
            repetition_penalty=params.repetition_penalty,
            num_beams=1,
            pad_token_id=loaded.pad_id,
            eos_token_id=sorted(loaded.eos_ids),
            **sampling,
        )

    def _run_batch(self, jobs: list[Job], loaded: LoadedModel) -> None:
        torch_module = loaded.torch
        import transformers

        width = max(len(job.prompt_ids) for job in jobs)
        input_ids = torch_module.full((len(jobs), width), loaded.pad_id, dtype=torch_module.long)
        attention = torch_module.zeros((len(jobs), width), dtype=torch_module.long)
        for row, job in enumerate(jobs):
            ids = torch_module.tensor(job.prompt_ids, dtype=torch_module.long)
            input_ids[row, width - len(ids) :] = ids
            attention[row, width - len(ids) :] = 1
        tracker = BatchTracker(jobs, width, loaded.eos_ids, loaded.tokenizer)
        processors = transformers.LogitsProcessorList()
        if any(j.params.presence_penalty or j.params.frequency_penalty for j in jobs):
            processors.append(PenaltyProcessor(jobs, width))
        # A seeded request runs alone and replays its stream; any other sampled batch
        # draws a fresh one (torch starts every process from the same fixed seed, and a
        # seeded request would otherwise fix the stream of every batch after it).
        sampled = any(job.params.do_sample for job in jobs)
        seed = jobs[0].params.seed if len(jobs) == 1 else None
        started = time.perf_counter()
        try:
            with torch_module.inference_mode():
                if sampled:
                    torch_module.manual_seed(seed if seed is not None else secrets.randbits(63))
                output = loaded.model.generate(
                    input_ids=input_ids.to(loaded.device),
                    attention_mask=attention.to(loaded.device),
                    generation_config=self._generation_config(transformers, jobs, loaded),
                    stopping_criteria=transformers.StoppingCriteriaList([tracker]),
                    logits_processor=processors,
                    **self._generate_kwargs(jobs),
                )
        except BaseException as exc:
            error: BaseException = exc
            if not isinstance(exc, AirloomError):
                error = BackendError(f"local generation failed: {exc!r}")
                error.__cause__ = exc
            for job in jobs:
                job.fail(error)
            return
        finally:
            for job in jobs:
                if job.sink is not None:
                    job.sink.end()
        elapsed = time.perf_counter() - started
        responses = self._responses(jobs, output[:, width:].tolist(), tracker, loaded)
        # Counted before any caller wakes up, so that callers see consistent numbers.
        stats = self.stats
        stats.batches += 1
        stats.requests += len(jobs)
        stats.largest_batch = max(stats.largest_batch, len(jobs))
        stats.completion_tokens += sum(r.usage.completion_tokens for r in responses)
        stats.generation_seconds += elapsed
        for job, response in zip(jobs, responses, strict=True):
            job.succeed(response)

    @staticmethod
    def _responses(
        jobs: Sequence[Job], rows: list[list[int]], tracker: BatchTracker, loaded: LoadedModel
    ) -> list[ChatResponse]:
        """Each row's answer: its tokens up to where it ended, cut at its stop strings."""
        responses: list[ChatResponse] = []
        for row, job in enumerate(jobs):
            length = tracker.lengths[row]
            tokens = rows[row][: length if length is not None else len(rows[row])]
            reason = tracker.reasons[row] if length is not None else "length"
            text = loaded.tokenizer.decode(tokens, skip_special_tokens=True)
            text, stopped = cut_at_stop(text, job.params.stop)
            if stopped or reason == "cancelled":
                reason = "stop"
            responses.append(
                ChatResponse(
                    text=text,
                    finish_reason=reason,
                    usage=Usage(prompt_tokens=len(job.prompt_ids), completion_tokens=len(tokens)),
                    model=loaded.display_name,
                )
            )
        return responses
