"""The ``local`` engine: one transformers model in-process (the embedded model by default).

It is the local backend (one worker thread, batched generation, per-row stop strings and
streams) plus what a server needs: the prompt format of the model it serves (a named
airoboros template, else the tokenizer's own chat template) with that format's stop
strings, and a clear start-up error when the model cannot be loaded.

Example:
    >>> engine = LocalEngine(LocalModelSettings(model="embedded"), base_name="embedded")
    >>> engine.info.model_ids()
    ['embedded']
"""

from __future__ import annotations

import dataclasses

from airloom.backends.base import ChatRequest
from airloom.backends.local import GenerationParams, LocalBackend, LocalModelSettings
from airloom.errors import AirloomError, FatalBackendError
from airloom.formats.chat import ChatTemplate, get_template, render, split_system
from airloom.serve.engines.protocol import EngineInfo

__all__ = ["LocalEngine"]


class LocalEngine(LocalBackend):
    """The base model alone, in-process (see the module docstring)."""

    kind = "local"

    def __init__(
        self,
        settings: LocalModelSettings,
        *,
        base_name: str,
        template: str | None = None,
    ) -> None:
        super().__init__(settings, name=f"{self.kind}:{base_name}")
        self.info = EngineInfo(kind=self.kind, base=base_name)
        self.base_template = get_template(template) if template else None

    async def start(self) -> None:
        """Load the model now, so that the first request does not wait for it."""
        await self.load()

    def template_of(self, model: str) -> ChatTemplate | None:
        """The named prompt format of a model id, or None for the tokenizer's own template."""
        return self.base_template

    def _job_params(self, request: ChatRequest) -> GenerationParams:
        params = super()._job_params(request)
        template = None if "prompt" in request.params else self.template_of(request.model)
        if template is None:
            return params
        stops = tuple(dict.fromkeys((*params.stop, *template.stop)))
        return dataclasses.replace(params, stop=stops)

    def _prompt_text(self, request: ChatRequest) -> str:
        template = None if "prompt" in request.params else self.template_of(request.model)
        if template is None:
            return super()._prompt_text(request)
        system, turns = split_system([m.to_dict() for m in request.messages])
        try:
            return render(template, system, turns)
        except AirloomError as exc:
            raise FatalBackendError(exc.message, hint=exc.hint) from exc
