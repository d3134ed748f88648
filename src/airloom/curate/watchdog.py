"""Limits on a whole process tree: a watch over its CPU time, memory and size, and cgroups.

Resource limits (``setrlimit``) hold per process; a program that forks multiplies them.
Two things bound the whole tree of a sandboxed run:

* :func:`tree_usage` adds up CPU seconds (of the living processes and of every child they
  reaped), resident memory and the number of processes below a root PID; the runner polls
  it and kills the tree past a limit;
* :class:`Cgroup`, where this process may create cgroups (v1 or v2), puts the tree in its
  own cgroup with a process-count cap (``pids``) and a memory cap, which the kernel
  enforces at once (a fork bomb is stopped at its first extra fork).

Example:
    >>> usage = tree_usage(os.getpid())
    >>> usage.processes >= 1 and usage.cpu_seconds >= 0
    True
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cgroup", "TreeUsage", "tree_usage"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_NAMES = itertools.count()
_PREFIX = "airloom-sandbox-"


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """What a process tree uses now."""

    processes: int
    cpu_seconds: float
    memory_bytes: int
    pids: tuple[int, ...] = field(default_factory=tuple)


def _stat(pid: str) -> tuple[int, float, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2 :].split()
    ticks = sum(int(value) for value in rest[11:15])  # utime stime cutime cstime
    return int(rest[1]), ticks / _TICKS, int(rest[21]) * _PAGE


def tree_usage(root: int) -> TreeUsage:
    """CPU seconds, resident bytes and processes of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[float, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        found = _stat(entry)
        if found is not None:
            pid = int(entry)
            children.setdefault(found[0], []).append(pid)
            stats[pid] = found[1], found[2]
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            tree.append(pid)
            todo.extend(children.get(pid, ()))
    return TreeUsage(
        len(tree),
        sum(stats[pid][0] for pid in tree),
        sum(stats[pid][1] for pid in tree),
        tuple(tree),
    )


def _mounts() -> dict[str, Path]:
    """Controller ("pids", "memory", or "cgroup2") → mount point."""
    found: dict[str, Path] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, kind = left.split(), right.split()
            if not kind:
                continue
            if kind[0] == "cgroup2":
                found.setdefault("cgroup2", Path(fields[4]))
            elif kind[0] == "cgroup":
                for option in kind[-1].split(","):
                    if option in ("pids", "memory"):
                        found.setdefault(option, Path(fields[4]))
    return found


def _own_paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else ["cgroup2"]:
                paths[controller] = path
    return paths


class Cgroup:
    """A fresh cgroup per run with a process-count and a memory cap (where allowed).

    :attr:`prefix` is a command prefix that moves the started program into the cgroup
    before it runs; :meth:`close` removes the cgroup once its processes are gone.
    """

    def __init__(self, processes: int, memory_bytes: int) -> None:
        self.directories: list[Path] = []
        self.memory: Path | None = None
        #: Which caps hold (``pids``, ``memory``).
        self.controllers: list[str] = []
        mounts, own = _mounts(), _own_paths()
        name = f"{_PREFIX}{os.getpid()}-{next(_NAMES)}"
        wanted = {
            "pids": {"pids.max": processes},
            "memory": {"memory.limit_in_bytes": memory_bytes},
        }
        for controller, settings in wanted.items():
            if controller in mounts:
                base = mounts[controller] / own.get(controller, "/").lstrip("/")
            elif "cgroup2" in mounts:
                base = mounts["cgroup2"] / own.get("cgroup2", "/").lstrip("/")
                if controller not in _read(base / "cgroup.subtree_control").split():
                    continue
                settings = {"pids.max": processes, "memory.max": memory_bytes}
                settings = {k: v for k, v in settings.items() if k.startswith(controller)}
            else:
                continue
            self._make(base / name, settings, controller)

    def _make(self, directory: Path, settings: dict[str, int], controller: str) -> None:
        try:
            if directory not in self.directories:
                directory.mkdir()
                self.directories.append(directory)
            for key, value in settings.items():
                (directory / key).write_text(str(value))
        except OSError:
            return
        self.controllers.append(controller)
        if controller == "memory":
            self.memory = directory

    @staticmethod
    def sweep() -> int:
        """Remove the empty cgroups of runs whose airloom process was killed; how many.

        Example:
            >>> Cgroup.sweep() >= 0
            True
        """
        removed = 0
        mounts, own = _mounts(), _own_paths()
        for controller, mount in mounts.items():
            base = mount / own.get(controller, "/").lstrip("/")
            for directory in base.glob(f"{_PREFIX}*-*"):
                owner = directory.name.removeprefix(_PREFIX).split("-")[0]
                if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                    with contextlib.suppress(OSError):
                        directory.rmdir()
                        removed += 1
        return removed

    @property
    def prefix(self) -> list[str]:
        """``sh -c`` prefix that joins the cgroup(s), then execs the command."""
        if not self.directories:
            return []
        script = (
            'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
        )
        procs = [str(d / "cgroup.procs") for d in self.directories]
        return ["/bin/sh", "-c", script, "sh", *procs, "--"]

    def out_of_memory(self) -> bool:
        """True when the kernel hit the memory cap during the run."""
        if self.memory is None:
            return False
        for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
            for line in _read(self.memory / name).splitlines():
                if line.startswith(key + " ") and int(line.split()[1]) > 0:
                    return True
        return _read(self.memory / "memory.failcnt").strip() not in ("", "0")

    def close(self) -> None:
        """Remove the cgroups (retrying while the last processes are reaped)."""
        for directory in self.directories:
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
        self.directories = []


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
