"""Scheduler pieces: adaptive limit, cost, budgets, Retry-After, HTTP error classes, retries."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random

import pytest

from airloom.backends.base import ChatRequest, ChatResponse, Message, Usage
from airloom.backends.openai import classify_http_error, parse_completion, parse_retry_after
from airloom.config import BudgetConfig, Price, RetryConfig
from airloom.errors import (
    BackendError,
    BudgetExceeded,
    ContextLengthError,
    EndpointUnreachable,
    FatalBackendError,
    RateLimitedError,
    TransientBackendError,
)
from airloom.scheduling.scheduler import (
    SAME_ERROR_LIMIT,
    AdaptiveLimiter,
    Budget,
    Endpoint,
    Scheduler,
    Spending,
    backoff_delay,
    call_cost,
    describe_params,
)
from airloom.store.database import CachedCall, Totals

# ---- AdaptiveLimiter ---------------------------------------------------------------------


def test_cut_once_per_cooldown() -> None:
    limiter = AdaptiveLimiter(16, minimum=3, cooldown=2.0)
    limiter.on_rate_limited(now=100.0)
    assert limiter.limit == 8
    limiter.on_rate_limited(now=101.0)  # same storm
    limiter.on_rate_limited(now=101.9)
    assert limiter.limit == 8
    limiter.on_rate_limited(now=102.0)
    assert limiter.limit == 4
    limiter.on_rate_limited(now=110.0)
    assert limiter.limit == 3  # floor
    limiter.on_rate_limited(now=120.0)
    assert limiter.limit == 3


def test_additive_recovery_up_to_max() -> None:
    limiter = AdaptiveLimiter(6, cooldown=0.0)
    limiter.on_rate_limited(now=1.0)
    assert limiter.limit == 3
    for _ in range(2):
        limiter.on_success()
    assert limiter.limit == 3  # a window is `limit` successes
    limiter.on_success()
    assert limiter.limit == 4
    for _ in range(4 + 5 + 6 * 3):
        limiter.on_success()
    assert limiter.limit == 6  # never above the maximum


def test_not_adaptive_never_changes() -> None:
    limiter = AdaptiveLimiter(5, adaptive=False)
    limiter.on_rate_limited(now=10.0)
    limiter.on_success()
    assert limiter.limit == 5


def test_minimum_is_capped_by_maximum() -> None:
    assert AdaptiveLimiter(2, minimum=10).minimum == 2


def test_acquire_blocks_at_the_limit_and_release_wakes() -> None:
    async def scenario() -> list[str]:
        limiter = AdaptiveLimiter(2)
        events: list[str] = []
        await limiter.acquire()
        await limiter.acquire()
        assert limiter.in_flight == 2

        async def third() -> None:
            await limiter.acquire()
            events.append("third in")

        task = asyncio.create_task(third())
        await asyncio.sleep(0.02)
        events.append("still waiting" if not task.done() else "did not wait")
        await limiter.release()
        await asyncio.wait_for(task, 1)
        assert limiter.in_flight == 2
        return events

    assert asyncio.run(scenario()) == ["still waiting", "third in"]


def test_cut_limit_blocks_new_acquires_until_below() -> None:
    async def scenario() -> bool:
        limiter = AdaptiveLimiter(4, cooldown=0.0)
        for _ in range(3):
            await limiter.acquire()
        limiter.on_rate_limited(now=5.0)  # limit 2, three in flight
        task = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.02)
        blocked = not task.done()
        await limiter.release()
        await limiter.release()  # in flight 1 < 2
        await asyncio.wait_for(task, 1)
        return blocked

    assert asyncio.run(scenario())


def test_recovery_wakes_waiters() -> None:
    async def scenario() -> None:
        limiter = AdaptiveLimiter(2, cooldown=0.0)
        limiter.on_rate_limited(now=1.0)  # limit 1
        await limiter.acquire()
        task = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.01)
        assert not task.done()
        limiter.on_success()  # limit 2: the waiter may go without any release
        await asyncio.wait_for(task, 1)
        assert limiter.in_flight == 2

    asyncio.run(scenario())


# ---- cost and budgets --------------------------------------------------------------------
def test_call_cost() -> None:
    prices = {"big": Price(input=2.5, output=10.0)}
    assert call_cost(prices, "big", Usage(1_000_000, 0)) == 2.5
    assert call_cost(prices, "big", Usage(200_000, 100_000)) == pytest.approx(1.5)
    assert call_cost(prices, "unpriced", Usage(10**9, 10**9)) == 0.0


def budget(**kwargs: object) -> Budget:
    max_tokens = kwargs.pop("max_tokens", None)
    return Budget(BudgetConfig(**kwargs), max_tokens)  # type: ignore[arg-type]


def test_budget_request_limit_counts_reserved_calls() -> None:
    b = budget(max_requests=3)
    b.spending.requests = 2
    b.check()
    b.spending.reserved = 1  # queued or in flight: counted before it is sent
    with pytest.raises(BudgetExceeded, match="request budget of 3"):
        b.check()


def test_budget_token_limit() -> None:
    b = budget(max_tokens=100)
    b.spending.prompt_tokens, b.spending.completion_tokens = 60, 39
    b.check()
    b.spending.completion_tokens = 40
    with pytest.raises(BudgetExceeded, match="token budget of 100"):
        b.check()


def test_budget_cost_limit() -> None:
    b = budget(max_cost=1.0)
    b.spending.cost = 0.999
    b.check()
    b.spending.cost = 1.0
    with pytest.raises(BudgetExceeded, match=r"cost budget of 1\.0"):
        b.check()


def test_no_limits_never_raise() -> None:
    b = budget()
    b.spending = Spending(requests=10**9, prompt_tokens=10**12, cost=1e9)
    b.check()


def test_spending_from_store_totals() -> None:
    spending = Spending.from_totals(Totals(5, 100, 50, 0.5))
    assert (spending.requests, spending.tokens, spending.cost) == (5, 150, 0.5)


def test_describe_params_drops_none_and_sorts() -> None:
    assert list(describe_params({"top_p": None, "temperature": 0.5, "seed": 1})) == [
        "seed",
        "temperature",
    ]


# ---- backoff ---------------------------------------------------------------------------
def test_backoff_grows_exponentially_and_is_capped() -> None:
    assert [backoff_delay(a, 0.5, 100.0, jitter=0.0) for a in range(1, 6)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
    ]
    assert backoff_delay(40, 1.0, 60.0) == 60.0
    assert backoff_delay(1, 0.0, 0.0) == 0.0  # tests and impatient configs: no sleep at all
    rng = random.Random(0)
    delays = [backoff_delay(2, 1.0, 60.0, jitter=1.0, rng=rng) for _ in range(200)]
    assert all(2.0 <= d <= 3.0 for d in delays) and len(set(delays)) > 100


# ---- Retry-After ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"RETRY-AFTER": "-3"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),  # ms wins
        ({"retry-after-ms": "soon", "Retry-After": "9"}, 9.0),  # unreadable ms falls back
        ({"Retry-After": "whenever"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    later = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now) == pytest.approx(30.0)
    earlier = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"Retry-After": earlier}, now=now) == 0.0


# ---- HTTP error classes -----------------------------------------------------------------
def classify(status: int, body: str = "", headers: dict[str, str] | None = None) -> BackendError:
    return classify_http_error(
        status, body, headers or {}, model="m1", base_url="http://h/v1", api_key_env="KEY_VAR"
    )


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_fatal_and_name_the_key(status: int) -> None:
    error = classify(status, "invalid api key")
    assert type(error) is FatalBackendError and error.status == status
    assert "KEY_VAR" in (error.hint or "") and "m1" in (error.hint or "")


def test_404_is_fatal_and_names_the_model() -> None:
    error = classify(404, "model not found")
    assert type(error) is FatalBackendError
    assert "'m1'" in error.message and "base_url" in (error.hint or "")


@pytest.mark.parametrize(
    "body",
    [
        '{"error": {"code": "context_length_exceeded"}}',
        "This model's maximum context length is 4096 tokens",
        "Input is too long for requested model.",
    ],
)
@pytest.mark.parametrize("status", [400, 413, 422])
def test_context_overflow_is_skippable(status: int, body: str) -> None:
    error = classify(status, body)
    assert type(error) is ContextLengthError and not error.retryable


def test_other_400_is_a_plain_backend_error() -> None:
    error = classify(400, "unknown parameter 'top_k'")
    assert type(error) is BackendError and not error.retryable
    assert "top_k" in error.message and "api_params" in (error.hint or "")


def test_429_is_rate_limited_with_retry_after() -> None:
    error = classify(429, "slow down", {"Retry-After": "7"})
    assert isinstance(error, RateLimitedError) and error.retryable
    assert error.retry_after == 7.0
    assert classify(429).retry_after is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_5xx_and_timeouts_are_transient(status: int) -> None:
    error = classify(status, "oops")
    assert type(error) is TransientBackendError and error.retryable and error.status == status


def test_error_body_is_kept_but_bounded() -> None:
    error = classify(500, "x" * 5000)
    assert error.body is not None and len(error.body) == 500


# ---- completion payloads ---------------------------------------------------------------
def test_parse_completion() -> None:
    data = {
        "model": "m",
        "choices": [{"message": {"content": "Hi"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": "2"},
    }
    response = parse_completion(json.dumps(data), "http://h/v1")
    assert (response.text, response.finish_reason, response.truncated) == ("Hi", "length", True)
    assert response.usage == Usage(3, 2)
    minimal = parse_completion(json.dumps({"choices": [{"message": {"content": None}}]}), "u")
    assert (minimal.text, minimal.finish_reason, minimal.usage) == ("", "stop", Usage(0, 0))


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"choices": []},
        {"choices": "nope"},
        [1, 2],
        None,
        {"choices": [None]},
    ],
)
def test_garbled_completion_is_transient(data: object) -> None:
    with pytest.raises(TransientBackendError):
        parse_completion(json.dumps(data), "http://h/v1")


@pytest.mark.parametrize(
    "usage",
    [["bad"], {"prompt_tokens": "many", "completion_tokens": 4}, "x", {"prompt_tokens": -5}],
)
def test_garbled_usage_keeps_the_text(usage: object) -> None:
    data = {"choices": [{"message": {"content": "x"}}], "usage": usage}
    response = parse_completion(json.dumps(data), "http://h/v1")
    assert response.text == "x"
    assert response.usage.prompt_tokens == 0
    assert response.usage.completion_tokens == (
        4 if isinstance(usage, dict) and "completion_tokens" in usage else 0
    )


# ---- the scheduler with a fake backend -------------------------------------------------
class FakeBackend:
    name = "fake"

    def __init__(self, outcomes: list[object]) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return ChatResponse(text=str(outcome), usage=Usage(10, 5), model=request.model)

    async def aclose(self) -> None:
        pass


def make_scheduler(
    outcomes: list[object], *, attempts: int = 4, failures: int = 25, **budget_kw: object
) -> tuple[Scheduler, FakeBackend, dict[str, CachedCall], Endpoint]:
    cache: dict[str, CachedCall] = {}

    async def get(key: str) -> CachedCall | None:
        return cache.get(key)

    async def put(key: str, call: CachedCall, model: str, endpoint: str) -> None:
        cache[key] = call

    backend = FakeBackend(outcomes)
    scheduler = Scheduler(
        limiter=AdaptiveLimiter(4, cooldown=0.0),
        retry=RetryConfig(
            max_attempts=attempts,
            backoff_initial=0.0,
            backoff_max=0.0,
            max_consecutive_failures=failures,
        ),
        budget=budget(**budget_kw),
        prices={"m": Price(input=1.0, output=2.0)},
        cache_get=get,
        cache_put=put,
    )
    endpoint = Endpoint("fake", backend, asyncio.Semaphore(4))
    return scheduler, backend, cache, endpoint


REQUEST = ChatRequest("m", (Message("user", "hi"),))


def test_scheduler_retries_transient_then_caches() -> None:
    outcomes: list[object] = [
        RateLimitedError("429", retry_after=0.0),
        TransientBackendError("500"),
        "answer",
    ]
    scheduler, backend, cache, endpoint = make_scheduler(outcomes)

    async def scenario() -> tuple[CachedCall, CachedCall]:
        first = await scheduler.call(endpoint, REQUEST, "k")
        second = await scheduler.call(endpoint, REQUEST, "k")  # cache hit: free
        return first, second

    first, second = asyncio.run(scenario())
    assert first.text == "answer" and second == first
    assert backend.calls == 3
    spent = scheduler.spending
    assert (spent.requests, spent.retries, spent.rate_limited, spent.cache_hits) == (1, 2, 1, 1)
    assert spent.tokens == 15 and spent.cost == pytest.approx((10 + 5 * 2) / 1e6)
    assert cache["k"].text == "answer"
    assert scheduler.limiter.limit == 2  # the 429 halved the limit


def test_scheduler_gives_up_after_max_attempts() -> None:
    scheduler, backend, cache, endpoint = make_scheduler(
        [TransientBackendError("500")] * 10, attempts=3
    )
    with pytest.raises(TransientBackendError):
        asyncio.run(scheduler.call(endpoint, REQUEST, "k"))
    assert backend.calls == 3 and cache == {}
    assert scheduler.consecutive_failures == 1


@pytest.mark.parametrize(
    "error",
    [
        FatalBackendError("bad key", status=401),
        ContextLengthError("too long", status=400),
        BackendError("bad param", status=400),
    ],
)
def test_scheduler_does_not_retry_permanent_errors(error: BackendError) -> None:
    scheduler, backend, _, endpoint = make_scheduler([error])
    with pytest.raises(type(error)):
        asyncio.run(scheduler.call(endpoint, REQUEST, "k"))
    assert backend.calls == 1


def test_consecutive_failures_stop_the_run() -> None:
    scheduler, _, _, endpoint = make_scheduler(
        [BackendError("bad", status=400)] * 3, attempts=1, failures=3
    )

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(BackendError):
                await scheduler.call(endpoint, REQUEST, "k")
        with pytest.raises(FatalBackendError, match="3 calls to fake failed in a row"):
            await scheduler.call(endpoint, REQUEST, "k")

    asyncio.run(scenario())


def test_success_resets_the_failure_streak() -> None:
    scheduler, _, _, endpoint = make_scheduler(
        [BackendError("bad"), "ok", BackendError("bad")], attempts=1, failures=2
    )

    async def scenario() -> None:
        with pytest.raises(BackendError):
            await scheduler.call(endpoint, REQUEST, "a")
        await scheduler.call(endpoint, REQUEST, "b")
        with pytest.raises(BackendError) as info:
            await scheduler.call(endpoint, REQUEST, "c")
        assert type(info.value) is BackendError

    asyncio.run(scenario())


def test_budget_is_checked_before_dispatch() -> None:
    scheduler, backend, _, endpoint = make_scheduler(["a", "b"], max_requests=1)

    async def scenario() -> None:
        await scheduler.call(endpoint, REQUEST, "k1")
        with pytest.raises(BudgetExceeded):
            await scheduler.call(endpoint, REQUEST, "k2")
        assert (await scheduler.call(endpoint, REQUEST, "k1")).text == "a"  # cached: allowed

    asyncio.run(scenario())
    assert backend.calls == 1


def test_timeout_is_transient() -> None:
    class Slow(FakeBackend):
        async def complete(self, request: ChatRequest) -> ChatResponse:
            self.calls += 1
            await asyncio.sleep(5)
            raise AssertionError("unreachable")

    scheduler, _, _, _ = make_scheduler([], attempts=2)
    scheduler.retry = RetryConfig(max_attempts=2, backoff_initial=0, backoff_max=0, timeout=0.01)
    slow = Slow([])
    endpoint = Endpoint("slow", slow, asyncio.Semaphore(1))
    with pytest.raises(TransientBackendError, match="did not answer"):
        asyncio.run(scheduler.call(endpoint, REQUEST, "k"))
    assert slow.calls == 2 and scheduler.limiter.in_flight == 0


VALIDATION_BODY = '{"error": {"message": "presence_penalty must be <= 2, got 9", "code": 500}}'


def test_the_same_specific_error_on_every_attempt_stops_at_once() -> None:
    failure = TransientBackendError("HTTP 500", status=500, body=VALIDATION_BODY)
    scheduler, backend, _, endpoint = make_scheduler([failure] * 10, attempts=6)
    request = ChatRequest("m", (Message("user", "hi"),), {"presence_penalty": 9})
    with pytest.raises(FatalBackendError) as info:
        asyncio.run(scheduler.call(endpoint, request, "k"))
    assert backend.calls == SAME_ERROR_LIMIT == 3
    assert (
        info.value.message
        == "fake answers every call with HTTP 500: presence_penalty must be <= 2, got 9"
    )
    assert (
        info.value.hint
        == "fix api_params 'presence_penalty' (sent: 9) in the config (null leaves it out), "
        "then run again"
    )
    with pytest.raises(FatalBackendError):  # the run is over: no further call goes out
        asyncio.run(scheduler.call(endpoint, request, "k2"))
    assert backend.calls == 3


def test_generic_server_errors_are_retried_and_a_success_resets_the_streak() -> None:
    generic = TransientBackendError("HTTP 500", status=500, body='{"error": "server_error"}')
    specific = TransientBackendError("HTTP 500", status=500, body=VALIDATION_BODY)
    scheduler, backend, _, endpoint = make_scheduler(
        [generic] * 5 + ["ok", specific, specific, "ok"], attempts=6
    )

    async def scenario() -> None:
        assert (await scheduler.call(endpoint, REQUEST, "a")).text == "ok"
        assert (await scheduler.call(endpoint, REQUEST, "b")).text == "ok"

    asyncio.run(scenario())
    assert backend.calls == 9


def test_an_endpoint_that_goes_away_is_waited_for() -> None:
    away = EndpointUnreachable("cannot reach fake")
    scheduler, backend, _, endpoint = make_scheduler(["first", *[away] * 8, "back"], attempts=2)
    scheduler.retry = RetryConfig(max_attempts=2, backoff_initial=0.0, backoff_max=0.01)
    events: list[str] = []

    class Sink:
        def emit(self, event: str, **fields: object) -> None:
            events.append(event)
            if event == "endpoint_waiting":
                assert scheduler.spending.waiting == {"fake": fields["since"]}

    scheduler.events = Sink()

    async def scenario() -> str:
        await scheduler.call(endpoint, REQUEST, "a")
        return (await scheduler.call(endpoint, REQUEST, "b")).text

    assert asyncio.run(scenario()) == "back"
    assert backend.calls == 10 and scheduler.consecutive_failures == 0
    assert events == ["endpoint_waiting", "endpoint_back"] and scheduler.spending.waiting == {}


def test_an_endpoint_never_reached_is_an_error_not_a_wait() -> None:
    away = EndpointUnreachable("cannot reach fake")
    scheduler, backend, _, endpoint = make_scheduler([away] * 3, attempts=3)
    with pytest.raises(EndpointUnreachable):
        asyncio.run(scheduler.call(endpoint, REQUEST, "k"))
    assert backend.calls == 3 and scheduler.spending.waiting == {}
