"""Teacher pools: the choice of replica, the health state machine, and the pool's
failover, limits and errors (replicas here are in-process backends, no network)."""

from __future__ import annotations

import asyncio
import time
from collections import deque

import pytest

from airloom.backends.base import ChatRequest, ChatResponse, Message
from airloom.backends.pool import PoolBackend
from airloom.backends.replicas import Health, Replica, choose, next_rest_end
from airloom.errors import (
    BackendError,
    ContextLengthError,
    EndpointUnreachable,
    RateLimitedError,
    TransientBackendError,
)

REQUEST = ChatRequest("m", (Message("user", "Hi"),))
REST = {"rest_initial": 1.0, "rest_max": 8.0}


def rested(replica: Replica, now: float, kind: str = "unreachable") -> Replica:
    replica.health.fail(kind, "down", now=now, **REST)  # type: ignore[arg-type]
    return replica


# ---- choosing a replica --------------------------------------------------------------


@pytest.mark.parametrize(
    ("outstanding", "limits", "expected"),
    [
        ((0, 0, 0), (4, 4, 4), 0),  # all idle: the first listed
        ((2, 1, 3), (4, 4, 4), 1),  # fewest outstanding
        ((2, 2, 0), (2, 2, 1), 2),  # the idle one, even with the smallest limit
        ((1, 1, 5), (2, 8, 8), 1),  # a tie: the one with more room left
        ((2, 1, 1), (2, 1, 1), None),  # every replica full
    ],
)
def test_the_least_busy_free_replica_is_chosen(outstanding, limits, expected):
    replicas = [Replica(f"r{i}", limit=n) for i, n in enumerate(limits)]
    for replica, n in zip(replicas, outstanding, strict=True):
        replica.outstanding = n
    chosen = choose(replicas, now=0.0)
    assert (None if chosen is None else replicas.index(chosen)) == expected


def test_a_resting_replica_gets_no_call_then_one_probe():
    a, b = Replica("a", limit=4), rested(Replica("b", limit=4), now=0.0)
    a.outstanding = 3
    assert choose([a, b], now=0.9) is a
    probe = choose([a, b], now=1.0)
    assert probe is b
    b.take()
    assert b.state(1.0) == "probing"
    assert choose([a, b], now=1.1) is a  # while the probe is out, b takes nothing else
    assert choose([a, b], now=1.1, exclude=[a]) is None


def test_excluded_replicas_are_skipped():
    a, b = Replica("a", limit=1), Replica("b", limit=1)
    assert choose([a, b], now=0.0, exclude=[a]) is b
    assert choose([a, b], now=0.0, exclude=[a, b]) is None


# ---- the health state machine --------------------------------------------------------


def test_rests_double_per_failure_in_a_row_up_to_the_maximum():
    health = Health()
    rests = []
    now = 0.0
    for _ in range(6):
        rest = health.fail("failed", "HTTP 502", now=now, **REST)
        rests.append(rest)
        now += rest  # the probe after each rest fails again
    assert rests == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert health.rested == 6 and health.failures == 6


def test_failures_of_calls_already_in_flight_do_not_lengthen_the_rest():
    health = Health()
    assert health.fail("unreachable", "refused", now=10.0, **REST) == 1.0
    assert health.fail("unreachable", "reset", now=10.2, **REST) == pytest.approx(0.8)
    assert health.rested == 1 and health.failures == 1
    assert health.resting_until == 11.0 and health.last_error == "reset"


def test_a_429_rests_at_least_as_long_as_the_server_asks():
    health = Health()
    assert health.fail("rate_limited", "429", now=0.0, at_least=5.0, **REST) == 5.0


def test_a_success_ends_the_rest_but_not_one_sent_before_the_failure():
    health = Health()
    health.fail("failed", "HTTP 500", now=5.0, **REST)
    assert health.resting(5.5)
    assert health.succeed(started=4.9) is False  # an old call that was still in flight
    assert health.resting(5.5)
    assert health.succeed(started=6.0) is True
    assert health.ready(6.0) and health.failures == 0
    assert health.succeed(started=7.0) is False  # already ready: not "back" again
    assert health.fail("failed", "HTTP 500", now=8.0, **REST) == 1.0  # the backoff restarts


