"""The code sandbox against hostile programs, each isolation layer on its own too."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time

import pytest

from airloom.curate.code_check import check_code
from airloom.curate.sandbox import Limits, classify, isolation_layers, run_python

FAST = Limits(cpu_seconds=1, wall_seconds=4, memory_bytes=512 << 20)
LAYERS = isolation_layers()


@pytest.fixture
def listener():
    """A TCP server on 127.0.0.1 that records whether anyone connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            hits.append(1)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join(2)
    server.close()


def test_a_clean_program_runs_and_its_output_comes_back():
    result = run_python("import math\nprint(math.factorial(5))", FAST)
    assert (result.status, result.stdout.strip(), result.returncode) == ("ok", "120", 0)
    assert "guards" in result.layers


def test_an_endless_loop_is_stopped_by_the_cpu_limit():
    started = time.monotonic()
    result = run_python("while True:\n    pass", FAST)
    assert result.status == "cpu"
    assert time.monotonic() - started < FAST.wall_seconds
    assert result.reason == "CPU time limit of 1 s exceeded"


def test_a_sleeping_program_is_killed_at_the_wall_limit_with_its_children():
    result = run_python("import time\ntime.sleep(60)", Limits(cpu_seconds=5, wall_seconds=1.5))
    assert result.status == "timeout" and 1.4 < result.seconds < 5


def test_unbounded_allocation_hits_the_memory_limit():
    # CPU and wall limits generous: page-zeroing on a busy machine must not hit them first
    roomy = Limits(cpu_seconds=10, wall_seconds=20, memory_bytes=FAST.memory_bytes)
    result = run_python("chunks = []\nwhile True:\n    chunks.append(bytearray(50_000_000))", roomy)
    assert result.status == "memory", result
    assert result.reason == "memory limit of 512 MiB exceeded"


def test_flooding_stdout_hits_the_file_size_limit():
    limits = Limits(cpu_seconds=5, wall_seconds=10, file_bytes=1 << 20)
    result = run_python("while True:\n    print('x' * 10000)", limits)
    assert result.status == "output" and len(result.stdout) <= limits.output_chars


def test_sockets_are_refused_and_nothing_connects(listener):
    port, hits = listener
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('in')"
    result = run_python(code, FAST)
    assert result.status == "blocked" and "network access" in result.reason
    assert result.stdout == "" and hits == []
    http = run_python("import urllib.request\nurllib.request.urlopen('http://example.com')", FAST)
    assert http.status == "blocked"


@pytest.mark.parametrize(
    "layers",
    [
        pytest.param(
            {"landlock": False},
            marks=pytest.mark.skipif("netns" not in LAYERS, reason="no network namespaces here"),
            id="netns-only",
        ),
        pytest.param(
            {"network_namespace": False},
            marks=pytest.mark.skipif("landlock-net" not in LAYERS, reason="no Landlock TCP rules"),
            id="landlock-only",
        ),
    ],
)
def test_each_kernel_layer_alone_stops_a_connection(listener, layers):
    port, hits = listener
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('in')"
    result = run_python(code, FAST, guards=False, **layers)
    assert result.status == "blocked", result.reason
    assert "in" not in result.stdout and hits == []


def test_without_any_layer_the_connection_would_succeed(listener):
    """The control: proves the listener works, so the refusals above are real."""
    port, hits = listener
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('in')"
    result = run_python(code, FAST, guards=False, landlock=False, network_namespace=False)
    assert result.status == "ok" and result.stdout.strip() == "in"
    time.sleep(0.3)
    assert hits == [1]


def test_writes_outside_the_folder_are_refused_inside_allowed(tmp_path):
    target = tmp_path / "escaped.txt"
    code = (
        "open('inside.txt', 'w').write('ok')\n"
        "import pathlib, os\n"
        "print(open('inside.txt').read())\n"
        f"pathlib.Path({str(target)!r}).write_text('escaped')\n"
    )
    result = run_python(code, FAST)
    assert result.status == "blocked" and str(target) in result.reason
    assert result.stdout.strip() == "ok" and not target.exists()
    for attempt in (
        f"import os\nos.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
        f"import shutil\nshutil.copy('/etc/hostname', {str(target)!r})",
        f"import os\nos.rename('/etc/hostname', {str(target)!r})",
        f"import io\nio.FileIO({str(target)!r}, 'w')",
    ):
        assert run_python(attempt, FAST).status == "blocked", attempt
    assert not target.exists()


