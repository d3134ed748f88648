"""A curation session: a store, its curation table, and the engine's scheduler.

Curation calls (the judge) go through the same :class:`Scheduler` as generation: the
store's request cache (a call made before is free), budgets, the adaptive concurrency
limit, retries with backoff and Retry-After, and a bounded number of failures. The
backend is built from the config with the same factory the engine uses, so the
embedded local model is the default teacher and ``--endpoint`` picks a named one.

Spending shown and budgeted is that of this kind of curation call in this store (all
runs), kept in the curation table; every call made is also in the request cache.

Example (what ``airloom judge`` does)::

    async with CurationSession(config, "run.airloom.db") as session:
        call, fresh = await session.call(request, request.fingerprint("judge"))
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from airloom.backends.base import Backend, ChatRequest
from airloom.backends.factory import (
    build_default_backend,
    build_endpoint_backend,
    describe_default,
)
from airloom.config import Config
from airloom.curate.ledger import Ledger
from airloom.errors import ConfigError
from airloom.scheduling.scheduler import AdaptiveLimiter, Budget, Endpoint, Scheduler, Spending
from airloom.scheduling.stats import RunStats
from airloom.store.database import CachedCall, Store

__all__ = ["CurationSession", "T", "judge_params"]

T = TypeVar("T")


def judge_params(config: Config) -> dict[str, Any]:
    """Sampling parameters of judge calls: deterministic and short unless ``scoring`` says.

    Example:
        >>> judge_params(Config())
        {'temperature': 0.0, 'max_tokens': 200}
    """
    params: dict[str, Any] = {"temperature": 0.0, "max_tokens": 200}
    params.update(
        {k: v for k, v in config.scoring.api_params.model_dump().items() if v is not None}
    )
    return params


class CurationSession:
    """See the module docstring."""

    def __init__(
        self,
        config: Config,
        store_path: str | Path,
        *,
        kind: str = "judge",
        base_dir: Path | None = None,
        endpoint: str | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.config = config
        self.store_path = Path(store_path)
        self.kind = kind
        self.base_dir = base_dir
        self.endpoint_name = endpoint
        self._backend_override = backend
        self.run_id = f"{kind}-{uuid.uuid4().hex[:10]}"
        self.stats = RunStats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="airloom-curate-db")

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store or ledger method on the session's database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _backend(self) -> tuple[Backend, str, str, int]:
        config = self.config
        if self.endpoint_name is not None:
            section = config.endpoints.get(self.endpoint_name)
            if section is None:
                known = ", ".join(sorted(config.endpoints)) or "none defined"
                raise ConfigError(
                    f"no endpoint '{self.endpoint_name}' in the config ({known})",
                    hint="add it under 'endpoints' or drop --endpoint",
                )
            model = section.model or config.model
            if not model:
                raise ConfigError(f"endpoint '{self.endpoint_name}' has no model")
            backend = self._backend_override or build_endpoint_backend(
                self.endpoint_name, section, config.retry.timeout
            )
            return backend, self.endpoint_name, model, section.capacity
        _, name, model = describe_default(config)
        backend = self._backend_override or build_default_backend(config, self.base_dir)
        return backend, name, model, config.concurrency.max_requests

    async def __aenter__(self) -> CurationSession:
        path = self.store_path
        self.store = await self.db(lambda: Store.open(path, create=False))
        self.ledger = await self.db(Ledger.open, path)
        calls, prompt, completion, cost = await self.db(self.ledger.spending, self.kind)
        self.stats.resume_from(
            Spending(requests=calls, prompt_tokens=prompt, completion_tokens=completion, cost=cost)
        )
        backend, name, self.model, limit = self._backend()
        self.backend = backend
        self.stats.watch(backend)
        self.endpoint = Endpoint(name, backend, asyncio.Semaphore(limit))
        config = self.config
        self.scheduler = Scheduler(
            limiter=AdaptiveLimiter(
                limit, minimum=config.concurrency.min_requests, adaptive=config.concurrency.adaptive
            ),
            retry=config.retry,
            budget=Budget(config.budget, config.token_budget(), self.stats.spending),
            prices=config.budget.prices,
            cache_get=lambda key: self.db(self.store.cache_get, key),
            cache_put=self._cache_put,
        )
        record = json.dumps({"curation": self.kind, "model": self.model, "endpoint": name})
        await self.db(self.store.start_run, self.run_id, 0, record)
        return self

    async def _cache_put(self, key: str, call: CachedCall, model: str, endpoint: str) -> None:
        await self.db(
            lambda: self.store.cache_put(
                key, call, model=model, endpoint=endpoint, run_id=self.run_id
            )
        )

    async def call(self, request: ChatRequest, key: str) -> tuple[CachedCall, bool]:
        """One call through the scheduler; ``fresh`` is False when it came from the cache."""
        cached = await self.db(self.store.cache_get, key)
        if cached is not None:
            self.stats.spending.cache_hits += 1
            return cached, False
        return await self.scheduler.call(self.endpoint, request, key), True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = self.stats.status if exc is None else "failed"
        if isinstance(exc, asyncio.CancelledError):
            status = "interrupted"
        try:
            await self.backend.aclose()
            await self.db(self.store.finish_run, self.run_id, status)
        finally:
            await self.db(self.store.close)
            await self.db(self.ledger.close)
            self._executor.shutdown(wait=True)
