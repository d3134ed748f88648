"""Bad input through the real command line: binary files, invalid UTF-8, lone surrogates,
deep nesting, an alias bomb. Each ends with an error line and a non-zero status, never a
traceback; good rows in the same file are kept and the input is left byte-identical."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import run_airloom as airloom

GOOD = [json.dumps({"instruction": f"Question {n}?", "response": f"Answer {n}."}) for n in range(3)]
BAD_LINES = [
    "\x00\x01\x02 binary \xff".encode("latin-1"),
    b'{"instruction": "caf\xc3", "response": "x"}',
    b'{"instruction": "\\ud800", "response": "x"}',
    b"[" * 200_000 + b"]" * 200_000,
]


def assert_clean_failure(done: subprocess.CompletedProcess[str], status: int | None = None) -> None:
    assert done.returncode != 0 if status is None else done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-2000:]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    files = {
        "binary": tmp_path / "binary.jsonl",
        "mixed": tmp_path / "mixed.jsonl",
        "text": tmp_path / "binary.txt",
        "funcs": tmp_path / "funcs.py",
    }
    files["binary"].write_bytes(os.urandom(4096).replace(b"\n", b"") + b"\n" + b"\xff" * 50)
    lines = [GOOD[0].encode(), *BAD_LINES, GOOD[1].encode(), GOOD[2].encode()]
    files["mixed"].write_bytes(b"\n".join(lines) + b"\n")
    files["text"].write_bytes(b"#E1 = search[\xff\xfe]\x00")
    files["funcs"].write_text('def ping() -> str:\n    """Answer pong."""\n    return "pong"\n')
    return files


def test_binary_and_invalid_text_never_give_a_traceback(tmp_path, inputs):
    before = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in inputs.items()}
    commands = [
        ["import", "binary.jsonl", "--store", "s.airloom.db", "--embedding-model", "hashing"],
        ["merge", "binary.jsonl", "--out", "merged.jsonl", "--embedding-model", "hashing"],
        ["export", "--from", "binary.jsonl", "--out", "exported.jsonl"],
        ["verify", "binary.jsonl", "-q", "--no-code"],
        ["plan", "--from-file", "binary.txt", "--validate-only"],
        ["call", "--from-file", "binary.txt", "--registry", "funcs.py", "--validate-only"],
    ]
    for command in commands:
        assert_clean_failure(airloom(*command, cwd=tmp_path))
    after = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in inputs.items()}
    assert after == before


def test_good_rows_of_a_damaged_file_are_kept(tmp_path, inputs):
    done = airloom(
        "import",
        "mixed.jsonl",
        "--store",
        "s.airloom.db",
        "--embedding-model",
        "hashing",
        cwd=tmp_path,
    )
    assert_clean_failure(done, status=1)
    assert f"unreadable rows {len(BAD_LINES)}" in done.stderr
    with sqlite3.connect(tmp_path / "s.airloom.db") as db:
        assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == len(GOOD)
    exported = airloom("export", "--from", "mixed.jsonl", "--out", "e.jsonl", cwd=tmp_path)
    assert_clean_failure(exported, status=1)
    assert f"skipped {len(BAD_LINES)} unreadable rows" in exported.stderr
    assert len((tmp_path / "e.jsonl").read_text().splitlines()) == len(GOOD)


def test_an_alias_bomb_config_fails_at_once(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    for command in (["config", "check", "bomb.yaml"], ["generate", "-c", "bomb.yaml"]):
        started = time.monotonic()
        done = airloom(*command, cwd=tmp_path)
        assert time.monotonic() - started < 20
        assert_clean_failure(done, status=2)
        assert "through its aliases" in done.stderr
