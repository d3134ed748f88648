"""Helpers of the curation tests: stores made by the engine, judge configs, planted data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml

from airloom.backends.scripted import ScriptedBackend
from airloom.config import Config
from airloom.config_load import load_config_text
from airloom.curate.session import CurationSession
from airloom.engine.runner import Engine

SCRIPT = Path(__file__).resolve().parent / "scripts" / "curate.yaml"
COUNTS = {"general": 12, "coding": 6, "contextual": 3}


def engine_store(folder: Path, counts: dict[str, int] | None = None, seed: int = 3) -> Path:
    """Generate a small store with the scripted demo teacher and hashing embeddings."""
    counts = counts or COUNTS
    config = load_config_text(
        yaml.safe_dump(
            {
                "backend": "scripted",
                "script_path": "demo",
                "embedding_model": "hashing",
                "seed": seed,
                "instructors": {name: {"count": n, "batch_size": 3} for name, n in counts.items()},
            }
        )
    )
    engine = Engine(config, base_dir=folder)
    stats = asyncio.run(engine.run())
    assert stats.status == "completed", stats.message
    return folder / "instructions.airloom.db"


def judge_config(extra: dict[str, Any] | None = None) -> Config:
    """A config whose teacher is the scripted judge of tests/support/scripts/curate.yaml."""
    data: dict[str, Any] = {
        "backend": "scripted",
        "script_path": str(SCRIPT),
        "embedding_model": "hashing",
        "scoring": {"threshold": 80},
        "retry": {"max_attempts": 2, "backoff_initial": 0.0, "backoff_max": 0.0},
    }
    for key, value in (extra or {}).items():
        data[key] = value
    return load_config_text(yaml.safe_dump(data))


class CountingBackend(ScriptedBackend):
    """The scripted judge, counting the calls that reach it."""

    calls = 0

    async def complete(self, request: Any) -> Any:
        self.calls += 1
        return await super().complete(request)


def counting_judge() -> CountingBackend:
    """A fresh counting backend with the curation script."""
    return CountingBackend(ScriptedBackend.from_file(SCRIPT).rules, name="counting")


def session(store: Path, config: Config | None = None, **kwargs: Any) -> CurationSession:
    """A curation session on ``store`` with the scripted judge (or the given backend)."""
    return CurationSession(config or judge_config(), store, **kwargs)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSON lines."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read JSON lines."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
