"""Settings of the local model backend: the ``local`` section of the generation config, and
what the server and the trainer start the same backend with.

They are plain configuration (no torch, no weights), so the config can hold them without
importing the backend that reads them.

Example:
    >>> LocalModelSettings(threads=2).model, LocalModelSettings(threads=2).threads
    ('embedded', 2)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LocalModelSettings", "default_cache_dir"]


def default_cache_dir() -> Path:
    """The directory for assembled and converted model files.

    ``$AIRLOOM_CACHE/models`` when the variable is set, else ``~/.cache/airloom/models``.

    Example:
        >>> default_cache_dir().name
        'models'
    """
    root = os.environ.get("AIRLOOM_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "airloom"
    return base / "models"


class LocalModelSettings(BaseModel):
    """Settings of the embedded local model backend (the ``local`` section of the config).

    * ``model``: ``"embedded"`` (default), the path of a ``.gguf`` file, a transformers
      model directory, or a hub id (where a hub is reachable); ``gguf_file`` names the
      GGUF inside a directory or hub repo.
    * ``cache_dir``: where the assembled GGUF and the converted weights live
      (default ``$AIRLOOM_CACHE/models`` or ``~/.cache/airloom/models``).
    * ``device``: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``.
    * ``dtype``: ``auto`` picks bfloat16 on CUDA and on CPUs with native bfloat16
      (AVX512-BF16/AMX, about 3x faster than float32 there), float32 on other CPUs.
    * ``max_new_tokens``: the default when a request gives no ``max_tokens``.
    * ``max_batch_size``: most requests generated together; ``batch_window_ms``: how long
      the idle worker waits for companions after a first request arrives.
    * ``threads``: torch CPU threads (default: the cores this process may use).
    * ``context_length``: override (lower) the model's context window.
    * ``save_converted``: keep the dequantized weights of a GGUF for fast later starts.

    Example:
        >>> LocalModelSettings().model
        'embedded'
        >>> LocalModelSettings(model="/models/q.gguf", threads=2, max_batch_size=4).threads
        2
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        "embedded", description="'embedded', a .gguf path, a model directory or a hub id."
    )
    gguf_file: str | None = Field(None, description="The GGUF inside a directory or hub repo.")
    cache_dir: Path | None = Field(
        None, description="Assembled and converted weights (default ~/.cache/airloom/models)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto, cpu or cuda.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 on CUDA and bf16-capable CPUs, else float32."
    )
    max_new_tokens: int = Field(default=512, ge=1, description="Default completion limit.")
    max_batch_size: int = Field(default=8, ge=1, le=256, description="Requests generated together.")
    batch_window_ms: float = Field(
        default=5.0, ge=0, le=10_000, description="Wait for companions of a first request."
    )
    threads: int | None = Field(default=None, ge=1, description="torch threads (default: all).")
    context_length: int | None = Field(
        default=None, ge=16, description="Lower the model's context window."
    )
    save_converted: bool = Field(True, description="Keep dequantized weights for fast starts.")
    adapter: Path | None = Field(
        None, description="A trained LoRA adapter folder (airloom train) applied to the model."
    )

    def resolved_cache_dir(self) -> Path:
        """The cache directory in use.

        Example:
            >>> LocalModelSettings(cache_dir=Path("/tmp/c")).resolved_cache_dir()
            PosixPath('/tmp/c')
        """
        return self.cache_dir.expanduser() if self.cache_dir is not None else default_cache_dir()
