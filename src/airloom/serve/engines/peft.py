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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airloom.backends.base import ChatRequest
from airloom.backends.local import Job, LocalModelSettings
from airloom.formats.chat import ChatTemplate, get_template
from airloom.serve.engines.local import LocalEngine
from airloom.serve.engines.protocol import EngineInfo
from airloom.weights.adapters import check_adapter, load_adapters, read_train_info
from airloom.weights.load import LoadedWeights

__all__ = ["BASE_ADAPTER", "PeftEngine"]

BASE_ADAPTER = "__base__"


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
        model, self._expert_tokenizers = load_adapters(weights.model, self.info.experts)
        return dataclasses.replace(weights, model=model)

    def _generate_kwargs(self, jobs: Sequence[Job]) -> dict[str, Any]:
        if not self.info.experts:
            return {}
        experts = self.info.experts
        names = [
            job.request.model if job.request.model in experts else BASE_ADAPTER for job in jobs
        ]
        return {"adapter_names": names}
