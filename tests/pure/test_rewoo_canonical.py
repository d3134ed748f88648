"""Canonical plan rendering: tolerant variants in, the card's exact layout out."""

from __future__ import annotations

from pathlib import Path

import pytest

from airloom.errors import PlanError
from airloom.runtime.rewoo.canonical import canonical_plan
from airloom.runtime.rewoo.parse import parse_plan
from airloom.runtime.rewoo.runner import check_plan
from airloom.runtime.tools.registry import DEFAULT_ALIASES, ToolRegistry

VARIANTS = [
    (
        "Plan: Search.\n#E1 = Google[Dune author]\nPlan: Ask.\n#E2 = LLM[Who wrote it, given #E1?]"
        "\nFinal answer: #E2",
        "Plan: Search.\n:evidence0: = Google[Dune author]\nPlan: Ask.\n"
        ":evidence1: = LLM[Who wrote it, given :evidence0:?]\nAnswer: :evidence1:",
    ),
    (
        "**Plan:** find it\n:evidence[0]: = DuckDuckGo[x]\n:evidence1: = KnowledgeModel["
        "what is :evidence[0]:]\n**Answer:** :evidence1:",
        "Plan: find it\n:evidence0: = DuckDuckGo[x]\n"
        ":evidence1: = KnowledgeModel[what is :evidence0:]\nAnswer: :evidence1:",
    ),
]


@pytest.mark.parametrize(("text", "expected"), VARIANTS)
def test_variants_become_canonical(text: str, expected: str) -> None:
    assert canonical_plan(text) == expected
    assert canonical_plan(expected) == expected  # a fixed point
    assert not parse_plan(expected).warnings


def test_canonical_plans_of_the_fixtures_still_validate() -> None:
    folder = Path(__file__).parents[1] / "fixtures" / "rewoo"
    checked = 0
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        try:
            before = check_plan(text, ToolRegistry(), offered=list(DEFAULT_ALIASES))
        except PlanError:
            continue
        after = check_plan(canonical_plan(text), ToolRegistry(), offered=list(DEFAULT_ALIASES))
        assert len(after.steps) == len(before.steps), path.name
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("text", ["", "Plan: think.", ":evidence0: = Search[x]"])
def test_unusable_text_is_refused(text: str) -> None:
    with pytest.raises(PlanError):
        canonical_plan(text)
