"""Fine-tuning with TRL's ``SFTTrainer`` and PEFT: full, LoRA and QLoRA, resumable.

The examples come from :mod:`airloom.train.data` already tokenized, with labels that
are ``-100`` everywhere but the assistant turns; TRL takes them as they are (packing
them padding-free when asked). Checkpoints land in ``output_dir/checkpoint-N``; a
run that was killed continues from the last one. The finished folder holds the
adapter (or the full weights), the tokenizer with the training prompt format as its
chat template, ``airloom-train.json``, ``training_summary.json``, a model card
(``README.md``) and ``loss.png``.

The same call runs under ``torchrun`` / ``accelerate launch``: each process reads the
data the same way, TRL shards the batches, and only the main process writes the card.

Example:
    >>> from airloom.train.config import TrainConfig
    >>> args = sft_arguments(TrainConfig(data=["d.jsonl"], max_steps=3), has_eval=False)
    >>> args["max_steps"], args["lr_scheduler_type"], args["eval_strategy"]
    (3, 'cosine', 'no')
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airloom.errors import AirloomError, TrainError
from airloom.formats.chat import get_template
from airloom.train.config import TrainConfig
from airloom.train.data import Example, Examples, load_records, prepare
from airloom.train.result import TrainResult as TrainResult
from airloom.weights.adapters import TrainInfo, write_train_info
from airloom.weights.device import resolve_device_dtype
from airloom.weights.load import converted_model_dir, load_model, load_tokenizer
from airloom.weights.source import ModelSource

__all__ = [
    "SUMMARY_FILE",
    "Report",
    "TrainProgress",
    "TrainResult",
    "TrainWarning",
    "disk_errors",
    "finished",
    "is_main_process",
    "last_checkpoint",
    "quiet_libraries",
    "remove_checkpoints",
    "resolve_base",
    "sft_arguments",
    "train",
    "world_size",
]

SUMMARY_FILE = "training_summary.json"


@dataclass
class TrainProgress:
    """One progress report: step counts, the latest losses, throughput."""

    step: int
    max_steps: int
    loss: float | None = None
    eval_loss: float | None = None
    tokens_per_second: float = 0.0
    epoch: float = 0.0


@dataclass
class TrainWarning:
    """Something the user should hear before it bites; the run goes on."""

    message: str


Report = Callable[[str | TrainProgress | TrainWarning], None]


def is_main_process() -> bool:
    """True on the process that writes files and prints (rank 0, or no launcher)."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    """Processes in the run (``WORLD_SIZE`` of torchrun / accelerate, else 1)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def finished(output_dir: Path) -> bool:
    """True when ``output_dir`` holds a finished run."""
    return (output_dir / SUMMARY_FILE).is_file()


