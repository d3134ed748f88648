"""``airloom serve`` with the PEFT engine over three LoRA experts on the tiny model,
exercised with the official ``openai`` client (and raw HTTP where the client cannot)."""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx
import openai
import pytest

from airloom.serve.config import load_serve_config
from airloom.serve.server import BackgroundServer
from airloom.serve.service import build_service
from tests.support.lmoe import make_lmoe

KEY = "test-key-123"
HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def lmoe(tmp_path_factory):
    return make_lmoe(tmp_path_factory.mktemp("lmoe"))


@pytest.fixture(scope="module")
def server(lmoe):
    base, experts = lmoe
    os.environ["AIRLOOM_TEST_SERVE_KEY"] = KEY
    config = load_serve_config(
        None,
        [
            f"base='{base}'",
            f"lmoe='{experts}'",
            "api_key_env=AIRLOOM_TEST_SERVE_KEY",
            "port=0",
            "template=airoboros-2.2",
            "generation.dtype=float32",
            "generation.threads=1",
            "max_tokens_cap=64",
            "default_max_tokens=12",
            "max_body_bytes=20000",
            "router.margin=0.0",
        ],
    )
    with BackgroundServer(build_service(config)) as running:
        yield running


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=60)


def chat(client, model="code", **kwargs):
    kwargs.setdefault("messages", HELLO)
    kwargs.setdefault("max_tokens", 8)
    kwargs.setdefault("temperature", 0)
    return client.chat.completions.create(model=model, **kwargs)


def test_models_lists_base_experts_and_the_routed_alias(client):
    models = {m.id: m for m in client.models.list()}
    assert list(models) == ["tiny-base", "code", "creative", "general", "lmoe"]
    assert models["code"].model_extra["parent"] == "tiny-base"


def test_plain_chat_names_the_expert_and_counts_tokens(client):
    reply = chat(client, "creative")
    assert reply.model == "creative"
    assert reply.model_extra["expert"] == "creative"
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 0
    assert 0 < reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_experts_answer_differently_from_each_other_and_the_base(client):
    answers = {
        m: chat(client, m, max_tokens=12).choices[0].message.content
        for m in ("tiny-base", "code", "creative", "general")
    }
    assert len(set(answers.values())) == 4, answers


