"""The ONNX variants of the dedup gate's MiniLM decide like the torch model.

On the planted near-duplicate set (280 pairs: paraphrases, reorderings, small edits,
and different requests on the same topic) at the default ``dedup_cosine``:

* ``onnx`` (fp32) gives the torch model's vectors (cosines within 1e-5, no flip);
* ``onnx-int8`` (the default backend) decides at most ``INT8_FLIPS`` pairs differently
  and adds no false match — speed is not bought with silently worse dedup.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from airloom.config import DEFAULT_EMBEDDING_MODEL, Config
from airloom.config_load import load_config_text
from airloom.engine.runner import Engine
from airloom.errors import ConfigError
from airloom.store.database import Store
from airloom.vectors.embed import (
    DEFAULT_ONNX_BACKEND,
    Embedder,
    make_embedder,
    resolve_model_path,
)
from airloom.vectors.onnx_embed import (
    ONNX_BACKENDS,
    embeddings_cache_dir,
    exportable,
    onnx_available,
    onnx_file,
    prepare_onnx,
    weights_key,
)
from tests.support.planted_duplicates import Decisions, decide, planted_pairs

INT8_FLIPS = 3  # of 280 pairs, about 1 %

pytestmark = pytest.mark.skipif(
    not onnx_available() or not exportable(resolve_model_path(DEFAULT_EMBEDDING_MODEL)),
    reason="needs onnxruntime and the packaged MiniLM (the embed extra)",
)


@pytest.fixture(scope="module")
def embedders() -> dict[str, Embedder]:
    return {
        backend: make_embedder(DEFAULT_EMBEDDING_MODEL, backend=backend)
        for backend in ("torch", "onnx", "onnx-int8")
    }


@pytest.fixture(scope="module")
def decisions(embedders: dict[str, Embedder]) -> dict[str, Decisions]:
    pairs = planted_pairs()
    threshold = Config().dedup_cosine()
    return {name: decide(e.encode, pairs, threshold) for name, e in embedders.items()}


def test_torch_model_separates_the_planted_set(decisions: dict[str, Decisions]) -> None:
    torch = decisions["torch"]
    assert torch.found >= 140 and torch.false_matches == 0  # the yardstick itself is sound


def test_onnx_fp32_gives_the_torch_vectors(decisions: dict[str, Decisions]) -> None:
    torch, onnx = decisions["torch"], decisions["onnx"]
    assert float(np.abs(onnx.cosines - torch.cosines).max()) < 1e-5
    assert (onnx.matched == torch.matched).all()


def test_onnx_int8_agrees_with_torch_within_the_bar(decisions: dict[str, Decisions]) -> None:
    torch, int8 = decisions["torch"], decisions["onnx-int8"]
    flips = int((int8.matched != torch.matched).sum())
    assert flips <= INT8_FLIPS, f"{flips} dedup decisions differ from torch"
    assert int8.false_matches <= torch.false_matches
    assert DEFAULT_ONNX_BACKEND == "onnx-int8"


def test_export_is_cached_under_the_weights_hash(embedders: dict[str, Embedder]) -> None:
    model_dir = resolve_model_path(DEFAULT_EMBEDDING_MODEL)
    cache = embeddings_cache_dir()
    for backend in ONNX_BACKENDS:
        path = onnx_file(cache, weights_key(Path(model_dir)), backend)
        stamp = path.stat().st_mtime_ns
        assert prepare_onnx(model_dir, backend) == path
        assert path.stat().st_mtime_ns == stamp  # taken from the cache, not exported again
    assert not list(cache.glob("*.tmp"))  # written atomically, no temporary left behind


def test_long_texts_are_embedded_in_windows_like_torch(embedders: dict[str, Embedder]) -> None:
    text = " ".join(f"sentence {i} about rivers, hills and the sea." for i in range(300))
    torch = embedders["torch"].encode([text])
    onnx = embedders["onnx"].encode([text])
    assert float(torch[0] @ onnx[0]) > 0.999


def test_generate_runs_the_gate_on_onnx_int8_and_keeps_it_per_store(
    openai_server: Any, tmp_path: Path
) -> None:
    server = openai_server()
    (tmp_path / "topics.txt").write_text("\n".join(f"topic {i}" for i in range(20)))

    def config(extra: str) -> Config:
        return load_config_text(
            f"base_url: {server.url}\nmodel: t\nseed: 3\n{extra}"
            "instructors:\n  general: {count: 6, batch_size: 3}\n",
            source="test.yaml",
        )

    stats = asyncio.run(Engine(config(""), base_dir=tmp_path).run())
    assert stats.status == "completed"
    with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
        assert store.get_meta("embedding_backend") == "onnx-int8"
        _, _, _, matrix = store.load_index_data()
    assert matrix.shape == (6, 384)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match="embedding_backend onnx-int8, not torch"):
        asyncio.run(Engine(config("embedding_backend: torch\n"), base_dir=tmp_path).run())
