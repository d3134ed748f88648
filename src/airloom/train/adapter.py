"""Trained adapter folders: what they were trained with, and applying one to a loaded model.

An ``airloom train`` output folder holds the PEFT adapter (or full weights), the
tokenizer with the training prompt format as its chat template, and
``airloom-train.json`` (template, base model, method), so that a backend can use the
model in the format it was trained in.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> info = TrainInfo(template="llama-2", base_model="embedded", method="lora")
    >>> write_train_info(folder, info)
    >>> read_train_info(folder).template
    'llama-2'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from airloom.errors import ModelFileError

TRAIN_INFO = "airloom-train.json"
ADAPTER_CONFIG = "adapter_config.json"


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


def apply_adapter(model: Any, tokenizer: Any, folder: Path) -> tuple[Any, Any, str]:
    """The model with the adapter in ``folder`` merged in, the adapter's tokenizer, a name.

    The tokenizer saved with the adapter carries the chat template the adapter was
    trained in; it replaces the base tokenizer. A base the adapter does not fit is a
    :class:`ModelFileError` naming the base it was trained on.
    """
    from peft import PeftModel

    folder = Path(folder)
    check_adapter_dir(folder)
    info = read_train_info(folder)
    try:
        peft_model = PeftModel.from_pretrained(model, str(folder))
        merged = peft_model.merge_and_unload()
    except (RuntimeError, ValueError, KeyError) as exc:
        trained_on = f" (it was trained on {info.base_model})" if info else ""
        first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc)
        raise ModelFileError(
            f"the adapter in {folder} does not fit this base model{trained_on}: {first_line}",
            hint="load the base model the adapter was trained on",
        ) from exc
    if (folder / "tokenizer_config.json").is_file():
        from airloom.weights.load import load_tokenizer

        tokenizer = load_tokenizer(folder, pad=False)
    merged.eval()
    return merged, tokenizer, folder.name
