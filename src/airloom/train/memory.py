"""Will a training step fit? The memory one step over the longest batch takes, estimated
from the model's shape, and the warning ``airloom train`` gives before its first step.

A run whose batch outgrows the machine is killed by the kernel without a word, often many
steps in, when the longest batch finally comes up. The estimate counts what backward
keeps alive per token:

* the activations each decoder layer saves: about ``12 h + 5 i`` values per token (hidden
  width ``h``, MLP width ``i``; LoRA dropout keeps a copy of every adapted input), in the
  model's dtype; with gradient checkpointing only each layer's input is kept, plus one
  layer's activations while it is recomputed;
* the logits over the vocabulary in float32, about five copies at the peak of the loss's
  backward (logits, log-softmax, and their gradients);
* for full fine-tuning, a gradient and two AdamW states per weight.

Calibrated on the embedded Qwen2.5-0.5B, LoRA at float32 on a CPU (hidden 896, MLP 4,864,
24 layers, vocabulary 151,936; about 3 GB for the loaded model and libraries): 6.4 MB per
token without checkpointing, so 4 x 942 tokens needs 24.1 GB more (measured: killed past
23 GB on a 24 GiB machine), and 1 x 942 tokens 6.0 GB more (measured: 10.4 GB at the
peak in all); 3.3 MB with it, so 2 x 942 tokens needs 6.2 GB more (measured: 9.9 GB at
the peak in all). The estimate runs about 1 GB short of those peaks: it is for telling a
batch that cannot fit, not for filling the memory to the last gigabyte.

Example:
    >>> qwen = ModelShape(hidden=896, intermediate=4864, layers=24, vocab=151936)
    >>> round(step_bytes(qwen, tokens=1000, dtype_bytes=4) / 1e9, 1)
    6.4
    >>> round(step_bytes(qwen, tokens=1000, dtype_bytes=4, checkpointing=True) / 1e9, 1)
    3.3
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ModelShape", "free_bytes", "memory_warning", "step_bytes"]

SAVED_PER_HIDDEN = 12  # values per token and layer, in units of the hidden width
SAVED_PER_MLP = 5  # ... and of the MLP width
LOGIT_COPIES = 5  # float32 vocabulary-wide tensors alive at the peak of the loss's backward
OPTIMIZER_COPIES = 3  # full fine-tuning: gradient + AdamW's two moments per weight


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder-only transformer that decide its training memory."""

    hidden: int
    intermediate: int
    layers: int
    vocab: int
    parameters: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], parameters: int = 0) -> ModelShape:
        """Read a transformers ``config.json`` (as a dict); multimodal configs nest a
        ``text_config``.

        Example:
            >>> ModelShape.from_config({"hidden_size": 64, "intermediate_size": 128,
            ...     "num_hidden_layers": 2, "vocab_size": 300}).intermediate
            128
        """
        text = config.get("text_config") or config
        hidden = int(text.get("hidden_size") or text.get("n_embd") or 0)
        return cls(
            hidden=hidden,
            intermediate=int(text.get("intermediate_size") or 4 * hidden),
            layers=int(text.get("num_hidden_layers") or text.get("n_layer") or 0),
            vocab=int(text.get("vocab_size") or config.get("vocab_size") or 0),
            parameters=parameters,
        )


def step_bytes(
    shape: ModelShape,
    *,
    tokens: int,
    dtype_bytes: int,
    checkpointing: bool = False,
    full: bool = False,
) -> int:
    """Bytes one training step over ``tokens`` tokens (batch x length) adds to the loaded
    model (pure).

    Example:
        >>> tiny = ModelShape(hidden=64, intermediate=128, layers=2, vocab=300, parameters=10**6)
        >>> step_bytes(tiny, tokens=10, dtype_bytes=4, full=True) > 12 * 10**6
        True
    """
    layer = (SAVED_PER_HIDDEN * shape.hidden + SAVED_PER_MLP * shape.intermediate) * dtype_bytes
    if checkpointing:
        kept = shape.layers * shape.hidden * dtype_bytes + layer
    else:
        kept = shape.layers * layer
    logits = LOGIT_COPIES * shape.vocab * 4
    optimizer = OPTIMIZER_COPIES * shape.parameters * dtype_bytes if full else 0
    return tokens * (kept + logits) + optimizer


def _gb(count: int) -> str:
    return f"{count / 1e9:.1f} GB"


def memory_warning(
    needed: int, free: int, *, batch: int, length: int, device: str, checkpointing: bool
) -> str | None:
    """The warning to give when a step over the longest batch needs more than is free, else
    None (pure).

    Example:
        >>> memory_warning(10**9, 2 * 10**9, batch=1, length=900, device="cpu",
        ...                checkpointing=False) is None
        True
        >>> print(memory_warning(30 * 10**9, 20 * 10**9, batch=4, length=1002, device="cpu",
        ...                      checkpointing=False))  # doctest: +NORMALIZE_WHITESPACE
        a step over the longest batch (4 x 1,002 tokens) needs about 30.0 GB beyond the
        loaded model, and 20.0 GB of memory is free: the run may be killed part-way. Lower
        batch_size and raise grad_accum by the same factor, set gradient_checkpointing:
        true, or lower max_length
    """
    if needed <= free:
        return None
    where = "memory" if device == "cpu" else f"{device} memory"
    options = ["lower batch_size and raise grad_accum by the same factor"] if batch > 1 else []
    if not checkpointing:
        options.append("set gradient_checkpointing: true")
    options.append("lower max_length")
    remedy = ", ".join(options[:-1]) + ", or " + options[-1] if options[:-1] else options[-1]
    return (
        f"a step over the longest batch ({batch} x {length:,} tokens) needs about "
        f"{_gb(needed)} beyond the loaded model, and {_gb(free)} of {where} is free: "
        f"the run may be killed part-way. {remedy[0].upper()}{remedy[1:]}"
    )


def free_bytes(device: str) -> int | None:
    """Memory free for training on ``device`` now (on a CPU: available RAM shared by the
    processes of this machine), or None where it cannot be told."""
    if device == "cpu":
        try:
            import psutil
        except ImportError:
            return None
        local = max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
        return int(psutil.virtual_memory().available) // local
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    return None
