"""Dedup: the metric, the vector index (exact and HNSW), scopes, batched embeddings."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from airloom.config import Config
from airloom.engine.dedup import WARM_UP_TEXTS, BatchEmbedder, DedupState
from airloom.errors import ConfigError
from airloom.vectors.embed import HashingEmbedder, backend_for_store, make_embedder
from airloom.vectors.index import VectorIndex


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    matrix = rng.standard_normal((n, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


# ---- the metric (spec §3.2 and §8.3) ---------------------------------------------------
_VECTOR = arrays(
    np.float64, 8, elements=st.floats(-1, 1, allow_nan=False, allow_infinity=False)
).filter(lambda v: np.linalg.norm(v) > 1e-3)


@settings(max_examples=300, deadline=None)
@given(_VECTOR, _VECTOR, st.floats(0.0, 4.0))
def test_squared_l2_threshold_equals_cosine_threshold(
    a: np.ndarray, b: np.ndarray, t: float
) -> None:
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    squared = float(np.sum((a - b) ** 2))
    cosine = float(a @ b)
    assert squared == pytest.approx(2 - 2 * cosine, abs=1e-9)
    cos_threshold = Config(min_docsearch_score=t).dedup_cosine()
    margin = 1e-9
    if abs(squared - t) > margin:  # away from the boundary the two rules agree exactly
        assert (squared <= t) == (cosine >= cos_threshold)


# ---- VectorIndex -------------------------------------------------------------------------
def test_exact_index_finds_the_true_nearest() -> None:
    rng = np.random.default_rng(1)
    base = unit_rows(rng, 300, 16)
    queries = unit_rows(rng, 40, 16)
    index = VectorIndex(16)
    assert index.exact and len(index) == 0
    assert np.array_equal(index.nearest(queries[:2]), np.array([-1.0, -1.0], dtype=np.float32))
    index.add(base)
    assert len(index) == 300 and index.exact
    expected = (queries @ base.T).max(axis=1)
    assert np.allclose(index.nearest(queries), expected, atol=1e-5)
    assert index.nearest(np.zeros((0, 16), dtype=np.float32)).shape == (0,)
    index.add(np.zeros((0, 16), dtype=np.float32))
    assert len(index) == 300


def test_switch_to_hnsw_keeps_exact_duplicates_findable() -> None:
    rng = np.random.default_rng(2)
    base = unit_rows(rng, 400, 32)
    index = VectorIndex(32, hnsw_above=150)
    index.add(base[:100])
    assert index.exact
    index.add(base[100:200])  # crosses the threshold: stored vectors move to HNSW
    assert not index.exact and len(index) == 200
    index.add(base[200:])
    assert len(index) == 400
    scores = index.nearest(base)  # every stored vector is its own duplicate
    assert np.all(scores > 0.999)
    strangers = unit_rows(np.random.default_rng(3), 20, 32)
    assert np.all(index.nearest(strangers) < 0.9)


def test_first_add_above_threshold_goes_straight_to_hnsw() -> None:
    base = unit_rows(np.random.default_rng(4), 60, 8)
    index = VectorIndex(8, hnsw_above=10)
    index.add(base)
    assert not index.exact
    assert np.all(index.nearest(base) > 0.999)


# ---- DedupState --------------------------------------------------------------------------
E1 = np.array([1.0, 0.0, 0.0], dtype=np.float32)
E2 = np.array([0.0, 1.0, 0.0], dtype=np.float32)


def test_global_scope_spans_categories() -> None:
    state = DedupState(dim=3, scope="global")
    state.add("general", "k1", E1)
    assert float(state.best("coding", E1.reshape(1, -1))[0]) == pytest.approx(1.0)
    assert float(state.best("coding", E2.reshape(1, -1))[0]) == pytest.approx(0.0)
    assert len(state) == 1 and state.keys == {"k1"}


def test_category_scope_separates_categories() -> None:
    state = DedupState(dim=3, scope="category")
    state.add("general", "k1", E1)
    state.add("coding", "k2", E2)
    assert float(state.best("general", E1.reshape(1, -1))[0]) == pytest.approx(1.0)
    assert float(state.best("coding", E1.reshape(1, -1))[0]) == pytest.approx(0.0)
    assert float(state.best("contextual", E1.reshape(1, -1))[0]) == -1.0  # empty index
    assert len(state) == 2


def test_record_without_vector_only_adds_its_key() -> None:
    state = DedupState(dim=3)
    state.add("general", "k", None)
    assert state.keys == {"k"} and len(state) == 0


@pytest.mark.parametrize("scope", ["global", "category"])
def test_load_rebuilds_from_stored_matrix(scope: str) -> None:
    matrix = np.stack([E1, E2, E1 * 0])
    state = DedupState(dim=3, scope=scope)
    state.load(["general", "coding", "general"], ["a", "b", "c"], matrix)
    assert state.keys == {"a", "b", "c"}
    assert len(state) == 3
    best_coding = float(state.best("coding", E1.reshape(1, -1))[0])
    assert best_coding == pytest.approx(1.0 if scope == "global" else 0.0)


def test_load_ignores_a_matrix_of_another_dimension() -> None:
    state = DedupState(dim=3)
    state.load(["general"], ["a"], np.ones((1, 5), dtype=np.float32))
    assert state.keys == {"a"} and len(state) == 0
    state.load([], [], np.zeros((0, 0), dtype=np.float32))
    assert len(state) == 0


# ---- embedders -------------------------------------------------------------------------
def test_hashing_embedder_similarity_sanity() -> None:
    emb = HashingEmbedder(dim=384)
    vectors = emb.encode(
        [
            "Write a short poem about the sea at night.",
            "Write a short poem about the sea at night.",
            "write a SHORT poem about the sea at night",
            "Write a short poem about the sea at dawn.",
            "Explain how a diesel engine injects fuel into its cylinders.",
            "",
        ]
    )
    assert vectors.shape == (6, 384) and vectors.dtype == np.float32
    norms = np.linalg.norm(vectors[:5], axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) == pytest.approx(1.0, abs=1e-6)
    assert float(vectors[0] @ vectors[2]) == pytest.approx(1.0, abs=1e-6)  # case, punctuation
    near = float(vectors[0] @ vectors[3])
    far = float(vectors[0] @ vectors[4])
    assert 0.6 < near < 0.99
    assert far < 0.3
    assert not vectors[5].any()  # empty text: zero vector, matches nothing
    assert np.array_equal(emb.encode(["same text"]), HashingEmbedder(384).encode(["same text"]))


def test_make_embedder_hashing_names() -> None:
    assert make_embedder("hashing").dim == 384
    assert make_embedder("hashing:64").dim == 64


class CountingEmbedder:
    """Wraps an embedder and records every encode call."""

    def __init__(self, dim: int = 32, gate: threading.Event | None = None) -> None:
        self.inner = HashingEmbedder(dim)
        self.name = "counting"
        self.dim = dim
        self.calls: list[list[str]] = []
        self.gate = gate

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(list(texts))
        return self.inner.encode(texts)


def test_batch_embedder_coalesces_concurrent_requests() -> None:
    async def scenario() -> tuple[CountingEmbedder, list[np.ndarray]]:
        gate = threading.Event()
        emb = CountingEmbedder(gate=gate)
        batcher = BatchEmbedder(emb, batch_size=64)
        first = asyncio.create_task(batcher.embed(["warm up"]))
        await asyncio.sleep(0.05)  # the worker is now blocked inside encode
        tasks = [asyncio.create_task(batcher.embed([f"text {i}", "shared"])) for i in range(10)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(first, *tasks)
        await batcher.aclose()
        return emb, results

    emb, results = asyncio.run(scenario())
    assert emb.calls[0] == ["warm up"]
    # everything queued while the first batch ran went out as ONE batch, "shared" once
    assert len(emb.calls) == 2
    assert sorted(emb.calls[1]) == sorted([f"text {i}" for i in range(10)] + ["shared"])
    reference = HashingEmbedder(32).encode(["text 3", "shared"])
    assert np.allclose(results[4], reference)


def test_batch_embedder_caches_and_respects_batch_size() -> None:
    async def scenario() -> tuple[CountingEmbedder, BatchEmbedder, np.ndarray]:
        emb = CountingEmbedder()
        batcher = BatchEmbedder(emb, batch_size=3)
        await batcher.embed(["a", "b", "c", "d", "e", "a"])
        again = await batcher.embed(["e", "a", "b"])
        empty = await batcher.embed([])
        await batcher.aclose()
        assert empty.shape == (0, 32)
        return emb, batcher, again

    emb, batcher, again = asyncio.run(scenario())
    assert emb.calls == [["a", "b", "c"], ["d", "e"]]  # "a" embedded once, batches of 3
    assert batcher.texts_embedded == 5
    assert np.allclose(again, HashingEmbedder(32).encode(["e", "a", "b"]))


def test_batch_embedder_eviction_while_waiting() -> None:
    async def scenario() -> np.ndarray:
        batcher = BatchEmbedder(CountingEmbedder(), cache_size=1)
        await batcher.embed(["a"])
        vectors = await batcher.embed(["a", "b"])  # embedding "b" evicts "a" meanwhile
        await batcher.aclose()
        return vectors

    assert np.allclose(asyncio.run(scenario()), HashingEmbedder(32).encode(["a", "b"]))


def test_batch_embedder_cancelled_caller_does_not_fail_the_others() -> None:
    async def scenario() -> np.ndarray:
        gate = threading.Event()
        batcher = BatchEmbedder(CountingEmbedder(gate=gate))
        first = asyncio.create_task(batcher.embed(["shared"]))
        second = asyncio.create_task(batcher.embed(["shared"]))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.sleep(0)
        gate.set()
        vectors = await second
        await batcher.aclose()
        return vectors

    assert np.allclose(asyncio.run(scenario()), HashingEmbedder(32).encode(["shared"]))


def test_batch_embedder_surfaces_encode_errors_and_keeps_working() -> None:
    class Flaky(CountingEmbedder):
        def encode(self, texts: list[str]) -> np.ndarray:
            if "boom" in texts:
                raise RuntimeError("encoder failed")
            return super().encode(texts)

    async def scenario() -> np.ndarray:
        batcher = BatchEmbedder(Flaky())
        with pytest.raises(RuntimeError, match="encoder failed"):
            await batcher.embed(["boom"])
        vectors = await batcher.embed(["fine"])
        await batcher.aclose()
        return vectors

    assert asyncio.run(scenario()).shape == (1, 32)


def test_warm_up_runs_first_in_the_worker_and_counts_no_text() -> None:
    async def scenario() -> tuple[CountingEmbedder, BatchEmbedder, np.ndarray]:
        gate = threading.Event()
        emb = CountingEmbedder(gate=gate)
        batcher = BatchEmbedder(emb)
        batcher.warm_up()  # returns at once: nothing waits for it
        task = asyncio.create_task(batcher.embed(["first real text"]))
        await asyncio.sleep(0.05)
        gate.set()
        vectors = await task
        await batcher.aclose()
        return emb, batcher, vectors

    emb, batcher, vectors = asyncio.run(scenario())
    assert emb.calls == [WARM_UP_TEXTS, ["first real text"]]
    assert batcher.texts_embedded == 1
    assert np.allclose(vectors, HashingEmbedder(32).encode(["first real text"]))


def test_a_failed_warm_up_leaves_the_error_to_the_first_batch() -> None:
    class Broken(CountingEmbedder):
        def encode(self, texts: list[str]) -> np.ndarray:
            raise RuntimeError("model files missing")

    async def scenario() -> None:
        batcher = BatchEmbedder(Broken())
        batcher.warm_up()
        with pytest.raises(RuntimeError, match="model files missing"):
            await batcher.embed(["text"])
        await batcher.aclose()

    asyncio.run(scenario())


def test_a_resumed_store_keeps_its_embedding_backend() -> None:
    assert backend_for_store("auto", None, False) == "auto"  # a new store: the default
    assert backend_for_store("auto", "onnx-int8", True) == "onnx-int8"
    assert backend_for_store("auto", None, True) == "torch"  # stores from before the choice
    assert backend_for_store("onnx", "onnx", True) == "onnx"
    with pytest.raises(ConfigError, match="embedding_backend torch, not onnx-int8"):
        backend_for_store("onnx-int8", "torch", True)


def test_auto_backend_is_onnx_int8_when_installed_else_torch_with_a_note(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from airloom.vectors import embed, onnx_embed

    model = "sentence-transformers/all-MiniLM-L6-v2"
    monkeypatch.setattr(embed, "resolve_model_path", lambda name: "/model")
    monkeypatch.setattr(onnx_embed, "exportable", lambda folder: folder == "/model")
    monkeypatch.setattr(onnx_embed, "onnx_available", lambda: True)
    assert embed.resolve_backend(model) == "onnx-int8"
    assert embed.resolve_backend(model, "torch") == "torch"
    monkeypatch.setattr(onnx_embed, "onnx_available", lambda: False)
    monkeypatch.setattr(embed, "_noted_fallback", set())
    with caplog.at_level("WARNING", logger="airloom.vectors.embed"):
        assert embed.resolve_backend(model) == "torch"
        assert embed.resolve_backend(model) == "torch"
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and "onnxruntime is not installed" in notes[0]  # once
    with pytest.raises(ConfigError, match="unknown embedding_backend"):
        embed.resolve_backend(model, "tensorrt")


# ---- the gate's search of what was added since the pre-check ---------------------------
@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "check", "gate"]), st.integers(0, 5)), max_size=60
    ),
    scope=st.sampled_from(["global", "category"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_best_since_equals_a_full_search(ops: list[tuple[str, int]], scope: str, seed: int) -> None:
    """Whatever interleaving of adds, pre-checks and gate searches (with a ring of recent
    vectors small enough to be outgrown), the incremental search gives the full search's
    scores, and a remembered check is used once."""
    rng = np.random.default_rng(seed)
    texts = unit_rows(rng, 6, 8)
    state = DedupState(dim=8, scope=scope, recent_vectors=4)
    state.load(["a", "b"], ["s1", "s2"], unit_rows(rng, 2, 8))
    for op, n in ops:
        category = "ab"[n % 2]
        if op == "add":
            state.add(category, f"r{rng.integers(1 << 30)}", unit_rows(rng, 1, 8)[0])
        elif op == "check":
            state.note_checked(category, [f"t{n}"], state.best(category, texts[n : n + 1]))
        else:
            got = state.best_since(category, [f"t{n}"], texts[n : n + 1])
            np.testing.assert_allclose(got, state.best(category, texts[n : n + 1]), atol=1e-5)
            assert f"t{n}" not in state._checked


def test_a_check_of_another_scope_is_not_reused() -> None:
    state = DedupState(dim=2, scope="category")
    state.add("a", "k1", np.array([1.0, 0.0], dtype=np.float32))
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    state.note_checked("b", ["q"], state.best("b", query))  # b's index is empty: -1
    assert state.best_since("a", ["q"], query).tolist() == [1.0]
