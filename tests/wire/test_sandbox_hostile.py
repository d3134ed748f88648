"""Hostile coding records against the sandbox of ``airloom verify``.

Each program succeeds only if its attack succeeds, so inside the sandbox every one must
end graded ``fail``; each test also checks, outside, that the effect did not happen: the
listener got nothing, the canary file is absent, no process outlived the run, the secret
appears nowhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airloom.curate.sandbox import Limits
from airloom.curate.verify import verify_record
from airloom.formats.records import make_record
from tests.support.cli import COMMAND, ENV

FAST = Limits(cpu_seconds=2, wall_seconds=15, memory_bytes=512 << 20)
SECRET = "sk-airloom-test-" + uuid.uuid4().hex


def verdict(code: str, language: str = "python", limits: Limits = FAST) -> tuple[str, str]:
    """The graded verdict of a coding record holding ``code``."""
    record = make_record(
        "coding", f"Write a {language} program.", f"```{language}\n{code}\n```", id="hostile"
    )
    result = verify_record(record, limits=limits)
    return result.status, result.reason


def processes_with(marker: str) -> list[int]:
    """Host PIDs whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and int(entry) != os.getpid():
                found.append(int(entry))
    return found


class Listener:
    """A TCP, UDP or Unix-socket server that records every byte anyone sends it."""

    def __init__(self, kind: str, path: Path | None = None) -> None:
        family = socket.AF_UNIX if kind in ("unix", "abstract") else socket.AF_INET
        sock_type = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
        self.socket = socket.socket(family, sock_type)
        if kind == "abstract":  # a Unix socket with no file, reachable in one network namespace
            path = Path("\0airloom-test-" + uuid.uuid4().hex)
        self.socket.bind(str(path) if path else ("127.0.0.1", 0))
        if sock_type == socket.SOCK_STREAM:
            self.socket.listen()
        self.socket.settimeout(0.1)
        self.address = str(path) if path else self.socket.getsockname()
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(sock_type,), daemon=True)
        self.thread.start()

    def _serve(self, sock_type: int) -> None:
        while not self.stop.is_set():
            try:
                if sock_type == socket.SOCK_DGRAM:
                    data, peer = self.socket.recvfrom(1024)
                    self.received.append(data)
                    self.socket.sendto(b"pong", peer)
                    continue
                connection, _ = self.socket.accept()
            except (TimeoutError, OSError):
                continue
            self.received.append(connection.recv(1024) or b"<connected>")
            connection.sendall(b"pong")
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.socket.close()


@pytest.fixture(params=["tcp", "udp", "unix", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Listener]:
    server = Listener(request.param, tmp_path / "host.sock" if request.param == "unix" else None)
    yield server
    server.close()


def test_the_listeners_work_from_outside(listener: Listener) -> None:
    """The control: what the sandboxed programs attempt reaches the listener from here."""
    client = _client_code(listener)
    namespace: dict[str, object] = {}
    exec(client, namespace)  # the very code the hostile record runs, outside the sandbox
    time.sleep(0.2)
    assert listener.received == [b"ping"]


def _client_code(listener: Listener) -> str:
    if isinstance(listener.address, str):
        family, kind, address = "AF_UNIX", "SOCK_STREAM", repr(listener.address)
    else:
        family, address = "AF_INET", repr(tuple(listener.address))
        kind = "SOCK_DGRAM" if listener.socket.type == socket.SOCK_DGRAM else "SOCK_STREAM"
    return (
        "import socket\n"
        f"s = socket.socket(socket.{family}, socket.{kind})\n"
        "s.settimeout(1.5)\n"
        f"s.connect({address})\n"
        "s.send(b'ping')\n"
        "assert s.recv(4) == b'pong'\n"
    )


def test_network_and_host_sockets_are_unreachable(listener: Listener) -> None:
    status, reason = verdict(_client_code(listener))
    time.sleep(0.2)
    assert status == "fail", reason
    assert listener.received == []


def test_the_raw_socket_class_reached_through_mro_connects_nowhere() -> None:
    server = Listener("tcp")
    try:
        code = (
            "import socket\n"
            "raw = [k for k in type(socket.socket(socket.AF_INET)).mro() "
            "if k.__module__ == '_socket'][0]\n"
            f"s = raw(2, 1)\ns.settimeout(1.5)\ns.connect({tuple(server.address)!r})\n"
            "s.send(b'raw')\n"
        )
        status, reason = verdict(code)
        time.sleep(0.2)
        assert status == "fail", reason
        assert server.received == []
    finally:
        server.close()


def test_no_process_environment_is_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    code = (
        "import os, glob\n"
        "seen = [open(p, 'rb').read() for p in "
        "[f'/proc/{os.getppid()}/environ', *glob.glob('/proc/*/environ')] "
        "if os.access(p, os.R_OK)]\n"
        "print(seen, dict(os.environ))\n"
        "assert any(b'OPENAI_API_KEY' in s for s in seen) or 'OPENAI_API_KEY' in os.environ\n"
    )
    status, reason = verdict(code)
    assert status == "fail", reason
    assert SECRET not in reason


def test_host_files_and_home_are_not_readable(tmp_path: Path) -> None:
    canary = tmp_path / "secret.txt"
    canary.write_text(SECRET)
    home_files = [p for p in Path.home().iterdir() if p.is_file()][:3]
    for path in [canary, Path("/etc/passwd"), Path("/etc/shadow"), *home_files]:
        status, reason = verdict(f"print(open({str(path)!r}).read())")
        assert status == "fail", (path, reason)
        assert SECRET not in reason and "root:" not in reason


def test_process_creation_and_ctypes_cannot_write_outside(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    attacks = [
        f"import posix\nposix.system('echo pwned > {canary}')",
        f"import os\nos.spawnv(os.P_WAIT, '/bin/sh', ['sh', '-c', 'echo pwned > {canary}'])",
        "import sys\nsys.meta_path[:] = [f for f in sys.meta_path "
        "if 'Ctypes' not in type(f).__name__]\n"
        f"import ctypes\nctypes.CDLL(None).system(b'echo pwned > {canary}')",
    ]
    for attack in attacks:
        status, reason = verdict(f"{attack}\nimport os\nassert os.path.exists({str(canary)!r})")
        assert status == "fail", (attack, reason)
        assert not canary.exists(), attack


def test_host_processes_cannot_be_signalled() -> None:
    victim = subprocess.Popen(["sleep", "60"])
    try:
        code = f"import os, signal\nos.kill({victim.pid}, signal.SIGKILL)"
        status, reason = verdict(code)
        assert status == "fail", reason
        time.sleep(0.2)
        assert victim.poll() is None  # still alive
    finally:
        victim.kill()
        victim.wait()


def test_a_setsid_double_fork_does_not_outlive_the_run() -> None:
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}.5"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"
        "raise SystemExit('the orphan is left behind')\n"
    )
    status, reason = verdict(code)
    assert status == "fail", reason
    time.sleep(0.3)
    assert processes_with(marker) == []


