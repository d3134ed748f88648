"""Replies cut at max_tokens: list-shaped rounds keep their complete items.

A weak teacher often writes on past the items it was asked for and stops at
max_tokens inside an extra one; the complete items before the cut are kept and the
cut one is counted as ``truncated``. A reply with no complete item is still rejected.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airloom.config import InstructorConfig
from airloom.instructors.base import Truncated, whole_items
from airloom.instructors.character import CharacterConfig, CharacterInstructor
from airloom.instructors.general import GeneralInstructor
from airloom.instructors.introspection import IntrospectionConfig, IntrospectionInstructor
from airloom.instructors.joke import JokeInstructor
from airloom.instructors.mathjson import MathJSONConfig, MathJSONInstructor
from airloom.instructors.parsing import parse_labelled_items, parse_qa_pairs
from tests.pure.test_instructors_c import CARDS, CHAT, GOOD_CARDS
from tests.support.instructor_context import Call, Cut, FakeContext, run, settings_for


def test_general_keeps_the_tasks_before_the_cut() -> None:
    def reply(call: Call) -> str:
        if call.key == "tasks":
            return Cut("TSK 1. Name three rivers.\nTSK 2. Explain tides.\nTSK 3. Describe a ka")
        return "An answer."

    ctx = FakeContext(settings_for("general", InstructorConfig(), batch_size=3), reply)
    drafts = run(GeneralInstructor(ctx.settings), ctx)
    assert [d.instruction for d in drafts] == ["Name three rivers.", "Explain tides."]
    assert ctx.rejects == [("truncated", "the last item was cut at max_tokens")]


def test_a_cut_response_is_still_rejected() -> None:
    def reply(call: Call) -> str:
        if call.key == "tasks":
            return "TSK 1. Name three rivers.\nTSK 2. Explain tides."
        return Cut("Tides are caused by") if "tides" in call.prompt else "Nile, Amazon, Rhine."

    ctx = FakeContext(settings_for("general", InstructorConfig(), batch_size=2), reply)
    drafts = run(GeneralInstructor(ctx.settings), ctx)
    assert [d.instruction for d in drafts] == ["Name three rivers."]
    assert ctx.reasons() == ["truncated"]


def test_a_reply_cut_inside_its_only_item_rejects_the_round() -> None:
    ctx = FakeContext(
        settings_for("general", InstructorConfig(), batch_size=2),
        lambda call: Cut("Sure! Here are the tasks:\nTSK 1. Name three riv"),
    )
    with pytest.raises(Truncated):
        run(GeneralInstructor(ctx.settings), ctx)


def test_inline_pairs_keep_a_pair_followed_by_a_cut_question() -> None:
    # the cut falls inside a question that has no answer yet: the pair before it is whole
    text = "QUESTION: Why did the owl sing?\nANSWER: It had a hoot.\nQUESTION: What do you ca"
    ctx = FakeContext(settings_for("joke", InstructorConfig(), batch_size=1), lambda c: Cut(text))
    drafts = run(JokeInstructor(ctx.settings), ctx)
    assert [(d.instruction, d.response) for d in drafts] == [
        ("Why did the owl sing?", "It had a hoot.")
    ]


def test_a_card_cut_in_its_guide_is_dropped_and_the_whole_one_kept() -> None:
    cut = GOOD_CARDS[: GOOD_CARDS.index("warm and a little")]
    ctx = FakeContext(
        settings_for("character", CharacterConfig(), batch_size=2), lambda c: Cut(cut)
    )
    drafts = run(CharacterInstructor(ctx.settings), ctx)
    assert [d.meta["card"]["name"] for d in drafts] == ["Mara Voss"]
    assert ctx.reasons() == ["truncated"]


def test_a_numeric_answer_cut_mid_number_is_not_trusted() -> None:
    def reply(call: Call) -> str:
        if call.key == "problems":
            return Cut(
                "PROBLEM: Tom has 3 bags of 12 apples. How many apples?\nANSWER: 36\n"
                "PROBLEM: A crate holds 125 pears; how many in 1 crate?\nANSWER: 12"
            )
        return 'Three bags of twelve.\n<mathjson>["Multiply", 3, 12]</mathjson>'

    ctx = FakeContext(settings_for("mathjson", MathJSONConfig(), batch_size=2), reply)
    drafts = run(MathJSONInstructor(ctx.settings), ctx)
    assert [d.meta["expected"] for d in drafts] == [36]
    assert ctx.reasons() == ["truncated"]


def test_a_chat_run_on_past_max_tokens_keeps_its_whole_lines() -> None:
    def reply(call: Call) -> str:
        if call.key == "chat":
            user = re.search(r"chat between (\w+) and", call.prompt).group(1)
            return Cut(CHAT.format(user=user) + f"\n{user}: And the storm, will it")
        return "QUESTION: Tell me again?\nANSWER: Habit, mostly.\nEVIDENCE: Habit, mostly"

    config = IntrospectionConfig(kinds=["earlier"], exchanges=2)
    ctx = FakeContext(
        settings_for("introspection", config), reply, records={"character": CARDS[:1]}
    )
    (draft,) = run(IntrospectionInstructor(ctx.settings), ctx)
    assert [t.role for t in draft.conversation] == ["user", "assistant"] * 3
    assert "storm, will it" not in " ".join(t.content for t in draft.conversation)


@given(st.lists(st.text("abc ", min_size=1, max_size=12), min_size=1, max_size=6), st.data())
def test_whole_items_never_keeps_a_cut_item(tasks: list[str], data: st.DataObject) -> None:
    full = "".join(f"TSK {i}. {task.strip() or 'x'}\n" for i, task in enumerate(tasks, 1))
    complete = parse_labelled_items(full, "TSK")
    cut_at = data.draw(st.integers(0, len(full)))
    kept = whole_items(full[:cut_at], lambda text: parse_labelled_items(text, "TSK"))
    assert kept == complete[: len(kept)]  # a prefix of the real items, none altered


def test_whole_items_of_an_uncut_reply_keeps_all_but_an_open_last_item() -> None:
    text = "QUESTION: a?\nANSWER: b\nQUESTION: c?\nANSWER: d"
    assert whole_items(text, lambda t: parse_qa_pairs(t, "QUESTION", "ANSWER")) == [("a?", "b")]
