"""``contextual`` in compose mode: the teacher's passage and question, the program's layout.

The composed records are checked with the same functions that score ``airloom eval``'s
closed-context cases, so what the instructor writes is what the eval rewards.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from airloom.config_load import load_config_text
from airloom.errors import ConfigError
from airloom.evaluate.scorers import says_unknown, states_fact
from airloom.formats.closed_context import InputBlock, check_citations, parse_closed_context
from airloom.instructors.base import Rejected
from airloom.instructors.contextual import ContextualInstructor
from airloom.instructors.contextual_compose import (
    SOURCE_REQUESTS,
    Detail,
    clean_passage,
    compose_item,
    draw_metadata,
    parse_question,
    pick_detail,
    sentences,
)
from airloom.instructors.settings.contextual import ContextualConfig
from airloom.reasons import Reason
from tests.support.instructor_context import Call, Cut, FakeContext, Reply, run, settings_for

PASSAGES = {
    "volcanoes": (
        "The village of Marrow Hill sits below an old volcano. In 1911 the volcano woke for "
        "nine days. The mayor, Ada Brandt, moved 212 families to the valley. Ash covered the "
        "fields for a whole summer. The families came back when the school opened again."
    ),
    "chess": (
        "The chess club of Port Elsen was founded by three sailors. They met every Sunday in "
        "the back room of a bakery. In its best year the club had 48 members. Its champion, "
        "Kofi Okafor, never lost a game at home. The club still keeps his wooden board."
    ),
    "tea": (
        "A tea garden on the slopes of Harrow Bay grows a smoky black leaf. Pickers start at "
        "dawn, before the mist lifts. The garden ships 1,250 crates each autumn. Its oldest "
        "bush was planted in 1887 by a monk. Visitors may taste the tea in a small pavilion."
    ),
}
QUESTIONS = {
    "1911": "In which year did the volcano wake for nine days?",
    "212": "How many families did the mayor move to the valley?",
    "48": "How many members did the club have in its best year?",
    "1,250": "How many crates does the garden ship each autumn?",
    "1887": "When was the garden's oldest bush planted by a monk?",
}


def teacher(call: Call) -> str:
    """Passages by topic; the question that fits the detail named in the prompt."""
    if call.key.startswith("passage"):
        return next(text for topic, text in PASSAGES.items() if topic in call.prompt)
    detail = next(d for d in QUESTIONS if f'"{d}"' in call.prompt)
    return f"QUESTION: {QUESTIONS[detail]}\nANSWER: It was {detail}."


def compose_ctx(
    seed: int = 0,
    *,
    reply: Reply = teacher,
    topics: Sequence[str] = tuple(PASSAGES),
    batch_size: int = 3,
    duplicates: set[str] | None = None,
    **knobs: object,
) -> FakeContext:
    """A compose-mode round context: ``knobs`` are the section's, the rest the fake's."""
    section = ContextualConfig(mode="compose", **knobs)  # type: ignore[arg-type]
    settings = settings_for("contextual", section, batch_size=batch_size)
    return FakeContext(settings, reply, seed=seed, topics=topics, duplicates=duplicates)


def test_a_round_composes_cited_answers_the_eval_scorer_accepts() -> None:
    for seed in range(6):
        ctx = compose_ctx(seed, unanswerable_ratio=0.0, source_request_ratio=1.0)
        drafts = run(ContextualInstructor(ctx.settings), ctx)
        assert len(drafts) == 3 and ctx.rejects == []
        assert [c.key for c in ctx.calls].count("question") == 3
        for draft in drafts:
            parsed = parse_closed_context(draft.instruction, strict=True)
            assert parsed.instruction.endswith(SOURCE_REQUESTS)
            assert 1 <= len(parsed.blocks) <= 3
            detail = draft.meta["detail"]
            assert states_fact(draft.response, [detail])
            assert check_citations(draft.response, draft.instruction) == []
            cited = [b for b in parsed.blocks if detail in b.text]
            assert len(cited) == 1
            assert draft.response.endswith(
                "\n".join(f"{k}: {v}" for k, v in cited[0].metadata.items())
            )
            assert draft.meta == {"mode": "compose", "variant": "answerable", "detail": detail}


def test_without_a_source_request_the_answer_has_no_references() -> None:
    ctx = compose_ctx(unanswerable_ratio=0.0, source_request_ratio=0.0)
    drafts = run(ContextualInstructor(ctx.settings), ctx)
    assert drafts and all("Reference" not in d.response for d in drafts)
    assert all(
        parse_closed_context(d.instruction).instruction in QUESTIONS.values() for d in drafts
    )


def test_unanswerable_items_lose_the_answering_sentence_and_decline() -> None:
    ctx = compose_ctx(unanswerable_ratio=1.0, source_request_ratio=1.0)
    drafts = run(ContextualInstructor(ctx.settings), ctx)
    assert len(drafts) == 3
    for draft in drafts:
        assert draft.meta["variant"] == "unanswerable"
        parsed = parse_closed_context(draft.instruction, strict=True)
        assert all(draft.meta["detail"] not in block.text for block in parsed.blocks)
        assert says_unknown(draft.response) and "Reference" not in draft.response
        assert parsed.instruction.endswith(SOURCE_REQUESTS)  # asked, and still declined


def test_bad_passages_and_questions_are_rejected_with_their_reason() -> None:
    replies = {
        "volcanoes": "Dear [Name], the volcano woke in 1911. We left.",
        "chess": "It was cold. " * 3 + "The club met. " * 6,
        "tea": "QUESTION: How many crates does the garden ship?\nANSWER: 1,250.",
    }

    def sloppy(call: Call) -> str:
        if call.key.startswith("passage"):
            topic = next(t for t in replies if t in call.prompt)
            return PASSAGES["tea"] if topic == "tea" else replies[topic]
        return "QUESTION: Were 1,250 crates shipped from the garden each autumn?\nANSWER: yes"

    ctx = compose_ctx(reply=sloppy, topics=list(replies))
    assert run(ContextualInstructor(ctx.settings), ctx) == []
    reasons = sorted(ctx.reasons())
    assert reasons == sorted([Reason.PLACEHOLDER, Reason.REPETITIVE, Reason.NO_QUESTION])


def test_a_cut_passage_keeps_its_whole_sentences() -> None:
    def cut(call: Call) -> str:
        if call.key.startswith("passage"):
            return Cut(PASSAGES["tea"] + " The pavilion opens at")
        return teacher(call)

    ctx = compose_ctx(reply=cut, topics=["tea"], batch_size=1)
    drafts = run(ContextualInstructor(ctx.settings), ctx)
    assert len(drafts) == 1 and "opens at" not in drafts[0].instruction


def test_near_duplicates_are_dropped_by_the_pre_check() -> None:
    probe = compose_ctx(unanswerable_ratio=0.0)
    first = run(ContextualInstructor(probe.settings), probe)[0]
    ctx = compose_ctx(unanswerable_ratio=0.0, duplicates={first.text_for_dedup()})
    drafts = run(ContextualInstructor(ctx.settings), ctx)
    assert len(drafts) == 2 and first.text_for_dedup() not in [d.text_for_dedup() for d in drafts]


def test_prompts_carry_style_topic_sentence_and_detail() -> None:
    ctx = compose_ctx(context_styles=["museum guide"])
    run(ContextualInstructor(ctx.settings), ctx)
    passages = [c.prompt for c in ctx.calls if c.key.startswith("passage")]
    assert all("museum guide" in p for p in passages)
    assert {t for t in PASSAGES if any(t in p for p in passages)} == set(PASSAGES)
    questions = [c.prompt for c in ctx.calls if c.key == "question"]
    assert all(any(f'"{d}"' in p for d in QUESTIONS) for p in questions)


@pytest.mark.parametrize(
    ("text", "question", "answer"),
    [
        ("QUESTION: How many families moved?\nANSWER: 212 families.", "", "212 families."),
        ('The question is: "How many families moved to the valley?"', "", None),
        ("**Question:** How many families moved?\n**Answer:** many", "", None),
        ("Q: How many families did the mayor move?\nA: 212", "", None),
    ],
)
def test_question_layouts_a_small_teacher_writes(text: str, question: str, answer: str | None):
    detail = Detail("The mayor moved 212 families to the valley.", "212")
    got_question, got_answer = parse_question(text, detail)
    assert got_question.endswith("?") and "212" not in got_question
    assert got_answer == (answer if answer is not None else detail.sentence)


@pytest.mark.parametrize(
    "text",
    [
        "QUESTION: How many families did the mayor move, 212?",  # gives the answer away
        "QUESTION: Can you tell me about the text?",  # asks the reader
        "QUESTION: When did the school in 1990 reopen?",  # a number of another sentence
        "QUESTION: What colour was the sky?",  # nothing of the chosen sentence
        "Here is a question about the valley.",  # no question at all
    ],
)
def test_questions_that_do_not_ask_for_the_detail_are_rejected(text: str) -> None:
    detail = Detail("The mayor moved 212 families to the valley.", "212")
    with pytest.raises(Rejected) as caught:
        parse_question(text, detail)
    assert caught.value.reason == Reason.NO_QUESTION


def test_details_are_unique_spans_numbers_first() -> None:
    text = "In 1911 the mill opened. Ada Brandt ran it. In 1911 a storm came. It had 40 looms."
    assert pick_detail(random.Random(0), text) == Detail("It had 40 looms.", "40")
    names = "The mill stood by Lake Orun. Its owner was Ada Brandt."
    assert {pick_detail(random.Random(s), names).span for s in range(20)} == {  # type: ignore[union-attr]
        "Lake Orun",
        "Ada Brandt",
    }


def test_passages_are_cut_to_whole_sentences_and_bounded() -> None:
    long = " ".join(f"On day {n} the ferry carried {n + 10} people across." for n in range(20))
    kept = clean_passage(long, "prompt")
    assert len(sentences(kept)) == 7 and kept.endswith("across.")
    with pytest.raises(Rejected) as short:
        clean_passage("The ferry left. It came back.", "prompt")
    assert short.value.reason == Reason.SOURCE_TOO_SHORT
    with pytest.raises(Rejected) as leaked:
        clean_passage(PASSAGES["tea"] + " ENDINPUT", "prompt")
    assert leaked.value.reason == Reason.LEAKED_DELIMITER
    with pytest.raises(Rejected) as copied:
        clean_passage(PASSAGES["tea"], "Write like this: " + PASSAGES["tea"])
    assert copied.value.reason == Reason.COPIED_PROMPT


def test_metadata_shapes_are_varied_and_well_formed() -> None:
    shapes = {
        tuple(draw_metadata(random.Random(s), "Tide pools", "blog post", 2026)) for s in range(60)
    }
    assert len(shapes) >= 5
    meta = draw_metadata(random.Random(3), "Tide pools: a guide!", "blog post", 2026)
    assert all(value and "\n" not in value for value in meta.values())
    if "url" in meta:
        assert meta["url"].endswith("/tide-pools-a-guide")


def test_compose_item_places_the_target_among_distractors() -> None:
    target = InputBlock({"url": "https://a/1"}, "Tilo is blue.")
    others = [InputBlock({"url": f"https://b/{n}"}, f"Mira is {n}.") for n in range(2)]
    seen = set()
    for seed in range(20):
        instruction, response = compose_item(
            random.Random(seed), target, others, "Colour? Source?", "Blue.", cite=True
        )
        blocks = parse_closed_context(instruction).blocks
        seen.add([b.text for b in blocks].index("Tilo is blue."))
        assert response == "Blue.\n\nReference(s):\nurl: https://a/1"
    assert seen == {0, 1, 2}


def test_mode_is_validated() -> None:
    config = load_config_text("instructors:\n  contextual: {count: 2, mode: compose}\n")
    section = config.instructors["contextual"]
    assert isinstance(section, ContextualConfig) and section.mode == "compose"
    with pytest.raises(ConfigError, match="mode"):
        load_config_text("instructors:\n  contextual: {count: 2, mode: freestyle}\n")


def test_a_passage_too_short_to_lose_a_sentence_stays_answerable() -> None:
    two = (
        "The mayor of Marrow Hill, a quiet village below the old volcano, moved 212 families "
        "to the valley. The families came back to their fields and houses when the school of "
        "the village opened again after the long summer."
    )

    def reply(call: Call) -> str:
        return two if call.key.startswith("passage") else teacher(call)

    ctx = compose_ctx(reply=reply, topics=["x"], batch_size=1, unanswerable_ratio=1.0)
    (draft,) = run(ContextualInstructor(ctx.settings), ctx)
    assert draft.meta["variant"] == "answerable" and "212" in draft.response
