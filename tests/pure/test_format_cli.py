"""``airloom format``: exact prompt strings from options or JSON on stdin."""

from __future__ import annotations

import json

from click.testing import CliRunner

from airloom.cli.main import cli
from airloom.formats.chat import TEMPLATES


def _run(args: list[str], stdin: str | None = None) -> object:
    return CliRunner().invoke(cli, ["format", *args], input=stdin)


def test_single_turn_prints_the_exact_prompt_without_a_newline() -> None:
    result = _run(["--template", "airoboros-2.2", "--user", "Hi"])
    assert result.exit_code == 0
    assert result.stdout == "A chat.\nUSER: Hi\nASSISTANT: "


def test_multi_turn_options_alternate() -> None:
    result = _run(
        ["-t", "llama-2", "--no-system", "--user", "a", "--assistant", "b", "--user", "c"]
    )
    assert result.stdout == "[INST] a [/INST] b </s><s>[INST] c [/INST] "


def test_model_id_picks_the_template() -> None:
    result = _run(["-t", "jondurbin/airoboros-70b-3.3", "--system", "S", "--user", "Q"])
    assert result.stdout.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>")


def test_json_on_stdin() -> None:
    conversation = {
        "system": "Be nice.",
        "turns": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}],
    }
    result = _run(["-t", "chatml", "--no-generation-prompt"], json.dumps(conversation))
    assert result.stdout == (
        "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nYo<|im_end|>\n"
    )


def test_json_list_with_a_system_message() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    result = _run(["-t", "airoboros-2.1"], json.dumps(messages))
    assert result.stdout == "S USER: U ASSISTANT: "


def test_jinja_and_list() -> None:
    assert _run(["-t", "llama-3", "--jinja"]).stdout == TEMPLATES["llama-3"].jinja + "\n"
    listing = _run(["--list"]).stdout
    for name in TEMPLATES:
        assert name in listing


def test_usage_errors() -> None:
    assert "give --template" in _run(["--user", "x"]).stderr
    bad_turns = _run(["-t", "chatml", "--user", "a", "--assistant", "b", "--assistant", "c"])
    assert bad_turns.exit_code == 2
    assert "turns alternate" in bad_turns.stderr
    bad_json = _run(["-t", "chatml"], "{not json")
    assert bad_json.exit_code == 2
    assert "stdin is not JSON" in bad_json.stderr
    unknown = _run(["-t", "nope", "--user", "x"])
    assert "unknown prompt template 'nope'" in str(unknown.exception)
