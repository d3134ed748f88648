"""Run statistics: per-category counts, rejects by reason, the JSON snapshot."""

from __future__ import annotations

import json

from airloom.scheduling.scheduler import Spending
from airloom.scheduling.stats import CategoryStats, RunStats


def test_category_created_once_and_target_updated() -> None:
    stats = RunStats()
    general = stats.category("general", target=5)
    assert stats.category("general") is general and general.target == 5
    stats.category("general", target=7)
    assert general.target == 7


def test_rejects_and_done() -> None:
    cat = CategoryStats("coding", target=2)
    cat.reject("duplicate")
    cat.reject("duplicate", 2)
    cat.reject("filtered")
    assert cat.rejects == {"duplicate": 3, "filtered": 1}
    assert not cat.done
    cat.accepted = 2
    assert cat.done


def test_snapshot_is_json_ready() -> None:
    stats = RunStats(spending=Spending(requests=12, prompt_tokens=100, completion_tokens=50))
    stats.requests_at_start = 2
    stats.category("general", target=3).reject("empty")
    stats.filter_hits["openai"] += 2
    snapshot = stats.as_dict()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["requests"] == 12 and snapshot["prompt_tokens"] == 100
    assert snapshot["filter_hits"] == {"openai": 2}
    assert snapshot["categories"] == {
        "general": {
            "accepted": 0,
            "target": 3,
            "accepted_this_run": 0,
            "rejects": {"empty": 1},
            "state": "waiting",
        }
    }
    assert stats.requests_per_minute() > 0  # 10 calls of this run


def test_the_status_line_counts_this_run_only() -> None:
    from airloom.cli.progress import spending_line

    stats = RunStats()
    stats.resume_from(Spending(requests=500, prompt_tokens=90_000, completion_tokens=40_000))
    stats.spending.requests += 3
    stats.spending.prompt_tokens += 1_200
    stats.spending.completion_tokens += 300
    line = spending_line(stats).plain
    assert "this run: requests 3 (" in line
    assert "tokens 1,500 " in line and "131,500" not in line