def last_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` folder, or None.

    Example:
        >>> last_checkpoint(Path("/nonexistent")) is None
        True
    """
    if not output_dir.is_dir():
        return None
    found = []
    for child in output_dir.iterdir():
        name = child.name
        numbered = name.startswith("checkpoint-") and name[11:].isdigit()
        if numbered and (child / "trainer_state.json").is_file():
            found.append((int(name[11:]), child))
    return max(found)[1] if found else None


def sft_arguments(config: TrainConfig, *, has_eval: bool) -> dict[str, Any]:
    """The ``SFTConfig`` keyword arguments of a training config (pure)."""
    args: dict[str, Any] = {
        "output_dir": config.output_dir,
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.batch_size,
        "per_device_eval_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_ratio if config.warmup_ratio < 1 else 0,
        "weight_decay": config.weight_decay,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": config.eval_steps if has_eval else None,
        "seed": config.seed,
        "data_seed": config.seed,
        "max_length": config.max_length,
        "packing": config.packing,
        "gradient_checkpointing": config.gradient_checkpointing,
        "report_to": "none",
        "disable_tqdm": True,
        "include_num_input_tokens_seen": "non_padding",
        "dataset_num_proc": None,
        "remove_unused_columns": True,
    }
    if config.gradient_checkpointing:
        args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    return args


def _device_and_dtype(config: TrainConfig, torch: Any) -> tuple[str, Any]:
    # auto: bfloat16 on GPUs, float32 on CPUs (as TrainConfig.dtype documents)
    return resolve_device_dtype(
        torch, config.device, config.dtype, fast_cpu_bf16=False, error=TrainError
    )


def resolve_base(config: TrainConfig) -> Path:
    """The transformers folder of the base model (the embedded model: its converted copy)."""
    if config.base_model != "embedded":
        path = Path(config.base_model).expanduser()
        if not (path / "config.json").is_file():
            raise TrainError(
                f"base model {path} is not a model folder (no config.json)",
                hint="give a transformers model folder, or base_model: embedded",
            )
        return path
    cache = Path(config.cache_dir).expanduser() if config.cache_dir else None
    return converted_model_dir(ModelSource(model="embedded", device="cpu", cache_dir=cache))


def _load_model(config: TrainConfig, base: Path, dtype: Any, device: str) -> Any:
    kwargs: dict[str, Any] = {"dtype": dtype}
    if config.method == "qlora":
        import torch
        from transformers import BitsAndBytesConfig

        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise TrainError(
                "QLoRA needs the 'bitsandbytes' package",
                hint="pip install 'airloom[train]'",
            ) from exc
        compute = getattr(torch, config.quant.compute_dtype)
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=config.quant.quant_type,
            bnb_4bit_use_double_quant=config.quant.double_quant,
            bnb_4bit_compute_dtype=compute,
            bnb_4bit_quant_storage=dtype,
        )
        kwargs["dtype"] = compute if device == "cpu" else dtype
        if device == "cuda" and world_size() == 1:
            kwargs["device_map"] = {"": 0}
    return load_model(base, **kwargs)


def _memory_warning(config: TrainConfig, model: Any, examples: Examples, device: str) -> str | None:
    """The warning when a step over the longest batch will not fit in the free memory."""
    from airloom.train.memory import ModelShape, free_bytes, memory_warning, step_bytes

    free = free_bytes(device)
    if free is None or not examples.train:
        return None
    if config.packing:
        length = config.max_length
    else:
        length = max(len(example.input_ids) for example in examples.train)
    batch = min(config.batch_size, len(examples.train))
    parameters = sum(parameter.numel() for parameter in model.parameters())
    needed = step_bytes(
        ModelShape.from_config(model.config.to_dict(), parameters),
        tokens=batch * length,
        dtype_bytes=model.dtype.itemsize,
        checkpointing=config.gradient_checkpointing,
        full=config.method == "full",
    )
    return memory_warning(
        needed,
        free,
        batch=batch,
        length=length,
        device=device,
        checkpointing=config.gradient_checkpointing,
    )


def _lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type="CAUSAL_LM",
        bias="none",
    )


def _as_dataset(examples: list[Example]) -> Any:
    from datasets import Dataset

    return Dataset.from_dict(
        {"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]}
    )


def _progress_callback(report: Report) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """Forward step counts, losses and tokens/s to ``report``."""

        def __init__(self) -> None:
            self.started = time.perf_counter()
            self.first_tokens: int | None = None
            self.loss: float | None = None
            self.eval_loss: float | None = None

        def _emit(self, state: Any) -> None:
            seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
            if self.first_tokens is None:
                self.first_tokens, self.started = seen, time.perf_counter()
            elapsed = max(time.perf_counter() - self.started, 1e-9)
            report(
                TrainProgress(
                    step=state.global_step,
                    max_steps=state.max_steps,
                    loss=self.loss,
                    eval_loss=self.eval_loss,
                    tokens_per_second=(seen - self.first_tokens) / elapsed,
                    epoch=float(state.epoch or 0.0),
                )
            )

        def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self._emit(state)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            logs = logs or {}
            if "loss" in logs:
                self.loss = float(logs["loss"])
            if "eval_loss" in logs:
                self.eval_loss = float(logs["eval_loss"])
            self._emit(state)

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self._emit(state)

    return Progress()


@contextlib.contextmanager
def disk_errors(output_dir: str) -> Iterator[None]:
    """Turn a full disk (or another OS error while writing) into a :class:`TrainError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TrainError(
                f"the disk is full while writing to {output_dir}",
                hint="free some space and run the same command again: it resumes from the "
                "last checkpoint",
            ) from exc
        raise TrainError(
            f"cannot write to {output_dir}: {exc}", hint="check the folder and its permissions"
        ) from exc


def _check_output(config: TrainConfig) -> Path:
    output = Path(config.output_dir)
    if finished(output):
        if not config.overwrite:
            raise TrainError(
                f"{output} already holds a finished training run",
                hint="choose another output_dir, or --set overwrite=true to train it again",
            )
        if is_main_process():  # a fresh run: no resuming from the old run's checkpoints
            remove_checkpoints(output)
            for name in (SUMMARY_FILE, "README.md", "loss.png"):
                (output / name).unlink(missing_ok=True)
    return output


def _last(history: list[dict[str, Any]], key: str) -> float | None:
    values = [entry[key] for entry in history if key in entry]
    return float(values[-1]) if values else None


