"""Run untrusted code from a dataset: Python executed, other languages syntax-checked.

Every run happens in the operating-system sandbox of :mod:`airloom.curate.jail`
(bubblewrap: new user, mount, PID, network, IPC and UTS namespaces, a read-only root
with only the interpreter and the toolchains, no home, no host ``/proc``, no host
sockets, nothing of the caller's environment, a size-capped tmpfs as the only writable
place, seccomp where available). Around it:

* resource limits (``prlimit``) on every process: CPU seconds, address space, file size
  (stdout and stderr are files and count too), open files, no core dumps;
* limits on the whole tree: a cgroup with a process-count and a memory cap where this
  machine lets us create one, and a watch (:mod:`airloom.curate.watchdog`) that kills the
  tree past its CPU seconds (all processes together), memory, process count or wall
  clock;
* when the first process ends, or the run is killed, the kernel kills whatever is left
  in the sandbox's PID namespace: nothing outlives a run.

Where the sandbox cannot run (no bubblewrap, no user namespaces) nothing is executed:
the result is ``unverified`` with the reason, unless the caller asked for
``Limits(unsafe_no_sandbox=True)``, which runs the code with the resource limits only.

Example:
    >>> result = run_python("print(6 * 7)")
    >>> result.status in ("ok", "unverified")
    True
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO

from airloom.curate.jail import environment, jail_command, jail_problem, memfd, seccomp_filter
from airloom.curate.watchdog import Cgroup, tree_usage

__all__ = [
    "Limits",
    "RunResult",
    "classify",
    "isolation_layers",
    "run_checker",
    "run_python",
    "sandbox_problem",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one sandboxed run (``unsafe_no_sandbox``: run without the
    operating-system sandbox, resource limits only)."""

    cpu_seconds: float = 5.0
    wall_seconds: float = 15.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    disk_bytes: int = 64 << 20
    open_files: int = 64
    processes: int = 64
    output_chars: int = 8000
    unsafe_no_sandbox: bool = False


