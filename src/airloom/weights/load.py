"""Load a model and its tokenizer from a :class:`ModelSource` or a transformers folder.

A GGUF (the embedded model, a file, a GGUF in a folder or hub repo) is dequantized once
and kept in the converted cache (:mod:`airloom.weights.converted`); later loads read that
copy in about a second. A transformers folder or hub id is loaded as it is. The local
backend, training, the serving engines and ``airloom model prepare`` all load through
here. torch and transformers are imported only when a function needs them.

Example:
    >>> loaded = load_weights(ModelSource(), dtype="float32")  # doctest: +SKIP
    >>> loaded.source in ("gguf", "converted")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from airloom.errors import AirloomError, MissingDependencyError, ModelFileError
from airloom.weights.converted import (
    PrepareProgress,
    converted_dir,
    converted_is_complete,
    counting_gguf_tensors,
    save_converted,
)
from airloom.weights.device import dtype_name, resolve_device_dtype
from airloom.weights.files import (
    EMBEDDED_MODEL,
    ModelLocation,
    embedded_identity,
    resolve_model_source,
)
from airloom.weights.source import ModelSource

__all__ = [
    "LoadedWeights",
    "WeightsOrigin",
    "converted_model_dir",
    "ensure_pad_token",
    "import_stack",
    "load_model",
    "load_tokenizer",
    "load_weights",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'airloom[local]'"
_DTYPES = ("float32", "bfloat16", "float16")

WeightsOrigin = Literal["gguf", "converted", "hf"]
"""Where loaded weights came from: a GGUF just dequantized, the converted cache, or a
transformers folder / hub id."""


@dataclass(frozen=True, slots=True)
class LoadedWeights:
    """A model and tokenizer in memory, where they came from, and the model's name.

    ``save_seconds`` is the time spent keeping a converted copy (0 when none was saved).
    """

    model: Any
    tokenizer: Any
    source: WeightsOrigin
    display_name: str
    save_seconds: float = 0.0


def import_stack() -> tuple[Any, Any]:
    """``torch`` and ``transformers``, or :class:`MissingDependencyError` naming the extra.

    Example:
        >>> torch, transformers = import_stack()  # doctest: +SKIP
    """
    # bitsandbytes, when installed for QLoRA training, logs optional-kernel notes on import
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            f"the local model backend needs torch and transformers ({exc.name or exc} is missing)",
            hint=INSTALL_HINT,
        ) from exc
    return torch, transformers


def ensure_pad_token(tokenizer: Any) -> Any:
    """``tokenizer`` with its end-of-sequence token as padding when it has no pad token.

    Example:
        >>> class T: pad_token_id = None; pad_token = None; eos_token = "</s>"
        >>> ensure_pad_token(T()).pad_token
        '</s>'
    """
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(path: str | Path, *, pad: bool = True, **kwargs: Any) -> Any:
    """The tokenizer saved in ``path`` (a folder or hub id), padded by default.

    Example:
        >>> load_tokenizer("/models/qwen").pad_token is not None  # doctest: +SKIP
        True
    """
    _, transformers = import_stack()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), **kwargs)
    return ensure_pad_token(tokenizer) if pad else tokenizer


def load_model(path: str | Path, **kwargs: Any) -> Any:
    """The causal language model saved in ``path``; ``kwargs`` go to ``from_pretrained``.

    Example:
        >>> load_model("/models/qwen", dtype="auto").config.model_type  # doctest: +SKIP
        'qwen2'
    """
    _, transformers = import_stack()
    return transformers.AutoModelForCausalLM.from_pretrained(str(path), **kwargs)


def _locate(source: ModelSource, progress: PrepareProgress | None) -> ModelLocation:
    return resolve_model_source(
        source.model,
        gguf_file=source.gguf_file,
        cache_dir=source.resolved_cache_dir(),
        progress=(lambda done, total: progress("assembling", done, total)) if progress else None,
    )


def _dequantize(location: ModelLocation, dtype: Any, progress: PrepareProgress | None) -> Any:
    """Tokenizer and dense model of a GGUF, cast to ``dtype``."""
    torch, _ = import_stack()
    gguf = {"gguf_file": location.gguf_file}
    if progress is not None:
        progress("converting", 0, 0)
    with counting_gguf_tensors(progress):
        tokenizer = load_tokenizer(location.source, pad=False, **gguf)
        # Dequantized in float32 (the GGUF reader's own precision), then cast once.
        model = load_model(location.source, dtype=torch.float32, **gguf)
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and hasattr(quantizer, "remove_quantization_config"):
        # The weights are dense already; dropping the GGUF marker lets them be saved.
        quantizer.remove_quantization_config(model)
    return model.to(dtype), tokenizer


def load_weights(
    source: ModelSource, dtype: Any, progress: PrepareProgress | None = None
) -> LoadedWeights:
    """Load the model of ``source`` in ``dtype``, through the converted cache for a GGUF.

    The embedded model's converted copy is found without touching its GGUF or its
    packages; a damaged copy is rebuilt. ``progress`` hears of each stage.

    Example:
        >>> load_weights(ModelSource(), dtype="float32").source  # doctest: +SKIP
        'converted'
    """
    _, transformers = import_stack()
    transformers.utils.logging.disable_progress_bar()
    location: ModelLocation | None = None
    if source.model == "embedded":
        identity, display_name = embedded_identity(), EMBEDDED_MODEL.display_name
    else:
        location = _locate(source, progress)
        identity, display_name = location.identity, location.display_name
        if not location.is_gguf:
            tokenizer = load_tokenizer(location.source, pad=False)
            model = load_model(location.source, dtype=dtype)
            return LoadedWeights(model, tokenizer, "hf", display_name)
    converted = converted_dir(source.resolved_cache_dir(), identity, dtype_name(dtype))
    if converted_is_complete(converted):
        if progress is not None:
            progress("loading", 0, 0)
        try:
            tokenizer = load_tokenizer(converted, pad=False)
            model = load_model(converted, dtype=dtype)
            return LoadedWeights(model, tokenizer, "converted", display_name)
        except Exception as exc:  # a damaged copy: rebuild it from the GGUF
            log.warning("converted model in %s is unusable (%s); rebuilding", converted, exc)
            shutil.rmtree(converted, ignore_errors=True)
    model, tokenizer = _dequantize(location or _locate(source, progress), dtype, progress)
    save_seconds = 0.0
    if source.save_converted:
        if progress is not None:
            progress("saving", 0, 0)
        saving = time.perf_counter()
        save_converted(model, tokenizer, converted)
        save_seconds = time.perf_counter() - saving
    return LoadedWeights(model, tokenizer, "gguf", display_name, save_seconds)


def converted_model_dir(source: ModelSource) -> Path:
    """The transformers folder of a GGUF model's converted weights, converting it once.

    A model that is already a transformers folder is returned as it is. The embedded
    model's converted copy (in any dtype) is found without touching its GGUF.

    Example:
        >>> converted_model_dir(ModelSource()).name  # doctest: +SKIP
        'qwen2.5-coder-0.5b-instruct-1d9614638d18-float32'
    """
    cache_dir = source.resolved_cache_dir()
    if source.model == "embedded":
        identity = embedded_identity()
    else:
        location = resolve_model_source(
            source.model, gguf_file=source.gguf_file, cache_dir=cache_dir
        )
        if not location.is_gguf:
            return Path(location.source)
        identity = location.identity
    for name in _DTYPES:
        if converted_is_complete(converted_dir(cache_dir, identity, name)):
            return converted_dir(cache_dir, identity, name)
    torch, _ = import_stack()
    _, dtype = resolve_device_dtype(torch, source.device, source.dtype, error=ModelFileError)
    try:
        load_weights(source.model_copy(update={"save_converted": True}), dtype)
    except AirloomError:
        raise
    except Exception as exc:
        raise ModelFileError(
            f"cannot convert the model '{source.model}': {exc}",
            hint="check the model path; without network only 'embedded', local files "
            "and already cached hub models work",
        ) from exc
    target = converted_dir(cache_dir, identity, dtype_name(dtype))
    if not converted_is_complete(target):
        raise ModelFileError(
            f"could not keep the converted weights of {source.model} in {target.parent}",
            hint="free some space or set AIRLOOM_CACHE to a writable directory",
        )
    return target
