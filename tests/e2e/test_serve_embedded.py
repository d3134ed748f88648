"""``airloom serve --engine local``: the embedded model behind the OpenAI API."""

from __future__ import annotations

import openai
import pytest

from airloom.serve.config import load_serve_config
from airloom.serve.server import BackgroundServer
from airloom.serve.service import build_service

pytestmark = pytest.mark.slow


def test_embedded_model_answers_plain_and_streamed_chat_in_its_own_template():
    config = load_serve_config(None, ["engine=local", "no_auth=true", "port=0"])
    with BackgroundServer(build_service(config)) as server:
        client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=300)
        assert [m.id for m in client.models.list()] == ["embedded"]
        question = [{"role": "user", "content": "What is the capital of France? One word."}]
        plain = client.chat.completions.create(
            model="embedded", messages=question, max_tokens=8, temperature=0
        )
        assert "Paris" in plain.choices[0].message.content
        assert plain.model_extra["expert"] is None
        stream = client.chat.completions.create(
            model="embedded", messages=question, max_tokens=8, temperature=0, stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == plain.choices[0].message.content
