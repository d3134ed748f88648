"""Verify the code of a coding record: Python is run, other languages syntax-checked.

Python blocks are compiled one by one, then run together (in order) in the sandbox.
Other languages go through a parser that exists on this machine: ``node --check``,
``gcc``/``g++ -fsyntax-only``, ``bash -n``, ``javac``, ``gofmt -e``; one that is not
installed makes the block *skipped*, never passed. Every program and checker runs in the
operating-system sandbox (:mod:`airloom.curate.sandbox`). A program that needs a module
or header that is not installed, or input on stdin, cannot be verified here and is
skipped with that reason; one that fails, needs the network or a file outside the
sandbox, times out or exceeds a limit fails. Where no sandbox is available nothing is
run and the record is *unverified*.

Example:
    >>> from airloom.formats.records import make_record
    >>> result = check_code(make_record(category="coding", instruction="Write Python. PLAINFORMAT",
    ...                      response="print(sum(range(4)))"))
    >>> result.status, result.reason
    ('pass', 'python: ran without error')
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from airloom.curate.codeblocks import CodeBlock, code_blocks
from airloom.curate.sandbox import Limits, RunResult, run_checker, run_python
from airloom.formats.records import Record

__all__ = [
    "CHECKERS",
    "UNVERIFIABLE",
    "CheckResult",
    "Checker",
    "available_checkers",
    "check_code",
    "combine",
]

#: Run statuses that mean "could not be verified here", not "wrong" (a program that needs
#: what the sandbox refuses, the network or a file outside it, fails).
UNVERIFIABLE = frozenset({"missing", "input"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    """pass, fail, skip or unverified (no sandbox here: nothing was run), with a reason."""

    status: str
    reason: str


Checker = Callable[[str], tuple[dict[str, str], list[str]]]


def _java(code: str) -> tuple[dict[str, str], list[str]]:
    found = re.search(
        r"\bpublic\s+(?:final\s+|abstract\s+)*(?:class|interface|enum|record)\s+(\w+)", code
    )
    name = found.group(1) if found else "Main"
    return {f"{name}.java": code}, [
        "javac",
        "-J-Xmx256m",
        "-J-XX:ReservedCodeCacheSize=32m",
        "-J-XX:MaxMetaspaceSize=128m",
        "-J-XX:CompressedClassSpaceSize=64m",
        "-J-XX:+UseSerialGC",
        "-J-XX:TieredStopAtLevel=1",
        "-proc:none",
        "-d",
        "classes",
        f"{name}.java",
    ]


CHECKERS: dict[str, tuple[str, Checker]] = {
    "javascript": ("node", lambda code: ({"main.js": code}, ["node", "--check", "main.js"])),
    "c": ("gcc", lambda code: ({"main.c": code}, ["gcc", "-fsyntax-only", "main.c"])),
    "c++": (
        "g++",
        lambda code: ({"main.cpp": code}, ["g++", "-std=c++17", "-fsyntax-only", "main.cpp"]),
    ),
    "bash": ("bash", lambda code: ({"main.sh": code}, ["bash", "-n", "main.sh"])),
    "java": ("javac", _java),
    "go": ("gofmt", lambda code: ({"main.go": code}, ["gofmt", "-e", "-l", "main.go"])),
}
_CHECKER_LIMITS: dict[str, dict[str, Any]] = {
    "java": {"cpu_seconds": 20, "wall_seconds": 40, "memory_bytes": 4 << 30, "processes": 256}
}


def available_checkers() -> dict[str, str]:
    """Language → checker program, for the checkers installed on this machine.

    Example:
        >>> "python" in available_checkers()
        True
    """
    found = {"python": "python (executed)"}
    for language, (program, _) in CHECKERS.items():
        if shutil.which(program):
            found[language] = program
    return found


def _from_run(language: str, run: RunResult, *, executed: bool) -> CheckResult:
    if run.ok:
        return CheckResult("pass", f"{language}: {'ran without error' if executed else 'parses'}")
    if run.status == "unverified":
        return CheckResult("unverified", run.reason)
    status = "skip" if run.status in UNVERIFIABLE else "fail"
    return CheckResult(status, f"{language}: {run.reason}")


def _python(blocks: list[CodeBlock], limits: Limits) -> CheckResult:
    for number, block in enumerate(blocks, start=1):
        try:
            compile(block.code, f"block {number}", "exec")
        except SyntaxError as exc:
            return CheckResult(
                "fail", f"python: syntax error in block {number}: {exc.msg} (line {exc.lineno})"
            )
        except ValueError as exc:  # null bytes
            return CheckResult("fail", f"python: block {number} cannot be compiled: {exc}")
    program = "\n\n".join(block.code for block in blocks)
    return _from_run("python", run_python(program, limits), executed=True)


def _other(language: str, block: CodeBlock, limits: Limits) -> CheckResult:
    entry = CHECKERS.get(language)
    if entry is None:
        return CheckResult("skip", f"{language}: no checker for this language")
    program, build = entry
    if shutil.which(program) is None:
        return CheckResult("skip", f"{language}: {program} is not installed here")
    files, command = build(block.code)
    wanted = _CHECKER_LIMITS.get(language, {})
    run = run_checker(files, command, replace(limits, **wanted) if wanted else limits)
    return _from_run(language, run, executed=False)


def combine(results: list[CheckResult]) -> CheckResult:
    """One result from several: any fail fails, else any unverified leaves it unverified,
    else any pass passes, else skip.

    Example:
        >>> combine([CheckResult("skip", "a"), CheckResult("pass", "b")])
        CheckResult(status='pass', reason='b')
    """
    for status in ("fail", "unverified", "pass"):
        chosen = [r.reason for r in results if r.status == status]
        if chosen:
            return CheckResult(status, "; ".join(chosen))
    return CheckResult("skip", "; ".join(r.reason for r in results) or "no code found")


def check_code(record: Record, limits: Limits | None = None) -> CheckResult:
    """Verify every code block of a record (module docstring)."""
    blocks = code_blocks(record)
    if not blocks:
        return CheckResult("skip", "no code found")
    limits = limits or Limits()
    python = [b for b in blocks if b.language == "python"]
    results = [_python(python, limits)] if python else []
    for block in blocks:
        if block.language == "python":
            continue
        if block.language is None:
            results.append(CheckResult("skip", "unknown language"))
        else:
            results.append(_other(block.language, block, limits))
    return combine(results)
