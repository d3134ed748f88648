"""One reject discipline: the reasons, the enforce helper and the exhaustion signal."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from airloom.checks import checks_for
from airloom.curate.report_data import collect
from airloom.instructors.base import (
    Draft,
    Rejected,
    SourceExhausted,
    map_rejecting,
    round_slice,
)
from airloom.instructors.catalog import BUILTIN_CATEGORIES
from airloom.instructors.checked import enforce
from airloom.reasons import LEGACY_SPELLINGS, Reason, merge_counts
from airloom.scheduling.stats import CategoryStats
from tests.pure.test_store import open_store, rec

SRC = Path(__file__).resolve().parents[2] / "src" / "airloom"


def test_every_reason_is_one_stable_snake_case_string() -> None:
    values = [reason.value for reason in Reason]
    assert len(values) == len(set(values))
    for reason in Reason:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", reason.value), reason
        assert str(reason) == reason.value and Reason.parse(reason.value) is reason
    # values documented and tested before this enum existed keep their spelling
    assert Reason.FAILED_CHECK == "failed_check" and Reason.SOURCE_EXHAUSTED == "source_exhausted"
    assert Reason.DUPLICATE == "duplicate" and Reason.SURPLUS == "surplus"


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("sources_exhausted", Reason.SOURCE_EXHAUSTED),
        ("check_failed", Reason.FAILED_CHECK),
        ("check_word_target", Reason.FAILED_CHECK),
        ("check_plan", Reason.FAILED_CHECK),
        ("call failed", Reason.FAILED_CALL),
        ("unparseable", Reason.UNPARSEABLE),
    ],
)
def test_older_spellings_read_as_todays_reason(stored: str, reason: Reason) -> None:
    assert Reason.parse(stored) is reason
    assert stored in LEGACY_SPELLINGS or stored.startswith("check_") or stored == reason


def test_an_unknown_stored_reason_is_kept_as_it_is() -> None:
    assert Reason.parse("a plug-in's own reason") == "a plug-in's own reason"
    assert merge_counts([("x", 1), ("x", 2)]) == {"x": 3}


def test_no_reason_in_src_is_a_free_string() -> None:
    call = re.compile(r"(?:Rejected|SourceExhausted|\.reject)\(\s*[\"']")
    found = [
        f"{path.relative_to(SRC)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in SRC.rglob("*.py")
        for text in [path.read_text(encoding="utf-8")]
        for match in call.finditer(text)
    ]
    assert found == []


def test_live_stats_count_an_older_spelling_under_todays_reason() -> None:
    stats = CategoryStats("editor")
    stats.reject(Reason.SOURCE_EXHAUSTED)
    stats.reject("sources_exhausted", 2)
    assert dict(stats.rejects) == {"source_exhausted": 3}


def test_a_store_written_before_reads_with_todays_reasons(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with open_store(path) as store:
        store.commit_batch(
            [rec("kept")],
            rejects=[
                ("run0", "editor", "sources_exhausted", "all 6 writing records used"),
                ("run0", "detailed_writing", "check_word_target", "too short"),
                ("run0", "rp", "check_failed", "turn 2 is empty"),
                ("run1", "detailed_writing", Reason.FAILED_CHECK, "too long"),
                ("run1", "general", Reason.DUPLICATE, "twin"),
            ],
        )
        assert store.reject_counts() == {
            "editor": {"source_exhausted": 1},
            "detailed_writing": {"failed_check": 2},
            "rp": {"failed_check": 1},
            "general": {"duplicate": 1},
        }
    report = collect(path)
    assert sorted({reason for _, _, reason in report.rejects}) == [
        "duplicate",
        "failed_check",
        "source_exhausted",
    ]


# ---- the one enforce helper ---------------------------------------------------------------
def test_enforce_passes_a_good_draft_and_rejects_a_bad_one_with_failed_check() -> None:
    good = Draft("Fix.\n\nText: Teh cat.", "The cat.")
    assert enforce("editor", good) is good
    with pytest.raises(Rejected) as info:
        enforce("editor", Draft("Fix.\n\nText: The cat.", "The cat."))
    assert info.value.reason is Reason.FAILED_CHECK
    assert info.value.detail == "the text to correct has no errors"
    assert enforce("general", Draft("anything", "")).response == ""  # no checks: unchanged


def bad_draft(category: str) -> tuple[Draft, str] | None:
    """A draft one of the category's checks fails (an empty one, or one line of text),
    with the first failing verdict's reason."""
    for draft in (Draft("", ""), Draft("x", "x")):
        record = draft.to_record(category)
        for check in checks_for(category):
            verdict = check(record)
            if not verdict.ok:
                return draft, verdict.reason
    return None


CHECKED = sorted(c for c in BUILTIN_CATEGORIES if checks_for(c) and bad_draft(c))


def test_nearly_every_checked_category_is_covered_below() -> None:
    assert len(CHECKED) >= 18  # experience and trivia need a record shaped by their meta


@pytest.mark.parametrize("category", CHECKED)
def test_every_checked_category_rejects_through_the_same_reason(category: str) -> None:
    found = bad_draft(category)
    assert found is not None
    draft, reason = found
    with pytest.raises(Rejected) as info:
        enforce(category, draft)
    assert info.value.reason is Reason.FAILED_CHECK
    assert info.value.detail == reason


def test_map_rejecting_reports_reason_and_detail() -> None:
    async def only_even(n: int) -> int:
        if n % 2:
            raise Rejected(Reason.UNPARSEABLE, f"odd {n}")
        return n

    seen: list[tuple[Reason, str]] = []
    kept = asyncio.run(map_rejecting(only_even, [1, 2, 3], lambda r, d: seen.append((r, d))))
    assert kept == [2] and seen == [(Reason.UNPARSEABLE, "odd 1"), (Reason.UNPARSEABLE, "odd 3")]


# ---- the one exhaustion signal -------------------------------------------------------------
def test_round_slice_hands_out_every_item_then_says_exhausted() -> None:
    items = list(range(5))
    assert [list(round_slice(items, k, 2, "numbers")) for k in range(3)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(SourceExhausted) as info:
        round_slice(items, 3, 2, "numbers")
    assert info.value.reason is Reason.SOURCE_EXHAUSTED
    assert info.value.detail == "all 5 numbers were used"
    assert isinstance(info.value, Rejected)  # counted like any reject before the stop