def test_next_rest_end_ignores_probes_and_ready_replicas():
    a = rested(Replica("a", limit=1), now=0.0)
    b = rested(Replica("b", limit=1), now=0.5)
    c = Replica("c", limit=1)
    assert next_rest_end([a, b, c], now=0.25) == 0.75
    a.take()
    assert next_rest_end([a, b, c], now=1.0) == 0.5
    assert next_rest_end([c], now=0.0) is None


# ---- the pool ------------------------------------------------------------------------


class Server:
    """An in-process replica: answers after ``delay`` seconds, or raises the next queued
    error; counts its calls and the most it had in flight at once."""

    def __init__(self, name: str, delay: float = 0.0, errors: list[Exception] | None = None):
        self.name = name
        self.delay = delay
        self.errors: deque[Exception] = deque(errors or [])
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.errors:
                raise self.errors.popleft()
            return ChatResponse(text=f"from {self.name}")
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        return None


def make_pool(*servers: Server, limit: int = 4, **kwargs: float) -> PoolBackend:
    return PoolBackend("teacher", [(s, s.name, limit) for s in servers], **kwargs)


def test_a_failed_call_moves_to_the_next_replica_and_the_failing_one_rests():
    down = Server("a", errors=[EndpointUnreachable("cannot reach a")])
    up = Server("b")
    pool = make_pool(down, up)
    events: list[tuple[str, dict]] = []
    pool.notify = lambda event, **fields: events.append((event, fields))
    response = asyncio.run(pool.complete(REQUEST))
    assert response.text == "from b"
    a, b = pool.replicas
    assert (a.figures.calls, a.figures.errors, a.health.rested) == (0, 1, 1)
    assert (b.figures.calls, b.figures.errors) == (1, 0)
    assert a.state(0.0) == "resting" and a.outstanding == 0 and b.outstanding == 0
    assert events == [
        (
            "replica_rested",
            {"endpoint": "teacher", "replica": "a", "seconds": 1.0, "error": "cannot reach a"},
        )
    ]


def test_calls_spread_over_replicas_within_each_limit():
    servers = [Server("a", delay=0.02), Server("b", delay=0.02)]
    pool = PoolBackend("teacher", [(servers[0], "a", 1), (servers[1], "b", 3)])

    async def many() -> list[ChatResponse]:
        return await asyncio.gather(*(pool.complete(REQUEST) for _ in range(20)))

    answers = asyncio.run(many())
    assert len(answers) == 20
    assert servers[0].peak == 1 and servers[1].peak == 3
    assert servers[0].calls + servers[1].calls == 20
    assert servers[1].calls > servers[0].calls  # three times the room, more of the calls
    assert [r.outstanding for r in pool.replicas] == [0, 0]


def test_a_replica_comes_back_after_a_successful_probe():
    now = [0.0]
    flaky = Server("a", errors=[TransientBackendError("HTTP 502", status=502)])
    pool = make_pool(flaky, Server("b"), clock=lambda: now[0])
    events: list[str] = []
    pool.notify = lambda event, **fields: events.append(event)
    asyncio.run(pool.complete(REQUEST))
    assert pool.replicas[0].state(now[0]) == "resting"
    now[0] = 1.5  # the rest is over; a is idle, so the next call is its probe
    assert asyncio.run(pool.complete(REQUEST)).text == "from a"
    assert pool.replicas[0].state(now[0]) == "ready"
    assert events == ["replica_rested", "replica_back"]


@pytest.mark.parametrize(
    ("errors", "expected", "reasons"),
    [
        (
            [EndpointUnreachable("cannot reach a"), EndpointUnreachable("cannot reach b")],
            EndpointUnreachable,
            ["a rests 0.1 s after: cannot reach a", "b rests 0.1 s after: cannot reach b"],
        ),
        (
            [RateLimitedError("429 a", retry_after=0.3), RateLimitedError("429 b")],
            RateLimitedError,
            ["a rests 0.3 s after: 429 a", "b rests 0.1 s after: 429 b"],
        ),
        (
            [EndpointUnreachable("cannot reach a"), TransientBackendError("HTTP 503", status=503)],
            TransientBackendError,
            ["a rests 0.1 s after: cannot reach a", "b rests 0.1 s after: HTTP 503"],
        ),
    ],
)
def test_when_every_replica_failed_the_call_the_error_says_why(errors, expected, reasons):
    now = [0.0]
    servers = Server("a", errors=errors[:1]), Server("b", errors=errors[1:])
    pool = make_pool(*servers, rest_initial=0.1, rest_max=0.4, clock=lambda: now[0])
    with pytest.raises(expected) as info:
        asyncio.run(pool.complete(REQUEST))
    assert type(info.value) is expected
    assert "no replica of teacher can take the call: " in info.value.message
    assert all(reason in info.value.message for reason in reasons), info.value.message
    assert [r.figures.errors for r in pool.replicas] == [1, 1]


