"""Run untrusted code from a dataset: Python executed, other languages syntax-checked.

Each run gets a fresh scratch folder (its working directory, HOME and TMPDIR), an
environment with nothing but PATH, locale and thread settings (no proxies, no keys),
``python -I`` (no PYTHON* variables, no user site, no current directory on the path)
and an empty stdin. What holds, layer by layer:

* **always, kernel-enforced**: CPU seconds (SIGXCPU, then SIGKILL), address space
  (allocations fail with MemoryError), file size (SIGXFSZ; stdout and stderr are files
  and count too), open files, no core dumps; a wall-clock limit kills the whole
  process group;
* **network namespace** (``netns`` layer, when ``unshare --net`` works here, i.e. as
  root or with unprivileged user namespaces): the child has no network interface at
  all, only a loopback that is down; nothing outside is reachable, TCP or UDP;
* **Landlock** (``landlock`` layer, Linux 5.13+ with Landlock enabled): no file may be
  created, written, truncated, renamed or removed outside the scratch folder (and
  /dev/null); from ABI 4 no TCP bind or connect; from ABI 6 no signals to, or
  abstract Unix sockets with, processes outside the sandbox. It cannot be undone;
* **Python guards** (``guards`` layer, Python runs only): sockets, name lookups,
  process creation, ctypes, and writes outside the folder raise PermissionError and
  report ``[sandbox] blocked: …``, which the verdict quotes. This layer stops the
  common APIs, not a determined attacker; it is what explains a refusal, while the
  kernel layers are what enforce it.

Without the netns and Landlock layers (other kernels, containers without the
capability) only the resource limits and the Python guards hold: run verification on
data you would be willing to execute. :func:`isolation_layers` tells what this machine
provides; ``airloom verify`` prints it.

Example:
    >>> result = run_python("print(6 * 7)")
    >>> result.status, result.stdout.strip()
    ('ok', '42')
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
from pathlib import Path

from airloom.curate import sandbox_boot

BOOT = Path(sandbox_boot.__file__).resolve()


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one sandboxed run."""

    cpu_seconds: float = 5.0
    wall_seconds: float = 15.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    open_files: int = 64
    output_chars: int = 8000


@dataclass(frozen=True, slots=True)
class RunResult:
    """What happened: ``status`` is ok, error, timeout, cpu, memory, output, blocked,
    missing (a module, header or package is not installed), input (the program waits
    for input) or syntax; ``reason`` says it in words."""

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
def _netns_prefix() -> tuple[str, ...]:
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for prefix in ((unshare, "--net"), (unshare, "--map-root-user", "--net")):
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return ()


@functools.lru_cache(maxsize=1)
def _landlock_abi() -> int:
    probe = subprocess.run(
        [sys.executable, "-I", "-c", "import ctypes;l=ctypes.CDLL(None);"
         "l.syscall.restype=ctypes.c_long;print(l.syscall(444,None,ctypes.c_size_t(0),1))"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    try:
        return max(0, int(probe.stdout.strip()))
    except ValueError:
        return 0


def isolation_layers() -> tuple[str, ...]:
    """The layers this machine provides besides resource limits (module docstring).

    Example:
        >>> set(isolation_layers()) <= {"netns", "landlock", "landlock-net", "guards"}
        True
    """
    layers = []
    if _netns_prefix():
        layers.append("netns")
    abi = _landlock_abi()
    if abi >= 1:
        layers.append("landlock")
    if abi >= 4:
        layers.append("landlock-net")
    layers.append("guards")
    return tuple(layers)


def _environment(work: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


_BLOCKED = re.compile(r"^\[sandbox\] blocked: (.+)$", re.MULTILINE)
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_MISSING_HEADER = re.compile(r"fatal error: ([^:\s]+): No such file or directory")
_SYNTAX = re.compile(r"^.*\b(?:SyntaxError|IndentationError|TabError)\b.*$", re.MULTILINE)
_MISSING_PACKAGE = re.compile(r"error: package ([\w.]+) does not exist")


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
    blocked = _BLOCKED.findall(stderr)
    if timed_out:
        return "timeout", f"did not finish within {limits.wall_seconds:g} s (wall clock)"
    if returncode == 0:
        return "ok", "ran without error"
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in stderr:
        return "cpu", f"CPU time limit of {limits.cpu_seconds:g} s exceeded"
    if returncode == -signal.SIGXFSZ or "File too large" in stderr:
        return "output", f"wrote more than {limits.file_bytes >> 20} MiB"
    if "MemoryError" in stderr:
        return "memory", f"memory limit of {limits.memory_bytes >> 20} MiB exceeded"
    if blocked:
        return "blocked", f"needs {blocked[0]}, which the sandbox blocks"
    if "Network is unreachable" in stderr:
        return "blocked", "needs network access, which the sandbox blocks"
    if "PermissionError: [Errno 13]" in stderr:
        return "blocked", f"was refused by the sandbox: {_tail(stderr, 1)}"
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


def _run(
    files: dict[str, str],
    boot_args: list[str],
    limits: Limits,
    *,
    network_namespace: bool,
) -> RunResult:
    root = Path(tempfile.mkdtemp(prefix="airloom-sandbox-"))
    try:
        work = root / "work"
        work.mkdir()
        for name, text in files.items():
            (work / name).write_text(text, encoding="utf-8")
        prefix = _netns_prefix() if network_namespace else ()
        command = [
            *prefix,
            sys.executable,
            "-I",
            str(BOOT),
            "--work",
            str(work),
            "--cpu",
            str(limits.cpu_seconds),
            "--memory",
            str(limits.memory_bytes),
            "--fsize",
            str(limits.file_bytes),
            "--nofile",
            str(limits.open_files),
            *boot_args,
        ]
        started = time.monotonic()
        with open(root / "stdout", "wb") as out, open(root / "stderr", "wb") as err:
            process = subprocess.Popen(
                command,
                cwd=work,
                env=_environment(work),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            timed_out = False
            try:
                process.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        seconds = time.monotonic() - started
        stdout = (
            (root / "stdout").read_bytes()[: limits.output_chars * 4].decode("utf-8", "replace")
        )
        stderr = (
            (root / "stderr").read_bytes()[-limits.output_chars * 4 :].decode("utf-8", "replace")
        )
        status, reason = classify(process.returncode, stderr, timed_out=timed_out, limits=limits)
        layers = tuple(
            layer
            for layer in isolation_layers()
            if (layer != "netns" or prefix)
            and (not layer.startswith("landlock") or "--no-landlock" not in boot_args)
            and (layer != "guards" or ("--run" in boot_args and "--no-guards" not in boot_args))
        )
        return RunResult(
            status,
            reason,
            process.returncode,
            stdout[: limits.output_chars],
            stderr[-limits.output_chars :],
            seconds,
            layers,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_python(
    code: str,
    limits: Limits | None = None,
    *,
    network_namespace: bool = True,
    landlock: bool = True,
    guards: bool = True,
) -> RunResult:
    """Execute a Python program in the sandbox (the layers can be switched off for tests)."""
    flags = ([] if landlock else ["--no-landlock"]) + ([] if guards else ["--no-guards"])
    return _run(
        {"main.py": code},
        [*flags, "--run", "main.py"],
        limits or Limits(),
        network_namespace=network_namespace,
    )


def run_checker(
    files: dict[str, str], command: list[str], limits: Limits | None = None
) -> RunResult:
    """Run a syntax checker over ``files`` (written to the scratch folder) in the sandbox."""
    return _run(files, ["--exec", *command], limits or Limits(), network_namespace=True)