def test_stream_gives_the_same_text_as_the_plain_answer(client):
    plain = chat(client, "general", max_tokens=16).choices[0].message.content
    stream = chat(
        client, "general", max_tokens=16, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes in (["stop"], ["length"])
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_completions_plain_and_streamed(client):
    plain = client.completions.create(
        model="tiny-base", prompt="The sea is", max_tokens=6, temperature=0
    )
    assert plain.choices[0].text and plain.usage.prompt_tokens > 0
    streamed = client.completions.create(
        model="tiny-base", prompt="The sea is", max_tokens=6, temperature=0, stream=True
    )
    assert "".join(c.choices[0].text for c in streamed if c.choices) == plain.choices[0].text


def test_n_choices_and_seeded_sampling(client):
    reply = chat(client, "code", n=3, temperature=1.0, seed=7, max_tokens=10)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    again = chat(client, "code", n=3, temperature=1.0, seed=7, max_tokens=10)
    assert [c.message.content for c in reply.choices] == [c.message.content for c in again.choices]


def test_explicit_expert_field_overrides_routing(client):
    reply = chat(
        client,
        "lmoe",
        extra_body={"expert": "code"},
        messages=[{"role": "user", "content": "Write a poem about the sea."}],
    )
    assert reply.model_extra["expert"] == "code"
    assert reply.model_extra["routing_duration"] == 0.0


@pytest.mark.parametrize(
    ("question", "expert"),
    [
        ("Write a Python function that reverses a string.", "code"),
        ("Write a poem about the moon and the stars.", "creative"),
        ("What is the capital of Germany?", "general"),
    ],
)
def test_routed_requests_reach_the_nearest_expert(client, question, expert):
    reply = chat(client, "lmoe", messages=[{"role": "user", "content": question}])
    assert reply.model_extra["expert"] == expert
    assert reply.model_extra["routing_duration"] > 0


def test_wrong_or_missing_key_is_401(server):
    bad = openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    assert httpx.get(server.url + "/models").status_code == 401
    assert httpx.get(server.url.removesuffix("/v1") + "/health").status_code == 200


def test_unknown_model_or_expert_is_404(client):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        chat(client, "gpt-4")
    with pytest.raises(openai.NotFoundError, match="expert"):
        chat(client, "lmoe", extra_body={"expert": "poetry"})


def test_bad_parameters_are_400_in_the_openai_shape(client, server):
    with pytest.raises(openai.BadRequestError, match="temperature"):
        chat(client, temperature=5)
    with pytest.raises(openai.BadRequestError, match="cap of 64"):
        chat(client, max_tokens=65)
    with pytest.raises(openai.BadRequestError, match="turn"):
        chat(client, messages=[{"role": "assistant", "content": "first"}])
    reply = httpx.post(
        server.url + "/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"


def test_body_over_the_limit_is_413(server):
    big = {"model": "code", "messages": [{"role": "user", "content": "x" * 30000}]}
    reply = httpx.post(
        server.url + "/chat/completions", json=big, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert reply.status_code == 413
    assert "limit" in reply.json()["error"]["message"]


def test_concurrent_requests_to_different_experts_batch_and_match_one_at_a_time(client, server):
    engine = server.service.engine
    models = ["code", "creative", "general", "tiny-base"] * 3
    alone = {m: chat(client, m, max_tokens=10).choices[0].message.content for m in set(models)}
    before = engine.stats.largest_batch

    async def together():
        aclient = openai.AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=0)
        replies = await asyncio.gather(
            *(
                aclient.chat.completions.create(
                    model=m, messages=HELLO, max_tokens=10, temperature=0
                )
                for m in models
            )
        )
        await aclient.close()
        return replies

    replies = asyncio.run(together())
    assert [r.choices[0].message.content for r in replies] == [alone[m] for m in models]
    assert engine.stats.largest_batch > max(before, 1)


def test_32_concurrent_streams_over_three_experts_all_complete(server):
    experts = ["code", "creative", "general"]

    async def one(aclient, index):
        stream = await aclient.chat.completions.create(
            model=experts[index % 3], messages=HELLO, max_tokens=12, temperature=0, stream=True
        )
        pieces, finish = [], None
        async for chunk in stream:
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
        return "".join(pieces), finish

    async def main():
        aclient = openai.AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=120)
        results = await asyncio.gather(*(one(aclient, i) for i in range(32)))
        await aclient.close()
        return results

    results = asyncio.run(main())
    assert all(finish in ("stop", "length") for _, finish in results)
    by_expert = {experts[i % 3]: text for i, (text, _) in enumerate(results)}
    assert all(text == by_expert[experts[i % 3]] for i, (text, _) in enumerate(results))


def test_a_client_that_leaves_mid_stream_frees_its_slot(server):
    engine = server.service.engine
    health = server.url.removesuffix("/v1") + "/health"
    body = {
        "model": "code",
        "messages": HELLO,
        "max_tokens": 64,
        "temperature": 0,
        "stream": True,
        "stop": ["never-appears"],
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    requests_before = engine.stats.requests
    with httpx.stream(
        "POST", server.url + "/chat/completions", json=body, headers=headers, timeout=60
    ) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data:"))
        assert json.loads(first[5:])["choices"][0]["delta"]["role"] == "assistant"
    deadline = time.monotonic() + 30
    while httpx.get(health).json()["generating"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(health).json()["generating"] == 0
    assert engine.stats.requests == requests_before + 1
    client = openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0)
    assert chat(client, "code").choices[0].message.content is not None


def test_agent_router_falls_back_to_the_default_on_an_unusable_answer(lmoe):
    base, experts = lmoe
    config = load_serve_config(
        None,
        [f"base='{base}'", f"lmoe='{experts}'", "no_auth=true", "port=0",
         "generation.dtype=float32", "generation.threads=1", "router.kind=agent",
         "router.agent_expert=code", "router.default_expert=creative"],
    )  # fmt: skip
    with BackgroundServer(build_service(config)) as running:
        client = openai.OpenAI(base_url=running.url, api_key="none", max_retries=0)
        reply = chat(client, "lmoe")
        # the random tiny expert never writes {"expert": ...}: the fallback decides
        assert reply.model_extra["expert"] == "creative"
        assert reply.model_extra["routing_duration"] > 0
        assert running.service.engine.stats.requests == 2  # the agent's question + the answer
