"""One writer per store: an exclusive lock beside the store file, naming its holder.

The lock is ``<store>.lock``, held with ``flock``: the kernel releases it when the
holding process ends in any way, ``kill -9`` included, so a lock left by a killed run
is stale by construction and the next writer simply takes it over (and rewrites the
holder's name). A second writer stops at once with a message naming the process that
holds the store. Within one process the lock is re-entrant (a command may open the
same store twice).

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.db"
    >>> with writer_lock(path):
    ...     holder(path)["pid"] == os.getpid()
    True
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airloom.errors import StoreError

__all__ = ["acquire", "holder", "lock_path", "release", "writer_lock"]

_HELD: dict[str, tuple[int, int]] = {}  # lock path -> (descriptor, depth)
_GUARD = threading.Lock()


def lock_path(store: str | Path) -> Path:
    """The lock file of a store.

    Example:
        >>> lock_path("runs/a.airloom.db").name
        'a.airloom.db.lock'
    """
    store = Path(store)
    return store.with_name(store.name + ".lock")


def holder(store: str | Path) -> dict[str, Any]:
    """What the lock file says about its holder (empty when none or unreadable)."""
    try:
        data = json.loads(lock_path(store).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(float(info.get("started", 0))))
    host = f" on {info['host']}" if info.get("host") != socket.gethostname() else ""
    return (
        f"process {info.get('pid', '?')}{host} (airloom {info.get('command', '?')}, since {since})"
    )


def acquire(store: str | Path, command: str | None = None) -> Path:
    """Take the writer lock of ``store`` or raise :class:`StoreError` naming the holder
    (``command`` names this process in that message; default: its airloom command)."""
    path = lock_path(store).resolve()
    key = str(path)
    with _GUARD:
        if key in _HELD:
            descriptor, depth = _HELD[key]
            _HELD[key] = (descriptor, depth + 1)
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise StoreError(
                    f"{store} is in use by {_describe(holder(store))}",
                    hint="wait for that run to finish or stop it; one command writes a store "
                    "at a time",
                ) from None
            try:
                same = os.fstat(descriptor).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(descriptor)  # the holder removed it as we opened it: take the new one
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or (sys.argv[1] if len(sys.argv) > 1 else "python"),
            "started": time.time(),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(info).encode("utf-8"), 0)
        _HELD[key] = (descriptor, 1)
    return path


def release(path: Path) -> None:
    """Give back a lock taken with :func:`acquire` (the last release removes the file)."""
    key = str(path)
    with _GUARD:
        if key not in _HELD:
            return
        descriptor, depth = _HELD[key]
        if depth > 1:
            _HELD[key] = (descriptor, depth - 1)
            return
        del _HELD[key]
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(descriptor)


@contextlib.contextmanager
def writer_lock(store: str | Path, command: str | None = None) -> Iterator[Path]:
    """Hold the writer lock of ``store`` for the duration of a block (module docstring)."""
    path = acquire(store, command)
    try:
        yield path
    finally:
        release(path)
