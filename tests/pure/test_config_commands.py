"""Every command that reads a config file reports its problems the same way: the file and
line, the closest valid key, a hint; and ``--set`` overrides any value of any of them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airloom.cli.main import main

#: command line (before --config), a good file, a typo of one of its keys, the right key.
COMMANDS = {
    "generate": (["generate"], "topic_request_count: 2\nlanguage: German\n", "langauge"),
    "eval": (["eval", "--suite", "core"], "topic_request_count: 2\nlanguage: German\n", "langauge"),
    "train": (["train"], "data: [a.jsonl]\nepochs: 2\n", "epohcs"),
    "serve": (["serve"], "engine: local\nport: 9000\n", "prot"),
}
#: (the key with a wrong type, its dotted name) per command.
WRONG_TYPE = {
    "generate": "topic_request_count",
    "eval": "topic_request_count",
    "train": "epochs",
    "serve": "port",
}
HINTS = {
    "generate": "airloom config example",
    "eval": "airloom config example",
    "train": "airloom config example --kind train",
    "serve": "airloom config example --kind serve",
}


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["airloom", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return int(info.value.code or 0), captured.err


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_misspelt_key_names_file_line_and_the_closest_key(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args, good, typo = COMMANDS[command]
    right = good.splitlines()[1].split(":")[0]
    path = config_file(tmp_path, good.replace(f"\n{right}:", f"\n{typo}:"))
    code, err = run(monkeypatch, capsys, *args, "--config", str(path))
    assert code == 2
    assert f"error: {path} line 2: unknown key '{typo}' (did you mean '{right}'?)" in err
    assert f"hint: see `{HINTS[command]}` for every key" in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_value_of_the_wrong_type_is_shown_with_its_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args, good, _ = COMMANDS[command]
    key = WRONG_TYPE[command]
    path = config_file(tmp_path, good + f"{key}: lots\n")
    # the key appears twice now: the YAML reader refuses that first
    code, err = run(monkeypatch, capsys, *args, "--config", str(path))
    assert code == 2 and f"duplicate key '{key}' at line 3" in err and str(path) in err
    lines = [f"{key}: lots" if row.startswith(f"{key}:") else row for row in good.splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = lines.index(f"{key}: lots") + 1
    code, err = run(monkeypatch, capsys, *args, "--config", str(path))
    assert code == 2
    assert f"error: {path} line {line}: '{key}': " in err and "(got 'lots')" in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_broken_yaml_names_line_and_column(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args, good, _ = COMMANDS[command]
    path = config_file(tmp_path, good + "router: [unclosed\n")
    code, err = run(monkeypatch, capsys, *args, "--config", str(path))
    assert code == 2
    assert f"error: {path} line 4, column 1: invalid YAML" in err
    assert "hint: fix the YAML syntax" in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_set_overrides_are_checked_like_the_file(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args, good, _ = COMMANDS[command]
    key = WRONG_TYPE[command]
    path = config_file(tmp_path, good)
    code, err = run(monkeypatch, capsys, *args, "--config", str(path), "--set", f"{key}=lots")
    assert code == 2
    assert f"error: --set {key}: '{key}': " in err and "(got 'lots')" in err
    code, err = run(monkeypatch, capsys, *args, "--config", str(path), "--set", "nested.=1")
    assert code == 2 and "--set 'nested.=1' has an empty key part" in err


@pytest.mark.parametrize(
    ("kind", "good", "assignment", "shown"),
    [
        ("generate", COMMANDS["generate"][1], "topic_request_count=7", "topic_request_count"),
        ("train", COMMANDS["train"][1], "lora.r=8", "r: 8"),
        ("serve", COMMANDS["serve"][1], "router.margin=0.25", "margin: 0.25"),
    ],
)
def test_set_changes_the_value_each_config_comes_to(
    kind: str,
    good: str,
    assignment: str,
    shown: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    path = config_file(tmp_path, good)
    monkeypatch.setattr(
        sys, "argv", ["airloom", "config", "check", str(path), "--kind", kind, "--set", assignment]
    )
    main()
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: OK")
    if kind == "generate":
        return  # the summary shows instructors, not every value: read it back instead
    assert shown in out
    # relative paths are relative to the file's folder
    if kind == "train":
        assert f"- {tmp_path / 'a.jsonl'}" in out


def test_set_reaches_the_generation_config_of_eval_and_generate(tmp_path: Path) -> None:
    from airloom.config_load import load_config

    path = config_file(tmp_path, COMMANDS["generate"][1])
    assert load_config(path, ["topic_request_count=7"]).topic_request_count == 7
    assert load_config(None, ["topic_request_count=7"]).topic_request_count == 7
