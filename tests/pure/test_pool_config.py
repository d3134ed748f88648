"""Configuring a teacher pool: the endpoint model, its errors, the default teacher as a
named endpoint, the backends built from it, and the README's example."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from airloom.backends.factory import build_default_backend, describe_default
from airloom.backends.openai import OpenAIBackend
from airloom.backends.pool import PoolBackend
from airloom.config_load import load_config_text
from airloom.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"
A, B = "http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"


def test_the_readme_example_is_a_valid_pool():
    text = README.read_text(encoding="utf-8")
    section = text.split("### A pool of teacher replicas", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    config = load_config_text(example.group(1))
    pool = config.endpoints["teacher"]
    assert config.endpoint == "teacher" and pool.is_pool
    assert [limit for _, limit in pool.replicas()] == [16, 16, 4]
    assert pool.capacity == config.concurrency.max_requests == 36
    assert describe_default(config) == ("openai", "teacher", "my-teacher")


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("{model: m, base_urls: []}", "base_urls is empty"),
        ("{model: m}", "set base_url (one server) or base_urls (a pool of replicas)"),
        (f"{{base_url: {A}, base_urls: [{B}]}}", "not both"),
        (f"{{base_urls: [{A}, {A}/]}}", f"base_urls lists {A} more than once"),
        (f"{{base_urls: {A}}}", f"base_urls is a list: write [{A}]"),
        (f"{{base_urls: [{A}, 8]}}", "base_urls holds 8: each entry is a URL or"),
        (f"{{base_urls: [{{base_url: {A}, max_concurency: 2}}]}}", "max_concurency"),
        (f"{{base_urls: [{{base_url: {A}, max_concurrency: 0}}]}}", "greater than or equal to 1"),
        (f"{{base_urls: [{A}], rest_initial: 5, rest_max: 1}}", "rest_max must be at least"),
    ],
)
def test_a_bad_pool_gets_one_clear_line(endpoint, message):
    with pytest.raises(ConfigError) as info:
        load_config_text(f"endpoints:\n  teacher: {endpoint}\n", source="run.yaml")
    assert message in str(info.value)
    assert "run.yaml line 2" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("endpoint: techer\n", "endpoint 'techer' is not in 'endpoints' (teacher)"),
        (f"endpoint: teacher\nbase_url: {A}\n", "set base_url or endpoint for the teacher"),
    ],
)
def test_the_default_teacher_must_name_one_endpoint(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config_text(text + f"endpoints:\n  teacher: {{model: m, base_urls: [{A}]}}\n")


def test_a_default_endpoint_without_a_model_says_where_to_put_it():
    config = load_config_text(f"endpoint: teacher\nendpoints:\n  teacher: {{base_urls: [{A}]}}\n")
    with pytest.raises(ConfigError) as info:
        describe_default(config)
    assert info.value.hint == "set model: under endpoints.teacher (or at the top)"


def test_the_default_teacher_is_built_as_a_pool_or_a_single_client():
    pooled = load_config_text(
        "endpoint: teacher\nretry: {timeout: 30}\nendpoints:\n"
        f"  teacher: {{model: m, base_urls: [{A}, {{base_url: {B}, max_concurrency: 2}}], "
        "rest_initial: 0.5, rest_max: 4}\n"
    )
    backend = build_default_backend(pooled)
    assert isinstance(backend, PoolBackend)
    assert backend.name == "teacher" and backend.timeout == 30
    assert [(r.url, r.limit) for r in backend.replicas] == [(A, 16), (B, 2)]
    assert (backend.rest_initial, backend.rest_max) == (0.5, 4)
    single = load_config_text(f"endpoint: one\nendpoints:\n  one: {{model: m, base_url: {A}}}\n")
    client = build_default_backend(single)
    assert isinstance(client, OpenAIBackend) and client.name == "one" and client.base_url == A

    async def close() -> None:
        await backend.aclose()
        await client.aclose()

    asyncio.run(close())
