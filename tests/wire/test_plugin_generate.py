"""``airloom generate`` as users run it: the summary of a scripted run is the one the
command always printed, and an installed third-party instructor and backend are used
by name from the config."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from airloom.store.database import Store
from tests.support.cli import COMMAND, airloom_env, run_airloom
from tests.support.plugin_dist import write_plugin

SCRIPTED = """\
backend: scripted
script_path: demo
embedding_model: hashing
seed: 3
topic_request_count: 2
concurrency: {max_requests: 1}
instructors:
  general: {count: 6, batch_size: 3}
  coding: {count: 4, batch_size: 2}
  contextual: {count: 3, batch_size: 2}
"""

#: The summary rows this run has always printed (category, accepted, this run, rejects,
#: state), before the registries and reject reasons were unified.
SUMMARY_ROWS = [
    ["general", "6/6", "6", "-", "done"],
    ["coding", "4/4", "4", "-", "done"],
    ["contextual", "3/3", "3", "surplus 1", "done"],
    ["topics", "2/2", "2", "-", "done"],
    ["total", "13/13", "13", "1 rejects", "3/3 done"],
]


def summary_rows(output: str) -> list[list[str]]:
    rows = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]]
        if len(cells) == 5 and cells[0] not in ("", "category"):
            rows.append(cells)
    return rows


def test_a_scripted_generate_prints_the_same_summary_as_before(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(SCRIPTED, encoding="utf-8")
    done = run_airloom("generate", "--config", "config.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "airloom run: completed" in output
    assert summary_rows(output) == SUMMARY_ROWS
    assert re.search(r"this run: requests 24 .* tokens 7,065 ", output)


def test_generate_runs_a_third_party_instructor_on_a_third_party_backend(
    tmp_path: Path,
) -> None:
    site = write_plugin(tmp_path / "site")
    env = airloom_env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(site)])
    (tmp_path / "config.yaml").write_text(
        "backend: echo\nembedding_model: hashing\n"
        "instructors:\n  haiku: {count: 3, season: autumn}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [*COMMAND, "generate", "--config", "config.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert ["haiku", "3/3", "3", "-", "done"] in summary_rows(done.stdout + done.stderr)
    with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
        records = list(store.iter_records())
    assert {r.category for r in records} == {"haiku"}
    assert all(r.instruction.startswith("A haiku about autumn") for r in records)
    assert all("frog in." in r.response for r in records)
    unknown = subprocess.run(
        [*COMMAND, "generate", "--config", "config.yaml"],
        cwd=tmp_path,
        env=airloom_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert "unknown backend" in unknown.stderr or "unknown backend" in unknown.stdout


def test_the_plugin_module_is_not_left_behind() -> None:
    assert "airloom_demo_plugin" not in sys.modules