@pytest.mark.skipif("landlock" not in LAYERS, reason="no Landlock on this kernel")
def test_landlock_alone_refuses_writes_outside(tmp_path):
    target = tmp_path / "escaped.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')", FAST, guards=False)
    assert result.status == "blocked" and "Permission denied" in result.reason
    assert not target.exists()


def test_processes_ctypes_and_missing_modules_and_input():
    assert run_python("import subprocess\nsubprocess.run(['true'])", FAST).status == "blocked"
    assert run_python("import os\nos.system('true')", FAST).status == "blocked"
    assert run_python("import ctypes", FAST).status == "blocked"
    missing = run_python("import surely_not_installed_module", FAST)
    assert (missing.status, missing.reason) == (
        "missing",
        "needs module 'surely_not_installed_module', which is not installed here",
    )
    assert run_python("name = input()", FAST).status == "input"


def test_the_environment_holds_no_secrets_or_proxies(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("AIRLOOM_TEST_SECRET", "s3cret")
    result = run_python("import os, json\nprint(json.dumps(sorted(os.environ)))", FAST)
    names = set(json.loads(result.stdout))
    assert "HTTPS_PROXY" not in names and "AIRLOOM_TEST_SECRET" not in names
    assert {"PATH", "HOME", "TMPDIR"} <= names


@pytest.mark.parametrize(
    ("returncode", "stderr", "status"),
    [
        (0, "", "ok"),
        (-24, "", "cpu"),
        (1, "Traceback\nMemoryError", "memory"),
        (1, "[sandbox] blocked: network access\nPermissionError", "blocked"),
        (1, "OSError: [Errno 101] Network is unreachable", "blocked"),
        (1, "ModuleNotFoundError: No module named 'flask'", "missing"),
        (1, "main.c:1:10: fatal error: curl/curl.h: No such file or directory", "missing"),
        (1, "EOFError: EOF when reading a line", "input"),
        (1, "  File x\n    def f(:\nSyntaxError: invalid syntax", "syntax"),
        (1, "ZeroDivisionError: division by zero", "error"),
    ],
)
def test_classification_table(returncode, stderr, status):
    assert classify(returncode, stderr, timed_out=False, limits=Limits())[0] == status


# ---- code of coding records -----------------------------------------------------------------
def coding(instruction, response):
    return {"category": "coding", "instruction": instruction, "response": response}


@pytest.mark.parametrize(
    ("language", "program", "good", "bad"),
    [
        ("JavaScript", "node", "const f = (a) => a + 1;\nconsole.log(f(1));", "function f( {"),
        ("C", "gcc", "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }",
         "int main(void) { return 0"),
        ("C++", "g++", "#include <vector>\nint main() { std::vector<int> v; return 0; }",
         "int main() { std::vector<int> v; }"),
        ("Bash", "bash", "for i in 1 2; do echo $i; done", "if true; then echo"),
        ("Java", "javac", "public class Hello { public static void main(String[] a) {} }",
         "public class Hello { void f( }"),
    ],
)  # fmt: skip
def test_other_languages_are_syntax_checked_where_a_parser_exists(language, program, good, bad):
    if shutil.which(program) is None:
        result = check_code(coding(f"Write a {language} program. PLAINFORMAT", good))
        assert result.status == "skip" and "not installed" in result.reason
        return
    assert check_code(coding(f"Write a {language} program. PLAINFORMAT", good)).status == "pass"
    failed = check_code(coding(f"Write a {language} program. PLAINFORMAT", bad))
    assert failed.status == "fail", failed.reason


def test_python_blocks_run_together_and_failures_say_why():
    response = (
        "```python\ndef area(r):\n    return 3 * r * r\n```\n"
        "Check:\n```python\nassert area(2) == 12\n```"
    )
    assert check_code(coding("Write a Python function.", response)).status == "pass"
    wrong = response.replace("== 12", "== 13")
    failed = check_code(coding("Write a Python function.", wrong))
    assert failed.status == "fail" and "AssertionError" in failed.reason
    syntax = check_code(coding("Write Python. PLAINFORMAT", "def f(:\n    pass"))
    assert syntax.status == "fail" and "syntax error in block 1" in syntax.reason
    network = check_code(coding("Write Python. PLAINFORMAT", "import urllib.request\n"
                                "urllib.request.urlopen('http://example.com')"))  # fmt: skip
    assert network.status == "skip" and "network" in network.reason
    assert check_code(coding("Explain it.", "No code here.")).status == "skip"
