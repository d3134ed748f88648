"""The typed training config (``airloom train --config train.yaml``) and its presets.

The file is read with the same loader as the generation config: line-numbered errors,
closest-key suggestions for typos, ``--set dotted.key=value`` overrides. A ``preset``
fills in the original recipes underneath the keys the file sets itself:

* ``lmoe`` — the LMoE expert recipe: QLoRA (NF4, double quant), r=64, alpha=16,
  dropout 0.1 on every linear layer, lr 2e-4 constant, warmup 0.03, 5 epochs,
  max length 4096, gradient checkpointing;
* ``small`` (default) — sane values for small models on a CPU or one GPU.

Example:
    >>> cfg = load_train_config_text("data: [a.jsonl]\\npreset: lmoe\\n")
    >>> cfg.method, cfg.lora.r, cfg.learning_rate, cfg.lr_scheduler, cfg.max_length
    ('qlora', 64, 0.0002, 'constant', 4096)
    >>> load_train_config_text("data: [a.jsonl]\\nlora: {rr: 4}\\n")
    Traceback (most recent call last):
    ...
    airloom.errors.ConfigError: <train config> line 2: unknown key 'lora.rr' (did you mean 'r'?) \
(see `airloom config example --kind train` for every key)
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from airloom import configfile
from airloom.configfile import Strict, config_folder, resolve_path
from airloom.errors import AirloomError
from airloom.formats.chat import get_template

__all__ = [
    "EXAMPLE_HINT",
    "PRESETS",
    "LoraSection",
    "QuantSection",
    "TrainConfig",
    "load_train_config",
    "load_train_config_text",
    "resolve_paths",
    "with_preset",
]

EXAMPLE_HINT = "see `airloom config example --kind train` for every key"

PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    "lmoe": {
        "method": "qlora",
        "lora": {"r": 64, "alpha": 16, "dropout": 0.1, "target_modules": "all-linear"},
        "learning_rate": 2e-4,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.03,
        "epochs": 5,
        "max_length": 4096,
        "gradient_checkpointing": True,
    },
}


class LoraSection(Strict):
    """LoRA adapter shape (methods ``lora`` and ``qlora``)."""

    r: int = Field(16, ge=1, le=4096, description="Rank of the adapter matrices.")
    alpha: int = Field(32, gt=0, description="Scale numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: str | list[str] = Field(
        "all-linear", description="'all-linear' or a list of module names (q_proj, v_proj, ...)."
    )


class QuantSection(Strict):
    """4-bit quantisation of the frozen base (method ``qlora``, bitsandbytes)."""

    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type.")
    double_quant: bool = Field(True, description="Quantise the quantisation constants too.")
    compute_dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="dtype of the 4-bit matmuls (bfloat16 on GPUs)."
    )


class TrainConfig(Strict):
    """One fine-tuning run: data, prompt format, base model, method and schedule."""

    data: list[str] = Field(
        default_factory=list,
        description="Stores (.db), airloom/airoboros JSONL, ShareGPT JSONL or HF dataset folders.",
    )
    categories: list[str] | None = Field(
        None, description="Train only on these categories (default: all)."
    )
    template: str = Field(
        "chatml",
        description="Prompt format (airoboros-2.1, airoboros-2.2, llama-2, llama-3, chatml).",
    )
    base_model: str = Field(
        "embedded", description="'embedded' (the built-in 0.5B model) or an HF model folder."
    )
    output_dir: str = Field("train-out", description="Where checkpoints, adapter and card go.")
    preset: Literal["small", "lmoe"] = Field(
        "small", description="Recipe defaults under the keys set here: small or lmoe."
    )
    method: Literal["lora", "qlora", "full"] = Field(
        "lora", description="lora, qlora (4-bit base) or full (every weight)."
    )
    lora: LoraSection = Field(default_factory=LoraSection, description="LoRA adapter shape.")
    quant: QuantSection = Field(default_factory=QuantSection, description="QLoRA quantisation.")
    max_length: int = Field(2048, ge=8, description="Most tokens per record.")
    too_long: Literal["skip", "truncate"] = Field(
        "skip", description="Records over max_length: skip them or cut them (both counted)."
    )
    packing: bool = Field(False, description="Pack records into rows (padding-free).")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory.")
    epochs: float = Field(1.0, gt=0, description="Passes over the training data.")
    max_steps: int = Field(-1, description="Stop after this many optimiser steps (-1: epochs).")
    batch_size: int = Field(4, ge=1, description="Records (or packed rows) per device step.")
    grad_accum: int = Field(1, ge=1, description="Steps accumulated per optimiser step.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    lr_scheduler: Literal["constant", "cosine", "linear", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule."
    )
    warmup_ratio: float = Field(0.03, ge=0, le=1, description="Share of steps warming up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    eval_fraction: float = Field(
        0.05, ge=0, lt=1, description="Share of records held out for eval loss (0: none)."
    )
    eval_steps: int = Field(50, ge=1, description="Evaluate every this many steps.")
    save_steps: int = Field(50, ge=1, description="Checkpoint every this many steps.")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept (older ones deleted).")
    logging_steps: int = Field(1, ge=1, description="Log the loss every this many steps.")
    seed: int = Field(42, description="Seed of the split, shuffling and initialisation.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Training dtype: auto is bfloat16 on GPUs, float32 on CPUs."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto, cpu or cuda.")
    resume: bool = Field(True, description="Continue from the last checkpoint in output_dir.")
    overwrite: bool = Field(False, description="Train again into an output_dir that is done.")
    cache_dir: str | None = Field(
        None, description="Model cache of the embedded base (default ~/.cache/airloom/models)."
    )

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        try:
            return get_template(value).name
        except AirloomError as exc:
            raise ValueError(f"{exc.message}; {exc.hint}") from None


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_preset(data: dict[str, Any]) -> dict[str, Any]:
    """Raw config data with its preset's values underneath the keys it sets itself.

    Example:
        >>> with_preset({"preset": "lmoe", "epochs": 1})["epochs"], with_preset({})
        (1, {})
    """
    preset = data.get("preset", "small")
    if preset not in PRESETS:
        return data  # validation names the bad preset
    return _deep_merge(PRESETS[preset], data)


def load_train_config_text(
    text: str, *, source: str = "<train config>", overrides: Iterable[str] = ()
) -> TrainConfig:
    """Parse, apply the preset and ``--set`` overrides, and validate training config text."""
    return configfile.load_text(
        text,
        TrainConfig,
        source=source,
        overrides=overrides,
        hint=EXAMPLE_HINT,
        prepare=with_preset,
    )


def load_train_config(path: str | Path | None, overrides: Iterable[str] = ()) -> TrainConfig:
    """Load a training config file (or only ``--set`` values when ``path`` is None).

    Relative paths in ``data``, ``output_dir`` and ``base_model`` are relative to the
    file's folder (the current folder without a file).

    Example:
        >>> load_train_config(None, ["data=[x.jsonl]", "epochs=2"]).epochs
        2.0
    """
    config = configfile.load(
        path,
        TrainConfig,
        overrides,
        hint=EXAMPLE_HINT,
        example="airloom config example --kind train",
        prepare=with_preset,
    )
    return resolve_paths(config, config_folder(path))


def resolve_paths(config: TrainConfig, base_dir: Path) -> TrainConfig:
    """The config with relative data, output and base-model paths made absolute.

    Example:
        >>> cfg = resolve_paths(TrainConfig(data=["d.jsonl"]), Path("/srv"))
        >>> cfg.data, cfg.output_dir, cfg.base_model
        (['/srv/d.jsonl'], '/srv/train-out', 'embedded')
    """
    updates: dict[str, Any] = {
        "data": [resolve_path(item, base_dir) for item in config.data],
        "output_dir": resolve_path(config.output_dir, base_dir),
    }
    if config.base_model != "embedded" and (
        config.base_model.startswith((".", "~")) or (base_dir / config.base_model).exists()
    ):
        updates["base_model"] = resolve_path(config.base_model, base_dir)
    return config.model_copy(update=updates)
