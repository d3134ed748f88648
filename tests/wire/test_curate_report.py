"""The HTML report: content from a real store, rendered in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time

import pytest
from click.testing import CliRunner

from airloom.cli.main import cli
from airloom.curate.jobs import judge_store
from airloom.curate.report import render_report
from airloom.curate.report_data import collect
from airloom.curate.verify_job import VerifyOptions, verify_source
from airloom.store.database import Store
from tests.support.curation import engine_store, session

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = [
    "Records per category",
    "Instruction and response lengths",
    "Reject reasons over time",
    "Nearest-neighbour similarity",
    "Topic coverage",
    "Diversity",
    "Judge and verifier pass rates",
    "Tokens and cost",
]


@pytest.fixture(scope="module")
def curated_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    store = engine_store(folder)
    with Store.open(store, create=False) as opened:
        opened.commit_batch([], rejects=[("r1", "general", "duplicate", "x"),
                                         ("r1", "coding", "unparseable", "y")])  # fmt: skip
        time.sleep(0.01)
        opened.commit_batch([], rejects=[("r2", "general", "duplicate", "z")])
    asyncio.run(judge_store(session(store)))
    verify_source(store, VerifyOptions(code=True))
    return store


def test_collected_figures_match_the_store(curated_store):
    data = collect(curated_store, curated_store.parent / "topics.txt")
    assert {n: c.records for n, c in data.categories.items()} == {
        "coding": 6,
        "contextual": 3,
        "general": 12,
    }
    assert len(data.nearest) == 21 and float(data.nearest.max()) <= 1.0001
    assert [reason for _, _, reason in data.rejects] == ["duplicate", "unparseable", "duplicate"]
    assert sum(sum(c.judge.values()) for c in data.categories.values()) == 21
    assert sum(sum(c.verify.values()) for c in data.categories.values()) == 21
    assert {row["kind"] for row in data.spending} == {"generate", "judge"}
    assert data.topics_known and 0 < len(data.topic_counts) <= data.topics_known
    assert all(0.0 < c.distinct_2 <= 1.0 for c in data.categories.values())


def test_the_page_is_self_contained_and_has_every_section(curated_store, tmp_path):
    page = render_report(collect(curated_store), tmp_path / "report")
    text = page.read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in text
    images = re.findall(r'<img alt="[^"]+" src="([^"]+)"', text)
    assert len(images) == len(SECTIONS)
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from elsewhere


def _chromium(*args: str, profile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_renders_every_image_and_the_screenshot_shows_the_plots(curated_store, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", str(curated_store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out / "index.html"
    assert json.loads(result.stdout)["records"] == 21
    dom = _chromium("--virtual-time-budget=10000", "--dump-dom", page.as_uri(),
                    profile=str(tmp_path / "p1"))  # fmt: skip
    marker = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    assert marker is not None, dom.stderr[-2000:]
    assert marker.group(1) == marker.group(2) == str(len(SECTIONS))
    assert "airloom dataset report" in dom.stdout and "Tokens and cost" in dom.stdout
    shot = tmp_path / "shot.png"
    _chromium("--window-size=1200,5000", f"--screenshot={shot}", page.as_uri(),
              profile=str(tmp_path / "p2"))  # fmt: skip
    from matplotlib import image

    pixels = image.imread(str(shot))
    assert pixels.shape[:2] == (5000, 1200)
    rows_with_ink = (pixels[:, :, :3].std(axis=1) > 0.02).any(axis=1).sum()
    assert rows_with_ink > 2000  # plots and tables, not a blank or an error page
