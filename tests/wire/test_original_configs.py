"""Configs of the original generator (every key of versions 2.0 to 2.2.2) run unchanged.

``model: gpt-4`` with no ``base_url`` means OpenAI's API, reached here through
``OPENAI_BASE_URL`` (as OpenAI's own client does) pointing at the test server.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from airloom.cli.main import cli
from airloom.config import ORIGINAL_SAMPLING
from airloom.config_load import load_config
from airloom.engine.runner import Engine
from airloom.store.database import Store
from tests.support.openai_server import OpenAIServer
from tests.support.original_configs import INSTRUCTORS, VERSIONS, original_config
from tests.wire.test_all_categories import combined_backend

CURRENT = {"chat_card": "character", "chat": "rp"}


def write_config(tmp_path: Path, version: str) -> Path:
    (tmp_path / "topics.txt").write_text("\n".join(f"topic {i}" for i in range(60)))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(original_config(version), sort_keys=False))
    return path


@pytest.mark.parametrize("version", VERSIONS)
def test_config_check_accepts_every_original_version(tmp_path, monkeypatch, version) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    path = write_config(tmp_path, version)
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "teacher: gpt-4 at https://api.openai.com/v1" in result.output
    if version == "2.0.24":
        assert "instructor 'chat_card' is called 'character' here" in result.output
    assert "needs a key" not in result.output
    assert "'instructors.character.output_dir' has no effect" in result.output or (
        "'instructors.chat_card.output_dir' has no effect" in result.output
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_original_config_runs_against_an_endpoint(tmp_path, monkeypatch, caplog, version) -> None:
    path = write_config(tmp_path, version)
    server = OpenAIServer(combined_backend(), api_key="sk-test", reported_model="gpt-4-0613")
    with server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        config = load_config(path)
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            stats = asyncio.run(Engine(config, base_dir=tmp_path).run())
            gc.collect()
    assert stats.status == "completed", stats.message
    assert "never retrieved" not in caplog.text
    expected = {CURRENT.get(n, n) for n in INSTRUCTORS[version]}
    states = {name: stats.categories[name].state for name in expected}
    assert states == dict.fromkeys(expected, "done")
    with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
        records = list(store.iter_records())
    assert {r.category for r in records} == expected
    assert {r.provenance.model for r in records} == {"gpt-4-0613"}  # what the endpoint reported
    assert server.state.models_seen == {"gpt-4"}
    assert {h.get("openai-organization") for h in server.state.headers_seen} == {"org-example"}
    sent: list[dict[str, Any]] = server.state.params_seen
    assert sent and all(set(ORIGINAL_SAMPLING) <= set(params) for params in sent)
    riddle = [p for p in sent if p.get("top_p") == 0.4 and p.get("temperature") == 0.9]
    assert riddle  # the per-instructor api_params of experience and riddle


def test_config_check_says_a_hosted_model_needs_a_key(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["config", "check", str(write_config(tmp_path, "2.2.2"))])
    assert result.exit_code == 0, result.output
    assert "https://api.openai.com/v1 needs a key: export OPENAI_API_KEY" in result.output
