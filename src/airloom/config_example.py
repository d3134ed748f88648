"""Render a documented example config from the config schema itself (never drifts).

Every key appears with its default and a one-line explanation; every registered
instructor appears with its own knobs.

Example:
    >>> text = render_example()
    >>> "min_docsearch_score" in text and "instructors:" in text
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from airloom.config import Config, InstructorConfig

__all__ = ["EXAMPLE_COUNTS", "render_example", "render_serve_example", "render_train_example"]

#: Small counts so that the example runs in minutes on the embedded model.
EXAMPLE_COUNTS = {"general": 10, "contextual": 5, "coding": 10}

_HEADER = """\
# airloom configuration. Every key is shown with its default; delete what you do not need.
# Validate with `airloom config check FILE`; override any key with --set dotted.key=value.
#
# Teacher: with no base_url the embedded local model (Qwen2.5-Coder-0.5B-Instruct) is used.
# For an OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, Ollama, TGI):
#   base_url: http://127.0.0.1:8000/v1
#   model: my-model
#   api_key_env: OPENAI_API_KEY
# For several replicas of one teacher (a pool: each call to the least busy replica, a
# failing one rested and its calls moved to the others):
#   endpoint: teacher
#   endpoints:
#     teacher:
#       model: my-model
#       base_urls: [http://10.0.0.1:8000/v1, http://10.0.0.2:8000/v1]
#       max_concurrency: 16          # per replica
#   concurrency: {max_requests: 32}  # the whole run
#
# Dedup thresholds: min_docsearch_score t is the original's squared L2 distance between
# unit vectors; an instruction is a duplicate when cosine >= 1 - t/2 (0.2 -> 0.9,
# 0.1 -> 0.95, 0.02 -> 0.99). Per instructor, similarity_threshold takes a cosine directly.
"""


def _scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return dumped.strip().removesuffix("...").strip()


def _is_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _render_model(model: type[BaseModel], values: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for name, field in model.model_fields.items():
        if name == "instructors":
            continue
        if field.description:
            lines.append(f"{pad}# {field.description}")
        value = values.get(name)
        nested = _is_model(field.annotation)
        if nested is not None and isinstance(value, dict):
            lines.append(f"{pad}{name}:")
            lines.extend(_render_model(nested, value, indent + 2))
        elif isinstance(value, list) and value and any(len(str(v)) > 30 for v in value):
            lines.append(f"{pad}{name}:")
            lines.extend(f"{pad}  - {_scalar(item)}" for item in value)
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}")
    return lines


def render_example(instructors: Mapping[str, type[InstructorConfig]] | None = None) -> str:
    """The example config as YAML text with comments."""
    if instructors is None:
        from airloom.instructors.catalog import section_models

        instructors = section_models()
    config = Config()
    lines = [_HEADER]
    lines.extend(_render_model(Config, config.model_dump(mode="json"), 0))
    lines.append(
        "# Per-category sections; a category that is absent (or count: 0) is not generated."
    )
    lines.append("instructors:")
    for name in sorted(instructors, key=lambda n: (n not in EXAMPLE_COUNTS, n)):
        model = instructors[name]
        section = model().model_dump(mode="json")
        section["count"] = EXAMPLE_COUNTS.get(name, 0)
        lines.append(f"  {name}:")
        lines.extend(_render_model(model, section, 4))
    return "\n".join(lines) + "\n"


_TRAIN_HEADER = """\
# airloom training config (`airloom train --config train.yaml`). Every key is shown with
# its default; delete what you do not need; override any key with --set dotted.key=value.
# 'preset: lmoe' fills in the original LMoE expert recipe for every key NOT set here:
# with a preset, delete the keys you want it to decide.
# Multi-GPU / multi-node: the same command under torchrun or accelerate launch
# (examples/accelerate-*.yaml).
"""


def render_train_example() -> str:
    """The training config example as YAML text with comments.

    Example:
        >>> text = render_train_example()
        >>> "too_long: skip" in text and "lora:" in text
        True
    """
    from airloom.train.config import TrainConfig

    config = TrainConfig(data=["run.airloom.db"])
    lines = [_TRAIN_HEADER]
    lines.extend(_render_model(TrainConfig, config.model_dump(mode="json"), 0))
    return "\n".join(lines) + "\n"


_SERVE_HEADER = """\
# airloom server config (`airloom serve --config serve.yaml`). Every key is shown with its
# default; delete what you do not need; override any key with --set dotted.key=value.
# Clients send the key from api_key_env as 'Authorization: Bearer <key>'.
"""


def render_serve_example() -> str:
    """The server config example as YAML text with comments.

    Example:
        >>> text = render_serve_example()
        >>> "routed_model: lmoe" in text and "router:" in text
        True
    """
    from airloom.serve.config import ServeConfig

    lines = [_SERVE_HEADER]
    lines.extend(_render_model(ServeConfig, ServeConfig().model_dump(mode="json"), 0))
    return "\n".join(lines) + "\n"