def test_a_fork_bomb_is_stopped_and_leaves_nothing_behind() -> None:
    marker = "bomb" + uuid.uuid4().hex[:11]  # a process name (15 characters at most)
    code = (
        f"open('/proc/self/comm', 'w').write({marker!r})\n"
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    )
    status, reason = verdict(code, limits=Limits(cpu_seconds=2, wall_seconds=30))
    assert status == "fail" and ("processes" in reason or "CPU" in reason), reason
    time.sleep(0.3)
    named = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == marker:
                named.append(entry)
        except OSError:
            continue
    assert named == []


def test_filling_the_disk_stops_at_the_tmpfs_cap() -> None:
    code = "for i in range(40):\n    open(f'f{i}', 'wb').write(b'x' * (10 << 20))"
    limits = Limits(cpu_seconds=5, wall_seconds=10, disk_bytes=32 << 20)
    status, reason = verdict(code, limits=limits)
    assert status == "fail" and "disk" in reason, reason


def test_a_c_include_of_a_host_file_is_not_quoted(tmp_path: Path) -> None:
    secret = tmp_path / "secret.h"
    secret.write_text(f"int leak = {SECRET};\n")
    for path in (secret, Path("/etc/passwd")):
        status, reason = verdict(f'#include "{path}"\nint main(void) {{ return 0; }}', "c")
        assert status == "fail", reason
        assert SECRET not in reason and "root:" not in reason and "outside" in reason


def test_without_a_sandbox_nothing_runs_and_nothing_passes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airloom.curate import jail

    canary = tmp_path / "ran"
    monkeypatch.setenv("PATH", str(tmp_path))  # no bubblewrap on this PATH
    jail.jail_problem.cache_clear()
    try:
        status, reason = verdict(f"open({str(canary)!r}, 'w').write('x')")
        assert status == "unverified" and "bubblewrap" in reason and "--unsafe-no-sandbox" in reason
        assert not canary.exists()
        unsafe = Limits(cpu_seconds=2, wall_seconds=6, unsafe_no_sandbox=True)
        assert verdict(f"open({str(canary)!r}, 'w').write('x')", limits=unsafe)[0] == "pass"
        assert canary.exists()  # the unsafe mode really is unprotected
    finally:
        jail.jail_problem.cache_clear()


def test_the_verify_command_says_why_nothing_ran(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    source = tmp_path / "code.jsonl"
    code = f"```python\nopen({str(canary)!r}, 'w').write('x')\n```"
    source.write_text(json.dumps({"category": "coding", "instruction": "Py", "response": code}))
    env = {**ENV, "PATH": str(tmp_path)}  # no bubblewrap on this PATH
    done = subprocess.run(
        [*COMMAND, "verify", str(source), "-q"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "code is not run" in done.stderr and "apt-get install bubblewrap" in done.stderr
    counts = json.loads(done.stdout.splitlines()[-1])
    assert (counts["unverified"], counts["pass"]) == (1, 0)
    assert not canary.exists()
    unsafe = subprocess.run(
        [*COMMAND, "verify", str(source), "-q", "--unsafe-no-sandbox"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert "unsafe" in unsafe.stderr and json.loads(unsafe.stdout.splitlines()[-1])["pass"] == 1
    assert canary.exists()


def test_nothing_outlives_a_killed_verify_command(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6 + 2 * 10**6}.5"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n"
        "time.sleep(120)\n"
    )
    source = tmp_path / "code.jsonl"
    source.write_text(
        json.dumps({"category": "coding", "instruction": "Py", "response": f"```python\n{code}```"})
    )
    verify = subprocess.Popen(
        [*COMMAND, "verify", str(source), "-q", "--wall", "120", "--cpu", "60"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker), "the sandboxed program never started"
    verify.kill()
    verify.wait()
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []
