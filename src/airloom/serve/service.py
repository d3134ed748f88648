"""What the server does, apart from HTTP: models, routing, admission and generation.

:func:`build_service` turns a :class:`~airloom.serve.config.ServeConfig` into a
:class:`Service`: the engine, the router (when there are experts with routing data),
the API keys. A request is planned (:meth:`Service.plan`: which model, which expert,
one engine request per choice), admitted (:meth:`Service.admit`: at most
``max_concurrency`` generating, ``max_queue`` waiting, beyond that 429), then run.

Example:
    >>> capped_max_tokens(None, default=256, cap=1024), capped_max_tokens(9, default=5, cap=99)
    (256, 9)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airloom.backends.base import ChatRequest, ChatResponse, Message
from airloom.backends.local import LocalModelSettings
from airloom.errors import AirloomError, ConfigError
from airloom.formats.openai_wire import ChatCompletionRequest, CompletionRequest, SamplingFields
from airloom.serve.config import ServeConfig
from airloom.serve.engines.protocol import Engine
from airloom.serve.router import (
    AgentRouter,
    Decision,
    EmbeddingRouter,
    load_routing_texts,
    read_descriptions,
    routing_text,
)

__all__ = [
    "Plan",
    "RequestError",
    "Service",
    "api_keys",
    "build_engine",
    "build_router",
    "build_service",
    "capped_max_tokens",
    "default_expert",
    "expert_folders",
    "log",
    "start",
    "stop",
]

log = logging.getLogger("airloom.serve")


class RequestError(AirloomError):
    """A request the server refuses: HTTP ``status``, OpenAI error ``kind`` and ``code``."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        self.status = status
        self.kind = kind
        self.code = code
        self.param = param
        super().__init__(message)


def capped_max_tokens(asked: int | None, *, default: int, cap: int) -> int:
    """The completion limit of a request: its own, or the default; over the cap is a 400.

    Example:
        >>> capped_max_tokens(5000, default=256, cap=1024)
        Traceback (most recent call last):
        ...
        airloom.serve.service.RequestError: max_tokens 5000 is over this server's cap of 1024
    """
    if asked is None:
        return min(default, cap)
    if asked > cap:
        raise RequestError(
            f"max_tokens {asked} is over this server's cap of {cap}",
            param="max_tokens",
            code="max_tokens_over_cap",
        )
    return asked


@dataclass
class Plan:
    """One planned request: the model id echoed back, the engine model, the routing."""

    model: str
    target: str
    expert: str | None
    decision: Decision | None
    requests: list[ChatRequest]

    @property
    def routing_duration(self) -> float:
        """Seconds spent choosing the expert (0 for an explicit choice)."""
        return self.decision.seconds if self.decision else 0.0


