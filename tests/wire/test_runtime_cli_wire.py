"""``airloom ask`` and ``airloom call`` against an OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from airloom.cli.main import cli
from airloom.errors import ConfigError
from tests.support.openai_stub import OpenAIStub

FUNCS = '''
"""Functions the model may call."""
from typing import Literal


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather of a city.

    Args:
        city: The city name.
        unit: Temperature unit.
    """
    return f"{city}: 21 degrees {unit}"


def count_words(text: str, minimum_length: int = 0) -> int:
    """Count the words of a text.

    Args:
        text: The text.
        minimum_length: Ignore words shorter than this.
    """
    return len([w for w in text.split() if len(w) >= minimum_length])
'''


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "funcs.py"
    path.write_text(FUNCS)
    return path


def _run(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)


def test_ask_streams_the_answer_with_the_template_system_prompt_and_stops() -> None:
    with OpenAIStub(["Hello from the stub, streamed in pieces."]) as stub:
        result = _run(
            "ask", "Hi there", "--base-url", stub.url, "--model", "airoboros-l2-70b-2.2.1"
        )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello from the stub, streamed in pieces.\n"
    request = stub.requests[0]
    assert request["stream"] is True
    assert request["model"] == "airoboros-l2-70b-2.2.1"
    assert request["messages"] == [
        {"role": "system", "content": "A chat."},
        {"role": "user", "content": "Hi there"},
    ]
    assert request["stop"] == ["USER:", "ASSISTANT:", "</s>"]
    assert "authorization" not in stub.headers[0]


def test_ask_without_streaming_explicit_template_system_and_key() -> None:
    with OpenAIStub(["Fine."]) as stub:
        result = _run(
            "ask",
            "How are you?",
            "--base-url",
            stub.url,
            "--model",
            "some-model",
            "--template",
            "llama-2",
            "--system",
            "Be brief.",
            "--no-stream",
            "--temperature",
            "0.2",
            "--max-tokens",
            "64",
            "--api-key-env",
            "STUB_KEY",
            "--show-prompt",
            env={"STUB_KEY": "sk-test"},
        )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Fine.\n"
    assert result.stderr.startswith(
        "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHow are you? [/INST] \n"
    )
    request = stub.requests[0]
    assert "stream" not in request
    assert request["temperature"] == 0.2
    assert request["max_tokens"] == 64
    assert request["stop"] == ["</s>", "[INST]"]
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}
    assert stub.headers[0]["authorization"] == "Bearer sk-test"


def test_ask_plainformat_prints_only_the_code_unless_raw() -> None:
    reply = "Here is the server:\n```js\nconst ws = require('ws');\n```\nRun it with node."
    with OpenAIStub([reply, reply]) as stub:
        cooked = _run(
            "ask", "Write a websocket app. PLAINFORMAT", "--base-url", stub.url, "--model", "m"
        )
        raw = _run(
            "ask",
            "Write a websocket app. PLAINFORMAT",
            "--base-url",
            stub.url,
            "--model",
            "m",
            "--raw",
        )
    assert cooked.stdout == "const ws = require('ws');\n"
    assert raw.stdout == reply
    assert "stop" not in stub.requests[0]  # no template for an unknown model id


def test_ask_refuses_an_unset_key_variable() -> None:
    result = _run(
        "ask",
        "x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--api-key-env",
        "AIRLOOM_TEST_UNSET_KEY",
    )
    assert isinstance(result.exception, ConfigError)
    assert "AIRLOOM_TEST_UNSET_KEY is not set" in str(result.exception)


def test_call_asks_validates_and_dispatches(registry_file: Path) -> None:
    answer = '```json\n{"function": "get_weather", "params": {"city": "Oslo"}}\n```'
    with OpenAIStub([answer]) as stub:
        result = _run(
            "call",
            "--registry",
            str(registry_file),
            "What's the weather in Oslo?",
            "--base-url",
            stub.url,
            "--model",
            "m",
        )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Oslo: 21 degrees celsius\n"
    assert result.stderr == 'calling get_weather({"city": "Oslo"})\n'
    prompt = stub.requests[0]["messages"][-1]["content"]
    assert prompt.startswith("As an AI assistant, please select the most suitable function")
    assert "Provide your response in JSON format." in prompt
    assert "Input: What's the weather in Oslo?" in prompt
    assert "get_weather:\n  description: Current weather of a city.\n  params:\n" in prompt
    assert '    unit: Temperature unit. (one of: "celsius", "fahrenheit")' in prompt
    assert stub.requests[0]["temperature"] == 0.0


def test_call_with_a_yaml_answer(registry_file: Path) -> None:
    answer = "function: count_words\nparams:\n  text: a bb ccc\n  minimum_length: 2\n"
    with OpenAIStub([answer]) as stub:
        result = _run(
            "call",
            "--registry",
            str(registry_file),
            "Count words",
            "--format",
            "yaml",
            "--base-url",
            stub.url,
            "--model",
            "m",
        )
    assert result.exit_code == 0, result.output
    assert result.stdout == "2\n"
    assert "Provide your response in YAML format." in stub.requests[0]["messages"][-1]["content"]


def test_call_reports_an_invalid_model_answer(registry_file: Path) -> None:
    answer = '{"function": "get_weather", "params": {"town": "Oslo", "unit": "kelvin"}}'
    with OpenAIStub([answer]) as stub:
        result = _run(
            "call",
            "--registry",
            str(registry_file),
            "Weather?",
            "--base-url",
            stub.url,
            "--model",
            "m",
        )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: the answer is not a valid call: invalid call to 'get_weather': "
        "$.params.city: required parameter missing; "
        "$.params.town: unknown parameter (known: city, unit); "
        "$.params.unit: 'kelvin' is not one of 'celsius', 'fahrenheit'",
        "  - $.params.city: required parameter missing",
        "  - $.params.town: unknown parameter (known: city, unit)",
        "  - $.params.unit: 'kelvin' is not one of 'celsius', 'fahrenheit'",
    ]


# ------------------------------------------------------ no server needed


def test_call_validate_only_from_file(registry_file: Path, tmp_path: Path) -> None:
    answer = tmp_path / "answer.txt"
    answer.write_text("Sure!\nfunction: count_words\nparams:\n  text: hello world\n")
    result = _run(
        "call", "--registry", str(registry_file), "--from-file", str(answer), "--validate-only"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "function": "count_words",
        "params": {"text": "hello world"},
    }


@pytest.mark.parametrize(
    ("answer", "first_line"),
    [
        (
            '{"function": "rm", "params": {}}',
            "error: the answer is not a valid call: unknown function 'rm'",
        ),
        ("I don't know.", "error: could not read the answer as JSON or YAML"),
    ],
)
def test_call_validate_only_errors(
    registry_file: Path, tmp_path: Path, answer: str, first_line: str
) -> None:
    path = tmp_path / "answer.txt"
    path.write_text(answer)
    result = _run(
        "call", "--registry", str(registry_file), "--from-file", str(path), "--validate-only"
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(first_line)


def test_call_from_file_dispatches_and_no_call(registry_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "answer.txt"
    path.write_text('{"function": "count_words", "params": {"text": "one two three"}}')
    result = _run("call", "--registry", str(registry_file), "--from-file", str(path))
    assert result.stdout == "3\n"
    path.write_text('{"function": "none"}')
    result = _run("call", "--registry", str(registry_file), "--from-file", str(path))
    assert json.loads(result.stdout) == {"function": None, "reason": "the model chose no function"}


def test_call_needs_a_question_or_an_answer_file(registry_file: Path) -> None:
    result = _run("call", "--registry", str(registry_file))
    assert result.exit_code == 2
    assert "give a QUESTION for the model, or --from-file ANSWER" in result.stderr


def test_call_show_prompt_and_verbose(registry_file: Path) -> None:
    registry_file.write_text(FUNCS + "\ndef untyped(x):\n    '''No hints.'''\n")
    result = _run("call", "--registry", str(registry_file), "Hi", "--show-prompt", "-v")
    assert result.stderr == "skipped untyped: untyped: parameter 'x' has no type hint\n"
    assert result.stdout.splitlines()[2] == "Input: Hi"


def test_ask_and_call_honour_the_configs_api_params(registry_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "teacher.yaml"
    config.write_text("model: m\napi_params: {temperature: 0.3, top_p: 0.6, min_p: 0.05}\n")
    answer = '{"function": "get_weather", "params": {"city": "Oslo"}}'
    with OpenAIStub(["Fine.", answer, answer]) as stub:
        base = ["--base-url", stub.url, "-c", str(config)]
        asked = _run("ask", "Hi", "--no-stream", *base)
        told = _run("ask", "Hi", "--no-stream", "--temperature", "0.9", *base)
        called = _run("call", "--registry", str(registry_file), "Weather in Oslo?", *base)
    assert asked.exit_code == told.exit_code == called.exit_code == 0, called.output
    first, second, third = stub.requests
    assert (first["temperature"], first["top_p"], first["min_p"]) == (0.3, 0.6, 0.05)
    assert (first["frequency_penalty"], first["presence_penalty"]) == (0.0, 0.0)
    assert (second["temperature"], second["top_p"]) == (0.9, 0.6)  # the option wins
    # the config's own temperature wins over call's temperature 0
    assert (third["temperature"], third["top_p"]) == (0.3, 0.6)


def test_ask_max_tokens_says_the_answer_was_cut(openai_server) -> None:
    from tests.support.openai_server import Fault

    server = openai_server(faults=[Fault("length", times=1)])
    result = _run(
        "ask", "Tell me a long story", "--base-url", server.url, "--model", "m", "--max-tokens", "5"
    )
    assert result.exit_code == 0, result.output
    assert "[the answer was cut at --max-tokens 5; raise it for the whole answer]" in result.output
    result = _run("ask", "Tell me a long story", "--base-url", server.url, "--model", "m")
    assert result.exit_code == 0 and "cut" not in result.output  # a whole answer
