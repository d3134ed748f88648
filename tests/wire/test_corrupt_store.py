"""Damaged stores: every command stops with one clear error, the file stays byte-identical,
and ``airloom recover`` copies what is readable into a new store."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from airloom.formats.records import Record, dedup_key, record_id
from airloom.store.database import Store
from tests.support.cli import run_airloom as airloom

RECORDS = 1500
PAGE = 4096


@pytest.fixture(scope="module")
def sound_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sound") / "sound.airloom.db"
    rng = np.random.default_rng(0)
    batch = []
    for n in range(RECORDS):
        instruction = f"Question number {n} about subject {n % 37}?"
        response = f"Answer {n}: " + "lorem ipsum " * 12
        batch.append(
            Record(
                id=record_id("general", instruction, response),
                category="general",
                unit=str(n),
                instruction=instruction,
                response=response,
                dedup_key=dedup_key(instruction),
                embedding=rng.standard_normal(8).astype(np.float32),
            )
        )
    with Store.open(path, embedding_model="hashing") as store:
        store.commit_batch(batch, finished_rounds=[("general", 0)])
    return path


def damage(source: Path, target: Path, how: str) -> None:
    data = bytearray(source.read_bytes())
    pages = len(data) // PAGE
    if how == "truncated":
        data = data[: int(len(data) * 0.6)]
    elif how == "flipped":
        for page in range(pages // 3, pages // 3 + 12):
            data[page * PAGE] ^= 0xFF  # the b-tree page type byte
    elif how == "zeroed":
        start = pages // 2 * PAGE
        data[start : start + 6 * PAGE] = bytes(6 * PAGE)
    elif how == "zeroed-first-page":
        data[:PAGE] = bytes(PAGE)
    target.write_bytes(bytes(data))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("how", ["truncated", "flipped", "zeroed", "zeroed-first-page"])
def test_a_damaged_store_is_refused_untouched_and_recovered(sound_store, tmp_path, how):
    broken = tmp_path / "broken.airloom.db"
    damage(sound_store, broken, how)
    before = digest(broken)
    (tmp_path / "more.jsonl").write_text('{"instruction": "a?", "response": "b."}\n')
    (tmp_path / "config.yaml").write_text(
        "backend: scripted\nscript_path: demo\nembedding_model: hashing\n"
        "store_path: broken.airloom.db\ninstructors:\n  general: {count: 2}\n"
    )
    commands = [
        ["export", "--store", "broken.airloom.db", "--out", "out.jsonl"],
        ["report", "broken.airloom.db", "--out", "report"],
        ["verify", "broken.airloom.db", "-q", "--no-code"],
        ["generate", "-c", "config.yaml", "--quiet"],
        ["import", "more.jsonl", "--store", "broken.airloom.db", "--embedding-model", "hashing"],
    ]
    for command in commands:
        done = airloom(*command, cwd=tmp_path)
        assert done.returncode != 0, (command, done.stdout[-500:])
        lines = done.stderr.strip().splitlines()
        assert lines and lines[0].startswith("error: ") and "Traceback" not in done.stderr, (
            command,
            done.stderr[-1500:],
        )
        assert "corrupt" in lines[0] or "first page is damaged" in lines[0], lines[0]
        assert digest(broken) == before, command
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("broken")) == [
        "broken.airloom.db"
    ]
    done = airloom("recover", "broken.airloom.db", "rescued.airloom.db", cwd=tmp_path)
    assert digest(broken) == before
    if how == "zeroed-first-page":
        assert done.returncode != 0 and "nothing of" in done.stderr
        return
    assert done.returncode == 0, done.stderr[-1500:]
    summary = json.loads(done.stdout)
    assert 0 < summary["records"] < RECORDS
    assert summary["records"] + summary["unreadable"] <= RECORDS
    with sqlite3.connect(tmp_path / "rescued.airloom.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == summary["records"]
    exported = airloom("export", "--store", "rescued.airloom.db", "--out", "r.jsonl", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-1500:]
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == summary["records"]


def test_a_sound_store_recovers_whole(sound_store, tmp_path):
    done = airloom("recover", str(sound_store), "copy.airloom.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1500:]
    assert json.loads(done.stdout)["records"] == RECORDS
    assert json.loads(done.stdout)["unreadable"] == 0
    with Store.open(tmp_path / "copy.airloom.db", create=False, read_only=True) as copy:
        assert copy.record_count() == RECORDS
        assert copy.round_state("general") == ([], 1)
        assert copy.load_index_data()[3].shape == (RECORDS, 8)
