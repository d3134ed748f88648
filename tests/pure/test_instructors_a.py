"""Group-a instructors: parsers (tables of realistic and malformed teacher output),
record checks, and rounds on a fake context."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

import pytest

from airloom.checks import checks_for
from airloom.checks.card import check_card
from airloom.checks.editor import check_editor
from airloom.checks.experience import check_experience_length
from airloom.checks.trivia import AnswerConstraint, answer_constraints, check_trivia
from airloom.checks.wordgame import check_wordgame, listed_words, wordgame_rules
from airloom.config import InstructorConfig
from airloom.config_load import load_config_text
from airloom.formats.closed_context import parse_closed_context
from airloom.instructors.base import Draft, Instructor, Rejected, SourceExhausted
from airloom.instructors.card import CardInstructor
from airloom.instructors.checked import enforce
from airloom.instructors.counterfactual_contextual import (
    CITE_PHRASES,
    CounterfactualConfig,
    CounterfactualContextualInstructor,
    parse_counterfactual,
    split_source,
)
from airloom.instructors.editor import (
    EditorConfig,
    EditorInstructor,
    clean_flawed,
    editor_instruction,
)
from airloom.instructors.experience import (
    ExperienceConfig,
    ExperienceInstructor,
    parse_experience,
)
from airloom.instructors.inline_qa import InlineQAPairsInstructor
from airloom.instructors.joke import JokeInstructor
from airloom.instructors.misconception import MisconceptionInstructor
from airloom.instructors.orca import OrcaInstructor
from airloom.instructors.registry import available_instructors, run_order
from airloom.instructors.riddle import RiddleInstructor
from airloom.instructors.roleplay import RoleplayInstructor
from airloom.instructors.song import SongInstructor
from airloom.instructors.trivia import TriviaConfig, TriviaInstructor, question_unit
from airloom.instructors.wordgame import WordgameConfig, WordgameInstructor
from airloom.instructors.writing import WritingConfig, WritingInstructor, style_requirements
from airloom.reasons import Reason
from tests.support.instructor_context import Call, FakeContext, Reply, run, settings_for
from tests.support.records import record_of

GROUP_A = [
    "counterfactual_contextual",
    "trivia",
    "experience",
    "orca",
    "riddle",
    "wordgame",
    "roleplay",
    "writing",
    "editor",
    "card",
    "joke",
    "song",
    "misconception",
    "inline_qa",
]


def qa_text(pairs: Sequence[tuple[str, str]], q: str = "QUESTION", a: str = "ANSWER") -> str:
    return "\n\n".join(f"{q}: {question}\n{a}: {answer}" for question, answer in pairs)


# ---- registration ------------------------------------------------------------------------
def test_every_group_a_category_is_registered_with_its_config() -> None:
    registry = available_instructors()
    for name in GROUP_A:
        assert registry[name].name == name
    config = load_config_text(
        "instructors:\n" + "".join(f"  {name}: {{count: 1}}\n" for name in GROUP_A)
    )
    assert set(GROUP_A) <= set(config.instructors)
    assert run_order(["editor", "writing"]) == [["writing"], ["editor"]]
    assert run_order(["editor"]) == [["editor"]]  # writing records may already be stored


def test_knobs_validate() -> None:
    cfg = load_config_text(
        "instructors:\n"
        "  trivia: {plain_ratio: 0.2}\n"
        "  writing: {styles: [grim]}\n"
        "  editor: {min_issues: 2, max_issues: 2}\n"
        "  experience: {word_count: 300}\n"
        "  counterfactual_contextual: {cite_ratio: 1.0}\n"
    )
    trivia = cfg.instructors["trivia"]
    assert isinstance(trivia, TriviaConfig) and trivia.plain_ratio == 0.2
    with pytest.raises(Exception, match="min_issues"):
        EditorConfig(min_issues=3, max_issues=1)
    with pytest.raises(Exception, match=r"plain_ratio|less than or equal"):
        load_config_text("instructors:\n  trivia: {plain_ratio: 2}\n")


def test_checks_are_registered_for_their_categories() -> None:
    for name in ("trivia", "wordgame", "experience", "editor", "card", "counterfactual_contextual"):
        assert checks_for(name), name


# ---- counterfactual_contextual: parser table -------------------------------------------
GOOD_FACTS = (
    "FACTS:\n"
    "1. The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was designed "
    "by Gustave Eiffel's company. [https://en.wikipedia.org/wiki/Eiffel_Tower]\n"
    "2. Marie Curie won Nobel Prizes in physics and chemistry. She was born in Warsaw in 1867. "
    "[Source: https://www.nobelprize.org/curie]\n"
    "COUNTER:\n"
    "1. The Eiffel Tower was completed in 1925 for a fishing festival in Lyon. It was designed "
    "by a baker. Locals still call it the Bread Tower.\n"
    "2. Marie Curie won a Nobel Prize in literature. She was born in Lisbon in 1901. She never "
    "studied science.\n"
    "QUESTIONS:\n"
    "1. When was the Eiffel Tower completed?\n"
    "2. In which field did Marie Curie win her Nobel Prize?\n"
)


def test_parse_counterfactual_well_formed() -> None:
    items, problems = parse_counterfactual(GOOD_FACTS)
    assert problems == []
    assert [i.number for i in items] == [1, 2]
    assert items[0].source == "https://en.wikipedia.org/wiki/Eiffel_Tower"
    assert items[1].source == "https://www.nobelprize.org/curie"
    assert "https" not in items[0].fact and items[0].fact.endswith("company.")
    assert items[1].counter.startswith("Marie Curie won a Nobel Prize in literature")
    assert items[1].question == "In which field did Marie Curie win her Nobel Prize?"


@pytest.mark.parametrize(
    ("text", "count", "reasons"),
    [
        # markdown headings, bold numbers, a code fence and a preamble
        (
            "Sure! Here you go.\n```\n**FACTS:**\n**1.** A is true. [https://a.example/1]\n"
            "## COUNTER:\n1. A is false.\n### QUESTIONS:\n1. Is A true?\n```",
            1,
            [],
        ),
        # missing COUNTER section
        ("FACTS:\n1. A. [https://a/1]\nQUESTIONS:\n1. Q?", 0, ["unparseable"]),
        # missing QUESTIONS section
        ("FACTS:\n1. A. [https://a/1]\nCOUNTER:\n1. B.", 0, ["unparseable"]),
        # no sections at all
        ("I cannot help with that.", 0, ["unparseable"]),
        # one fact without a URL: rejected, the other kept
        (
            "FACTS:\n1. A is true.\n2. B is true. [https://b/2]\nCOUNTER:\n1. A is false.\n"
            "2. B is false.\nQUESTIONS:\n1. A?\n2. B?",
            1,
            ["no_source"],
        ),
        # numbering drift with equal lengths: aligned by position
        (
            "FACTS:\n1. A. [https://a/1]\n2. B. [https://b/2]\nCOUNTER:\n3. not A.\n4. not B.\n"
            "QUESTIONS:\n1. A?\n2. B?",
            2,
            [],
        ),
        # truncated: the last fact has no counter and no question
        (
            "FACTS:\n1. A. [https://a/1]\n2. B. [https://b/2]\nCOUNTER:\n1. not A.\n"
            "QUESTIONS:\n1. A?",
            1,
            ["unparseable"],
        ),
        # extra prose after the last question is not part of it
        (
            "FACTS:\n1. A. (https://a/1)\nCOUNTER:\n1. not A.\nQUESTIONS:\n1. A?\n\n"
            "I hope these help with your dataset!",
            1,
            [],
        ),
        # a section label without numbered items
        ("FACTS:\nnothing numbered\nCOUNTER:\n1. x\nQUESTIONS:\n1. y", 0, ["unparseable"]),
        # bare URL at the end of the fact, bullets instead of numbers
        (
            "FACTS:\n- A is true. Source: https://a/1\nCOUNTER:\n- A is false.\n"
            "QUESTIONS:\n- Is A true?",
            1,
            [],
        ),
    ],
)
def test_parse_counterfactual_table(text: str, count: int, reasons: list[str]) -> None:
    items, problems = parse_counterfactual(text)
    assert len(items) == count
    assert [reason for reason, _ in problems] == reasons
    for item in items:
        assert item.source.startswith("https://") and "http" not in item.fact
        assert "\n" not in item.question and "hope" not in item.question


@pytest.mark.parametrize(
    ("fact", "text", "url"),
    [
        ("Tall. [https://w/t]", "Tall.", "https://w/t"),
        ("Tall. [Source: https://w/t]", "Tall.", "https://w/t"),
        ("Tall (https://w/t).", "Tall .", "https://w/t"),
        ("Tall. Source: https://w/t.", "Tall.", "https://w/t"),
        ("Tall. <https://w/t>", "Tall.", "https://w/t"),
        ("No link.", "No link.", None),
    ],
)
def test_split_source(fact: str, text: str, url: str | None) -> None:
    assert split_source(fact) == (text, url)


def counterfactual_reply(answer: str = "In 1889.") -> Reply:
    def reply(call: Call) -> str:
        if call.key == "facts":
            return GOOD_FACTS
        if "Bread Tower" in call.prompt or "Lisbon" in call.prompt:
            return "FALSE-ANSWER"
        return answer

    return reply


def test_counterfactual_round_one_true_and_one_false_row_per_fact() -> None:
    section = CounterfactualConfig(cite_ratio=0.0)
    ctx = FakeContext(
        settings_for("counterfactual_contextual", section, batch_size=2), counterfactual_reply()
    )
    drafts = run(CounterfactualContextualInstructor(ctx.settings), ctx)
    assert [d.meta["variant"] for d in drafts] == ["true", "false", "true", "false"]
    assert len({d.instruction for d in drafts}) == 4  # no duplicated pairs (original bug)
    assert [d.near_dedup for d in drafts] == [True, False, True, False]
    assert [d.response for d in drafts][1::2] == ["FALSE-ANSWER", "FALSE-ANSWER"]
    for draft in drafts:
        parsed = parse_closed_context(draft.instruction, strict=True)
        assert len(parsed.blocks) == 1 and set(parsed.blocks[0].metadata) == {"url"}
    true, false = (parse_closed_context(d.instruction) for d in drafts[:2])
    assert true.blocks[0].metadata == false.blocks[0].metadata  # the false row keeps the true URL
    assert true.instruction == false.instruction == "When was the Eiffel Tower completed?"
    assert "Bread Tower" in false.blocks[0].text and "1889" in true.blocks[0].text
    responses = [c for c in ctx.calls if c.key.startswith("response")]
    assert len(responses) == 4
    assert all("reading comprehension" in c.prompt for c in responses)


def test_counterfactual_cite_phrase_shared_by_the_pair_and_checked() -> None:
    section = CounterfactualConfig(cite_ratio=1.0)
    good = "In 1889.\n\nReference(s):\nurl: https://en.wikipedia.org/wiki/Eiffel_Tower"
    ctx = FakeContext(
        settings_for("counterfactual_contextual", section, batch_size=1),
        lambda call: GOOD_FACTS if call.key == "facts" else good,
    )
    drafts = run(CounterfactualContextualInstructor(ctx.settings), ctx)
    assert len(drafts) == 2
    phrases = [parse_closed_context(d.instruction).instruction.split("\n")[1] for d in drafts]
    assert phrases[0] == phrases[1] and phrases[0] in CITE_PHRASES
    bad = "In 1889.\n\nReference(s):\nurl: https://invented.example/x"
    ctx = FakeContext(
        settings_for("counterfactual_contextual", section, batch_size=1),
        lambda call: GOOD_FACTS if call.key == "facts" else bad,
    )
    assert run(CounterfactualContextualInstructor(ctx.settings), ctx) == []
    assert [r for r, _ in ctx.rejects] == [Reason.FAILED_CHECK, Reason.FAILED_CHECK]


def test_counterfactual_dedup_is_on_the_true_variant_only() -> None:
    items, _ = parse_counterfactual(GOOD_FACTS)
    section = CounterfactualConfig(cite_ratio=0.0)
    probe = FakeContext(
        settings_for("counterfactual_contextual", section, batch_size=2), counterfactual_reply()
    )
    first_true = run(CounterfactualContextualInstructor(probe.settings), probe)[0].instruction
    ctx = FakeContext(
        settings_for("counterfactual_contextual", section, batch_size=2),
        counterfactual_reply(),
        duplicates={first_true},
    )
    drafts = run(CounterfactualContextualInstructor(ctx.settings), ctx)
    assert [d.meta["variant"] for d in drafts] == ["true", "false"]
    assert items[1].question in drafts[0].instruction


def test_counterfactual_malformed_reply_is_rejected_not_raised() -> None:
    ctx = FakeContext(
        settings_for("counterfactual_contextual", CounterfactualConfig()),
        lambda call: "FACTS:\n1. only facts [https://a/1]",
    )
    assert run(CounterfactualContextualInstructor(ctx.settings), ctx) == []
    assert ctx.rejects == [("unparseable", "no COUNTER: section in the reply")]


# ---- trivia --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("The capital of Australia, it ends with 'a'.", [("end", "a")]),
        ('A word starting with "sm" for a tiny amount.', [("start", "sm")]),
        ("Name the river containing 'ss' in its name.", [("contains", "ss")]),
        (
            "A fruit that begins with the letter 'k' and has 'w' in it.",
            [("start", "k"), ("contains", "w")],
        ),
        ("Which planet has the shortest day?", []),
        ("What ends in ‘ing’ and starts with ‘s’?", [("start", "s"), ("end", "ing")]),
    ],
)
def test_trivia_answer_constraints(question: str, expected: list[tuple[str, str]]) -> None:
    assert [(c.kind, c.letters) for c in answer_constraints(question)] == expected


@pytest.mark.parametrize(
    ("question", "answer", "ok"),
    [
        ("The capital of Australia, it ends with 'a'.", "Canberra", True),
        ("The capital of Australia, it ends with 'a'.", "Sydney", False),
        ("A word starting with 'sm' for a tiny amount.", "Smidgen.", True),
        ("A word starting with 'sm' for a tiny amount.", "A pinch", False),
        ("This river starts with 'tig'.", "The Tigris", True),
        ("A state containing 'ss'.", "Mississippi", True),
        ("A state containing 'ss'.", "Ohio", False),
        ("What is the largest ocean?", "The Pacific", True),
        ("What is the largest ocean?", "  ", False),
    ],
)
def test_check_trivia(question: str, answer: str, ok: bool) -> None:
    record = record_of(instruction=question, response=answer, system="S")
    assert check_trivia(record).ok is ok
    assert check_trivia(record.replace(system=None)).ok  # plain re-answers are not checked


TRIVIA_PAIRS = [
    ("Which river flows through Baghdad?", "The Tigris"),
    ("The capital of Australia, it ends with 'a'.", "Sydney"),  # breaks its own clue
    ("What 1851 novel begins with 'Call me Ishmael'?", "Moby-Dick"),
    ("Which instrument has 88 keys?", "The piano"),
]


def trivia_reply(call: Call) -> str:
    if call.key == "pairs":
        return "Here are your questions:\n\n" + qa_text(TRIVIA_PAIRS) + "\nQUESTION: cut off"
    return f"PLAIN: {call.prompt}"


@pytest.mark.parametrize("seed", range(4))
def test_trivia_round_rows_units_and_plain_variant(seed: int) -> None:
    ctx = FakeContext(settings_for("trivia", TriviaConfig(), batch_size=4), trivia_reply, seed=seed)
    drafts = run(TriviaInstructor(ctx.settings), ctx)
    terse = [d for d in drafts if d.meta["variant"] == "system"]
    plain = [d for d in drafts if d.meta["variant"] == "plain"]
    assert [d.instruction for d in terse] == [TRIVIA_PAIRS[i][0] for i in (0, 2, 3)]
    assert ctx.rejects == [(Reason.FAILED_CHECK, "answer 'Sydney' does not end with 'a'")]
    assert all(d.system and "trivia" in d.system for d in terse)
    assert all(d.unit == question_unit(d.instruction) for d in terse)
    units = {d.unit for d in terse}
    for draft in plain:
        assert draft.system is None and draft.near_dedup is False and draft.unit in units
        assert draft.instruction.endswith(TriviaConfig().plain_suffix)
        assert draft.response == f"PLAIN: {draft.instruction}"
    # each plain row follows its terse row
    for index, draft in enumerate(drafts):
        if draft.meta["variant"] == "plain":
            assert drafts[index - 1].unit == draft.unit
    assert len({d.unit for d in drafts}) == 3  # one unit per question, plain or not


def test_trivia_plain_ratio_extremes() -> None:
    for ratio, plain_count in ((0.0, 0), (1.0, 3)):
        ctx = FakeContext(
            settings_for("trivia", TriviaConfig(plain_ratio=ratio), batch_size=4), trivia_reply
        )
        drafts = run(TriviaInstructor(ctx.settings), ctx)
        assert sum(d.meta["variant"] == "plain" for d in drafts) == plain_count


def test_trivia_unchecked_when_disabled() -> None:
    ctx = FakeContext(
        settings_for("trivia", TriviaConfig(check_answers=False, plain_ratio=0), batch_size=4),
        trivia_reply,
    )
    assert len(run(TriviaInstructor(ctx.settings), ctx)) == 4


# ---- inline Q/A categories: malformed output table ----------------------------------------
QA_CASES = [
    # (reply, expected questions)
    (qa_text([("Q1?", "A1"), ("Q2?", "A2")]), ["Q1?", "Q2?"]),
    (
        "Sure!\n**QUESTION 1:** Q1?\n**ANSWER 1:** A1\n\nQUESTION 2: Q2?\nANSWER 2: A2",
        ["Q1?", "Q2?"],
    ),
    ("QUESTION: lost?\nQUESTION: Q2?\nANSWER: A2", ["Q2?"]),  # a question without answer
    ("QUESTION: Q1?\nANSWER: A1\nQUESTION: truncated mid-", ["Q1?"]),  # truncated last item
    ("1. Q1? - A1\n2. Q2? - A2", []),  # no labels at all
    ("```\nQUESTION: Q1?\nANSWER: A1\n```", ["Q1?"]),
]


@pytest.mark.parametrize(
    "cls",
    [
        OrcaInstructor,
        RiddleInstructor,
        JokeInstructor,
        MisconceptionInstructor,
        InlineQAPairsInstructor,
    ],
)
@pytest.mark.parametrize(("reply", "questions"), QA_CASES)
def test_inline_qa_categories_parse_table(
    cls: type[Instructor], reply: str, questions: list[str]
) -> None:
    ctx = FakeContext(settings_for(cls.name, InstructorConfig(), batch_size=5), lambda call: reply)
    drafts = run(cls(ctx.settings), ctx)
    assert [d.instruction for d in drafts] == questions
    assert all(d.response and "QUESTION" not in d.response for d in drafts)
    assert all("```" not in d.response for d in drafts)
    if not questions:
        assert ctx.rejects[0][0] == "unparseable"
    assert len(ctx.calls) == 1  # one call: answers come with the questions


@pytest.mark.parametrize(
    ("cls", "marker"),
    [
        (OrcaInstructor, "reasoning problems"),
        (RiddleInstructor, "lateral-thinking riddles"),
        (JokeInstructor, "joke requests"),
        (MisconceptionInstructor, "misconceptions"),
        (InlineQAPairsInstructor, "question-and-answer pairs on the topics"),
        (CardInstructor, "attribute cards"),
        (TriviaInstructor, "trivia questions"),
    ],
)
def test_inline_prompts_render_their_placeholders(cls: type[Instructor], marker: str) -> None:
    section = cls.config_model()
    ctx = FakeContext(settings_for(cls.name, section, batch_size=7), lambda call: "nothing")
    run(cls(ctx.settings), ctx)
    prompt = ctx.calls[0].prompt
    assert marker in prompt and "write 7 " in prompt
    assert "English" in prompt and "{" not in prompt
    if cls is InlineQAPairsInstructor:
        assert ' * QUESTION 1 must be related to topic: "volcanoes"' in prompt
        assert "GLOBAL-AVOIDANCE" in prompt
    if cls is JokeInstructor:
        assert "GLOBAL-AVOIDANCE" in prompt


def test_card_uses_prompt_answer_keys_and_checks_attributes() -> None:
    reply = (
        "PROMPT: Create a card for a desert spirit: name, home, power.\n"
        "ANSWER: Name: Sirocco\nHome: The dunes of Erg Chebbi\nPower: Calls sandstorms\n\n"
        "PROMPT: Create a card for a haunted violin.\n"
        "ANSWER: It is a violin that plays itself at night."
    )
    ctx = FakeContext(settings_for("card", InstructorConfig(), batch_size=2), lambda call: reply)
    drafts = run(CardInstructor(ctx.settings), ctx)
    assert [d.response.splitlines()[0] for d in drafts] == ["Name: Sirocco"]
    assert ctx.rejects == [(Reason.FAILED_CHECK, "the card has 0 'key: value' lines, fewer than 2")]
    assert check_card(record_of(response="- **Name:** X\n- **Power:** Y")).ok


# ---- wordgame ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "rules"),
    [
        ("Give me a list of 12 words that start with 'qu'.", [("count", "12"), ("start", "qu")]),
        ("List 8 words that contain 'ing'.", [("count", "8"), ("contains", "ing")]),
        ("Give me a list of 10 words that end with 'ous'.", [("count", "10"), ("end", "ous")]),
        (
            "List 6 words with exactly 5 letters that start with 'b'.",
            [("count", "6"), ("letters", "5"), ("start", "b")],
        ),
        ("Provide a list of 5 words that do not contain 'e'.", [("count", "5"), ("excludes", "e")]),
        ("Write a poem about cats with exactly 40 words.", [("word_count", "40")]),
        (
            "Write a sentence about a lighthouse where every word starts with the letter 'l'.",
            [("start", "l")],
        ),
        (
            "Write a sentence in which every word starts with a letter of the alphabet in reverse "
            "order, beginning with 'z'.",
            [("alphabet_reverse", "z")],
        ),
        ("Write a short paragraph about autumn without using the letter 'e'.", [("excludes", "e")]),
        ("Write a haiku about frogs.", []),
        ("What is a palindrome?", []),
        ("Create a poem where each line begins with 's'.", [("start", "s")]),
    ],
)
def test_wordgame_rules_table(task: str, rules: list[tuple[str, str]]) -> None:
    assert [(r.kind, r.value) for r in wordgame_rules(task)] == rules


@pytest.mark.parametrize(
    ("response", "words"),
    [
        ("1. Quick\n2. Quiet\n3. Quill", ["Quick", "Quiet", "Quill"]),
        ("Here are the words:\n- **Quest** - a journey\n- Quote: words said", ["Quest", "Quote"]),
        ("quilt, quartz, quiver.", ["quilt", "quartz", "quiver"]),
        ("Sure, here you go!\n1) Quaint (charming)\n2) Quorum", ["Quaint", "Quorum"]),
        ("quick\nquiet", ["quick", "quiet"]),
        ("", []),
    ],
)
def test_listed_words_table(response: str, words: list[str]) -> None:
    assert listed_words(response) == words


@pytest.mark.parametrize(
    ("task", "response", "reason"),
    [
        ("Give me a list of 3 words that start with 'qu'.", "1. Quick\n2. Quiet\n3. Quill", ""),
        (
            "Give me a list of 3 words that start with 'qu'.",
            "1. Quick\n2. Quiet",
            "2 words listed, not 3",
        ),
        (
            "Give me a list of 3 words that start with 'qu'.",
            "1. Quick\n2. Queen\n3. Apple",
            "word 'Apple' does not start with 'qu'",
        ),
        ("List 2 words that contain 'ing'.", "- king\n- ringo", ""),
        (
            "List 2 words that end with 'ous'.",
            "famous, joyful",
            "word 'joyful' does not end with 'ous'",
        ),
        (
            "List 2 words with exactly 5 letters.",
            "1. apple\n2. banana",
            "word 'banana' does not have 5 letters",
        ),
        ("List 2 words that do not contain 'e'.", "1. cat\n2. dog", ""),
        ("List 2 words that do not contain 'e'.", "1. cat\n2. egg", "word 'egg' contains 'e'"),
        ("Write a poem about cats with exactly 5 words.", "Cats nap in sunny windows.", ""),
        (
            "Write a poem about cats with exactly 5 words.",
            "Cats nap.",
            "the answer has 2 words, not 5",
        ),
        (
            "Write a sentence where every word starts with the letter 'l'.",
            "Lonely lighthouses loom large.",
            "",
        ),
        (
            "Write a sentence where every word starts with the letter 'l'.",
            "Lonely lighthouses loom over the sea.",
            "word 'over' does not start with 'l'",
        ),
        (
            "Write a sentence where each word starts with a letter of the alphabet in reverse "
            "order, starting with 'z'.",
            "Zebras yawn, xylophones wail.",
            "",
        ),
        (
            "Write a sentence where each word starts with a letter of the alphabet in reverse "
            "order, starting with 'z'.",
            "Zebras yawn and wail.",
            "word 'and' should start with 'x'",
        ),
        (
            "Write a short paragraph about autumn without using the letter 'e'.",
            "Autumn is cold and dark.",
            "",
        ),
        (
            "Write a short paragraph about autumn without using the letter 'e'.",
            "Autumn leaves fall.",
            "word 'leaves' contains 'e'",
        ),
        ("Write a haiku about frogs.", "Green frog on a log", ""),
        ("Write a haiku about frogs.", "   ", "empty answer"),
    ],
)
def test_check_wordgame_table(task: str, response: str, reason: str) -> None:
    verdict = check_wordgame(record_of(instruction=task, response=response))
    assert verdict.ok is (reason == "") and verdict.reason == reason


def test_wordgame_round_rejects_broken_answers() -> None:
    tasks = (
        "TSK 1. Give me a list of 3 words that start with 'qu'.\n"
        "TSK 2. List 2 words that contain 'ing'.\n"
        "TSK 3. Write a haiku about frogs."
    )

    def reply(call: Call) -> str:
        if call.key == "tasks":
            return tasks
        if "'qu'" in call.prompt:
            return "1. Quick\n2. Quiet\n3. Quill"
        if "'ing'" in call.prompt:
            return "- king\n- queen"
        return "Green frog on a log\nSplash"

    ctx = FakeContext(settings_for("wordgame", WordgameConfig(), batch_size=3), reply)
    drafts = run(WordgameInstructor(ctx.settings), ctx)
    assert [d.instruction[:8] for d in drafts] == ["Give me ", "Write a "]
    assert ctx.rejects == [(Reason.FAILED_CHECK, "word 'queen' does not contain 'ing'")]
    assert "word-game prompts" in ctx.calls[0].prompt
    ctx = FakeContext(
        settings_for("wordgame", WordgameConfig(check_answers=False), batch_size=3), reply
    )
    assert len(run(WordgameInstructor(ctx.settings), ctx)) == 3


# ---- simple-task categories ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "marker"),
    [
        (RoleplayInstructor, "character-voice requests"),
        (SongInstructor, "song-writing tasks"),
        (WritingInstructor, "writing tasks"),
        (WordgameInstructor, "word-game prompts"),
    ],
)
def test_simple_task_categories_answer_each_task(cls: type[Instructor], marker: str) -> None:
    def reply(call: Call) -> str:
        if call.key == "tasks":
            return "Here:\nTSK 1. First task.\n**TSK 2.** Second task.\nTSK 3"  # truncated third
        return f"answer: {call.prompt[-12:]}"

    ctx = FakeContext(settings_for(cls.name, cls.config_model(), batch_size=3), reply)
    drafts = run(cls(ctx.settings), ctx)
    assert [d.instruction for d in drafts] == ["First task.", "Second task."]
    prompt = ctx.calls[0].prompt
    assert f"Include exactly 3 {marker}" in prompt and "{" not in prompt
    responses = [c.prompt for c in ctx.calls if c.key == "response"]
    if cls is WritingInstructor:
        assert all(p.startswith("Follow every detail") and "FLESCH-HINT" in p for p in responses)
        assert ' * TSK 1 must be related to topic: "volcanoes"' in prompt
    else:
        assert responses == ["First task.", "Second task."]  # sent as is


@pytest.mark.parametrize("batch_size", [1, 2, 4, 12, 40, 100])
def test_style_requirements_never_crash(batch_size: int) -> None:
    for styles in ([], ["grim"], ["grim", "wry", "sly"], [f"s{i}" for i in range(30)]):
        text = style_requirements(random.Random(batch_size), styles, batch_size)
        lines = re.findall(r"- task (\d+) should specify that the style be (\S+)", text)
        expected = min(max(1, batch_size // 4) if batch_size > 1 else 0, len(styles))
        assert len(lines) == expected
        assert len({style for _, style in lines}) == expected  # without replacement
        assert all(1 <= int(task) <= batch_size for task, _ in lines)
        assert bool(text) is (expected > 0)


def test_writing_prompt_carries_style_extra() -> None:
    ctx = FakeContext(
        settings_for("writing", WritingConfig(styles=["grim", "wry"]), batch_size=12),
        lambda call: "TSK 1. x",
    )
    run(WritingInstructor(ctx.settings), ctx)
    prompt = ctx.calls[0].prompt
    assert "Additional requirements:" in prompt
    assert "style be grim" in prompt and "style be wry" in prompt


# ---- experience ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "SETTING:\nA glass forest. Guide me.\nEXPERIENCE:\nYou step in.",
            ("A glass forest. Guide me.", "You step in."),
        ),
        (
            'Here is my idea!\n**SETTING:** "A cave of bells. Take me there."\n\n'
            "**EXPERIENCE:**\nYou hear the bells.",
            ("A cave of bells. Take me there.", "You hear the bells."),
        ),
        ("## Setting:\nA market.\n## Experience:\nYou walk.", ("A market.", "You walk.")),
    ],
)
def test_parse_experience_table(reply: str, expected: tuple[str, str]) -> None:
    assert parse_experience(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "A glass forest. You step in.",  # no labels
        "SETTING:\nA glass forest.",  # truncated before the experience
        "EXPERIENCE:\nYou walk.\nSETTING:\nA market.",  # wrong order
        "SETTING:\n\nEXPERIENCE:\nYou walk.",  # empty setting
    ],
)
def test_parse_experience_rejects_malformed(reply: str) -> None:
    with pytest.raises(Rejected) as info:
        parse_experience(reply)
    assert info.value.reason == "unparseable"


def test_experience_round_themes_lengths_and_rejects() -> None:
    long_text = " ".join(["word"] * 60)

    def reply(call: Call) -> str:
        index = int(call.key.split(":")[1])
        if index == 1:
            return "no labels here"
        body = long_text if index != 2 else "Too short."
        return f"SETTING:\nPlace {index}. Guide me.\nEXPERIENCE:\n{body}"

    section = ExperienceConfig(word_count=100, min_word_ratio=0.5)
    ctx = FakeContext(settings_for("experience", section, batch_size=4), reply, seed=3)
    drafts = run(ExperienceInstructor(ctx.settings), ctx)
    assert [d.instruction for d in drafts] == ["Place 0. Guide me.", "Place 3. Guide me."]
    assert all(d.meta == {"min_words": 50} for d in drafts)
    assert sorted(r for r, _ in ctx.rejects) == [Reason.FAILED_CHECK, Reason.UNPARSEABLE]
    assert all(c.filtered is False for c in ctx.calls)
    prompts = [c.prompt for c in ctx.calls]
    assert all("at least 100 words" in p and "SETTING:" in p for p in prompts)
    assert all(any(theme in p for theme in section.themes) for p in prompts)
    # deterministic from the round's generator
    again = FakeContext(settings_for("experience", section, batch_size=4), reply, seed=3)
    run(ExperienceInstructor(again.settings), again)
    assert [c.prompt for c in again.calls] == prompts


def test_check_experience_length() -> None:
    assert check_experience_length(record_of(response="a b c", meta={"min_words": 3})).ok
    assert not check_experience_length(record_of(response="a b", meta={"min_words": 3})).ok
    assert check_experience_length(record_of(response="a", meta={})).ok


# ---- editor ---------------------------------------------------------------------------------
def writing_records(n: int) -> list[dict[str, Any]]:
    return [
        record_of(
            id=f"w{i}",
            category="writing",
            instruction=f"Task {i}",
            response=f"Original text number {i}.",
            meta={},
        )
        for i in range(n)
    ]


def editor_reply(call: Call) -> str:
    original = call.prompt.rsplit("Text:\n", 1)[1]
    if "number 3." in original:
        return original  # the teacher changed nothing
    return "Sure, here is the rewritten text:\n\n" + original.replace("Original", "Orignal")


@pytest.mark.parametrize(("round_index", "ids"), [(0, ["w0", "w1", "w2"]), (1, ["w4", "w5"])])
def test_editor_rounds_slice_sources_and_keep_the_partial_batch(
    round_index: int, ids: list[str]
) -> None:
    ctx = FakeContext(
        settings_for("editor", EditorConfig(), batch_size=3),
        editor_reply,
        records={"writing": writing_records(6)},
        round_index=round_index,
    )
    drafts = run(EditorInstructor(ctx.settings), ctx)
    assert [d.meta["source_id"] for d in drafts] == ids
    for draft in drafts:
        number = draft.meta["source_id"][1:]
        assert draft.response == f"Original text number {number}."
        assert draft.instruction == editor_instruction(
            EditorConfig().request, f"Orignal text number {number}."
        )
        assert 1 <= len(draft.meta["issues"]) <= 3
    if round_index == 1:  # w3 came back unchanged
        assert ctx.rejects == [(Reason.FAILED_CHECK, "the text to correct has no errors")]


@pytest.mark.parametrize("round_index", [2, 3])
def test_editor_past_its_sources_ends_exhausted(round_index: int) -> None:
    ctx = FakeContext(
        settings_for("editor", EditorConfig(), batch_size=3),
        editor_reply,
        records={"writing": writing_records(6)},
        round_index=round_index,
    )
    with pytest.raises(SourceExhausted) as info:
        run(EditorInstructor(ctx.settings), ctx)
    assert info.value.reason is Reason.SOURCE_EXHAUSTED
    assert info.value.detail == "all 6 writing records were used"
    assert ctx.calls == []


def test_editor_skips_sources_already_edited_and_empty_ones() -> None:
    records = writing_records(3)
    records[2] = records[2].replace(response="  ")
    done = [record_of(id="e1", category="editor", meta={"source_id": "w0"})]
    ctx = FakeContext(
        settings_for("editor", EditorConfig(), batch_size=3),
        editor_reply,
        records={"writing": records, "editor": done},
    )
    drafts = run(EditorInstructor(ctx.settings), ctx)
    assert [d.meta["source_id"] for d in drafts] == ["w1"]
    prompt = ctx.calls[0].prompt
    assert prompt.startswith("Rewrite the text below so that it contains")
    issues = re.findall(r"^- (.+)$", prompt, re.MULTILINE)
    assert set(issues) <= set(EditorConfig().issues) and 1 <= len(issues) <= 3


def test_editor_issue_count_follows_config() -> None:
    section = EditorConfig(min_issues=2, max_issues=2, issues=["a", "b", "c"])
    ctx = FakeContext(
        settings_for("editor", section, batch_size=4),
        editor_reply,
        records={"writing": writing_records(4)},
        seed=9,
    )
    drafts = run(EditorInstructor(ctx.settings), ctx)
    assert all(len(d.meta["issues"]) == 2 for d in drafts)


@pytest.mark.parametrize(
    ("reply", "clean"),
    [
        ("Sure! Here is the text:\n\nText: Teh cat sat.", "Teh cat sat."),
        ("Here's the rewritten text:\nTeh cat sat.", "Teh cat sat."),
        ("Teh cat sat.", "Teh cat sat."),
        ("Rewritten text: Teh cat sat.", "Teh cat sat."),
        ("Sure.\n", "Sure."),  # left to the length check
    ],
)
def test_clean_flawed_table(reply: str, clean: str) -> None:
    assert clean_flawed(reply) == clean


def test_check_editor_table() -> None:
    assert check_editor(record_of(instruction="Fix.\n\nText: Teh cat.", response="The cat.")).ok
    assert not check_editor(record_of(instruction="Fix.", response="The cat.")).ok
    assert not check_editor(record_of(instruction="Fix.\n\nText: x", response=" ")).ok
    verdict = check_editor(record_of(instruction="Fix.\n\nText: Sure.", response="The cat sat."))
    assert verdict.reason == "the text to correct is less than half as long as the original"


# ---- the check runner ----------------------------------------------------------------------
def test_enforce_passes_categories_without_checks() -> None:
    draft = Draft(instruction="Tell me a joke.", response="")
    assert enforce("joke", draft) is draft


def test_trivia_constraint_type() -> None:
    assert answer_constraints("ends with 'x'") == [AnswerConstraint("end", "x")]
