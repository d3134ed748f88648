"""Start-up of a sandboxed child (run as a script by :mod:`airloom.curate.sandbox`).

Standard library only. In order: resource limits (CPU seconds, address space, file
size, open files, no core dumps); Landlock, when the kernel has it (writes only
beneath the work folder and to /dev/null, no TCP bind or connect, no signals or
abstract Unix sockets outside the sandbox); then, for ``--run``, Python-level guards
(sockets, process creation, ctypes, and writes outside the work folder raise
PermissionError and report ``[sandbox] blocked: …`` on stderr) and the program runs
as ``__main__``; for ``--exec``, a checker program replaces this process.

Nothing runs on import, so the module is safe to collect.

Example:
    >>> parse_args(["--work", "/tmp/w", "--cpu", "2", "--run", "main.py"]).cpu
    2.0
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

_FS_WRITE_V1 = (1 << 1) | sum(1 << bit for bit in range(4, 13))  # write, remove, make_*
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options the parent passes."""
    parser = argparse.ArgumentParser(prog="sandbox_boot")
    parser.add_argument("--work", required=True)
    parser.add_argument("--cpu", type=float, default=5.0)
    parser.add_argument("--memory", type=int, default=1 << 30)
    parser.add_argument("--fsize", type=int, default=16 << 20)
    parser.add_argument("--nofile", type=int, default=64)
    parser.add_argument("--no-landlock", action="store_true")
    parser.add_argument("--no-guards", action="store_true")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--run")
    group.add_argument("--exec", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def set_limits(args: argparse.Namespace) -> None:
    """Kernel-enforced resource limits (soft and hard, so they cannot be raised)."""
    import resource

    cpu = max(1, int(args.cpu + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (args.memory, args.memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def landlock(work: str) -> int:
    """Restrict this process and its children; returns the Landlock ABI (0: none)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = int(libc.syscall(ctypes.c_long(_SYS_CREATE), None, ctypes.c_size_t(0), 1))
    if abi < 1:
        return 0
    fs = _FS_WRITE_V1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    net = (_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0
    scoped = (_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if abi >= 6 else 0

    class Attr(ctypes.Structure):
        _fields_ = [
            ("fs", ctypes.c_uint64),
            ("net", ctypes.c_uint64),
            ("scoped", ctypes.c_uint64),
        ]

    class Beneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]

    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    attr = Attr(fs, net, scoped)
    ruleset = int(
        libc.syscall(ctypes.c_long(_SYS_CREATE), ctypes.byref(attr), ctypes.c_size_t(size), 0)
    )
    if ruleset < 0:
        return 0
    file_rights = (1 << 1) | (_TRUNCATE if abi >= 3 else 0)
    for path, allowed in ((work, fs), ("/dev/null", file_rights)):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = Beneath(allowed, fd)
        libc.syscall(ctypes.c_long(_SYS_ADD_RULE), ruleset, 1, ctypes.byref(rule), 0)
        os.close(fd)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return 0
    if libc.syscall(ctypes.c_long(_SYS_RESTRICT), ruleset, 0) != 0:
        return 0
    os.close(ruleset)
    return abi


def _blocker(what: str) -> Callable[..., Any]:
    def blocked(*args: Any, **kwargs: Any) -> Any:
        sys.stderr.write(f"[sandbox] blocked: {what}\n")
        sys.stderr.flush()
        raise PermissionError(f"sandbox: {what} is not allowed")

    return blocked


def _inside(work: str, path: Any) -> bool:
    if isinstance(path, int):
        return True
    real = os.path.realpath(os.fsdecode(path))
    return real == work or real.startswith(work + os.sep) or real == "/dev/null"


def _guard_writes(work: str) -> None:
    import builtins
    import io
    import shutil

    real_open, real_os_open, real_fileio = builtins.open, os.open, io.FileIO
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def check(path: Any) -> None:
        if not _inside(work, path):
            _blocker(f"writing {os.fsdecode(path)} (outside the sandbox folder)")()

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            check(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & write_flags:
            check(path)
        return real_os_open(path, flags, *args, **kwargs)

    class GuardedFileIO(real_fileio):  # type: ignore[misc, valid-type]
        def __init__(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> None:
            if any(flag in mode for flag in "wax+"):
                check(file)
            super().__init__(file, mode, *args, **kwargs)

    builtins.open = io.open = guarded_open
    os.open = guarded_os_open
    io.FileIO = GuardedFileIO  # type: ignore[misc]

    def path_guard(function: Callable[..., Any], count: int) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            for path in args[:count]:
                check(path)
            return function(*args, **kwargs)

        return guarded

    for name, count in (
        ("remove", 1), ("unlink", 1), ("rmdir", 1), ("mkdir", 1), ("rename", 2),
        ("replace", 2), ("symlink", 2), ("link", 2), ("chmod", 1), ("chown", 1),
        ("truncate", 1), ("utime", 1), ("mkfifo", 1), ("mknod", 1),
    ):  # fmt: skip
        if hasattr(os, name):
            setattr(os, name, path_guard(getattr(os, name), count))
    shutil.rmtree = path_guard(shutil.rmtree, 1)  # type: ignore[assignment]


def _guard_network() -> None:
    import _socket
    import socket

    refuse = _blocker("network access")

    class BlockedSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse()

    class BlockedRaw(_socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse()

    socket.socket = socket.SocketType = BlockedSocket  # type: ignore[misc]
    _socket.socket = _socket.SocketType = BlockedRaw  # type: ignore[misc]
    for name in (
        "create_connection", "create_server", "socketpair", "fromfd",
        "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
    ):  # fmt: skip
        for module in (socket, _socket):
            if hasattr(module, name):
                setattr(module, name, refuse)


def _guard_processes() -> None:
    import _posixsubprocess

    refuse = _blocker("starting another process")
    _posixsubprocess.fork_exec = refuse
    for name in dir(os):
        if name in ("system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp") or (
            name.startswith(("exec", "spawn")) and callable(getattr(os, name))
        ):
            setattr(os, name, refuse)


class _NoCtypes:
    """Meta-path finder that refuses ctypes (it could undo the Python-level guards)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name in ("ctypes", "_ctypes") or name.startswith("ctypes."):
            _blocker("importing ctypes")()
        return None


def install_guards(work: str) -> None:
    """The Python-level guards (not a security boundary on their own: see the module)."""
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]
    sys.meta_path.insert(0, _NoCtypes())
    _guard_network()
    _guard_processes()
    _guard_writes(work)


def main(argv: list[str]) -> None:
    """Apply limits and isolation, then run the program or exec the checker."""
    args = parse_args(argv)
    work = os.path.realpath(args.work)
    os.chdir(work)
    abi = 0 if args.no_landlock else landlock(work)
    set_limits(args)
    os.environ["AIRLOOM_SANDBOX_LANDLOCK"] = str(abi)
    if args.exec:
        os.execvp(args.exec[0], args.exec)
    import runpy

    program = os.path.join(work, args.run)
    sys.argv = [program]
    sys.path.insert(0, work)
    if not args.no_guards:
        install_guards(work)
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
