"""Request parameters of local generation: OpenAI names, validated and normalised.

Pure: no torch. See :mod:`airloom.backends.local` for what each parameter means.

Example:
    >>> p = parse_generation_params({"temperature": 0.5, "stop": ["\\n\\n"]})
    >>> p.do_sample, p.stop
    (True, ('\\n\\n',))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airloom.errors import FatalBackendError

__all__ = ["GenerationParams", "parse_generation_params"]


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """The sampling parameters of one request, validated and normalised."""

    do_sample: bool
    temperature: float
    top_p: float
    top_k: int
    max_tokens: int | None
    stop: tuple[str, ...]
    seed: int | None
    presence_penalty: float
    frequency_penalty: float
    repetition_penalty: float

    def batch_key(self) -> tuple[Any, ...] | None:
        """What rows of one batch must share; ``None`` for a request that runs alone.

        Example:
            >>> parse_generation_params({"temperature": 0}).batch_key()
            ('greedy', 1.0)
            >>> parse_generation_params({"temperature": 0.7, "seed": 1}).batch_key() is None
            True
        """
        if not self.do_sample:
            return ("greedy", self.repetition_penalty)
        if self.seed is not None:
            return None
        return ("sample", self.temperature, self.top_p, self.top_k, self.repetition_penalty)


def _number(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FatalBackendError(
            f"request parameter {key}={value!r} is not a finite number",
            hint=f"fix '{key}' in api_params",
        )
    return float(value)


def parse_generation_params(params: Mapping[str, Any]) -> GenerationParams:
    """Validate OpenAI-style request parameters for local generation.

    Raises :class:`~airloom.errors.FatalBackendError` for values no retry can fix.

    Example:
        >>> p = parse_generation_params({"temperature": 0, "max_tokens": 8, "stop": "\\n"})
        >>> (p.do_sample, p.max_tokens, p.stop)
        (False, 8, ('\\n',))
    """
    temperature = _number(params, "temperature", 1.0)
    top_p = _number(params, "top_p", 1.0)
    top_k = int(_number(params, "top_k", 0))
    if temperature < 0:
        raise FatalBackendError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise FatalBackendError(f"top_p must be in (0, 1], got {top_p}")
    if top_k < 0:
        raise FatalBackendError(f"top_k must be >= 0 (0 = off), got {top_k}")
    n = int(_number(params, "n", 1))
    if n != 1:
        raise FatalBackendError(
            f"the local backend returns one choice per request, n={n} was asked",
            hint="send n separate requests (each with its own seed) instead",
        )
    max_tokens_value = params.get("max_tokens", params.get("max_completion_tokens"))
    max_tokens: int | None = None
    if max_tokens_value is not None:
        max_tokens = int(_number({"max_tokens": max_tokens_value}, "max_tokens", 0))
        if max_tokens < 1:
            raise FatalBackendError(f"max_tokens must be >= 1, got {max_tokens_value!r}")
    stop_value = params.get("stop")
    if stop_value is None:
        stop: tuple[str, ...] = ()
    elif isinstance(stop_value, str):
        stop = (stop_value,)
    elif isinstance(stop_value, (list, tuple)) and all(isinstance(s, str) for s in stop_value):
        stop = tuple(stop_value)
    else:
        raise FatalBackendError(f"stop must be a string or a list of strings, got {stop_value!r}")
    stop = tuple(dict.fromkeys(s for s in stop if s))
    seed_value = params.get("seed")
    seed = None if seed_value is None else int(_number(params, "seed", 0))
    repetition_penalty = _number(params, "repetition_penalty", 1.0)
    if repetition_penalty <= 0:
        raise FatalBackendError(f"repetition_penalty must be > 0, got {repetition_penalty}")
    return GenerationParams(
        do_sample=temperature > 0,
        temperature=temperature if temperature > 0 else 1.0,
        top_p=top_p,
        top_k=top_k,
        max_tokens=max_tokens,
        stop=stop,
        seed=seed,
        presence_penalty=_number(params, "presence_penalty", 0.0),
        frequency_penalty=_number(params, "frequency_penalty", 0.0),
        repetition_penalty=repetition_penalty,
    )
