"""Which teacher a config names: the embedded model, an endpoint, or a provider's API for a
hosted model given without base_url — never the embedded model under another name."""

from __future__ import annotations

import pytest

from airloom.backends.factory import build_default_backend, describe_default
from airloom.backends.openai import OpenAIBackend
from airloom.config import EMBEDDED_MODEL, OPENAI_API
from airloom.config_load import load_config_text
from airloom.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_no_model_is_the_embedded_model() -> None:
    assert describe_default(load_config_text("")) == ("local", "local", EMBEDDED_MODEL)


@pytest.mark.parametrize("model", ["gpt-4", "gpt-4o-mini", "o3-mini", "chatgpt-4o-latest"])
def test_a_hosted_openai_model_targets_openais_api(model: str) -> None:
    assert describe_default(load_config_text(f"model: {model}")) == ("openai", OPENAI_API, model)


def test_openai_base_url_moves_the_api_like_openais_client(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    config = load_config_text("model: gpt-4\norganization_id: org-1\n")
    backend = build_default_backend(config)
    assert isinstance(backend, OpenAIBackend) and backend.base_url == "http://127.0.0.1:9/v1"
    assert backend._headers["OpenAI-Organization"] == "org-1"


def test_a_hosted_model_without_a_key_stops_with_what_to_set() -> None:
    with pytest.raises(ConfigError) as info:
        build_default_backend(load_config_text("model: gpt-4"))
    assert f"model 'gpt-4' is served by {OPENAI_API}, and no API key is set" in str(info.value)
    assert "OPENAI_API_KEY" in str(info.value) and "base_url" in str(info.value)


@pytest.mark.parametrize("model", ["llama3:8b", "chat-bison", "mistral-7b-instruct"])
def test_another_model_without_base_url_is_refused(model: str) -> None:
    with pytest.raises(ConfigError) as info:
        describe_default(load_config_text(f"model: {model}"))
    assert f"model '{model}' is not served here" in info.value.message
    assert info.value.hint is not None and "set base_url" in info.value.hint


def test_the_embedded_models_own_names_stay_local() -> None:
    for text in (
        f"model: {EMBEDDED_MODEL}",
        "model: embedded",
        "model: /m/q.gguf\nlocal: {model: /m/q.gguf}",
    ):
        assert describe_default(load_config_text(text))[0] == "local"


def test_an_instructor_naming_a_hosted_model_on_the_embedded_teacher_is_refused() -> None:
    from airloom.engine.runner import Engine

    config = load_config_text("instructors:\n  general: {model: gpt-4}\n  joke: {}\n")
    engine = Engine(config)
    assert engine._endpoint_for("joke")[1] == EMBEDDED_MODEL
    with pytest.raises(ConfigError, match="model 'gpt-4' is not served here"):
        engine._endpoint_for("general")
