"""Settings of the local model backend: the ``local`` section of the generation config, and
what the server and the trainer start the same backend with. Plain configuration (no torch,
no weights), so the config holds them without importing the backend that reads them.

Example:
    >>> LocalModelSettings().model
    'embedded'
    >>> LocalModelSettings(model="/models/q.gguf", threads=2, max_batch_size=4).threads
    2
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from airloom.weights.source import ModelSource

__all__ = ["LocalModelSettings"]


class LocalModelSettings(ModelSource):
    """The model to load (see :class:`~airloom.weights.ModelSource`) and how to serve it.

    * ``max_new_tokens``: the default when a request gives no ``max_tokens``.
    * ``max_batch_size``: most requests generated together; ``batch_window_ms``: how long
      the idle worker waits for companions after a first request arrives.
    * ``threads``: torch CPU threads (default: the cores this process may use).
    * ``context_length``: override (lower) the model's context window.
    * ``adapter``: a trained LoRA adapter folder merged into the model after loading.

    Example:
        >>> LocalModelSettings(max_batch_size=4).max_batch_size
        4
    """

    max_new_tokens: int = Field(default=512, ge=1, description="Default completion limit.")
    max_batch_size: int = Field(default=8, ge=1, le=256, description="Requests generated together.")
    batch_window_ms: float = Field(
        default=5.0, ge=0, le=10_000, description="Wait for companions of a first request."
    )
    threads: int | None = Field(default=None, ge=1, description="torch threads (default: all).")
    context_length: int | None = Field(
        default=None, ge=16, description="Lower the model's context window."
    )
    adapter: Path | None = Field(
        None, description="A trained LoRA adapter folder (airloom train) applied to the model."
    )