class Service:
    """The engine, router, keys and limits of one server (see the module docstring)."""

    def __init__(
        self,
        config: ServeConfig,
        engine: Engine,
        *,
        keys: frozenset[str],
        router: EmbeddingRouter | AgentRouter | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.keys = keys
        self.router = router
        self.ready = False
        self.generating = 0
        self.waiting = 0
        self.served = 0
        self._slots = asyncio.Semaphore(config.max_concurrency)

    # -- models -----------------------------------------------------------------------

    @property
    def experts(self) -> list[str]:
        """The experts the engine serves."""
        return list(self.engine.info.experts)

    def model_ids(self) -> list[str]:
        """Every model id of ``/v1/models``: base, experts, then the routed alias."""
        ids = self.engine.info.model_ids()
        return [*ids, self.config.routed_model] if self.router is not None else ids

    def check_key(self, authorization: str | None) -> bool:
        """True when no key is required or the bearer key is one of the keys."""
        if not self.keys:
            return True
        scheme, _, key = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and key.strip() in self.keys

    # -- planning ---------------------------------------------------------------------

    async def plan(self, body: ChatCompletionRequest | CompletionRequest) -> Plan:
        """Resolve model and expert (routing when asked), and build one request per choice."""
        known = self.model_ids()
        if body.model not in known:
            raise RequestError(
                f"The model `{body.model}` does not exist; this server has: {', '.join(known)}",
                status=404,
                code="model_not_found",
                param="model",
            )
        if isinstance(body, ChatCompletionRequest):
            messages = tuple(
                Message("system" if m.role == "developer" else m.role, m.text())
                for m in body.messages
            )
            system = messages[0].content if messages[0].role == "system" else None
            user = next((m.content for m in reversed(messages) if m.role == "user"), "")
            text = routing_text(system, user)
            params: dict[str, Any] = {}
            asked = body.max_completion_tokens or body.max_tokens
        else:
            prompt = body.prompt_text()
            messages = (Message("user", prompt),)
            text = prompt
            params = {"prompt": prompt}
            asked = body.max_tokens
        max_tokens = capped_max_tokens(
            asked, default=self.config.default_max_tokens, cap=self.config.max_tokens_cap
        )
        target, decision = await self._target(body, text)
        requests = [
            ChatRequest(target, messages, {**params, **self._choice_params(body, max_tokens, i)})
            for i in range(body.n)
        ]
        expert = target if target in self.engine.info.experts else None
        return Plan(body.model, target, expert, decision, requests)

    @staticmethod
    def _choice_params(body: SamplingFields, max_tokens: int, index: int) -> dict[str, Any]:
        params = body.sampling(max_tokens)
        if body.seed is not None and index:
            params["seed"] = (body.seed + index) % 2**63  # n seeded choices must differ
        return params

    async def _target(self, body: SamplingFields, text: str) -> tuple[str, Decision | None]:
        experts = self.engine.info.experts
        if body.expert is not None:
            if body.expert not in experts:
                raise RequestError(
                    f"The expert `{body.expert}` does not exist; experts: "
                    f"{', '.join(experts) or 'none'}",
                    status=404,
                    code="expert_not_found",
                    param="expert",
                )
            return body.expert, Decision(body.expert, "explicit")
        if body.model in experts:
            return body.model, Decision(body.model, "explicit")
        if body.model == self.config.routed_model and self.router is not None:
            if isinstance(self.router, AgentRouter):
                decision = await self.router.route(text)
            else:
                decision = await asyncio.to_thread(self.router.route, text)
            return decision.expert, decision
        return self.engine.info.base, None

    # -- admission and generation -----------------------------------------------------

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """A generation slot; 503 before the engine is ready, 429 when the queue is full."""
        if not self.ready:
            raise RequestError(
                "the server is not ready (the model is loading or the server is stopping)",
                status=503,
                kind="server_error",
                code="not_ready",
            )
        if self._slots.locked() and self.waiting >= self.config.max_queue:
            raise RequestError(
                f"the server is busy ({self.generating} requests generating, "
                f"{self.waiting} waiting); retry later",
                status=429,
                kind="rate_limit_error",
                code="rate_limit_exceeded",
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.generating += 1
        try:
            yield
        finally:
            self.generating -= 1
            self.served += 1
            self._slots.release()

    async def complete(self, plan: Plan) -> list[ChatResponse]:
        """Every choice of a plan, generated concurrently (they batch in the engine)."""
        return list(await asyncio.gather(*(self.engine.complete(r) for r in plan.requests)))

    async def events(self, plan: Plan) -> AsyncGenerator[tuple[int, str | ChatResponse], None]:
        """(choice index, delta or final response) for every choice, as they come."""
        if len(plan.requests) == 1:
            async for event in self.engine.events(plan.requests[0]):
                yield 0, event
            return
        queue: asyncio.Queue[tuple[int, str | ChatResponse | BaseException | None]]
        queue = asyncio.Queue()

        async def pump(index: int, request: ChatRequest) -> None:
            try:
                async for event in self.engine.events(request):
                    await queue.put((index, event))
            except BaseException as exc:  # handed to the consumer, who re-raises it
                await queue.put((index, exc))
            finally:
                await queue.put((index, None))

        tasks = [asyncio.create_task(pump(i, r)) for i, r in enumerate(plan.requests)]
        try:
            open_streams = len(tasks)
            while open_streams:
                index, item = await queue.get()
                if item is None:
                    open_streams -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield index, item
        finally:
            for task in tasks:
                task.cancel()

    async def agent_ask(self, prompt: str) -> str:
        """One short greedy answer of the agent expert (for the agent router)."""
        request = ChatRequest(
            self.config.router.agent_expert,
            (Message("user", prompt),),
            {"temperature": 0.0, "max_tokens": 48},
        )
        return (await self.engine.complete(request)).text


# -- building -------------------------------------------------------------------------


def api_keys(config: ServeConfig) -> frozenset[str]:
    """The accepted keys (comma-separated in ``api_key_env``); empty only when allowed.

    Example:
        >>> api_keys(ServeConfig(no_auth=True))
        frozenset()
    """
    keys = frozenset(
        k.strip() for k in os.environ.get(config.api_key_env, "").split(",") if k.strip()
    )
    if config.no_auth:
        if not config.loopback():
            raise ConfigError(
                f"serving without an API key is allowed on a loopback host only, not {config.host}",
                hint=f"set {config.api_key_env} to a key, or --host 127.0.0.1",
            )
        return frozenset()
    if not keys:
        raise ConfigError(
            f"no API key: the environment variable {config.api_key_env} is empty",
            hint=f"export {config.api_key_env}=<key> (comma-separate several), "
            "or --no-auth on a loopback host",
        )
    return keys


def expert_folders(config: ServeConfig) -> dict[str, Path]:
    """The adapter folder of every expert: the LMoE folder's, then ``adapters``."""
    folders: dict[str, Path] = {}
    if config.lmoe:
        from airloom.train.experts import expert_names

        lmoe = Path(config.lmoe)
        for name in expert_names(lmoe):
            folders[name] = lmoe / "adapters" / name
    for name, folder in config.adapters.items():
        folders[name] = Path(folder)
    reserved = {config.display_base(), config.routed_model}
    clash = reserved & set(folders)
    if clash:
        raise ConfigError(
            f"an expert may not be named like the base or the routed model ({', '.join(clash)})",
            hint="rename the adapter (--adapter NAME=DIR) or set routed_model/base_name",
        )
    return folders


def default_expert(config: ServeConfig, experts: Sequence[str]) -> str:
    """The fallback expert: configured, else the LMoE split's default, else the first."""
    chosen = config.router.default_expert
    if chosen is None and config.lmoe:
        manifest = Path(config.lmoe) / "experts.json"
        with contextlib.suppress(OSError, ValueError, AttributeError):
            chosen = json.loads(manifest.read_text(encoding="utf-8")).get("default_expert")
    if chosen is None:
        chosen = "general" if "general" in experts else experts[0]
    if chosen not in experts:
        raise ConfigError(
            f"default expert '{chosen}' is not one of {', '.join(experts)}",
            hint="set router.default_expert to one of the experts",
        )
    return chosen


def build_engine(config: ServeConfig, folders: dict[str, Path]) -> Engine:
    """The engine the config asks for (not started)."""
    generation = config.generation
    settings = LocalModelSettings(
        model=config.base,
        device=generation.device,
        dtype=generation.dtype,
        threads=generation.threads,
        max_batch_size=generation.max_batch_size,
        batch_window_ms=generation.batch_window_ms,
        max_new_tokens=config.default_max_tokens,
    )
    base = config.display_base()
    if config.engine == "local":
        if folders:
            raise ConfigError(
                "the local engine serves the base model alone, but experts were given",
                hint="use --engine peft (or vllm) to serve adapters",
            )
        from airloom.serve.engines.local import LocalEngine

        return LocalEngine(settings, base_name=base, template=config.template)
    if config.engine == "peft":
        from airloom.serve.engines.peft import PeftEngine

        return PeftEngine(settings, base_name=base, adapters=folders, template=config.template)
    from airloom.serve.engines.vllm import VllmEngine

    return VllmEngine(config, base_name=base, adapters=folders)


def build_router(
    config: ServeConfig, folders: dict[str, Path], service: Service
) -> EmbeddingRouter | AgentRouter | None:
    """The router, or None when no expert can be routed to."""
    if not folders:
        return None
    fallback = default_expert(config, list(folders))
    settings = config.router
    if settings.kind == "agent":
        if settings.agent_expert not in folders:
            raise ConfigError(
                f"the agent router needs the expert '{settings.agent_expert}'",
                hint="set router.agent_expert to one of " + ", ".join(folders),
            )
        return AgentRouter(service.agent_ask, read_descriptions(folders), default=fallback)
    if not config.lmoe:
        return None
    texts = load_routing_texts(
        Path(config.lmoe), list(folders), max_samples=settings.max_samples, seed=settings.seed
    )
    if not texts:
        return None
    from airloom.vectors.embed import make_embedder

    return EmbeddingRouter(
        texts,
        make_embedder(settings.embedding_model),
        default=fallback,
        k=settings.k,
        margin=settings.margin,
        threshold=settings.threshold,
    )


def build_service(config: ServeConfig) -> Service:
    """Engine, keys and router from a config; nothing loaded yet (see :meth:`start`)."""
    keys = api_keys(config)
    folders = expert_folders(config)
    service = Service(config, build_engine(config, folders), keys=keys)
    service.router = build_router(config, folders, service)
    return service


async def start(service: Service) -> None:
    """Load the engine; the service answers requests from then on."""
    await service.engine.start()
    service.ready = True


async def stop(service: Service) -> None:
    """Refuse new requests and free the engine."""
    service.ready = False
    await service.engine.aclose()
