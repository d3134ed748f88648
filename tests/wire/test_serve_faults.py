"""``airloom serve`` under bad input, overload and broken adapters; the CLI end to end."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from airloom.errors import ConfigError
from airloom.serve.app import create_app
from airloom.serve.config import load_serve_config
from airloom.serve.server import BackgroundServer
from airloom.serve.service import build_service
from tests.support.cli import airloom_env, run_airloom
from tests.support.lmoe import make_adapter
from tests.support.tiny_model import tiny_model_dir


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("tiny") / "tiny")


def local_config(base, *extra):
    return load_serve_config(
        None,
        [f"base='{base}'", "engine=local", "no_auth=true", "port=0", "template=llama-2",
         "generation.dtype=float32", "generation.threads=1", "max_tokens_cap=16", *extra],
    )  # fmt: skip


def airloom(*args):
    return run_airloom(*args, threads=1)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_requests_before_the_engine_is_ready_get_503(base):
    service = build_service(local_config(base))
    with TestClient(create_app(service, manage_engine=False)) as client:
        reply = client.post(
            "/v1/chat/completions",
            json={"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert reply.status_code == 503
        assert reply.headers["retry-after"] == "1"
        assert client.get("/health").json()["status"] == "loading"


def test_a_request_storm_gets_429_not_a_crash(base):
    config = local_config(base, "max_concurrency=2", "max_queue=2", "generation.max_batch_size=2")
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 16,
        "temperature": 0,
    }

    async def storm(url):
        async with httpx.AsyncClient(timeout=120) as client:
            return await asyncio.gather(
                *(client.post(url + "/chat/completions", json=body) for _ in range(40))
            )

    with BackgroundServer(build_service(config)) as server:
        replies = asyncio.run(storm(server.url))
        codes = [r.status_code for r in replies]
        assert set(codes) <= {200, 429}, codes
        assert codes.count(200) >= 4 and codes.count(429) >= 1, codes
        refused = next(r for r in replies if r.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert refused.headers["retry-after"] == "1"
        assert httpx.post(server.url + "/chat/completions", json=body).status_code == 200


def test_fuzzed_requests_never_get_a_server_error(base):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    with BackgroundServer(build_service(local_config(base, "base_name=tiny"))) as server:
        schema = schemathesis.openapi.from_url(server.url.removesuffix("/v1") + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/completions"}
        for operation in operations:

            @settings(
                max_examples=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case):
                response = case.call(timeout=60)
                assert response.status_code < 500, (case.body, response.text)
                if response.status_code >= 400:
                    assert "message" in response.json()["error"]

            check()


def test_local_engine_serves_the_base_alone_and_refuses_experts(base, tmp_path):
    with pytest.raises(ConfigError, match="local engine serves the base model alone"):
        build_service(local_config(base, f"adapters.code='{tmp_path}'"))


def test_serving_without_a_key_needs_loopback_and_says_so(base):
    with pytest.raises(ConfigError, match="loopback"):
        build_service(local_config(base, "host=0.0.0.0"))
    with pytest.raises(ConfigError, match="AIRLOOM_SERVE_KEY"):
        build_service(local_config(base, "no_auth=false"))


def test_missing_adapter_folder_is_a_clear_startup_error(base, tmp_path):
    result = airloom(
        "serve",
        "--base",
        str(base),
        "--no-auth",
        "--port",
        "0",
        "--adapter",
        f"code={tmp_path / 'nowhere'}",
    )
    assert_one_line_error(result, "adapter folder", "does not exist")


def test_corrupt_adapters_are_clear_startup_errors(base, tmp_path):
    broken_config = make_adapter(base, tmp_path / "a", seed=1, template=None)
    (broken_config / "adapter_config.json").write_text("{ not json")
    result = airloom(
        "serve",
        "--base",
        str(base),
        "--no-auth",
        "--port",
        "0",
        "--adapter",
        f"code={broken_config}",
    )
    assert_one_line_error(result, "adapter config", "corrupt")
    broken_weights = make_adapter(base, tmp_path / "b", seed=2, template=None)
    (broken_weights / "adapter_model.safetensors").write_bytes(b"\x00garbage")
    result = airloom(
        "serve",
        "--base",
        str(base),
        "--no-auth",
        "--port",
        "0",
        "--adapter",
        f"code={broken_weights}",
    )
    assert_one_line_error(result, "cannot load the adapter 'code'")


def test_cli_serves_and_airloom_ask_is_its_client(base, tmp_path, monkeypatch):
    adapter = make_adapter(base, tmp_path / "code", seed=3, template="airoboros-2.2")
    monkeypatch.setenv("MY_SERVE_KEY", "k1,k2")
    monkeypatch.setenv("CLIENT_KEY", "k2")
    process = subprocess.Popen(
        [sys.executable, "-m", "airloom", "serve", "--base", str(base), "--port", "0",
         "--adapter", f"code={adapter}", "--api-key-env", "MY_SERVE_KEY",
         "--template", "airoboros-2.2", "--set", "generation.threads=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=airloom_env(threads=1),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("auth:"):
                break
        text = "".join(lines)
        assert "serving at http://127.0.0.1:" in text, text
        assert "engine: peft; models: tiny, code" in text
        url = text.split("serving at ")[1].split()[0]
        answer = airloom(
            "ask",
            "Hello",
            "--base-url",
            url,
            "--model",
            "code",
            "--api-key-env",
            "CLIENT_KEY",
            "--max-tokens",
            "8",
            "--raw",
            "--temperature",
            "0",
        )
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.strip()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "stopped after 1 requests" in err
    assert "Traceback" not in err
