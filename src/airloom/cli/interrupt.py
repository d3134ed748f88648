"""Ctrl-C and SIGTERM for every command: a message at once, a grace period, a hard stop.

A command's async work runs under :func:`run_interruptible`. The first SIGINT or
SIGTERM prints what happens next ("stopping: waiting up to 30 s for 3 calls in flight;
Ctrl-C again to stop now") and asks the work to stop: either through ``on_stop`` (the
generation engine stops starting calls and drains its own) or, without one, by
cancelling the work as soon as nothing is in flight or the grace period is over. A
second signal cancels at once. The caller gets the work's result, or
:class:`~airloom.errors.Interrupted` (exit status 130) when the work was cancelled —
never a traceback.

Example:
    >>> import asyncio
    >>> from rich.console import Console
    >>> async def work():
    ...     return 42
    >>> asyncio.run(run_interruptible(work(), console=Console(stderr=True), grace=1.0))
    42
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

from rich.console import Console

from airloom.errors import Interrupted

__all__ = [
    "SHUTDOWN_SLACK_S",
    "T",
    "exit_now",
    "run_command",
    "run_interruptible",
    "stopping_message",
]

T = TypeVar("T")

#: Seconds past the grace period that self-draining work gets to shut down.
SHUTDOWN_SLACK_S = 15.0


def stopping_message(grace: float, in_flight: int) -> str:
    """What the first Ctrl-C prints.

    Example:
        >>> stopping_message(30, 3)
        'stopping: waiting up to 30 s for 3 calls in flight; Ctrl-C again to stop now'
        >>> stopping_message(30, 0)
        'stopping…'
    """
    if in_flight <= 0 or grace <= 0:
        return "stopping…"
    calls = "call" if in_flight == 1 else "calls"
    return (
        f"stopping: waiting up to {grace:.0f} s for {in_flight} {calls} in flight; "
        "Ctrl-C again to stop now"
    )


class _Stopper:
    """The signal handler's state for one run."""

    def __init__(
        self,
        task: asyncio.Task[T],
        console: Console,
        grace: float,
        in_flight: Callable[[], int],
        on_stop: Callable[[], bool] | None,
    ) -> None:
        self.task = task
        self.console = console
        self.grace = grace
        self.in_flight = in_flight
        self.on_stop = on_stop
        self.signals = 0
        self.drains_itself = False
        self.watcher: asyncio.Task[None] | None = None

    def __call__(self) -> None:
        self.signals += 1
        if self.task.done():
            return
        if self.signals > 1:
            self.console.print("[bold]stopping now[/bold]")
            if self.on_stop is not None:
                self.on_stop()  # a second stop request cancels the work's own tasks
            self.task.cancel()
            return
        self.console.print(f"[bold]{stopping_message(self.grace, self.in_flight())}[/bold]")
        if self.on_stop is not None:
            self.drains_itself = self.on_stop()
        self.watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """Cancel the work when nothing is in flight any more (unless it drains by
        itself) or when the grace period is over (always)."""
        loop = asyncio.get_running_loop()
        # Work that drains by itself also shuts down by itself (store, model, export):
        # the hard stop leaves it time for that, a second Ctrl-C does not wait.
        deadline = loop.time() + self.grace + (SHUTDOWN_SLACK_S if self.drains_itself else 0.0)
        while not self.task.done() and loop.time() < deadline:
            if not self.drains_itself and self.in_flight() <= 0:
                break
            await asyncio.sleep(0.05)
        self.task.cancel()


async def run_interruptible(
    work: Awaitable[T],
    *,
    console: Console,
    grace: float,
    in_flight: Callable[[], int] = lambda: 0,
    on_stop: Callable[[], bool] | None = None,
) -> T:
    """Await ``work`` with SIGINT/SIGTERM handled as the module docstring says.

    ``on_stop`` is called on the first signal (and again on a second); it returns True
    when the work now stops by itself (it is still cancelled ``SHUTDOWN_SLACK_S`` after
    ``grace``), False to have it cancelled as soon as nothing is in flight.

    Raises :class:`~airloom.errors.Interrupted` when the work was cancelled by a signal.
    """
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    stopper = _Stopper(task, console, grace, in_flight, on_stop)
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stopper)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        return await task
    except asyncio.CancelledError:
        if stopper.signals and task.cancelled():
            raise Interrupted("interrupted") from None
        raise
    finally:
        if stopper.watcher is not None:
            stopper.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper.watcher
        for signum in installed:
            loop.remove_signal_handler(signum)


def run_command(work: Awaitable[T], *, grace: float = 0.0) -> T:
    """Run a one-shot command's async work (``ask``, ``call``, ``plan``): the first
    Ctrl-C or SIGTERM stops it at once, with a message, as :class:`Interrupted`.

    Example:
        >>> async def work():
        ...     return "answer"
        >>> run_command(work())
        'answer'
    """
    return asyncio.run(run_interruptible(work, console=Console(stderr=True), grace=grace))


def exit_now(code: int) -> NoReturn:
    """Leave at once with ``code`` after a stop, output flushed.

    The stopped work has kept what it keeps on disk; a thread it had to abandon (a
    model load, a prompt's forward pass inside torch) must neither hold the exit up
    nor abort the interpreter's teardown, so the teardown is skipped.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
