"""No secret at rest or in a message: a real run with a key, an auth header and a URL
with credentials, and a failing one."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from tests.support.cli import run_airloom
from tests.support.openai_server import OpenAIServer

SECRETS = ("pw-alice-7781", "sk-in-file-9926", "hdr-token-5531")


def config(tmp_path: Path, base_url: str) -> None:
    scheme, rest = base_url.split("://", 1)
    (tmp_path / "topics.txt").write_text("one\ntwo\nthree\n")
    (tmp_path / "config.yaml").write_text(
        f"base_url: {scheme}://alice:{SECRETS[0]}@{rest}\nmodel: t\nembedding_model: hashing\n"
        f"openai_api_key: {SECRETS[1]}\n"
        f"headers: {{X-Api-Key: {SECRETS[2]}, X-Title: airloom-test}}\n"
        "retry: {max_attempts: 1, max_consecutive_failures: 1}\n"
        "instructors:\n  general: {count: 4, batch_size: 4}\n"
    )


def generate(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_airloom(
        "generate", "-c", "config.yaml", "--quiet", "--log-json", "events.jsonl", cwd=tmp_path
    )


def test_a_run_keeps_no_secret_in_its_files_or_output(tmp_path):
    with OpenAIServer() as server:
        config(tmp_path, server.url)
        done = generate(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr
        for path in tmp_path.iterdir():
            if path.name != "config.yaml":
                assert secret.encode() not in path.read_bytes(), (secret, path.name)
    with sqlite3.connect(tmp_path / "instructions.airloom.db") as db:
        stored = db.execute("SELECT config FROM runs").fetchone()[0]
        endpoints = {row[0] for row in db.execute("SELECT endpoint FROM records")}
    assert '"openai_api_key": "***"' in stored and "alice:" not in stored
    assert '"X-Api-Key": "***"' in stored and "airloom-test" in stored
    assert all("***@" in endpoint for endpoint in endpoints), endpoints


def test_a_failing_run_does_not_print_the_credentials(tmp_path):
    config(tmp_path, "http://127.0.0.1:9/v1")  # nothing listens on the discard port
    done = generate(tmp_path)
    assert done.returncode != 0
    assert "127.0.0.1:9" in done.stderr + done.stdout
    events = (tmp_path / "events.jsonl").read_text()
    assert "***@127.0.0.1:9" in events + done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr + events
