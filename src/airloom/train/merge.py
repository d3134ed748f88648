"""Fold a trained LoRA adapter into full weights: an HF folder any engine can load.

The base is the one the adapter was trained on (from ``airloom-train.json``) unless
another is given; the merged folder gets the adapter's tokenizer (and so its prompt
format as chat template). An existing output folder is never overwritten.

Example::

    merge_adapter(Path("train-out"), Path("merged"))   # merged/config.json, model.safetensors
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from airloom.errors import TrainError
from airloom.train.config import TrainConfig
from airloom.train.trainer import disk_errors, resolve_base
from airloom.weights.adapters import check_adapter_dir, read_train_info

__all__ = ["merge_adapter", "merge_base"]


def merge_base(adapter_dir: Path, base: str | None) -> Path:
    """The base folder to merge into: ``base``, else the one the adapter was trained on."""
    info = read_train_info(adapter_dir)
    if base is not None:
        return resolve_base(TrainConfig(base_model=base))
    if info is None:
        raise TrainError(
            f"{adapter_dir} does not say which base it was trained on",
            hint="pass --base with the base model folder",
        )
    if info.base_path and Path(info.base_path, "config.json").is_file():
        return Path(info.base_path)
    return resolve_base(TrainConfig(base_model=info.base_model))


def merge_adapter(adapter_dir: Path, out_dir: Path, *, base: str | None = None) -> Path:
    """Write base + adapter as one model into ``out_dir``; returns ``out_dir``."""
    from airloom.weights.adapters import apply_adapter

    check_adapter_dir(adapter_dir)
    if out_dir.exists():
        raise TrainError(f"{out_dir} already exists", hint="choose a new folder for the merge")
    base_dir = merge_base(adapter_dir, base)
    from airloom.weights.load import load_model, load_tokenizer

    model = load_model(base_dir, dtype="auto")
    tokenizer = load_tokenizer(base_dir, pad=False)
    merged, tokenizer, _ = apply_adapter(model, tokenizer, adapter_dir)
    temporary = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    with disk_errors(str(out_dir)):
        try:
            merged.save_pretrained(str(temporary))
            tokenizer.save_pretrained(str(temporary))
            info = adapter_dir / "airloom-train.json"
            if info.is_file():
                shutil.copy2(info, temporary / info.name)
            os.replace(temporary, out_dir)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    return out_dir
