"""Run events for unattended runs: JSON lines, one object per event.

Example:
    >>> import io
    >>> buffer = io.StringIO()
    >>> JsonLinesSink(buffer).emit("run_started", run_id="abc")
    >>> json.loads(buffer.getvalue())["event"]
    'run_started'
"""

from __future__ import annotations

import json
import threading
import time
from typing import IO, Any, Protocol

from airloom.redact import redact_text

__all__ = ["EventSink", "JsonLinesSink", "NullSink"]


class EventSink(Protocol):
    """Receives engine events."""

    def emit(self, event: str, **fields: Any) -> None:
        """Record one event."""
        ...


class NullSink:
    """Drops every event."""

    def emit(self, event: str, **fields: Any) -> None:
        """Do nothing."""


class JsonLinesSink:
    """Writes each event as one JSON line (with a timestamp) and flushes."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        """Write ``{"ts": ..., "event": ..., **fields}`` (secrets masked: :mod:`airloom.redact`)."""
        line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, default=str)
        line = redact_text(line)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
