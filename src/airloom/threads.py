"""Blocking work that must not hold up a stop: run it on a daemon thread.

``asyncio.to_thread`` uses the loop's executor, whose threads are joined when the loop
and the interpreter shut down: a model load of a minute there keeps Ctrl-C waiting for
that minute. :func:`in_daemon_thread` awaits the same work on a daemon thread instead;
cancelling the await abandons the work (its result is dropped) and the process can
exit at once.

Example:
    >>> import asyncio
    >>> asyncio.run(in_daemon_thread(sum, [1, 2, 3]))
    6
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["in_daemon_thread"]

T = TypeVar("T")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting side gave up
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def in_daemon_thread(fn: Callable[..., T], *args: Any, name: str = "airloom-work") -> T:
    """``fn(*args)`` on a new daemon thread, awaited without blocking the event loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def target() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the awaiting side
            outcome: tuple[Any, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, future, *outcome)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future
