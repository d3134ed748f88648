"""The device and dtype weights are loaded in, and the torch thread count.

Example:
    >>> import torch  # doctest: +SKIP
    >>> resolve_device_dtype(torch, "cpu", "float32")  # doctest: +SKIP
    ('cpu', torch.float32)
"""

from __future__ import annotations

import os
from typing import Any

from airloom.errors import AirloomError, FatalBackendError

__all__ = ["available_cores", "dtype_name", "resolve_device_dtype"]


def available_cores() -> int:
    """The CPU cores this process may use (its affinity on Linux).

    Example:
        >>> available_cores() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _cpu_has_fast_bf16(torch_module: Any) -> bool:
    try:
        return bool(torch_module.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device_dtype(
    torch_module: Any,
    device: str,
    dtype: str,
    *,
    fast_cpu_bf16: bool = True,
    error: type[AirloomError] = FatalBackendError,
) -> tuple[str, Any]:
    """The device (``cpu`` or ``cuda``) and torch dtype for the settings ``device``/``dtype``.

    ``auto`` picks CUDA when torch sees a GPU. The ``auto`` dtype is bfloat16 on a GPU
    that supports it (else float16); on a CPU it is bfloat16 when ``fast_cpu_bf16`` and the
    CPU computes it natively, else float32. Asking for ``cuda`` without a GPU raises
    ``error`` (the caller's kind of error) saying what to change.

    Example:
        >>> import torch  # doctest: +SKIP
        >>> resolve_device_dtype(torch, "auto", "auto", fast_cpu_bf16=False)  # doctest: +SKIP
        ('cpu', torch.float32)
    """
    has_cuda = bool(torch_module.cuda.is_available())
    if device == "cuda" and not has_cuda:
        raise error(
            "device 'cuda' was asked for but torch sees no CUDA GPU",
            hint="set device: cpu (or auto), or install a CUDA build of torch",
        )
    chosen = "cuda" if device == "cuda" or (device == "auto" and has_cuda) else "cpu"
    if dtype != "auto":
        return chosen, getattr(torch_module, dtype)
    if chosen == "cuda":
        fast = torch_module.cuda.is_bf16_supported()
        return chosen, torch_module.bfloat16 if fast else torch_module.float16
    fast = fast_cpu_bf16 and _cpu_has_fast_bf16(torch_module)
    return chosen, torch_module.bfloat16 if fast else torch_module.float32


def dtype_name(dtype: Any) -> str:
    """The name of a torch dtype without its module, as config files spell it.

    Example:
        >>> dtype_name("torch.bfloat16")
        'bfloat16'
    """
    return str(dtype).removeprefix("torch.")
