"""Trained adapter folders: what they were trained with, checking them, and applying them.

An ``airloom train`` output folder holds the PEFT adapter (or full weights), the
tokenizer with the training prompt format as its chat template, and
``airloom-train.json`` (template, base model, method), so that a backend can use the
model in the format it was trained in. One adapter is merged into a model for the local
backend (:func:`apply_adapter`); the serving engine loads several side by side
(:func:`load_adapters`).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> info = TrainInfo(template="llama-2", base_model="embedded", method="lora")
    >>> write_train_info(folder, info)
    >>> read_train_info(folder).template
    'llama-2'
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from airloom.errors import ModelFileError
from airloom.weights.load import load_tokenizer

__all__ = [
    "ADAPTER_CONFIG",
    "TRAIN_INFO",
    "TrainInfo",
    "apply_adapter",
    "check_adapter",
    "check_adapter_dir",
    "load_adapters",
    "lora_rank",
    "read_train_info",
    "write_train_info",
]

TRAIN_INFO = "airloom-train.json"
ADAPTER_CONFIG = "adapter_config.json"
_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


@dataclass(frozen=True)
class TrainInfo:
    """How a folder was trained: prompt format, base model (as configured) and method."""

    template: str
    base_model: str
    method: str
    base_path: str = ""


def write_train_info(folder: Path, info: TrainInfo) -> None:
    """Write ``airloom-train.json`` into ``folder``."""
    (folder / TRAIN_INFO).write_text(json.dumps(asdict(info), indent=1), encoding="utf-8")


def read_train_info(folder: Path) -> TrainInfo | None:
    """The training info of a folder, or None when it has none (not made by airloom)."""
    try:
        raw = json.loads((folder / TRAIN_INFO).read_text(encoding="utf-8"))
        return TrainInfo(**raw)
    except (OSError, ValueError, TypeError):
        return None


def check_adapter_dir(folder: Path) -> None:
    """Raise :class:`ModelFileError` unless ``folder`` holds a PEFT adapter.

    Example:
        >>> check_adapter_dir(Path("/nonexistent"))
        Traceback (most recent call last):
        ...
        airloom.errors.ModelFileError: adapter folder /nonexistent does not exist \
(give the output folder of `airloom train`)
    """
    if not folder.is_dir():
        raise ModelFileError(
            f"adapter folder {folder} does not exist",
            hint="give the output folder of `airloom train`",
        )
    if not (folder / ADAPTER_CONFIG).is_file():
        full = (folder / "config.json").is_file()
        raise ModelFileError(
            f"{folder} holds no adapter ({ADAPTER_CONFIG} is missing)",
            hint="full weights are a model: use --set local.model=" + str(folder)
            if full
            else "give the output folder of a finished `airloom train` run",
        )


def check_adapter(folder: Path) -> dict[str, Any]:
    """The adapter config of a folder; :class:`ModelFileError` when the folder is unusable.

    Example:
        >>> check_adapter(Path("/nonexistent"))
        Traceback (most recent call last):
        ...
        airloom.errors.ModelFileError: adapter folder /nonexistent does not exist \
(give the output folder of `airloom train`)
    """
    check_adapter_dir(folder)
    try:
        config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ModelFileError(
            f"the adapter config {folder / ADAPTER_CONFIG} is corrupt: {exc}",
            hint="train the adapter again or restore the folder",
        ) from exc
    if not any((folder / name).is_file() for name in _WEIGHTS):
        raise ModelFileError(
            f"the adapter folder {folder} has no weights ({' or '.join(_WEIGHTS)})",
            hint="train the adapter again or restore the folder",
        )
    return config


def lora_rank(folders: Mapping[str, Path]) -> int:
    """The largest LoRA rank among adapter folders (0 when there are none).

    Example:
        >>> lora_rank({})
        0
    """
    ranks = [int(check_adapter(folder).get("r") or 0) for folder in folders.values()]
    return max(ranks, default=0)


def _why_unfit(folder: Path, exc: BaseException) -> str:
    """The base the adapter was trained on (when known) and the first line of the error."""
    info = read_train_info(folder)
    trained_on = f" (it was trained on {info.base_model})" if info else ""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return f"{trained_on}: {first_line}"


@contextlib.contextmanager
def _without_library_notes() -> Iterator[None]:
    """Hide the libraries' deprecation notes to each other (PEFT asking transformers about
    gradient checkpointing) while an adapter loads: nothing a user can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)")
        yield


def apply_adapter(model: Any, tokenizer: Any, folder: Path) -> tuple[Any, Any, str]:
    """The model with the adapter in ``folder`` merged in, the adapter's tokenizer, a name.

    The tokenizer saved with the adapter carries the chat template the adapter was
    trained in; it replaces the base tokenizer. A base the adapter does not fit is a
    :class:`ModelFileError` naming the base it was trained on.

    Example:
        >>> model, tokenizer, name = apply_adapter(base, tokenizer, folder)  # doctest: +SKIP
    """
    from peft import PeftModel

    folder = Path(folder)
    check_adapter_dir(folder)
    try:
        with _without_library_notes():
            peft_model = PeftModel.from_pretrained(model, str(folder))
            merged = peft_model.merge_and_unload()
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"the adapter in {folder} does not fit this base model{_why_unfit(folder, exc)}",
            hint="load the base model the adapter was trained on",
        ) from exc
    if (folder / "tokenizer_config.json").is_file():
        tokenizer = load_tokenizer(folder, pad=False)
    merged.eval()
    return merged, tokenizer, folder.name


def load_adapters(model: Any, folders: Mapping[str, Path]) -> tuple[Any, dict[str, Any]]:
    """``model`` wrapped with every adapter of ``folders`` under its name (not merged), and
    the tokenizers saved with the adapters, by name.

    Example:
        >>> peft_model, tokenizers = load_adapters(base, {"code": folder})  # doctest: +SKIP
    """
    from peft import PeftModel

    tokenizers: dict[str, Any] = {}
    for index, (name, folder) in enumerate(folders.items()):
        try:
            with _without_library_notes():
                if index == 0:
                    model = PeftModel.from_pretrained(model, str(folder), adapter_name=name)
                else:
                    model.load_adapter(str(folder), adapter_name=name)
        except Exception as exc:
            raise ModelFileError(
                f"cannot load the adapter '{name}' from {folder}{_why_unfit(folder, exc)}",
                hint="check that the adapter was trained on this base model",
            ) from exc
        if (folder / "tokenizer_config.json").is_file():
            tokenizers[name] = load_tokenizer(folder, pad=False)
    return model, tokenizers
