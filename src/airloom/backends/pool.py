"""One logical teacher over several replicas serving the same model (a pool).

Each call goes to the ready replica with the fewest calls outstanding, within each
replica's own concurrency limit. A replica that fails a call — refuses the connection,
answers 5xx or 429, sends garbage, or does not answer in time — rests (with a backoff
that doubles per failure in a row) and the call moves on to another replica at once, so
a replica dying mid-run loses no call and the caller gets exactly one answer. After its
rest a replica takes one probe call; when that succeeds it is back.

A call that finds every replica resting waits for the first rest to end and probes
that replica — unless every one rests because it could not be reached: then the call
fails at once with :class:`EndpointUnreachable`, and the scheduler pauses the run
("waiting for POOL") until a replica answers again. A call that every replica failed
gets one error saying why each rests: a :class:`RateLimitedError` when all were rate
limited, else a :class:`TransientBackendError` that the scheduler retries with backoff.
Errors about the request itself (bad key, unknown model, a prompt too long) pass
through untouched.

Example:
    >>> import asyncio
    >>> from airloom.backends.scripted import ScriptedBackend
    >>> from airloom.backends.base import ChatRequest, Message
    >>> pool = PoolBackend("teacher", [(ScriptedBackend.from_file("demo"), "a", 2),
    ...                                (ScriptedBackend.from_file("demo"), "b", 2)])
    >>> request = ChatRequest("m", (Message("user", "Hi"),))
    >>> _ = asyncio.run(pool.complete(request))
    >>> [replica.figures.calls for replica in pool.replicas]
    [1, 0]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from airloom.backends.base import Backend, ChatRequest, ChatResponse
from airloom.backends.replicas import FailureKind, Replica, choose, next_rest_end
from airloom.errors import (
    BackendError,
    EndpointUnreachable,
    RateLimitedError,
    TransientBackendError,
)

__all__ = ["TIMEOUT_SHARE", "PoolBackend", "failure_kind"]

#: Share of the call timeout after which a call cancelled from outside counts as a
#: timeout of the replica it waited for (the caller gave up on that replica).
TIMEOUT_SHARE = 0.9


def failure_kind(exc: TransientBackendError) -> FailureKind:
    """How a replica failed, from the error of one call.

    Example:
        >>> failure_kind(EndpointUnreachable("cannot reach http://a/v1"))
        'unreachable'
        >>> failure_kind(TransientBackendError("HTTP 502", status=502))
        'failed'
    """
    if isinstance(exc, EndpointUnreachable):
        return "unreachable"
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    return "failed"


class PoolBackend:
    """The pool (module docstring): a :class:`Backend` over ``(backend, url, limit)``
    triples, one per replica."""

    def __init__(
        self,
        name: str,
        members: Sequence[tuple[Backend, str, int]],
        *,
        timeout: float = 600.0,
        rest_initial: float = 1.0,
        rest_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not members:
            raise ValueError("a pool needs at least one replica")
        self.name = name
        self.replicas = [Replica(url, limit) for _, url, limit in members]
        self._backends = {
            id(r): backend for r, (backend, _, _) in zip(self.replicas, members, strict=True)
        }
        self.timeout = timeout
        self.rest_initial = rest_initial
        self.rest_max = rest_max
        self._clock = clock
        self._condition: asyncio.Condition | None = None
        self._waiting = 0
        #: Told ``replica_rested`` and ``replica_back`` (an event sink's ``emit``).
        self.notify: Callable[..., Any] | None = None

    def _cond(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    async def _acquire(self, tried: list[Replica]) -> Replica | None:
        """A replica for the next attempt, not one of ``tried``: the least busy free one,
        else the first to be free (a busy one, or a resting one when its rest ends).
        None when every replica was tried, or every other one rests unreachable (an
        outage: the caller pauses instead of waiting here)."""
        condition = self._cond()
        async with condition:
            while True:
                now = self._clock()
                replica = choose(self.replicas, now, exclude=tried)
                if replica is not None:
                    replica.take()
                    return replica
                others = [r for r in self.replicas if r not in tried]
                if all(r.health.resting(now) and not r.health.probing for r in others) and all(
                    r.health.last_kind == "unreachable" for r in others
                ):
                    return None
                self._waiting += 1
                try:
                    await asyncio.wait_for(condition.wait(), next_rest_end(others, now))
                except TimeoutError:
                    pass
                finally:
                    self._waiting -= 1

    def _release(self, replica: Replica) -> None:
        replica.outstanding -= 1
        if self._waiting:
            asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        condition = self._cond()
        async with condition:
            condition.notify_all()

    def _tell(self, event: str, replica: Replica, **fields: Any) -> None:
        if self.notify is not None:
            self.notify(event, endpoint=self.name, replica=replica.url, **fields)

    def _rest(self, replica: Replica, exc: TransientBackendError) -> None:
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        was_ready = replica.health.failures == 0
        rest = replica.health.fail(
            failure_kind(exc),
            exc.message,
            now=self._clock(),
            rest_initial=self.rest_initial,
            rest_max=self.rest_max,
            at_least=retry_after or 0.0,
        )
        if was_ready:
            self._tell("replica_rested", replica, seconds=round(rest, 3), error=exc.message)

    async def _attempt(self, replica: Replica, request: ChatRequest) -> ChatResponse:
        started = self._clock()
        finished = False
        try:
            response = await self._backends[id(replica)].complete(request)
            finished = True
        except TransientBackendError as exc:
            finished = True
            replica.figures.errors += 1
            self._rest(replica, exc)
            raise
        except BackendError:
            # about the request (a bad parameter, a prompt too long): the replica answered
            finished = True
            replica.figures.errors += 1
            self._answered(replica, started)
            raise
        finally:
            if not finished:
                self._given_up(replica, started)
            self._release(replica)
        replica.figures.record(self._clock() - started)
        self._answered(replica, started)
        return response

    def _answered(self, replica: Replica, started: float) -> None:
        if replica.health.succeed(started):
            self._tell("replica_back", replica)

    def _given_up(self, replica: Replica, started: float) -> None:
        """The caller stopped waiting: after the whole timeout that is the replica's
        failure; earlier (a stop), a probe just gives its turn to the next call."""
        if self._clock() - started >= TIMEOUT_SHARE * self.timeout:
            replica.figures.errors += 1
            self._rest(
                replica,
                TransientBackendError(f"{replica.url} did not answer in {self.timeout:.0f} s"),
            )
        else:
            replica.health.probing = False

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send the call to the least busy ready replica; on a replica's failure, to the
        next one (each replica at most once per call)."""
        tried: list[Replica] = []
        last: TransientBackendError | None = None
        while True:
            replica = await self._acquire(tried)
            if replica is None:
                raise self._none_left(last)
            tried.append(replica)
            try:
                return await self._attempt(replica, request)
            except TransientBackendError as exc:
                last = exc

    def _none_left(self, last: TransientBackendError | None) -> TransientBackendError:
        """The error of a call no replica can take: why each one rests."""
        now = self._clock()
        down = [r for r in self.replicas if r.health.failures > 0]
        reasons = "; ".join(
            f"{r.url} rests {max(0.0, r.health.resting_until - now):.1f} s "
            f"after: {r.health.last_error}"
            for r in down
        )
        message = f"no replica of {self.name} can take the call: {reasons or last}"
        kinds = {r.health.last_kind for r in down} or {failure_kind(last) if last else "failed"}
        if kinds == {"unreachable"}:
            return EndpointUnreachable(
                message,
                hint="start the replicas or fix base_urls; each is tried again after its rest",
            )
        if kinds == {"rate_limited"}:
            return RateLimitedError(message, retry_after=next_rest_end(self.replicas, now))
        return TransientBackendError(
            message, status=last.status if last else None, body=last.body if last else None
        )

    async def aclose(self) -> None:
        """Close every replica's client."""
        for backend in self._backends.values():
            await backend.aclose()
