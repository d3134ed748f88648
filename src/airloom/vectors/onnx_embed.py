"""The same sentence-transformers model run by onnxruntime: fp32 or dynamic int8.

The ONNX file is exported once from the model's own weights (no download), quantized
for ``onnx-int8``, and kept in ``$AIRLOOM_CACHE/embeddings`` (``~/.cache/airloom``)
under the sha256 of the weights, written through a temporary file and an atomic
rename; later starts only load it. Tokenisation uses the model's ``tokenizer.json``
and the pooling (mean over tokens, unit norm) is the one sentence-transformers applies
to MiniLM, so vectors match the torch model's (``benchmarks/embedder.py`` measures by
how much, and ``tests/pure/test_embedder_agreement.py`` holds dedup decisions to it).

Example:
    >>> onnx_file(Path("/cache"), "0123456789abcdef", "onnx-int8").name
    'model-0123456789abcdef-int8.onnx'
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from airloom.errors import ConfigError, MissingDependencyError
from airloom.vectors.windows import encode_windowed
from airloom.weights.files import default_cache_dir

__all__ = [
    "ONNX_BACKENDS",
    "OnnxEmbedder",
    "embeddings_cache_dir",
    "exportable",
    "log",
    "onnx_available",
    "onnx_file",
    "prepare_onnx",
    "weights_key",
]

log = logging.getLogger(__name__)

ONNX_BACKENDS = ("onnx", "onnx-int8")
_export_lock = threading.Lock()


def onnx_available() -> bool:
    """Whether onnxruntime is installed (checked without importing it).

    Example:
        >>> isinstance(onnx_available(), bool)
        True
    """
    return importlib.util.find_spec("onnxruntime") is not None


def exportable(model_dir: str) -> bool:
    """Whether ``model_dir`` is a local sentence-transformers folder this module can run:
    a BERT-style transformer with ``tokenizer.json`` and safetensors weights.

    Example:
        >>> exportable("/nonexistent")
        False
    """
    folder = Path(model_dir)
    return all((folder / name).is_file() for name in ("tokenizer.json", "model.safetensors"))


def embeddings_cache_dir() -> Path:
    """Where exported embedding models are kept (beside the converted local model).

    Example:
        >>> embeddings_cache_dir().name
        'embeddings'
    """
    return default_cache_dir().parent / "embeddings"


def weights_key(model_dir: Path) -> str:
    """The first 16 hex digits of the sha256 of the model's weights file.

    Example:
        >>> weights_key(Path("/some/model"))  # doctest: +SKIP
        '53aa51172d142c89'
    """
    digest = hashlib.sha256()
    with (model_dir / "model.safetensors").open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def onnx_file(cache: Path, key: str, backend: str) -> Path:
    """The cached ONNX file of one backend for weights ``key``.

    Example:
        >>> onnx_file(Path("/cache"), "0123456789abcdef", "onnx").name
        'model-0123456789abcdef-fp32.onnx'
    """
    suffix = "int8" if backend == "onnx-int8" else "fp32"
    return cache / f"model-{key}-{suffix}.onnx"


def _export_fp32(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        """Keyword call of the transformer, its last hidden state out."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self, input_ids: Any, attention_mask: Any, token_type_ids: Any
        ) -> Any:  # pragma: no cover - run by the exporter's tracer
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = Hidden().eval()
    sample = {
        "input_ids": torch.ones((2, 8), dtype=torch.long),
        "attention_mask": torch.ones((2, 8), dtype=torch.long),
        "token_type_ids": torch.zeros((2, 8), dtype=torch.long),
    }
    axes = {name: {0: "batch", 1: "tokens"} for name in sample}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes fixed in the graph
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(target),
            input_names=list(sample),
            output_names=["last_hidden_state"],
            dynamic_axes={**axes, "last_hidden_state": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )


def _write_atomic(target: Path, build: Any) -> None:
    """Run ``build(temporary_path)`` and rename the result onto ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        build(temporary)
        temporary.chmod(0o644)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def prepare_onnx(model_dir: str, backend: str, cache: Path | None = None) -> Path:
    """The ONNX file of ``backend`` for the model in ``model_dir``: taken from the cache,
    or exported (and quantized for ``onnx-int8``) into it now.

    Example:
        >>> prepare_onnx(resolve_model_path(DEFAULT_EMBEDDING_MODEL), "onnx-int8")  # doctest: +SKIP
        PosixPath('/home/me/.cache/airloom/embeddings/model-53aa51172d142c89-int8.onnx')
    """
    if backend not in ONNX_BACKENDS:
        raise ConfigError(f"unknown ONNX embedding backend '{backend}'", hint="onnx or onnx-int8")
    folder = Path(model_dir)
    cache = cache or embeddings_cache_dir()
    key = weights_key(folder)
    target = onnx_file(cache, key, backend)
    if target.is_file():
        return target
    with _export_lock:
        fp32 = onnx_file(cache, key, "onnx")
        if not fp32.is_file():
            log.info("exporting %s to ONNX (once)", folder)
            _write_atomic(fp32, lambda path: _export_fp32(folder, path))
        if backend == "onnx-int8" and not target.is_file():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            log.info("quantizing the ONNX embedding model to int8 (once)")
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)  # the quantizer's advice to pre-process, on every run
            try:
                _write_atomic(
                    target,
                    lambda path: quantize_dynamic(
                        fp32, path, weight_type=QuantType.QInt8, per_channel=True
                    ),
                )
            finally:
                root.setLevel(level)
    return target


class OnnxEmbedder:
    """A sentence-transformers MiniLM-style model run by onnxruntime; mean pooling, unit norm."""

    def __init__(
        self,
        name: str,
        model_dir: str,
        backend: str = "onnx-int8",
        batch_size: int = 64,
        threads: int | None = None,
        cache: Path | None = None,
    ) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError(
                "onnxruntime is needed for the ONNX embedding backend",
                hint="pip install 'airloom[embed]', or set embedding_backend: torch",
            ) from exc
        folder = Path(model_dir)
        try:
            path = prepare_onnx(model_dir, backend, cache)
            config = json.loads((folder / "sentence_bert_config.json").read_text("utf-8"))
            self._window = int(config.get("max_seq_length") or 256)
        except Exception as exc:  # export, quantization or a missing file
            raise ConfigError(
                f"cannot prepare the ONNX embedding model from {model_dir}: {exc}",
                hint="set embedding_backend: torch",
            ) from exc
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {node.name for node in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self._window)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._plain = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._plain.no_truncation()
        self._plain.no_padding()
        self.name = name
        self.backend = backend
        self.batch_size = batch_size
        self.threads = threads
        self.dim = int(self._encode_batch(["a"]).shape[1])

    def window_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens (for splitting long texts)."""
        ids: list[int] = self._plain.encode(text, add_special_tokens=False).ids
        return ids

    def decode(self, ids: list[int]) -> str:
        """The text of token ids."""
        text: str = self._plain.decode(ids)
        return text

    @property
    def window(self) -> int:
        """Tokens the model reads at once, special tokens included."""
        return self._window

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: np.ndarray = (pooled / norms).astype(np.float32)
        return result

    def encode_pieces(self, pieces: list[str]) -> np.ndarray:
        """Unit vectors of texts that fit the window, in batches of ``batch_size``."""
        if not pieces:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorted by length so each batch pads little, then put back in order.
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
        out = np.zeros((len(pieces), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._encode_batch([pieces[i] for i in chunk])
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts; a text longer than the window is the weighted mean of its windows."""
        return encode_windowed(self, texts)