def test_a_call_that_finds_every_replica_resting_waits_for_a_probe_unless_all_are_away():
    failing = [TransientBackendError("HTTP 503", status=503)]
    pool = make_pool(
        Server("a", errors=list(failing)),
        Server("b", errors=list(failing)),
        rest_initial=0.05,
        rest_max=0.1,
    )
    with pytest.raises(TransientBackendError):
        asyncio.run(pool.complete(REQUEST))
    started = time.monotonic()
    assert asyncio.run(pool.complete(REQUEST)).text == "from a"  # waited for a's rest
    assert time.monotonic() - started >= 0.03
    assert [r.state(time.monotonic()) for r in pool.replicas] == ["ready", "resting"]

    away = [EndpointUnreachable("cannot reach")]
    pool = make_pool(Server("a", errors=list(away)), Server("b", errors=list(away)))
    with pytest.raises(EndpointUnreachable):
        asyncio.run(pool.complete(REQUEST))
    with pytest.raises(EndpointUnreachable):  # an outage: at once, nothing sent
        asyncio.run(pool.complete(REQUEST))
    assert [r.figures.errors for r in pool.replicas] == [1, 1]


def test_errors_about_the_request_itself_pass_through_and_rest_nobody():
    server = Server("a", errors=[ContextLengthError("too long"), BackendError("bad", status=400)])
    pool = make_pool(server, Server("b"))
    for error in (ContextLengthError, BackendError):
        with pytest.raises(error):
            asyncio.run(pool.complete(REQUEST))
    assert pool.replicas[0].health.rested == 0 and pool.replicas[0].figures.errors == 2
    assert pool.replicas[1].figures.calls == 0


def test_a_call_given_up_after_the_timeout_rests_its_replica():
    pool = make_pool(Server("slow", delay=5.0), Server("b"), timeout=0.1)

    async def give_up() -> None:
        await asyncio.wait_for(pool.complete(REQUEST), timeout=0.1)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(give_up())
    slow = pool.replicas[0]
    assert slow.health.rested == 1 and "did not answer in" in slow.health.last_error
    assert slow.outstanding == 0
    assert asyncio.run(pool.complete(REQUEST)).text == "from b"


def test_a_call_stopped_early_rests_nobody():
    pool = make_pool(Server("slow", delay=5.0), timeout=60.0)

    async def stop_early() -> None:
        await asyncio.wait_for(pool.complete(REQUEST), timeout=0.05)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(stop_early())
    assert pool.replicas[0].health.rested == 0 and pool.replicas[0].outstanding == 0


def test_a_probe_stopped_early_lets_the_next_call_probe():
    now = [0.0]
    server = Server("a", errors=[EndpointUnreachable("cannot reach a")])
    pool = make_pool(server, clock=lambda: now[0])
    with pytest.raises(EndpointUnreachable):
        asyncio.run(pool.complete(REQUEST))
    now[0] = 2.0
    server.delay = 5.0

    async def stop_early() -> None:
        await asyncio.wait_for(pool.complete(REQUEST), timeout=0.05)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(stop_early())
    replica = pool.replicas[0]
    assert replica.state(now[0]) == "resting" and not replica.health.probing
    server.delay = 0.0
    assert asyncio.run(pool.complete(REQUEST)).text == "from a"
    assert replica.state(now[0]) == "ready"


def test_a_probe_answered_with_an_error_about_the_request_brings_the_replica_back():
    now = [0.0]
    server = Server("a", errors=[EndpointUnreachable("down"), ContextLengthError("too long")])
    pool = make_pool(server, clock=lambda: now[0])
    with pytest.raises(EndpointUnreachable):
        asyncio.run(pool.complete(REQUEST))
    now[0] = 2.0
    with pytest.raises(ContextLengthError):
        asyncio.run(pool.complete(REQUEST))
    assert pool.replicas[0].state(now[0]) == "ready"


def test_a_pool_needs_a_replica():
    with pytest.raises(ValueError, match="at least one replica"):
        PoolBackend("teacher", [])
