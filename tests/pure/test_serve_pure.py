"""Pure parts of ``airloom serve``: routing decisions, agent answers, wire schema, config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airloom.errors import ConfigError
from airloom.formats.openai_wire import ChatCompletionRequest, CompletionRequest
from airloom.serve.config import load_serve_config_text
from airloom.serve.router import decide, parse_agent_answer, routing_text


@pytest.mark.parametrize(
    ("scores", "margin", "threshold", "expected"),
    [
        ({"a": 0.2, "b": 0.9, "c": 1.0}, 0.1, None, ("a", "nearest")),
        ({"a": 0.50, "b": 0.55}, 0.1, None, ("d", "margin")),
        ({"a": 0.50, "b": 0.55}, 0.0, None, ("a", "nearest")),
        ({"a": 1.3, "b": 1.9}, 0.1, 1.2, ("d", "threshold")),
        ({"a": 0.3}, 0.5, None, ("a", "nearest")),
        ({}, 0.1, None, ("d", "no-routing-data")),
    ],
)
def test_decide_margin_and_threshold(scores, margin, threshold, expected):
    assert decide(scores, default="d", margin=margin, threshold=threshold) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"expert": "code"}', "code"),
        ('I pick {"function": "qa"} because', "qa"),
        ('{"expert": "poetry"}', None),
        ("no json at all", None),
        ('{"expert": 3}', None),
        ('{broken {"expert": "qa"}', "qa"),
    ],
)
def test_agent_answers(answer, expected):
    assert parse_agent_answer(answer, ["code", "qa"]) == expected


def test_routing_text_matches_the_routing_data_shape():
    assert routing_text("  ", "Hi") == "Hi"
    assert routing_text("You are a poet.", "Write") == "You are a poet. Write"


def test_wire_accepts_client_extensions_and_rejects_bad_values():
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                  {"type": "text", "text": "b"}]}],
         "logit_bias": {}, "expert": "code"}
    )  # fmt: skip
    assert request.messages[0].text() == "ab" and request.expert == "code"
    for bad in ({"n": 0}, {"top_p": 0}, {"stop": ["a"] * 5}, {"messages": []}, {"max_tokens": 0}):
        with pytest.raises(ValidationError):
            ChatCompletionRequest.model_validate(
                {"model": "m", "messages": [{"role": "user", "content": "x"}], **bad}
            )
    with pytest.raises(ValidationError, match="one prompt"):
        CompletionRequest.model_validate({"model": "m", "prompt": ["a", "b"]})


def test_serve_config_errors_name_the_line_and_key():
    with pytest.raises(ConfigError, match="line 2: unknown key 'prot'"):
        load_serve_config_text("engine: peft\nprot: 1\n")
    with pytest.raises(ConfigError, match="engine"):
        load_serve_config_text("engine: tgi\n")
    with pytest.raises(ConfigError, match="unknown prompt template"):
        load_serve_config_text("template: vicuna-9\n")


def test_the_printed_example_config_loads_back_unchanged():
    from airloom.config_example import render_serve_example
    from airloom.serve.config import ServeConfig

    assert load_serve_config_text(render_serve_example()) == ServeConfig()
