"""The code sandbox: limits, classification and the checks of other languages.

The hostile records are in test_sandbox_hostile.py."""

from __future__ import annotations

import json
import resource
import shutil
import time

import pytest

from airloom.curate.code_check import check_code
from airloom.curate.sandbox import Limits, classify, run_python
from airloom.formats.records import make_record

FAST = Limits(cpu_seconds=1, wall_seconds=10, memory_bytes=512 << 20)


def test_a_clean_program_runs_and_its_output_comes_back():
    result = run_python("import math\nprint(math.factorial(5))", FAST)
    assert (result.status, result.stdout.strip(), result.returncode) == ("ok", "120", 0)
    assert "namespaces" in result.layers


def test_an_endless_loop_is_stopped_by_the_cpu_limit():
    started = time.monotonic()
    result = run_python("while True:\n    pass", FAST)
    assert result.status == "cpu"
    assert time.monotonic() - started < FAST.wall_seconds
    assert result.reason.startswith("CPU time limit of 1 s exceeded")


def test_a_sleeping_program_is_killed_at_the_wall_limit_with_its_children():
    result = run_python("import time\ntime.sleep(60)", Limits(cpu_seconds=5, wall_seconds=1.5))
    assert result.status == "timeout" and 1.4 < result.seconds < 10


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


def test_the_environment_holds_no_secrets_or_proxies(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("AIRLOOM_TEST_SECRET", "s3cret")
    result = run_python("import os, json\nprint(json.dumps(sorted(os.environ)))", FAST)
    names = set(json.loads(result.stdout))
    assert "HTTPS_PROXY" not in names and "AIRLOOM_TEST_SECRET" not in names
    assert {"PATH", "HOME", "TMPDIR"} <= names


def test_missing_modules_and_input_cannot_be_verified_here():
    missing = run_python("import surely_not_installed_module", FAST)
    assert (missing.status, missing.reason) == (
        "missing",
        "needs module 'surely_not_installed_module', which is not installed here",
    )
    assert run_python("name = input()", FAST).status == "input"


def test_cpu_time_counts_for_the_whole_process_tree():
    code = "import os\nfor _ in range(3):\n    os.fork()\nwhile True:\n    pass"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_python(code, Limits(cpu_seconds=1, wall_seconds=60))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.status == "cpu" and "all processes together" in result.reason
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # eight spinning processes with a per-process limit alone would use 8 CPU seconds
    assert used < 3, used


@pytest.mark.parametrize(
    ("returncode", "stderr", "status"),
    [
        (0, "", "ok"),
        (-24, "", "cpu"),
        (1, "Traceback\nMemoryError", "memory"),
        (1, "BlockingIOError: [Errno 11] Resource temporarily unavailable", "processes"),
        (1, "OSError: [Errno 28] No space left on device", "output"),
        (1, "main.c:1:10: fatal error: /etc/passwd: No such file or directory", "blocked"),
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
    return make_record("coding", instruction, response)


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
    assert network.status == "fail" and "network" in network.reason
    assert check_code(coding("Explain it.", "No code here.")).status == "skip"
