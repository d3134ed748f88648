"""The one async scheduler every teacher call goes through.

Order of a call: request cache (a hit is free) → budget check → global adaptive limit
and per-endpoint limit → the backend, retried on transient failures (429 honouring
Retry-After, 5xx, connection errors, timeouts) with exponential backoff and jitter and
a bounded number of attempts → usage, cost and the response committed to the cache at
once (it has been paid for).

401/403/404 raise :class:`FatalBackendError` (the run stops); a context-length error
raises :class:`ContextLengthError` (the item is skipped); budgets raise
:class:`BudgetExceeded` before any call that would exceed them.

An error the endpoint repeats word for word (the same status and message, not a
generic "server error") on ``SAME_ERROR_LIMIT`` attempts in a row, with no success in
between, will not change by retrying — a bad parameter, whatever the status code — so
it stops the run at once with the server's message and what to change. An endpoint
that answered before and then cannot be reached at all pauses its calls: they wait
("waiting for ENDPOINT since …", in ``Spending.waiting`` and an ``endpoint_waiting``
event) and go on when it answers again, so an outage never fails a round.

Example:
    >>> limiter = AdaptiveLimiter(8, minimum=1)
    >>> limiter.on_rate_limited(now=100.0); limiter.limit
    4.0
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from airloom.backends.base import Backend, ChatRequest, ChatResponse, Usage
from airloom.config import BudgetConfig, Price, RetryConfig
from airloom.errors import (
    AirloomError,
    BackendError,
    BudgetExceeded,
    ContextLengthError,
    EndpointUnreachable,
    FatalBackendError,
    RateLimitedError,
    TransientBackendError,
)
from airloom.scheduling.events import EventSink, NullSink
from airloom.store.database import CachedCall, Totals

__all__ = [
    "SAME_ERROR_LIMIT",
    "AdaptiveLimiter",
    "Budget",
    "CacheGet",
    "CachePut",
    "Endpoint",
    "Scheduler",
    "Spending",
    "backoff_delay",
    "call_cost",
    "change_hint",
    "describe_params",
    "error_signature",
]

#: Attempts in a row that fail with the very same specific error before the run stops.
SAME_ERROR_LIMIT = 3

#: Server messages that say nothing about the request: such errors may pass with time.
_GENERIC = re.compile(
    r"^\W*(internal server error|server[ _]error|bad gateway|service unavailable|"
    r"gateway time-?out|time-?out|overloaded|too many requests|error|unknown error|"
    r"http \d+)?\W*$|overload|try again|temporar|unavailable|capacity|busy|"
    r"rate limit|timed? ?out",
    re.IGNORECASE,
)


def error_signature(exc: BackendError) -> tuple[int | None, str] | None:
    """What identifies an error that retrying cannot change, or None when it may pass.

    Example:
        >>> error_signature(BackendError("x", status=500, body='{"error": "top_p too big"}'))
        (500, 'top_p too big')
        >>> error_signature(TransientBackendError("x", status=500, body="server_error")) is None
        True
    """
    if isinstance(exc, RateLimitedError | EndpointUnreachable | ContextLengthError):
        return None
    from airloom.backends.openai import server_message

    said = server_message(exc.body or "")
    if exc.status is None or not said or _GENERIC.search(said) or said.startswith("<"):
        return None
    return exc.status, said


def change_hint(message: str, params: Mapping[str, Any]) -> str:
    """What to change for an error that names one of the request's parameters.

    Example:
        >>> change_hint("top_p must be <= 1", {"top_p": 1.5, "temperature": 1.0})
        "fix api_params 'top_p' (sent: 1.5) in the config (null leaves it out), then run again"
    """
    named = [key for key in params if re.search(rf"\b{re.escape(key)}\b", message)]
    if named:
        sent = ", ".join(f"'{key}' (sent: {params[key]!r})" for key in named)
        return f"fix api_params {sent} in the config (null leaves it out), then run again"
    return (
        "retrying will not change it: fix the request (api_params, model, prompt templates) "
        "or the endpoint, then run again to resume"
    )


class AdaptiveLimiter:
    """AIMD concurrency limit: halve on a 429 storm (once per cooldown), +1 per window."""

    def __init__(
        self, maximum: int, *, minimum: int = 1, adaptive: bool = True, cooldown: float = 2.0
    ) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.adaptive = adaptive
        self.cooldown = cooldown
        self.limit = float(maximum)
        self.in_flight = 0
        self.paused = False
        self._successes = 0
        self._last_cut = -1e9
        self._condition: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    async def acquire(self) -> None:
        """Wait for a slot under the current limit."""
        condition = self._cond()
        async with condition:
            await condition.wait_for(lambda: not self.paused and self.in_flight < int(self.limit))
            self.in_flight += 1

    def pause(self) -> None:
        """Hand out no new slot (a stop: the calls in flight finish, no new one starts)."""
        self.paused = True

    async def release(self) -> None:
        """Give a slot back."""
        condition = self._cond()
        async with condition:
            self.in_flight -= 1
            condition.notify_all()

    def on_success(self) -> None:
        """Additive increase: +1 after a window of ``limit`` successes."""
        if not self.adaptive or self.limit >= self.maximum:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self._successes = 0
            self.limit = min(float(self.maximum), self.limit + 1)
            if self._condition is not None:
                asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        condition = self._cond()
        async with condition:
            condition.notify_all()

    def on_rate_limited(self, now: float | None = None) -> None:
        """Multiplicative decrease, at most once per cooldown (one storm = one cut)."""
        if not self.adaptive:
            return
        now = time.monotonic() if now is None else now
        if now - self._last_cut < self.cooldown:
            return
        self._last_cut = now
        self._successes = 0
        self.limit = max(float(self.minimum), self.limit / 2)


def backoff_delay(
    attempt: int, initial: float, maximum: float, *, jitter: float = 1.0, rng: Any = random
) -> float:
    """Exponential backoff with additive jitter: ``initial * 2**(attempt-1) + U(0, jitter)``,
    capped at ``maximum``.

    Example:
        >>> backoff_delay(3, 1.0, 60.0, jitter=0.0)
        4.0
        >>> backoff_delay(10, 1.0, 5.0)
        5.0
    """
    noise: float = rng.uniform(0.0, jitter)
    delay = initial * 2.0 ** max(0, attempt - 1) + noise
    return max(0.0, min(delay, maximum))


@dataclass
class Spending:
    """Live totals of teacher calls, starting from what the store already holds."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cache_hits: int = 0
    retries: int = 0
    rate_limited: int = 0
    in_flight: int = 0
    reserved: int = 0
    #: Endpoints that cannot be reached now, with the time (epoch) they went away.
    waiting: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_totals(cls, totals: Totals) -> Spending:
        """Start from the store's totals (budgets span every run of a store)."""
        return cls(
            requests=totals.requests,
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            cost=totals.cost,
        )

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def call_cost(prices: dict[str, Price], model: str, usage: Usage) -> float:
    """Cost of one call from per-million prices (0 for models without a price).

    Example:
        >>> call_cost({"m": Price(input=1.0, output=2.0)}, "m", Usage(1_000_000, 500_000))
        2.0
    """
    price = prices.get(model)
    if price is None:
        return 0.0
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6


