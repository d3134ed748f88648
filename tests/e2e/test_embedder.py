"""The real sentence embedder (the offline MiniLM package) on texts past its window."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from airloom.vectors.embed import DEFAULT_EMBEDDING_MODEL, make_embedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder():
    return make_embedder(DEFAULT_EMBEDDING_MODEL)


def test_long_text_is_windowed_without_a_tokenizer_warning(embedder, caplog, capfd):
    long = " ".join(f"sentence {i} about rivers and the sea." for i in range(300))
    with caplog.at_level(logging.WARNING):
        vectors = embedder.encode([long, "rivers and the sea"])
    assert vectors.shape == (2, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > 0.3
    assert "longer than the specified maximum" not in caplog.text + capfd.readouterr().err


def test_paraphrases_are_closer_than_unrelated_texts(embedder):
    a, b, c = embedder.encode(
        [
            "How do I reverse a list in Python?",
            "What is the way to reverse a Python list?",
            "Write a poem about autumn leaves.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3


def test_fewer_threads_give_the_same_vectors_and_stay_in_their_thread():
    import threading

    import torch

    texts = ["How do I reverse a list in Python?", "Write a poem about autumn leaves."]
    capped = make_embedder(DEFAULT_EMBEDDING_MODEL, threads=1, backend="torch")
    default = torch.get_num_threads()
    seen: dict[str, object] = {}

    def in_worker() -> None:
        seen["vectors"] = capped.encode(texts)
        seen["threads"] = torch.get_num_threads()

    worker = threading.Thread(target=in_worker)
    worker.start()
    worker.join()
    assert seen["threads"] == 1
    assert torch.get_num_threads() == default  # the caller's threads are untouched
    reference = make_embedder(DEFAULT_EMBEDDING_MODEL, backend="torch").encode(texts)
    assert np.allclose(seen["vectors"], reference, atol=1e-5)