def quiet_libraries() -> None:
    """Silence library progress bars and deprecation chatter; progress goes through ``report``."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl|peft)")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|trl|peft|torch)")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def train(config: TrainConfig, report: Report | None = None) -> TrainResult:
    """Fine-tune as ``config`` says; returns (and writes) the summary of the run."""
    emit: Report = report or (lambda _: None)
    output = _check_output(config)
    started = time.perf_counter()
    emit("loading the training libraries")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # before its import-time notes
    try:
        import torch
        from trl import SFTConfig, SFTTrainer
    except ImportError as exc:
        raise TrainError(
            f"training needs the 'train' extra ({exc.name} is missing)",
            hint="pip install 'airloom[train]'",
        ) from exc
    quiet_libraries()
    device, dtype = _device_and_dtype(config, torch)
    emit("reading the training data")
    loaded = load_records(config.data, config.categories)
    emit("resolving the base model")
    base = resolve_base(config)
    tokenizer = load_tokenizer(base)
    emit(f"tokenizing {len(loaded[0])} records in the {config.template} format")
    examples = prepare(
        loaded,
        tokenizer,
        template=config.template,
        max_length=config.max_length,
        too_long=config.too_long,
        eval_fraction=config.eval_fraction,
        seed=config.seed,
    )
    emit(f"loading {base.name} for {config.method} training on {device}")
    model = _load_model(config, base, dtype, device)
    warning = _memory_warning(config, model, examples, device)
    if warning is not None:
        emit(TrainWarning(warning))
    arguments = sft_arguments(config, has_eval=bool(examples.eval))
    arguments["use_cpu"] = device == "cpu"
    if world_size() > 1:
        arguments["ddp_find_unused_parameters"] = False
        if device == "cpu":
            arguments["ddp_backend"] = "gloo"
    arguments["bf16"] = dtype == torch.bfloat16  # TRL would default to bf16 autocast
    arguments["fp16"] = dtype == torch.float16
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**arguments),
        train_dataset=_as_dataset(examples.train),
        eval_dataset=_as_dataset(examples.eval) if examples.eval else None,
        processing_class=tokenizer,
        peft_config=None if config.method == "full" else _lora_config(config),
        callbacks=[_progress_callback(emit)],
    )
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # progress goes through ``report`` only
    resume = last_checkpoint(output) if config.resume else None
    if resume is not None:
        emit(f"resuming from {resume.name}")
    with disk_errors(config.output_dir):
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        history = list(trainer.state.log_history)
        eval_loss = _last(history, "eval_loss")
        if examples.eval and eval_loss is None:
            eval_loss = float(trainer.evaluate()["eval_loss"])
        result = TrainResult(
            output_dir=str(output),
            method=config.method,
            template=config.template,
            base_model=config.base_model,
            steps=int(trainer.state.global_step),
            resumed_from=resume.name if resume else None,
            train_loss=_last(history, "loss"),
            eval_loss=eval_loss,
            seconds=time.perf_counter() - started,
            tokens_seen=int(trainer.state.num_input_tokens_seen or 0),
            trained_tokens=examples.summary.trained_tokens,
            data=examples.summary,
            world_size=world_size(),
            log_history=history,
            model=trainer.model,
        )
        if trainer.is_world_process_zero():
            _finish(trainer, tokenizer, config, base, result, examples)
    return result


def _finish(
    trainer: Any,
    tokenizer: Any,
    config: TrainConfig,
    base: Path,
    result: TrainResult,
    examples: Examples,
) -> None:
    """Write the model, tokenizer, info, card, loss curve and summary (the summary last)."""
    from airloom.train.card import write_card, write_loss_curve

    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(output))
    tokenizer.chat_template = get_template(config.template).jinja
    tokenizer.save_pretrained(str(output))
    write_train_info(
        output,
        TrainInfo(
            template=config.template,
            base_model=config.base_model,
            method=config.method,
            base_path=str(base),
        ),
    )
    try:
        write_loss_curve(result.log_history, output / "loss.png")
    except AirloomError as exc:  # matplotlib missing: the card says so, training is kept
        (output / "loss.txt").write_text(exc.message + "\n", encoding="utf-8")
    write_card(output / "README.md", config, result)
    temporary = output / f".{SUMMARY_FILE}.tmp"
    temporary.write_text(json.dumps(result.to_json(), indent=1, default=str), encoding="utf-8")
    os.replace(temporary, output / SUMMARY_FILE)
    del examples


def remove_checkpoints(output_dir: Path) -> int:
    """Delete the ``checkpoint-N`` folders of a finished run; returns how many."""
    removed = 0
    for child in output_dir.glob("checkpoint-*"):
        if child.is_dir():
            shutil.rmtree(child)
            removed += 1
    return removed
