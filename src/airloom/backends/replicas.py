"""The bookkeeping of a teacher pool, free of I/O: replica health and the choice of replica.

A replica is *ready* (takes calls up to its concurrency limit) or *resting* after a
failure (connection refused, HTTP 5xx, a timeout, a 429): it takes no call until its
rest is over, then exactly one call (a probe) goes there; a success makes it ready
again, another failure rests it twice as long (up to a maximum). Calls go to the ready
replica with the fewest requests outstanding.

Example:
    >>> a, b = Replica("http://a/v1", limit=2), Replica("http://b/v1", limit=2)
    >>> a.outstanding = 1
    >>> choose([a, b], now=0.0) is b
    True
    >>> b.health.fail("unreachable", "connection refused", now=0.0, rest_initial=1.0,
    ...               rest_max=60.0)
    1.0
    >>> choose([a, b], now=0.5) is a   # b rests
    True
    >>> choose([a, b], now=1.0) is b   # b's rest is over: one probe goes there
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FailureKind", "Figures", "Health", "Replica", "choose", "next_rest_end"]

#: Why a replica rests: it could not be reached, it was rate limited, or it failed.
FailureKind = Literal["unreachable", "rate_limited", "failed"]


@dataclass
class Health:
    """The state machine of one replica (module docstring)."""

    #: Failures in a row; the next rest is ``rest_initial * 2**(failures-1)``.
    failures: int = 0
    #: Monotonic time the current rest ends (0: not resting).
    resting_until: float = 0.0
    #: A probe (the first call after a rest) is in flight.
    probing: bool = False
    #: Times the replica was sent to rest.
    rested: int = 0
    #: Monotonic time of the last failure (a success of a call sent before it is stale).
    last_failure_at: float = float("-inf")
    last_kind: FailureKind | None = None
    last_error: str = ""

    def resting(self, now: float) -> bool:
        """True while the replica may take no call at all."""
        return self.failures > 0 and (now < self.resting_until or self.probing)

    def ready(self, now: float) -> bool:
        """True when the replica takes a call now (a probe, if it failed before).

        Example:
            >>> health = Health()
            >>> health.ready(0.0)
            True
        """
        return not self.resting(now)

    def fail(
        self,
        kind: FailureKind,
        error: str,
        *,
        now: float,
        rest_initial: float,
        rest_max: float,
        at_least: float = 0.0,
    ) -> float:
        """Rest the replica after a failure; return the seconds it rests.

        A failure while already resting (calls that were in flight when it went down)
        does not lengthen the rest: one outage is one rest.

        Example:
            >>> health = Health()
            >>> [health.fail("failed", "HTTP 502", now=t, rest_initial=1.0, rest_max=3.0)
            ...  for t in (0.0, 0.5, 2.0, 10.0)]
            [1.0, 0.5, 2.0, 3.0]
            >>> health.rested
            3
        """
        self.last_failure_at = now
        self.last_kind = kind
        self.last_error = error
        self.probing = False
        if self.failures > 0 and now < self.resting_until:
            return self.resting_until - now
        self.failures += 1
        self.rested += 1
        rest = max(at_least, min(rest_max, rest_initial * 2.0 ** (self.failures - 1)))
        self.resting_until = now + rest
        return rest

    def succeed(self, started: float) -> bool:
        """A call sent at ``started`` succeeded: ready again unless it was sent before the
        last failure. Return True when the replica came back from a rest.

        Example:
            >>> health = Health()
            >>> _ = health.fail("unreachable", "refused", now=5.0, rest_initial=1.0, rest_max=9.0)
            >>> health.succeed(started=4.0), health.succeed(started=6.0), health.failures
            (False, True, 0)
        """
        if started < self.last_failure_at:
            return False
        back = self.failures > 0
        self.failures = 0
        self.resting_until = 0.0
        self.probing = False
        return back


@dataclass
class Figures:
    """What a replica did during a run: the per-replica rows of the summary.

    Example:
        >>> figures = Figures()
        >>> figures.record(0.2); figures.record(0.4)
        >>> figures.calls, round(figures.mean_latency, 3)
        (2, 0.3)
    """

    calls: int = 0
    errors: int = 0
    latency_total: float = 0.0

    def record(self, latency: float) -> None:
        """One answered call that took ``latency`` seconds."""
        self.calls += 1
        self.latency_total += latency

    @property
    def mean_latency(self) -> float:
        """Mean seconds per answered call (0 before the first)."""
        return self.latency_total / self.calls if self.calls else 0.0


@dataclass(eq=False)
class Replica:
    """One server of a pool: its URL, concurrency limit, calls outstanding, health."""

    url: str
    limit: int
    outstanding: int = 0
    health: Health = field(default_factory=Health)
    figures: Figures = field(default_factory=Figures)

    def free(self, now: float) -> bool:
        """True when a call may be sent here now."""
        return self.outstanding < self.limit and self.health.ready(now)

    def take(self) -> None:
        """A call is sent here (after a rest, it is the probe).

        Example:
            >>> replica = Replica("a", limit=2)
            >>> _ = replica.health.fail("failed", "HTTP 500", now=0.0, rest_initial=1.0,
            ...                         rest_max=9.0)
            >>> replica.take(); replica.free(5.0), replica.state(5.0)
            (False, 'probing')
        """
        self.outstanding += 1
        if self.health.failures > 0:
            self.health.probing = True

    def state(self, now: float) -> str:
        """``ready``, ``probing`` or ``resting`` (for the display).

        Example:
            >>> Replica("http://a/v1", limit=1).state(0.0)
            'ready'
        """
        if self.health.failures == 0:
            return "ready"
        return "probing" if self.health.probing else "resting"


def choose(
    replicas: Sequence[Replica], now: float, exclude: Iterable[Replica] = ()
) -> Replica | None:
    """The replica a new call goes to: among those free now (``free``) and not excluded,
    the one with the fewest calls outstanding; ties go to the one with more room left,
    then to the first listed. None when no replica is free.

    Example:
        >>> a, b = Replica("a", limit=4, outstanding=2), Replica("b", limit=8, outstanding=2)
        >>> choose([a, b], now=0.0).url
        'b'
        >>> choose([a, b], now=0.0, exclude=[b]).url
        'a'
    """
    skipped = set(map(id, exclude))
    candidates = [r for r in replicas if id(r) not in skipped and r.free(now)]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (r.outstanding, r.outstanding - r.limit))


def next_rest_end(replicas: Iterable[Replica], now: float) -> float | None:
    """Seconds until the first resting replica may be probed, or None when none rests
    (a probe in flight is waited for, not timed).

    Example:
        >>> a = Replica("a", limit=1)
        >>> _ = a.health.fail("failed", "HTTP 500", now=0.0, rest_initial=2.0, rest_max=9.0)
        >>> next_rest_end([a, Replica("b", limit=1)], now=0.5)
        1.5
    """
    ends = [
        r.health.resting_until - now
        for r in replicas
        if r.health.failures > 0 and not r.health.probing and now < r.health.resting_until
    ]
    return min(ends) if ends else None
