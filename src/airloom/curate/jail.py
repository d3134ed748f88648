"""The operating-system sandbox: a bubblewrap command line, a seccomp filter and a probe.

A jailed program runs in new user, mount, PID, network, IPC, UTS and cgroup namespaces as
an unprivileged user with no capabilities and no way to create further user namespaces.
Its root file system holds only what a check needs, read-only: ``/usr`` (the toolchains),
the Python installation that runs airloom and a handful of ``/etc`` entries the compilers
read (``ld.so.cache``, ``alternatives``, the Java configuration). There is no home, no
host ``/proc`` (a fresh one shows only the sandbox's own processes), no host ``/tmp`` and
so no Unix socket of the host, no network interface but a loopback, and nothing of the
caller's environment. The only writable place is a size-capped tmpfs at ``/tmp`` (the
working directory). The sandbox dies with its parent, and when its first process ends
the kernel kills every process left in its PID namespace. A seccomp filter, where
``libseccomp`` is installed, refuses the system calls a check never needs (mounting,
kernel keyrings, BPF, ptrace, io_uring, module loading, …).

Example:
    >>> command = jail_command(["python3", "-I", "main.py"], files={}, disk_bytes=1 << 20)
    >>> command[0].endswith("bwrap"), "--unshare-all" in command, command[-3:]
    (True, True, ['python3', '-I', 'main.py'])
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["WORKDIR", "environment", "jail_command", "jail_problem", "memfd", "seccomp_filter"]

#: Working directory (and the only writable place) inside the sandbox.
WORKDIR = "/tmp"
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "java-17-openjdk",
        "java-21-openjdk", "gcc", "nodejs")  # fmt: skip
_DENIED_SYSCALLS = (
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsmount",
    "fsconfig", "move_mount", "open_tree", "mount_setattr", "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd", "ptrace", "process_vm_readv", "process_vm_writev",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "syslog", "acct", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "settimeofday", "clock_settime", "quotactl", "vhangup",
)  # fmt: skip
_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": WORKDIR,
    "TMPDIR": WORKDIR,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}


def environment(home: str = WORKDIR) -> dict[str, str]:
    """The whole environment of a sandboxed program: nothing of the caller's.

    Example:
        >>> sorted(environment())[:3]
        ['HOME', 'LANG', 'LC_ALL']
    """
    return {**_ENVIRONMENT, "HOME": home, "TMPDIR": home}


def _python_roots() -> list[str]:
    roots = []
    for prefix in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))):
        real = os.path.realpath(prefix)
        if not real.startswith("/usr/") and real not in roots:
            roots.append(real)
    return roots


def _root_arguments() -> list[str]:
    arguments = ["--ro-bind", "/usr", "/usr"]
    for name in _ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    for name in _ETC:
        arguments += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for root in _python_roots():
        arguments += ["--ro-bind-try", root, root]
    return arguments


@functools.lru_cache(maxsize=1)
def seccomp_filter() -> bytes:
    """A compiled seccomp program refusing :data:`_DENIED_SYSCALLS` with EPERM (empty
    when libseccomp is not installed).

    Example:
        >>> isinstance(seccomp_filter(), bytes)
        True
    """
    name = ctypes.util.find_library("seccomp")
    if name is None:
        return b""
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return b""
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    allow, refuse = 0x7FFF0000, 0x00050000 | 1  # SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(EPERM)
    context = lib.seccomp_init(allow)
    if not context:
        return b""
    try:
        for syscall in _DENIED_SYSCALLS:
            number = lib.seccomp_syscall_resolve_name(syscall.encode())
            if number >= 0 and lib.seccomp_rule_add(context, refuse, number, 0) != 0:
                return b""
        descriptor = os.memfd_create("airloom-seccomp")
        try:
            if lib.seccomp_export_bpf(context, descriptor) != 0:
                return b""
            os.lseek(descriptor, 0, os.SEEK_SET)
            return os.read(descriptor, 1 << 20)
        finally:
            os.close(descriptor)
    finally:
        lib.seccomp_release(context)


def memfd(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding ``data``, positioned at its start."""
    descriptor = os.memfd_create(name)
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
    os.lseek(descriptor, 0, os.SEEK_SET)
    return descriptor


def jail_command(
    argv: list[str],
    *,
    files: Mapping[str, int],
    disk_bytes: int,
    seccomp_fd: int | None = None,
) -> list[str]:
    """The bubblewrap command that runs ``argv`` in the sandbox (module docstring).

    ``files`` maps names in the working directory to readable descriptors (inherited by
    bubblewrap) whose contents become those files.
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    command = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid", "65534", "--gid", "65534",
        "--cap-drop", "ALL",
        "--die-with-parent",
        "--new-session",
        "--hostname", "sandbox",
        "--clearenv",
        # the working directory first, so that a Python installation below it (a virtual
        # environment under /tmp) is mounted over it rather than hidden by it
        "--size", str(disk_bytes), "--tmpfs", WORKDIR,
        *_root_arguments(),
        "--proc", "/proc",
        "--dev", "/dev",
    ]  # fmt: skip
    for name, value in environment().items():
        command += ["--setenv", name, value]
    for name, descriptor in files.items():
        command += ["--file", str(descriptor), f"{WORKDIR}/{name}"]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    return [*command, "--chdir", WORKDIR, "--", *argv]


@functools.lru_cache(maxsize=1)
def jail_problem() -> str | None:
    """Why the sandbox cannot run here, or None when it works (probed once).

    Example:
        >>> jail_problem() is None or "bubblewrap" in jail_problem()
        True
    """
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = [sys.executable, "-I", "-c", "import os; open('probe', 'w').write(str(os.getuid()))"]
    try:
        done = subprocess.run(
            jail_command(probe, files={}, disk_bytes=1 << 20),
            env={"PATH": _ENVIRONMENT["PATH"]},
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap cannot start: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        return (
            f"bubblewrap cannot create the sandbox here ({detail[0][:200]}); user namespaces "
            "must be allowed (sysctl kernel.unprivileged_userns_clone=1 or run as root)"
        )
    return None
