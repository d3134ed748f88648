"""Per-run budgets, checked *before* each call: steps, tool calls, LLM tokens, bytes, time.

One :class:`Budget` is shared by the executor and the tools of a run. Every check
raises :class:`airloom.errors.BudgetExceeded` with the limit that was hit, so a
run stops cleanly instead of overspending. ``None`` means "no limit".

Example:
    >>> budget = Budget(max_tool_calls=1)
    >>> budget.start_tool_call()
    >>> try:
    ...     budget.start_tool_call()
    ... except BudgetExceeded as exc:
    ...     exc.message
    'tool-call budget spent: 1 of 1 used'
"""

from __future__ import annotations

import time
from collections.abc import Callable

from airloom.errors import BudgetExceeded

__all__ = ["Budget"]


class Budget:
    """Counters and limits for one run; not thread-safe (one event loop)."""

    def __init__(
        self,
        *,
        max_steps: int | None = None,
        max_tool_calls: int | None = None,
        max_llm_tokens: int | None = None,
        max_fetched_bytes: int | None = None,
        deadline_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_steps = max_steps
        self.max_tool_calls = max_tool_calls
        self.max_llm_tokens = max_llm_tokens
        self.max_fetched_bytes = max_fetched_bytes
        self.deadline_s = deadline_s
        self._clock = clock
        self._started = clock()
        self.steps = 0
        self.tool_calls = 0
        self.llm_calls = 0
        self.llm_tokens = 0
        self.fetched_bytes = 0

    def restart_clock(self) -> None:
        """Start the deadline now (the executor calls this when a run begins)."""
        self._started = self._clock()

    def elapsed(self) -> float:
        """Seconds since the run began."""
        return self._clock() - self._started

    def remaining_time(self) -> float | None:
        """Seconds left before the deadline (may be negative), or ``None`` without one.

        Example:
            >>> Budget().remaining_time() is None
            True
        """
        return None if self.deadline_s is None else self.deadline_s - self.elapsed()

    def check_deadline(self) -> None:
        """Raise when the wall-clock deadline has passed.

        Example:
            >>> try:
            ...     Budget(deadline_s=0).check_deadline()
            ... except BudgetExceeded as exc:
            ...     exc.message
            'deadline of 0s reached'
        """
        remaining = self.remaining_time()
        if remaining is not None and remaining <= 0:
            raise BudgetExceeded(
                f"deadline of {self.deadline_s:g}s reached",
                hint="raise --deadline or simplify the plan",
            )

    def start_step(self) -> None:
        """Count one step about to run (checks the deadline and the step cap first).

        Example:
            >>> b = Budget(max_steps=2); b.start_step(); b.steps
            1
        """
        self.check_deadline()
        _check_count("step", self.steps, self.max_steps)
        self.steps += 1

    def start_tool_call(self) -> None:
        """Count one tool invocation about to start (deadline and call cap checked first)."""
        self.check_deadline()
        _check_count("tool-call", self.tool_calls, self.max_tool_calls)
        self.tool_calls += 1

    def start_llm_call(self, estimated_prompt_tokens: int) -> None:
        """Check that an LLM call of about this many prompt tokens still fits, then count it.

        Example:
            >>> b = Budget(max_llm_tokens=100)
            >>> try:
            ...     b.start_llm_call(150)
            ... except BudgetExceeded as exc:
            ...     exc.message
            'LLM-token budget too small: 0 used + about 150 needed > 100'
        """
        self.check_deadline()
        limit = self.max_llm_tokens
        if limit is not None and self.llm_tokens + estimated_prompt_tokens > limit:
            raise BudgetExceeded(
                f"LLM-token budget too small: {self.llm_tokens} used + about "
                f"{estimated_prompt_tokens} needed > {limit}"
            )
        self.llm_calls += 1

    def add_llm_tokens(self, tokens: int) -> None:
        """Record the tokens an LLM call actually used."""
        self.llm_tokens += max(0, tokens)

    def bytes_left(self) -> int | None:
        """Bytes that may still be fetched, or ``None`` without a limit.

        Example:
            >>> b = Budget(max_fetched_bytes=10); b.add_fetched_bytes(4); b.bytes_left()
            6
        """
        if self.max_fetched_bytes is None:
            return None
        return max(0, self.max_fetched_bytes - self.fetched_bytes)

    def check_fetch(self) -> None:
        """Raise before a fetch when no byte is left or the deadline has passed."""
        self.check_deadline()
        if self.bytes_left() == 0:
            raise BudgetExceeded(
                f"fetched-bytes budget spent: {self.fetched_bytes} of {self.max_fetched_bytes}",
                hint="raise --max-bytes",
            )

    def add_fetched_bytes(self, count: int) -> None:
        """Record fetched bytes; raise once the byte budget is overspent."""
        self.fetched_bytes += count
        if self.max_fetched_bytes is not None and self.fetched_bytes > self.max_fetched_bytes:
            raise BudgetExceeded(
                f"fetched-bytes budget spent: {self.fetched_bytes} > {self.max_fetched_bytes}",
                hint="raise --max-bytes",
            )

    def usage(self) -> dict[str, float | int]:
        """What was spent so far, for the trace.

        Example:
            >>> sorted(Budget().usage())
            ['elapsed_s', 'fetched_bytes', 'llm_calls', 'llm_tokens', 'steps', 'tool_calls']
        """
        return {
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "llm_calls": self.llm_calls,
            "llm_tokens": self.llm_tokens,
            "fetched_bytes": self.fetched_bytes,
            "elapsed_s": round(self.elapsed(), 4),
        }


def _check_count(what: str, used: int, limit: int | None) -> None:
    if limit is not None and used >= limit:
        raise BudgetExceeded(f"{what} budget spent: {used} of {limit} used")
