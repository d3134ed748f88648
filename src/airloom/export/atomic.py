"""Atomic writes: a temporary file (or folder) beside the target, renamed into place.

The result has the permissions a plain ``open(path, "w")`` would give it (``0666`` less
the umask), or keeps those of the file it replaces; a temporary file's private ``0600``
never leaks into the output.

Example:
    >>> import tempfile, pathlib, stat
    >>> with tempfile.TemporaryDirectory() as d:
    ...     target = pathlib.Path(d, "out.jsonl")
    ...     write_lines_atomic(target, ['{"a": 1}', '{"a": 2}'])
    ...     target.read_text().count("\\n")
    2
    2
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from airloom.errors import StoreError

__all__ = ["current_umask", "replace_atomically", "write_lines_atomic"]


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows.

    Example:
        >>> 0 <= current_umask() <= 0o777
        True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back
    os.umask(mask)
    return mask


def _final_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def write_lines_atomic(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (a newline after each) to ``path`` atomically; returns how many.

    Raises :class:`StoreError` on a disk error; a half-written temporary file never
    remains.
    """
    temporary: Path | None = None
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as handle:
            temporary = Path(handle.name)
            for line in lines:
                handle.write(line + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), _final_mode(path))
        os.replace(temporary, path)
    except BaseException as exc:  # never leave a half-written temporary file behind
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StoreError(
                f"cannot write {path}: {exc}",
                hint="check free space and permissions; the store is intact",
            ) from exc
        raise
    return count


def replace_atomically(path: Path, build: Callable[[Path], None]) -> None:
    """Let ``build`` write a temporary file or folder beside ``path``, then move it into
    place (a folder replaces the old one whole); nothing half-written remains on failure.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
        >>> replace_atomically(target, lambda tmp: tmp.write_text("done"))
        >>> target.read_text()
        'done'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    _remove(temporary)
    try:
        build(temporary)
        if temporary.is_dir() and path.exists():
            _remove(path)
        os.replace(temporary, path)
    except BaseException as exc:
        _remove(temporary)
        if isinstance(exc, OSError):
            raise StoreError(
                f"cannot write {path}: {exc}", hint="check free space and permissions"
            ) from exc
        raise


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
