"""Which weights to load and how: the settings every model-loading command shares.

:class:`ModelSource` names the model (``embedded``, a ``.gguf`` file, a transformers
folder or a hub id), where assembled and converted weights are cached, and the device
and dtype to load them in. The local backend's settings extend it; training and the
serving engines build one for their base model.

Example:
    >>> ModelSource().model
    'embedded'
    >>> ModelSource(model="/models/q.gguf", device="cpu").device
    'cpu'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from airloom.weights.files import default_cache_dir

__all__ = ["DeviceName", "DtypeName", "ModelSource"]

DeviceName = Literal["auto", "cpu", "cuda"]
DtypeName = Literal["auto", "float32", "bfloat16", "float16"]


class ModelSource(BaseModel):
    """A model and how to load it.

    * ``model``: ``"embedded"`` (default), the path of a ``.gguf`` file, a transformers
      model directory, or a hub id (where a hub is reachable); ``gguf_file`` names the
      GGUF inside a directory or hub repo.
    * ``cache_dir``: where the assembled GGUF and the converted weights live
      (default ``$AIRLOOM_CACHE/models`` or ``~/.cache/airloom/models``).
    * ``device``: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``.
    * ``dtype``: ``auto`` picks bfloat16 on CUDA and on CPUs with native bfloat16
      (AVX512-BF16/AMX, about 3x faster than float32 there), float32 on other CPUs.
    * ``save_converted``: keep the dequantized weights of a GGUF for fast later starts.

    Example:
        >>> ModelSource(cache_dir=Path("/tmp/c")).resolved_cache_dir()
        PosixPath('/tmp/c')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        "embedded", description="'embedded', a .gguf path, a model directory or a hub id."
    )
    gguf_file: str | None = Field(None, description="The GGUF inside a directory or hub repo.")
    cache_dir: Path | None = Field(
        None, description="Assembled and converted weights (default ~/.cache/airloom/models)."
    )
    device: DeviceName = Field("auto", description="auto, cpu or cuda.")
    dtype: DtypeName = Field(
        "auto", description="auto: bfloat16 on CUDA and bf16-capable CPUs, else float32."
    )
    save_converted: bool = Field(True, description="Keep dequantized weights for fast starts.")

    def resolved_cache_dir(self) -> Path:
        """The cache directory in use.

        Example:
            >>> ModelSource(cache_dir=Path("/tmp/c")).resolved_cache_dir()
            PosixPath('/tmp/c')
        """
        return self.cache_dir.expanduser() if self.cache_dir is not None else default_cache_dir()
