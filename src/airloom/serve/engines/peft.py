"""The ``peft`` engine: one base model plus every expert's LoRA adapter, in-process.

All adapters are loaded once into one ``PeftModel``. Concurrent requests are generated
together as one batch even when they name different experts: PEFT applies each row's
adapter (``generate(adapter_names=[...])``, ``"__base__"`` for the plain base), so there
is no global lock and no ``set_adapter`` switching. Each expert is prompted in the format
its training recorded (``airloom-train.json``), else its tokenizer's chat template.

Example:
    >>> engine = PeftEngine(LocalModelSettings(model="/m"), base_name="m", adapters={})
    >>> engine.info.kind
    'peft'
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airloom.backends.base import ChatRequest
from airloom.backends.local import Job, LocalModelSettings
from airloom.errors import ModelFileError
from airloom.formats.chat import ChatTemplate, get_template
from airloom.serve.engines.local import LocalEngine
from airloom.serve.engines.protocol import EngineInfo
from airloom.train.adapter import ADAPTER_CONFIG, check_adapter_dir, read_train_info
from airloom.weights.load import LoadedWeights, load_tokenizer

BASE_ADAPTER = "__base__"
_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


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
    """The largest LoRA rank among adapter folders (0 when there are none)."""
    ranks = [int(check_adapter(folder).get("r") or 0) for folder in folders.values()]
    return max(ranks, default=0)


class PeftEngine(LocalEngine):
    """Base plus adapters, mixed-adapter batches (see the module docstring)."""

    kind = "peft"

    def __init__(
        self,
        settings: LocalModelSettings,
        *,
        base_name: str,
        adapters: Mapping[str, Path],
        template: str | None = None,
    ) -> None:
        super().__init__(settings, base_name=base_name, template=template)
        self.info = EngineInfo(kind=self.kind, base=base_name, experts=dict(adapters))
        self._templates: dict[str, ChatTemplate | None] = {}
        self._expert_tokenizers: dict[str, Any] = {}

    async def start(self) -> None:
        """Check every adapter folder first (a clear error names the bad one), then load."""
        for folder in self.info.experts.values():
            check_adapter(folder)
        for name, folder in self.info.experts.items():
            info = read_train_info(folder)
            self._templates[name] = get_template(info.template) if info else None
        await super().start()

    def template_of(self, model: str) -> ChatTemplate | None:
        if model in self.info.experts:
            return self._templates.get(model) or self.base_template
        return self.base_template

    def _template_tokenizer(self, request: ChatRequest) -> Any:
        # an expert's own tokenizer carries the chat template it was trained in
        return self._expert_tokenizers.get(request.model) or super()._template_tokenizer(request)

    def _load_weights(self, dtype: Any) -> LoadedWeights:
        weights = super()._load_weights(dtype)
        if not self.info.experts:
            return weights
        from peft import PeftModel

        model = weights.model
        for index, (name, folder) in enumerate(self.info.experts.items()):
            try:
                if index == 0:
                    model = PeftModel.from_pretrained(model, str(folder), adapter_name=name)
                else:
                    model.load_adapter(str(folder), adapter_name=name)
            except Exception as exc:
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                info = read_train_info(folder)
                trained_on = f" (it was trained on {info.base_model})" if info else ""
                raise ModelFileError(
                    f"cannot load the adapter '{name}' from {folder}{trained_on}: {first_line}",
                    hint="check that the adapter was trained on this base model",
                ) from exc
            if (folder / "tokenizer_config.json").is_file():
                self._expert_tokenizers[name] = load_tokenizer(folder, pad=False)
        return dataclasses.replace(weights, model=model)

    def _generate_kwargs(self, jobs: Sequence[Job]) -> dict[str, Any]:
        if not self.info.experts:
            return {}
        experts = self.info.experts
        names = [
            job.request.model if job.request.model in experts else BASE_ADAPTER for job in jobs
        ]
        return {"adapter_names": names}