@dataclass
class Budget:
    """Limits checked before every call; reserved (queued or in-flight) calls count."""

    config: BudgetConfig
    max_tokens: int | None
    spending: Spending = field(default_factory=Spending)

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` if one more call could exceed a limit."""
        spent = self.spending
        if (
            self.config.max_requests is not None
            and spent.requests + spent.reserved >= self.config.max_requests
        ):
            raise BudgetExceeded(f"request budget of {self.config.max_requests} calls is spent")
        if self.max_tokens is not None and spent.tokens >= self.max_tokens:
            raise BudgetExceeded(f"token budget of {self.max_tokens} tokens is spent")
        if self.config.max_cost is not None and spent.cost >= self.config.max_cost:
            raise BudgetExceeded(f"cost budget of {self.config.max_cost} is spent")


CacheGet = Callable[[str], Awaitable[CachedCall | None]]
CachePut = Callable[[str, CachedCall, str, str], Awaitable[None]]


@dataclass
class Endpoint:
    """A backend with its own concurrency limit."""

    name: str
    backend: Backend
    semaphore: asyncio.Semaphore


class Scheduler:
    """Runs teacher calls with caching, budgets, limits and retries (module docstring)."""

    def __init__(
        self,
        *,
        limiter: AdaptiveLimiter,
        retry: RetryConfig,
        budget: Budget,
        prices: dict[str, Price],
        cache_get: CacheGet,
        cache_put: CachePut,
        events: EventSink | None = None,
    ) -> None:
        self.events = events or NullSink()
        self.limiter = limiter
        self.retry = retry
        self.budget = budget
        self.prices = prices
        self.spending = budget.spending
        self._cache_get = cache_get
        self._cache_put = cache_put
        self.consecutive_failures = 0
        self.fatal: FatalBackendError | None = None
        #: Set when the run stops: every new call raises it (calls in flight finish).
        self.refusal: AirloomError | None = None
        self._answered: set[str] = set()
        self._same_error: tuple[tuple[int | None, str] | None, int] = (None, 0)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.backoff_max)
        return backoff_delay(
            state.attempt_number, self.retry.backoff_initial, self.retry.backoff_max
        )

    def _before_sleep(self, state: RetryCallState) -> None:
        self.spending.retries += 1

    async def _attempt(self, endpoint: Endpoint, request: ChatRequest) -> ChatResponse:
        if self.fatal is not None:
            raise self.fatal
        if self.refusal is not None:
            raise self.refusal
        async with endpoint.semaphore:
            await self.limiter.acquire()
            self.spending.in_flight += 1
            try:
                response = await asyncio.wait_for(
                    endpoint.backend.complete(request), timeout=self.retry.timeout
                )
            except asyncio.TimeoutError as exc:
                raise TransientBackendError(
                    f"{endpoint.name} did not answer within {self.retry.timeout:.0f} s"
                ) from exc
            except RateLimitedError:
                self.spending.rate_limited += 1
                self.limiter.on_rate_limited()
                raise
            except BackendError as exc:
                self._note_failure(endpoint, request, exc)
                raise
            finally:
                self.spending.in_flight -= 1
                await self.limiter.release()
        self.limiter.on_success()
        self._same_error = (None, 0)
        self._answered.add(endpoint.name)
        since = self.spending.waiting.pop(endpoint.name, None)
        if since is not None:
            self.events.emit("endpoint_back", endpoint=endpoint.name, since=since)
        return response

    def _note_failure(self, endpoint: Endpoint, request: ChatRequest, exc: BackendError) -> None:
        """Stop the run when the endpoint keeps giving the very same specific error."""
        signature = error_signature(exc)
        last, count = self._same_error
        count = count + 1 if signature is not None and signature == last else 1
        self._same_error = (signature, count)
        if signature is None or count < SAME_ERROR_LIMIT or isinstance(exc, FatalBackendError):
            return
        status, said = signature
        self.fatal = FatalBackendError(
            f"{endpoint.name} answers every call with HTTP {status}: {said}",
            status=status,
            body=exc.body,
            hint=change_hint(said, request.params),
        )
        raise self.fatal from exc

    async def _wait_for(self, endpoint: Endpoint, exc: EndpointUnreachable) -> None:
        """Pause one call while its endpoint is away (a stop ends the pause)."""
        if endpoint.name not in self.spending.waiting:
            since = self.spending.waiting[endpoint.name] = time.time()
            self.events.emit("endpoint_waiting", endpoint=endpoint.name, since=since)
        deadline = time.monotonic() + max(0.05, min(5.0, self.retry.backoff_max))
        while time.monotonic() < deadline and endpoint.name in self.spending.waiting:
            if self.fatal is not None or self.refusal is not None:
                raise self.fatal or self.refusal or exc
            await asyncio.sleep(0.05)

    def _retryable(self, endpoint: Endpoint, exc: BaseException) -> bool:
        if isinstance(exc, EndpointUnreachable) and endpoint.name in self._answered:
            return False  # an outage: the call waits for the endpoint instead
        return isinstance(exc, TransientBackendError)

    async def _call_until_answered(self, endpoint: Endpoint, request: ChatRequest) -> ChatResponse:
        """Retried attempts; while an endpoint that answered before is away, wait for it."""
        while True:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.retry.max_attempts),
                wait=self._wait,
                retry=retry_if_exception(lambda e: self._retryable(endpoint, e)),
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                response: ChatResponse = await retrying(self._attempt, endpoint, request)
                return response
            except EndpointUnreachable as exc:
                if endpoint.name not in self._answered:
                    raise
                await self._wait_for(endpoint, exc)

    async def call(self, endpoint: Endpoint, request: ChatRequest, cache_key: str) -> CachedCall:
        """One teacher call, from the cache when this exact call completed before."""
        cached = await self._cache_get(cache_key)
        if cached is not None:
            self.spending.cache_hits += 1
            return cached
        if self.fatal is not None:
            raise self.fatal
        if self.refusal is not None:
            raise self.refusal
        self.budget.check()
        self.spending.reserved += 1
        try:
            response = await self._call_until_answered(endpoint, request)
            self.spending.requests += 1
        except FatalBackendError as exc:
            self.fatal = exc
            raise
        except ContextLengthError:
            raise
        except BackendError as exc:
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.retry.max_consecutive_failures:
                self.fatal = FatalBackendError(
                    f"{self.consecutive_failures} calls to {endpoint.name} failed in a row; "
                    f"the last: {exc.message}",
                    hint="check that the endpoint is up and healthy, then run again to resume",
                )
                raise self.fatal from None
            raise
        finally:
            self.spending.reserved -= 1
        self.consecutive_failures = 0
        cost = call_cost(self.prices, request.model, response.usage)
        self.spending.prompt_tokens += response.usage.prompt_tokens
        self.spending.completion_tokens += response.usage.completion_tokens
        self.spending.cost += cost
        call = CachedCall(
            text=response.text,
            finish_reason=response.finish_reason,
            prompt_tokens=response.usage.prompt_tokens,
            completion_tokens=response.usage.completion_tokens,
            cost=cost,
            model=response.model,
        )
        await self._cache_put(cache_key, call, request.model, endpoint.name)
        return call


def describe_params(params: dict[str, Any]) -> dict[str, Any]:
    """Sampling parameters as stored in provenance (None values dropped)."""
    return {key: value for key, value in sorted(params.items()) if value is not None}
