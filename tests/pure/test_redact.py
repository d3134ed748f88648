"""Secrets out of stored configs and messages: URL credentials, keys, auth headers."""

from __future__ import annotations

import pytest

from airloom.errors import BackendError, ConfigError
from airloom.redact import MASK, mask_url, redact_config, redact_text, remember


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://u:p@h/v1", "http://***@h/v1"),
        ("https://token@api.example.com:8443/v1", "https://***@api.example.com:8443/v1"),
        ("http://h/v1?api_key=abc&model=m", "http://h/v1?api_key=***&model=m"),
        ("http://h/v1?access_token=abc#x", "http://h/v1?access_token=***#x"),
        ("http://h/v1", "http://h/v1"),
        ("see http://a:b@h and ftp://c:d@e/f", "see http://***@h and ftp://***@e/f"),
    ],
)
def test_urls_lose_their_credentials(url, masked):
    assert mask_url(url) == masked


def test_a_config_keeps_its_shape_and_loses_its_secrets():
    config = {
        "model": "m",
        "base_url": "http://bob:pw@h/v1",
        "api_key_env": "OPENAI_API_KEY",
        "openai_api_key": "sk-live-1",
        "headers": {"Authorization": "Bearer t", "X-Api-Key": "k", "X-Title": "airloom"},
        "endpoints": {"b": {"base_url": "http://h?key=1", "headers": {"Cookie": "c=1"}}},
        "budget": {"max_tokens": 10},
        "list": ["http://x:y@h"],
    }
    assert redact_config(config) == {
        "model": "m",
        "base_url": "http://***@h/v1",
        "api_key_env": "OPENAI_API_KEY",
        "openai_api_key": MASK,
        "headers": {"Authorization": MASK, "X-Api-Key": MASK, "X-Title": "airloom"},
        "endpoints": {"b": {"base_url": f"http://h?key={MASK}", "headers": {"Cookie": MASK}}},
        "budget": {"max_tokens": 10},
        "list": ["http://***@h"],
    }


def test_remembered_secrets_never_reach_an_error_message():
    remember("Bearer sk-proj-abcdef")
    error = BackendError(
        "http://u:p@h/v1 refused the key sk-proj-abcdef",
        body='{"error": "bad key sk-proj-abcdef"}',
        hint="check http://u:p@h",
    )
    assert "sk-proj-abcdef" not in str(error) and "u:p@" not in str(error)
    assert error.body == '{"error": "bad key ***"}'
    assert str(ConfigError("x sk-proj-abcdef")) == "x ***"
    assert redact_text("short") == "short"