@dataclass(frozen=True, slots=True)
class RunResult:
    """What happened: ``status`` is ok, error, timeout, cpu, memory, processes, output,
    blocked (the program needs what the sandbox refuses), missing (a module, header or
    package is not installed), input (the program waits for input), syntax, or
    unverified (nothing was run: no sandbox here); ``reason`` says it in words."""

    status: str
    reason: str
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    layers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the program ran (or the code parsed) without error."""
        return self.status == "ok"


@functools.lru_cache(maxsize=1)
def _cgroup_controllers() -> tuple[str, ...]:
    Cgroup.sweep()
    cgroup = Cgroup(8, 64 << 20)
    try:
        return tuple(cgroup.controllers)
    finally:
        cgroup.close()


def isolation_layers(limits: Limits | None = None) -> tuple[str, ...]:
    """What isolates a run on this machine (empty: code is not run at all).

    Example:
        >>> set(isolation_layers()) <= {"namespaces", "seccomp", "cgroup-pids",
        ...     "cgroup-memory", "tree-watch", "rlimits"}
        True
    """
    limits = limits or Limits()
    if limits.unsafe_no_sandbox:
        return ("rlimits", "tree-watch")
    if jail_problem() is not None:
        return ()
    layers = ["namespaces"] + (["seccomp"] if seccomp_filter() else [])
    layers += [f"cgroup-{name}" for name in _cgroup_controllers()]
    return (*layers, "tree-watch", "rlimits")


def sandbox_problem(limits: Limits | None = None) -> str | None:
    """Why code will not be run here, or None.

    Example:
        >>> sandbox_problem(Limits(unsafe_no_sandbox=True)) is None
        True
    """
    if limits is not None and limits.unsafe_no_sandbox:
        return None
    problem = jail_problem()
    if problem is None:
        return None
    return f"no sandbox: {problem}; or pass --unsafe-no-sandbox to run the code unprotected"


_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_MISSING_HEADER = re.compile(r"fatal error: ([^:\s]+): No such file or directory")
_SYNTAX = re.compile(r"^.*\b(?:SyntaxError|IndentationError|TabError)\b.*$", re.MULTILINE)
_MISSING_PACKAGE = re.compile(r"error: package ([\w.]+) does not exist")
_NO_NETWORK = re.compile(
    r"Network is unreachable|Temporary failure in name resolution|Name or service not known"
    r"|Connection refused|No address associated with hostname"
)
_NO_FORK = re.compile(r"fork.*Resource temporarily unavailable|BlockingIOError: \[Errno 11\]")


def _tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[:400]


def classify(
    returncode: int | None, stderr: str, *, timed_out: bool, limits: Limits
) -> tuple[str, str]:
    """(status, reason) of a finished run.

    Example:
        >>> classify(1, "Traceback ...\\nMemoryError", timed_out=False, limits=Limits())
        ('memory', 'memory limit of 1024 MiB exceeded')
        >>> classify(-24, "", timed_out=False, limits=Limits())
        ('cpu', 'CPU time limit of 5 s exceeded')
    """
    if timed_out:
        return "timeout", f"did not finish within {limits.wall_seconds:g} s (wall clock)"
    if returncode == 0:
        return "ok", "ran without error"
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in stderr:
        return "cpu", f"CPU time limit of {limits.cpu_seconds:g} s exceeded"
    if returncode == -signal.SIGXFSZ or "File too large" in stderr:
        return "output", f"wrote more than {limits.file_bytes >> 20} MiB"
    if "No space left on device" in stderr:
        return "output", f"filled its {limits.disk_bytes >> 20} MiB of disk"
    if "MemoryError" in stderr:
        return "memory", f"memory limit of {limits.memory_bytes >> 20} MiB exceeded"
    if _NO_FORK.search(stderr):
        return "processes", f"started more than {limits.processes} processes"
    if _NO_NETWORK.search(stderr):
        return "blocked", "needs network access, which the sandbox does not give"
    if "PermissionError: [Errno 13]" in stderr or "Operation not permitted" in stderr:
        return "blocked", f"was refused by the sandbox: {_tail(stderr, 1)}"
    header = _MISSING_HEADER.search(stderr)
    if header and (header.group(1).startswith("/") or ".." in header.group(1)):
        return "blocked", f"includes '{header.group(1)}', a file outside the program"
    for pattern, what in (
        (_MISSING_MODULE, "module"),
        (_MISSING_HEADER, "header"),
        (_MISSING_PACKAGE, "package"),
    ):
        found = pattern.search(stderr)
        if found:
            return "missing", f"needs {what} '{found.group(1)}', which is not installed here"
    if "EOFError" in stderr:
        return "input", "waits for input on stdin"
    syntax = _SYNTAX.search(stderr)
    if syntax:
        return "syntax", f"syntax error: {syntax.group(0).strip()[:300]}"
    return "error", f"exit status {returncode}: {_tail(stderr)}"


def _prlimit(limits: Limits) -> list[str]:
    cpu = max(1, int(limits.cpu_seconds + 0.999))
    prlimit = shutil.which("prlimit") or shutil.which("prlimit", path="/usr/bin:/bin") or "prlimit"
    return [
        prlimit,
        f"--cpu={cpu}:{cpu + 1}",
        f"--as={limits.memory_bytes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def _watch(process: subprocess.Popen[bytes], limits: Limits) -> str | None:
    """Wait for the run; kill the tree past a limit and say which (None: it ended)."""
    deadline = time.monotonic() + limits.wall_seconds
    interval = 0.01
    pids: tuple[int, ...] = ()
    over = None
    while over is None:
        try:
            process.wait(timeout=interval)
            return None
        except subprocess.TimeoutExpired:
            pass
        interval = min(0.1, interval * 1.5)
        usage = tree_usage(process.pid)
        pids = usage.pids or pids
        if usage.cpu_seconds > limits.cpu_seconds + 0.5:
            over = "cpu"
        elif usage.memory_bytes > limits.memory_bytes:
            over = "memory"
        elif usage.processes > limits.processes + 4:  # bwrap, its init, prlimit slack
            over = "processes"
        elif time.monotonic() > deadline:
            over = "timeout"
    for pid in (process.pid, *pids):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    return over


_WATCHED = {
    "cpu": "CPU time limit of {cpu:g} s exceeded (all processes together)",
    "memory": "memory limit of {memory} MiB exceeded (all processes together)",
    "processes": "started more than {processes} processes",
}


def _read(stream: IO[bytes], chars: int, *, tail: bool) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - chars * 4) if tail else 0)
    text = stream.read(chars * 4).decode("utf-8", "replace")
    return text[-chars:] if tail else text[:chars]


def _run(files: dict[str, str], argv: list[str], limits: Limits) -> RunResult:
    problem = sandbox_problem(limits)
    if problem is not None:
        return RunResult("unverified", problem, None)
    descriptors: list[int] = []
    scratch = None
    cgroup = Cgroup(limits.processes, limits.memory_bytes)
    try:
        if limits.unsafe_no_sandbox:
            scratch = tempfile.mkdtemp(prefix="airloom-unsafe-")
            for name, text in files.items():
                with open(os.path.join(scratch, name), "w", encoding="utf-8") as handle:
                    handle.write(text)
            command, cwd, env = argv, scratch, environment(scratch)
        else:
            named = {name: memfd(name, text.encode("utf-8")) for name, text in files.items()}
            descriptors += named.values()
            bpf = seccomp_filter()
            if bpf:
                descriptors.append(memfd("seccomp", bpf))
            command = jail_command(
                argv,
                files=named,
                disk_bytes=limits.disk_bytes,
                seccomp_fd=descriptors[-1] if bpf else None,
            )
            cwd, env = "/", {"PATH": environment()["PATH"]}
        started = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(
                [*cgroup.prefix, *_prlimit(limits), *command],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=descriptors,
            )
            over = _watch(process, limits)
            stdout = _read(out, limits.output_chars, tail=False)
            stderr = _read(err, limits.output_chars, tail=True)
        returncode = process.returncode
        if not limits.unsafe_no_sandbox and returncode is not None and 128 < returncode < 160:
            returncode = 128 - returncode  # bubblewrap reports a child's signal as 128 + n
        if over is None and cgroup.out_of_memory():
            over = "memory"
        if over in _WATCHED:
            status = over
            reason = _WATCHED[over].format(
                cpu=limits.cpu_seconds,
                memory=limits.memory_bytes >> 20,
                processes=limits.processes,
            )
        else:
            status, reason = classify(
                returncode, stderr, timed_out=over == "timeout", limits=limits
            )
        return RunResult(
            status,
            reason,
            returncode,
            stdout,
            stderr,
            time.monotonic() - started,
            isolation_layers(limits),
        )
    finally:
        for descriptor in descriptors:
            os.close(descriptor)
        cgroup.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def run_python(code: str, limits: Limits | None = None) -> RunResult:
    """Execute a Python program in the sandbox (``python -I``: no user site, no
    ``PYTHON*`` variables, no current directory on the path).

    Example:
        >>> run_python("import sys; sys.exit(3)").status in ("error", "unverified")
        True
    """
    return _run({"main.py": code}, [sys.executable, "-I", "main.py"], limits or Limits())


def run_checker(
    files: dict[str, str], command: list[str], limits: Limits | None = None
) -> RunResult:
    """Run a syntax checker over ``files`` (in the working directory) in the sandbox."""
    return _run(files, command, limits or Limits())
