"""The weights package: device/dtype choice, the converted cache, tokenizer padding,
penalties and end-of-turn ids of the local backend, and the package's place in the layers."""

from __future__ import annotations

import ast
import builtins
import doctest
import importlib
import json
import pkgutil
from pathlib import Path
from types import SimpleNamespace

import pytest

import airloom.backends.local
import airloom.weights
from airloom.backends.local.penalties import token_penalties
from airloom.backends.local.runtime import end_of_turn_ids
from airloom.errors import FatalBackendError, MissingDependencyError, TrainError
from airloom.weights import (
    CONVERTED_MARKER,
    ModelSource,
    converted_dir,
    converted_is_complete,
    converted_model_dir,
    embedded_identity,
    ensure_pad_token,
    import_stack,
    resolve_device_dtype,
)


def fake_torch(*, cuda: bool, cuda_bf16: bool = True, cpu_bf16: bool = False) -> SimpleNamespace:
    def cpu_check() -> bool:
        return cpu_bf16

    return SimpleNamespace(
        float32="f32",
        bfloat16="bf16",
        float16="f16",
        cuda=SimpleNamespace(is_available=lambda: cuda, is_bf16_supported=lambda: cuda_bf16),
        ops=SimpleNamespace(mkldnn=SimpleNamespace(_is_mkldnn_bf16_supported=cpu_check)),
    )


@pytest.mark.parametrize(
    ("torch", "device", "dtype", "fast_cpu_bf16", "expected"),
    [
        (fake_torch(cuda=False), "auto", "auto", True, ("cpu", "f32")),
        (fake_torch(cuda=False, cpu_bf16=True), "auto", "auto", True, ("cpu", "bf16")),
        (fake_torch(cuda=False, cpu_bf16=True), "auto", "auto", False, ("cpu", "f32")),
        (fake_torch(cuda=True), "auto", "auto", True, ("cuda", "bf16")),
        (fake_torch(cuda=True, cuda_bf16=False), "auto", "auto", True, ("cuda", "f16")),
        (fake_torch(cuda=True), "cpu", "auto", True, ("cpu", "f32")),
        (fake_torch(cuda=True), "cuda", "float32", True, ("cuda", "f32")),
        (fake_torch(cuda=False), "cpu", "float16", True, ("cpu", "f16")),
    ],
)
def test_device_and_dtype_choice(torch, device, dtype, fast_cpu_bf16, expected):
    chosen = resolve_device_dtype(torch, device, dtype, fast_cpu_bf16=fast_cpu_bf16)
    assert chosen == expected


@pytest.mark.parametrize("error", [FatalBackendError, TrainError])
def test_cuda_without_a_gpu_is_the_callers_error_with_a_hint(error):
    with pytest.raises(error, match="no CUDA GPU") as info:
        resolve_device_dtype(fake_torch(cuda=False), "cuda", "auto", error=error)
    assert "device: cpu" in (info.value.hint or "")


def test_missing_torch_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'", name="torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(MissingDependencyError) as info:
        import_stack()
    assert "pip install 'airloom[local]'" in str(info.value)
    assert "torch" in str(info.value)


def test_converted_marker_checks_file_sizes(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"x" * 10)
    marker = tmp_path / CONVERTED_MARKER
    assert not converted_is_complete(tmp_path)
    marker.write_text(json.dumps({"files": {"model.safetensors": 10}}))
    assert converted_is_complete(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"x" * 4)
    assert not converted_is_complete(tmp_path)
    marker.write_text("not json")
    assert not converted_is_complete(tmp_path)
    marker.write_text(json.dumps({"files": {}}))
    assert not converted_is_complete(tmp_path)


def _fake_conversion(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"w" * 3)
    (folder / CONVERTED_MARKER).write_text(json.dumps({"files": {"model.safetensors": 3}}))


def test_converted_dir_of_the_embedded_model_is_found_without_its_packages(tmp_path):
    # No GGUF and no chunk package in this cache: only the finished conversion.
    target = converted_dir(tmp_path, embedded_identity(), "bfloat16")
    _fake_conversion(target)
    assert converted_model_dir(ModelSource(cache_dir=tmp_path)) == target


def test_a_half_written_conversion_is_not_used(tmp_path):
    complete = converted_dir(tmp_path, embedded_identity(), "float16")
    _fake_conversion(complete)
    broken = converted_dir(tmp_path, embedded_identity(), "float32")
    _fake_conversion(broken)
    (broken / "model.safetensors").write_bytes(b"")
    assert converted_model_dir(ModelSource(cache_dir=tmp_path)) == complete


def test_a_transformers_folder_needs_no_conversion(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert converted_model_dir(ModelSource(model=str(tmp_path))) == tmp_path.resolve()


def test_pad_token_defaults_to_end_of_sequence():
    tokenizer = SimpleNamespace(pad_token_id=None, pad_token=None, eos_token="<|im_end|>")
    assert ensure_pad_token(tokenizer).pad_token == "<|im_end|>"
    padded = SimpleNamespace(pad_token_id=3, pad_token="<pad>", eos_token="</s>")
    assert ensure_pad_token(padded).pad_token == "<pad>"


@pytest.mark.parametrize(
    ("tokens", "presence", "frequency", "expected"),
    [
        ([], 1.0, 1.0, {}),
        ([5, 5, 5], 0.0, 0.0, {}),
        ([5, 5, 5], 0.5, 0.0, {5: 0.5}),
        ([5, 5, 5], 0.0, 0.5, {5: 1.5}),
        ([1, 2, 1], 0.25, 1.0, {1: 2.25, 2: 1.25}),
        ([9], -1.0, 0.0, {9: -1.0}),  # negative penalties favour repeats, as in the API
    ],
)
def test_penalties_follow_the_openai_formula(tokens, presence, frequency, expected):
    assert token_penalties(tokens, presence, frequency) == expected


class _Tokenizer:
    unk_token_id = 0

    def __init__(self, eos: int | None, specials: dict[str, int]) -> None:
        self.eos_token_id = eos
        self.all_special_tokens = list(specials)
        self.added_tokens_decoder: dict[int, str] = {}
        self._ids = specials

    def convert_tokens_to_ids(self, token: str) -> int:
        return self._ids.get(token, self.unk_token_id)


@pytest.mark.parametrize(
    ("configured", "eos", "specials", "expected"),
    [
        (None, 2, {}, {2}),
        (7, None, {}, {7}),
        ([2, 9], 2, {}, {2, 9}),
        (None, 2, {"<|im_end|>": 11, "<|endoftext|>": 12}, {2, 11, 12}),
        (None, 2, {"<|eot_id|>": 0}, {2}),  # an unknown token is not an end
        (None, None, {"<unrelated>": 5}, set()),
    ],
)
def test_end_of_turn_ids(configured, eos, specials, expected):
    model = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=configured))
    assert end_of_turn_ids(model, _Tokenizer(eos, specials)) == expected


def test_weights_import_nothing_above_the_backends():
    """The weights package sits under the backends: errors and itself only."""
    package = Path(airloom.weights.__file__).parent
    imported: set[str] = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    ours = {name for name in imported if name.split(".")[0] == "airloom"}
    assert ours, "the scan found no imports at all"
    allowed = ("airloom.errors", "airloom.weights")
    assert {name for name in ours if not name.startswith(allowed)} == set()


@pytest.mark.parametrize(
    "name",
    sorted(
        info.name
        for package in (airloom.weights, airloom.backends.local)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    ),
)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} example(s) failed in {name}"
    assert result.attempted > 0, f"{name} has no runnable example"
