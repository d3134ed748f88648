"""The cache of converted weights: a GGUF dequantized once, kept as safetensors.

A conversion is saved into ``<cache_dir>/converted/<identity>-<dtype>/`` through a
temporary folder and an atomic rename, with a marker listing every file and its size;
a folder whose marker is missing or whose files do not have their sizes is not used.

Example:
    >>> converted_dir(Path("/c"), "m-1", "float32")
    PosixPath('/c/converted/m-1-float32')
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from airloom.weights.files import remove_stale_temporaries

__all__ = [
    "CONVERTED_MARKER",
    "PrepareProgress",
    "converted_dir",
    "converted_is_complete",
    "counting_gguf_tensors",
    "save_converted",
]

log = logging.getLogger(__name__)

CONVERTED_MARKER = "airloom-converted.json"
"""The file that marks a finished conversion (file names and sizes)."""

PrepareProgress = Callable[[str, int, int], None]
"""Called from the loading thread as ``progress(stage, done, total)`` (``total`` 0 when
unknown): ``assembling`` (bytes), ``converting`` (tensors), ``saving``, ``loading``."""

_counter = itertools.count()


def converted_dir(cache_dir: Path, identity: str, dtype_name: str) -> Path:
    """The folder of a model's converted weights in one dtype.

    Example:
        >>> converted_dir(Path("/c"), "m", "bfloat16").name
        'm-bfloat16'
    """
    return cache_dir / "converted" / f"{identity}-{dtype_name}"


def converted_is_complete(directory: Path) -> bool:
    """True when ``directory`` holds a finished conversion whose files all have their sizes.

    Example:
        >>> converted_is_complete(Path("/nonexistent"))
        False
    """
    try:
        record = json.loads((directory / CONVERTED_MARKER).read_text(encoding="utf-8"))
        sizes = record["files"]
        return bool(sizes) and all(
            (directory / name).stat().st_size == size for name, size in sizes.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def save_converted(model: Any, tokenizer: Any, target: Path) -> None:
    """Save dense weights + tokenizer into ``target`` atomically; a failure only logs.

    Example:
        >>> save_converted(model, tokenizer, converted_dir(cache, "m", "float32"))  # doctest: +SKIP
    """
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
        (temporary / CONVERTED_MARKER).write_text(
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


@contextlib.contextmanager
def counting_gguf_tensors(progress: PrepareProgress | None) -> Iterator[None]:
    """Report the GGUF reader's tensor loop as ``converting`` progress while it runs.

    transformers walks the tensors through ``tqdm``; that name is swapped for a counter
    for the duration (a no-op where transformers reads GGUF differently).

    Example:
        >>> with counting_gguf_tensors(None):
        ...     pass
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
