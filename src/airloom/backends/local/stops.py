"""Stop strings: cut a finished text at the first one, or a stream as it arrives.

Pure: no torch.

Example:
    >>> cut_at_stop("a. b", ["."])
    ('a', True)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopScanner", "cut_at_stop"]


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string, and whether one was found.

    Example:
        >>> cut_at_stop("one, two. three", [".", ","])
        ('one', True)
        >>> cut_at_stop("abc", ["x"])
        ('abc', False)
    """
    positions = [i for i in (text.find(s) for s in stops) if i >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


class StopScanner:
    """Incremental stop-string cutting for streams: never emits text a stop might start.

    Concatenating everything :meth:`feed` and :meth:`flush` return gives exactly
    ``cut_at_stop(whole_text, stops)[0]``.

    Example:
        >>> scanner = StopScanner(["END"])
        >>> scanner.feed("abc E"), scanner.feed("N"), scanner.feed("D tail")
        ('abc ', '', '')
        >>> scanner.stopped
        True
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Take new text; return the part that is safe to emit now."""
        if self.stopped:
            return ""
        if not self._stops:
            return text
        buffer = self._held + text
        cut, found = cut_at_stop(buffer, self._stops)
        if found:
            self.stopped = True
            self._held = ""
            return cut
        hold = 0
        for stop in self._stops:
            for k in range(min(len(stop) - 1, len(buffer)), hold, -1):
                if buffer.endswith(stop[:k]):
                    hold = k
                    break
        self._held = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """The text still held back, at the end of a stream that met no stop."""
        held, self._held = self._held, ""
        return "" if self.stopped else held
