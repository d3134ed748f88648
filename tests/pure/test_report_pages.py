"""The report page on edge cases: an empty store, nothing checked, rates per verdict."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from airloom.curate.report import render_html
from airloom.curate.report_data import CategoryFacts, ReportData, collect
from airloom.store.database import Store


def images(page: str) -> list[str]:
    return re.findall(r'<img alt="([^"]+)"', page)


def test_an_empty_store_draws_no_chart(tmp_path: Path) -> None:
    path = tmp_path / "empty.airloom.db"
    Store.open(path).close()
    page = render_html(collect(path))
    assert images(page) == []  # no empty axes with negative ticks
    assert page.count("No records in the store yet.") == 3
    assert "Nothing judged or verified yet." in page


def facts(**verdicts: Counter[str]) -> CategoryFacts:
    return CategoryFacts(records=4, units=4, instruction_words=[5] * 4, response_words=[9] * 4,
                         **verdicts)  # fmt: skip


def rate_cells(page: str) -> list[str]:
    table = page.split("<h2>Judge and verifier pass rates</h2>")[1].split("<h2>")[0]
    return re.findall(r"<td[^>]*>([^<]*)</td>", table)


def test_every_record_skipped_is_no_rate_not_zero() -> None:
    data = ReportData("s.db", None, {"general": facts(verify=Counter(skip=4))})
    page = render_html(data)
    assert rate_cells(page) == ["general", "0", "–", "0", "4", "–", "0", "4"]
    assert "judge and verifier pass rates" not in images(page)
    assert "Every verified record was skipped: no rate." in page


def test_rates_count_checked_records_and_the_chart_is_drawn() -> None:
    data = ReportData(
        "s.db",
        None,
        {
            "coding": facts(verify=Counter({"pass": 3, "fail": 1, "skip": 2})),
            "general": facts(judge=Counter({"good": 1, "bad": 3})),
        },
    )
    page = render_html(data)
    cells = rate_cells(page)
    assert cells[:8] == ["coding", "0", "–", "0", "6", "0.75", "1", "2"]
    assert cells[8:] == ["general", "4", "0.25", "0", "0", "–", "0", "0"]
    assert "judge and verifier pass rates" in images(page)
