"""Texts longer than a model's window: embedded in windows whose vectors are averaged.

Shared by the torch and the ONNX embedders (:mod:`airloom.vectors.embed`,
:mod:`airloom.vectors.onnx_embed`): a model supplies its window, tokeniser and the
encoding of texts that fit; :func:`encode_windowed` splits, encodes and pools.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["WindowedModel", "encode_windowed", "normalise_rows"]


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm (zero rows kept), as float32.

    Example:
        >>> normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = (matrix / norms).astype(np.float32, copy=False)
    return normalised


class WindowedModel(Protocol):
    """A model that embeds texts up to ``window`` tokens; :func:`encode_windowed` does the rest."""

    @property
    def window(self) -> int: ...

    def window_ids(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def encode_pieces(self, pieces: list[str]) -> np.ndarray: ...


def _windows(model: WindowedModel, text: str) -> list[str]:
    # Cheap pre-check: short texts (the vast majority) need no tokenisation.
    if len(text) < model.window * 3:
        return [text]
    ids = model.window_ids(text)
    size = model.window - 2
    if len(ids) <= size:
        return [text]
    return [model.decode(ids[i : i + size]) for i in range(0, len(ids), size)]


def encode_windowed(model: WindowedModel, texts: list[str]) -> np.ndarray:
    """Embed ``texts`` with ``model``; a text longer than its window is the length-weighted
    mean of its windows' vectors.

    Example:
        >>> encode_windowed(OnnxEmbedder(name, folder), ["hi"]).shape  # doctest: +SKIP
        (1, 384)
    """
    pieces: list[str] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        for window in _windows(model, text):
            pieces.append(window)
            owners.append(index)
    vectors = model.encode_pieces(pieces)
    if len(pieces) == len(texts):
        return vectors
    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    for piece, owner, vector in zip(pieces, owners, vectors, strict=True):
        out[owner] += vector * max(1, len(piece))
    return normalise_rows(out)
