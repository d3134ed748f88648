"""The local backend: the backend protocol over a model loaded on this machine.

:class:`LocalBackend` loads its model lazily (through :mod:`airloom.weights`), hands
requests to its :class:`~airloom.backends.local.worker.BatchWorker` and turns the
worker's answers into ``complete``/``stream``/``events`` results for the caller's loop.

Example:
    >>> backend = LocalBackend(LocalModelSettings(max_new_tokens=64))
    >>> backend.name, backend.loaded
    ('local:embedded', False)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from airloom.backends.base import ChatRequest, ChatResponse
from airloom.backends.local.jobs import STREAM_END, Job, StreamSink
from airloom.backends.local.params import GenerationParams, parse_generation_params
from airloom.backends.local.runtime import LoadedModel, end_of_turn_ids
from airloom.backends.local.stops import StopScanner
from airloom.backends.local.worker import BatchWorker, LocalBackendStats, closed_error
from airloom.errors import AirloomError, BackendError, FatalBackendError
from airloom.local_settings import LocalModelSettings
from airloom.threads import in_daemon_thread
from airloom.weights.converted import PrepareProgress
from airloom.weights.device import available_cores, dtype_name, resolve_device_dtype
from airloom.weights.load import (
    LoadedWeights,
    WeightsOrigin,
    ensure_pad_token,
    import_stack,
    load_weights,
)

__all__ = ["LoadReport", "LocalBackend"]

log = logging.getLogger(__name__)

_CLOSE_WAIT_S = 2.0
"""How long closing waits for a busy worker before it leaves it to finish alone."""


@dataclass(frozen=True, slots=True)
class LoadReport:
    """How the model was loaded: from where, how long it took, on what device and dtype.

    ``seconds`` is the whole load; ``save_seconds`` the part spent keeping the
    converted copy of a GGUF in the cache (0 when nothing was saved).
    """

    source: WeightsOrigin
    seconds: float
    device: str
    dtype: str
    model: str
    context_length: int
    save_seconds: float = 0.0


class LocalBackend:
    """The embedded (or any local transformers) model as a teacher/student backend.

    Construct it cheaply; the model loads on the first request or on :meth:`load`.
    Always ``await backend.aclose()`` when done (frees the model and the worker thread).

    Example:
        >>> backend = LocalBackend(LocalModelSettings(model="embedded", threads=2))
        >>> backend.loaded
        False
    """

    def __init__(
        self, settings: LocalModelSettings | None = None, *, name: str | None = None
    ) -> None:
        self.settings = settings or LocalModelSettings()
        self.name = name or f"local:{self.settings.model}"
        self.stats = LocalBackendStats()
        self.load_report: LoadReport | None = None
        self._load_lock = threading.Lock()
        self._load_error: BaseException | None = None
        self._loaded: LoadedModel | None = None
        self._worker = BatchWorker(
            self.settings,
            self.stats,
            load=self._ensure_model,
            prompt_text=self._prompt_text,
            generate_kwargs=self._generate_kwargs,
        )
        self._closed = False
        #: Told how preparing and loading the model goes (see :data:`PrepareProgress`).
        self.progress: PrepareProgress | None = None

    # -- public API -------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True once the model and tokenizer are in memory."""
        return self._loaded is not None

    @property
    def batch_capacity(self) -> int:
        """Requests generated together at most; the engine keeps about that many of
        a category's calls queued, so that answers are not stuck behind task lists."""
        return self.settings.max_batch_size

    @property
    def context_length(self) -> int:
        """The context window in tokens (0 before the model is loaded)."""
        return self._loaded.context_length if self._loaded is not None else 0

    async def load(self) -> LoadReport:
        """Load the model now (instead of on the first request) and say how it went.

        Example:
            >>> report = asyncio.run(LocalBackend().load())  # doctest: +SKIP
            >>> report.source in ("gguf", "converted")  # doctest: +SKIP
            True
        """
        self._check_open()
        # A daemon thread: a stop does not wait for a conversion of minutes to end.
        return await in_daemon_thread(self._ensure_loaded, name="airloom-model-load")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Generate one chat completion (batched with concurrent compatible requests).

        Example:
            >>> from airloom.backends.base import Message
            >>> req = ChatRequest("local", (Message("user", "Hi"),), {"max_tokens": 8})
            >>> asyncio.run(LocalBackend().complete(req)).finish_reason  # doctest: +SKIP
            'length'
        """
        job = self._submit(request, sink=None)
        return await asyncio.wrap_future(job.future)

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Yield text deltas as the model produces them; same text as :meth:`complete`.

        Stop strings are honoured without ever emitting the start of one.

        Example:
            >>> async def show():
            ...     async for delta in LocalBackend().stream(req):
            ...         print(delta, end="")
            >>> asyncio.run(show())  # doctest: +SKIP
        """
        async for event in self.events(request):
            if isinstance(event, str):
                yield event

    async def events(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """:meth:`stream`'s text deltas, then the whole :class:`ChatResponse` (usage, finish).

        Example:
            >>> async def show():
            ...     async for event in LocalBackend().events(req):
            ...         print(event if isinstance(event, str) else event.finish_reason)
            >>> asyncio.run(show())  # doctest: +SKIP
        """
        sink = StreamSink(asyncio.get_running_loop())
        job = self._submit(request, sink=sink)
        scanner = StopScanner(job.params.stop)
        wrapped = asyncio.wrap_future(job.future)
        getter: asyncio.Future[Any] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(sink.queue.get())
                waiters: set[asyncio.Future[Any]] = {getter, wrapped}
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    # The job ended; whatever text is still queued was pushed before.
                    while not sink.queue.empty():
                        item = sink.queue.get_nowait()
                        if item is not STREAM_END and isinstance(item, str):
                            piece = scanner.feed(item)
                            if piece:
                                yield piece
                    break
                item = getter.result()
                if item is STREAM_END:
                    break
                if isinstance(item, str):
                    piece = scanner.feed(item)
                    if piece:
                        yield piece
            response = await wrapped  # raises the job's error, if any
            tail = scanner.flush()
            if tail:
                yield tail
            yield response
        finally:
            sink.closed = True
            if getter is not None and not getter.done():
                getter.cancel()
            if not wrapped.done():
                wrapped.cancel()

    async def aclose(self) -> None:
        """Stop the worker, fail queued requests, and free the model.

        Example:
            >>> asyncio.run(LocalBackend().aclose())
        """
        self._closed = True
        loading = self._load_lock.locked()
        # A cancelled batch ends at its next token, so the worker is waited for a moment;
        # a load cannot be interrupted and is not waited for.
        wait = 0.0 if loading else _CLOSE_WAIT_S
        ended = await in_daemon_thread(self._worker.stop, wait, name="airloom-model-close")
        if loading or not ended:
            # Neither a load nor a prompt's forward pass can be interrupted: they end on
            # their daemon thread, unwaited, and the model is freed with it.
            return
        with self._load_lock:
            loaded, self._loaded = self._loaded, None
            if loaded is not None:
                device, torch_module = loaded.device, loaded.torch
                del loaded
                gc.collect()
                if device.startswith("cuda"):
                    torch_module.cuda.empty_cache()

    # -- submission -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(
                "the local backend is closed", hint="create a new LocalBackend after aclose()"
            )

    def _submit(self, request: ChatRequest, sink: StreamSink | None) -> Job:
        self._check_open()
        if not request.messages:
            raise FatalBackendError("a chat request needs at least one message")
        params = self._job_params(request)
        job = Job(request, params, concurrent.futures.Future(), params.batch_key(), sink)
        self._worker.submit(job)
        return job

    def _job_params(self, request: ChatRequest) -> GenerationParams:
        """The generation parameters of a request (a subclass may add stop strings)."""
        return parse_generation_params(request.params)

    # -- loading ----------------------------------------------------------------------

    def _ensure_model(self) -> LoadedModel:
        self._ensure_loaded()
        loaded = self._loaded
        if loaded is None:
            raise closed_error()
        return loaded

    def _ensure_loaded(self) -> LoadReport:
        with self._load_lock:
            if self.load_report is not None and self._loaded is not None:
                return self.load_report
            if self._load_error is not None:
                raise self._load_error
            try:
                report = self._load()
            except AirloomError as exc:
                self._load_error = exc
                raise
            except Exception as exc:
                error = FatalBackendError(
                    f"cannot load the local model '{self.settings.model}': {exc}",
                    hint="check 'model' in the local settings; without network only "
                    "'embedded', local files and already cached hub models work",
                )
                self._load_error = error
                raise error from exc
            self.load_report = report
            return report

    def _load(self) -> LoadReport:
        torch_module, _ = import_stack()
        threads = self.settings.threads or available_cores()
        torch_module.set_num_threads(threads)
        device, dtype = resolve_device_dtype(
            torch_module, self.settings.device, self.settings.dtype
        )
        started = time.perf_counter()
        weights = self._load_weights(dtype)
        model, tokenizer, display_name = weights.model, weights.tokenizer, weights.display_name
        if self.settings.adapter is not None:
            from airloom.weights.adapters import apply_adapter

            model, tokenizer, display_name = apply_adapter(model, tokenizer, self.settings.adapter)
        model.to(device)
        model.eval()
        seconds = time.perf_counter() - started
        ensure_pad_token(tokenizer)
        positions = int(getattr(model.config, "max_position_embeddings", 0) or 0) or 32_768
        self._loaded = LoadedModel(
            model=model,
            tokenizer=tokenizer,
            torch=torch_module,
            device=device,
            display_name=display_name,
            context_length=min(positions, self.settings.context_length or positions),
            eos_ids=end_of_turn_ids(model, tokenizer),
            pad_id=int(tokenizer.pad_token_id),
        )
        report = LoadReport(
            source=weights.source,
            seconds=seconds,
            device=device,
            dtype=dtype_name(dtype),
            model=display_name,
            context_length=self._loaded.context_length,
            save_seconds=weights.save_seconds,
        )
        log.info(
            "local model %s loaded from %s in %.1fs (%s, %s, %d threads)",
            report.model,
            report.source,
            seconds,
            device,
            report.dtype,
            threads,
        )
        return report

    def _load_weights(self, dtype: Any) -> LoadedWeights:
        """The model and tokenizer of the settings (a subclass may add adapters)."""
        return load_weights(self.settings, dtype, self.progress)

    # -- prompts ----------------------------------------------------------------------

    def _prompt_text(self, request: ChatRequest) -> str:
        """The prompt of a request: ``params["prompt"]`` as it is, else the chat template."""
        raw = request.params.get("prompt")
        if isinstance(raw, str):
            return raw
        messages = [m.to_dict() for m in request.messages]
        try:
            return str(
                self._template_tokenizer(request).apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=False
                )
            )
        except Exception as exc:
            raise FatalBackendError(
                f"the model's chat template cannot render these messages: {exc}",
                hint="use an instruct/chat model, or check the message roles",
            ) from exc

    def _template_tokenizer(self, request: ChatRequest) -> Any:
        """The tokenizer whose chat template renders a request (a subclass may pick one)."""
        return self._ensure_model().tokenizer

    def _generate_kwargs(self, jobs: Sequence[Job]) -> dict[str, Any]:
        """Extra keyword arguments of ``generate`` for a batch (a subclass adds adapters)."""
        return {}
