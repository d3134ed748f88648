"""The command line: lazy help, config example/check, error reporting and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import airloom
from airloom.cli.main import COMMANDS, cli, main
from airloom.config import Config
from airloom.config_load import load_config_text
from airloom.errors import ConfigError
from airloom.instructors.registry import available_instructors

SRC = str(Path(airloom.__file__).resolve().parents[1])


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name, (_, _, help_line) in COMMANDS.items():
        assert name in result.output and help_line in result.output
    assert "Usage:" in result.output


def test_help_and_version_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from airloom.cli.main import cli\n"
        "out = CliRunner().invoke(cli, ['--help']).output\n"
        "assert 'generate' in out, out\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'faiss',"
        " 'numpy', 'httpx', 'pydantic') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_config_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from airloom.cli.main import cli\n"
        "assert CliRunner().invoke(cli, ['config', 'example']).exit_code == 0\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_unknown_command() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2 and "No such command" in result.output


def test_config_example_validates() -> None:
    result = CliRunner().invoke(cli, ["config", "example"])
    assert result.exit_code == 0
    cfg = load_config_text(result.output, source="example")
    assert set(cfg.instructors) == set(available_instructors())
    for name in Config.model_fields:
        assert f"{name}:" in result.output


GOOD = """\
model: teacher-1
base_url: http://127.0.0.1:9/v1
min_docsearch_score: 0.1
instructors:
  general:
    count: 4
    batch_size: 2
  coding:
    similarity_threshold: 0.97
"""


def test_config_check_good_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(GOOD)
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: OK"
    assert lines[1] == "  teacher: teacher-1 at http://127.0.0.1:9/v1"
    assert str(tmp_path / "instructions.airloom.db") in lines[2]
    assert any("general: count=4 batch_size=2 dedup cosine>=0.95" in x for x in lines)
    assert any("coding: count=100 batch_size=5 dedup cosine>=0.97" in x for x in lines)


def test_config_check_of_the_example_lists_only_enabled_instructors(tmp_path: Path) -> None:
    from airloom.config_example import render_example

    path = tmp_path / "config.yaml"
    path.write_text(render_example())
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "  teacher: the embedded local model qwen2.5-coder-0.5b-instruct"
    assert [line.split(":")[0].strip() for line in lines[3:6]] == [
        "coding",
        "contextual",
        "general",
    ]
    assert "count=0" not in result.output
    assert lines[-1].endswith("other instructors are off (count 0)") and len(lines) == 7


def test_config_check_with_set(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(GOOD)
    result = CliRunner().invoke(
        cli, ["config", "check", str(path), "--set", "instructors.general.count=9"]
    )
    assert result.exit_code == 0
    assert "general: count=9" in result.output


BAD = "model: m\nconcurrency:\n  max_reqests: 3\n"


def test_config_check_bad_file_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    monkeypatch.setattr(sys, "argv", ["airloom", "config", "check", str(path)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"error: {path} line 3: unknown key 'concurrency.max_reqests'" in captured.err
    assert "did you mean 'max_requests'" in captured.err
    assert "hint:" in captured.err


def test_config_check_bad_file_exit_code_and_stderr(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = run_python(
        "import sys; sys.argv = ['airloom', *sys.argv[1:]]\n"
        "from airloom.cli.main import main; main()",
        "config",
        "check",
        str(path),
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "unknown key 'concurrency.max_reqests'" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_missing_file_and_bad_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["airloom", "config", "check", str(tmp_path / "no.yaml")])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    path = tmp_path / "run.yaml"
    path.write_text(GOOD)
    monkeypatch.setattr(sys, "argv", ["airloom", "config", "check", str(path), "--set", "oops"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    assert "--set 'oops' is not of the form dotted.key=value" in capsys.readouterr().err


def test_click_usage_error_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["airloom", "config", "check"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    assert "Missing argument" in capsys.readouterr().err


def test_ask_help_agrees_with_the_command_list() -> None:
    overview = CliRunner().invoke(cli, ["--help"]).output
    ask_line = next(line for line in overview.splitlines() if line.strip().startswith("ask "))
    assert "embedded" in ask_line and "OpenAI-compatible endpoint." not in ask_line
    detail = CliRunner().invoke(cli, ["ask", "--help"]).output
    assert "embedded local model" in detail and "--max-tokens" in detail


@pytest.mark.parametrize(
    ("files", "args", "says"),
    [
        ({}, [], "start from the example: airloom config example > config.yaml"),
        ({"config.yaml": "seed: 1\n"}, [], "run: airloom generate --config config.yaml"),
        (
            {"zero.yaml": "instructors:\n  general: {count: 0}\n"},
            ["--config", "zero.yaml"],
            "zero.yaml enables no instructor",
        ),
    ],
)
def test_generate_with_nothing_to_do_says_how_to_start(
    files: dict[str, str], args: list[str], says: str, tmp_path: Path, monkeypatch
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["generate", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "nothing to generate" in result.exception.message
    assert says in f"{result.exception.message} {result.exception.hint}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)  # no store was made
