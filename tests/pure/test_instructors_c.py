"""Character-based categories: parsers (tables of realistic and malformed teacher
output), checks, and rounds on a fake context (character, rp, stylized_response, gtkm,
awareness, inline_actions, introspection)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from airloom.checks import checks_for
from airloom.checks.inline_actions import check_inline_actions
from airloom.checks.introspection import check_introspection
from airloom.checks.sessions import check_card, check_session
from airloom.config import InstructorConfig
from airloom.formats.records import Record
from airloom.formats.rows import airoboros_row, sharegpt_row
from airloom.instructors.awareness import (
    AwarenessConfig,
    AwarenessInstructor,
    character_answer,
    choose_kind,
    parse_character_blocks,
    parse_context_blocks,
)
from airloom.instructors.base import (
    Draft,
    Rejected,
    SourceExhausted,
    Turn,
)
from airloom.instructors.character import (
    CharacterConfig,
    CharacterInstructor,
    builtin_examples,
    parse_cards,
)
from airloom.instructors.characters import (
    Card,
    cards_from_records,
    formatted_transcript,
    group_fields,
    merge_turns,
)
from airloom.instructors.gtkm import (
    GtkmConfig,
    GtkmInstructor,
    parse_questions,
    transcript_turns,
)
from airloom.instructors.inline_actions import (
    InlineActionsConfig,
    InlineActionsInstructor,
    parse_results,
    parse_scene,
    validate_reply,
)
from airloom.instructors.introspection import (
    IntrospectionConfig,
    IntrospectionInstructor,
    chat_turns,
    parse_chat,
    parse_question,
)
from airloom.instructors.registry import available_instructors, run_order
from airloom.instructors.rp import (
    RpConfig,
    RpInstructor,
    clean_actions,
    parse_turn,
    resolve_next,
    training_turns,
)
from airloom.instructors.stylized_response import (
    StylizedResponseConfig,
    StylizedResponseInstructor,
    has_skip_line,
    is_skip,
    source_pool,
)
from airloom.reasons import Reason
from airloom.runtime.actions import CharacterCard
from tests.support.instructor_context import Call, FakeContext, Reply, run, settings_for
from tests.support.records import record_of


def card_record(name: str, description: str | None = None, i: int = 0) -> dict[str, Any]:
    description = description or f"{name} grew up in a fishing village and mends nets for a living."
    return record_of(
        id=f"card-{i}",
        category="character",
        meta={
            "card": {
                "name": name,
                "description": description,
                "stay_in_character": f"Always reply as {name}.",
            }
        },
    )


CARDS = [
    card_record(n, i=i) for i, n in enumerate(["Ann Duval", "Bo Lind", "Cy Okafor", "Di Moreau"])
]


def as_record(category: str, draft: Draft, rid: str = "r1") -> Record:
    return draft.to_record(category).replace(id=rid)


# ====================================================================== shared parsing
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QUESTION: a?\nCONTEXT: c\nANSWER: x\nCONTEXTUAL_ANSWER: y", ["a?", "c", "x", "y"]),
        ("QUESTION: a?\nCONTEXT: c\nANSWER: x\nCONTEXTUAL ANSWER: y", ["a?", "c", "x", "y"]),
        (
            "**QUESTION:** a?\n**CONTEXT:** c\n**ANSWER:** x\n**CONTEXTUALANSWER:** y",
            ["a?", "c", "x", "y"],
        ),
        ("1. QUESTION: a?\nCONTEXT: c\nANSWER: x\ncontextual_answer: y", ["a?", "c", "x", "y"]),
        (
            "```\nQUESTION: a?\nCONTEXT: c\nANSWER: x\nCONTEXTUAL_ANSWER: y\n```",
            ["a?", "c", "x", "y"],
        ),
    ],
)
def test_group_fields_tolerates_label_drift(text: str, expected: list[str]) -> None:
    keys = ["QUESTION", "CONTEXT", "ANSWER", "CONTEXTUAL_ANSWER"]
    groups = group_fields(text, keys)
    assert len(groups) == 1
    assert [groups[0][k] for k in keys] == expected


def test_merge_turns_makes_any_order_alternate() -> None:
    turns = [Turn("user", "a"), Turn("user", "b"), Turn("assistant", ""), Turn("assistant", "c")]
    assert merge_turns(turns) == [Turn("user", "a\n\nb"), Turn("assistant", "c")]
    with pytest.raises(ValueError):
        formatted_transcript("s", [Turn("user", "x")])


# ====================================================================== character
GOOD_CARDS = """Here are two characters:

DESCRIPTION: Mara Voss runs a night ferry across a cold northern fjord and knows every rock
by name. She is blunt, superstitious and fond of terrible puns.
NAME: Mara Voss
GUIDE: Always answer as Mara would, blunt and punning.

DESCRIPTION: Tomasz Wren is a retired circus acrobat who now teaches juggling to children in
a small town square. He is warm, forgetful and proud of his scars.
NAME: Tomasz Wren
GUIDE: Reply only as Tomasz, warm and a little scattered.

I hope these characters are useful!"""


@pytest.mark.parametrize(
    ("text", "names", "problems"),
    [
        (GOOD_CARDS, ["Mara Voss", "Tomasz Wren"], ["", ""]),
        # markdown labels, quoted name, code fence
        (
            "```\n**DESCRIPTION:** Ivo Brandt tends bees on a windy hillside and talks to them "
            'about the weather every single morning.\n**NAME:** "Ivo Brandt"\n'
            "**GUIDE:** Stay Ivo.\n```",
            ["Ivo Brandt"],
            [""],
        ),
        # NAME first: a group ends when a key repeats
        (
            "NAME: Lea Ortiz\nDESCRIPTION: Lea Ortiz restores stained glass windows in old chapels "
            "and hums while she works on ladders.\nGUIDE: Be Lea.\nNAME: Oskar Berg\nDESCRIPTION: "
            "Oskar Berg is a lighthouse keeper who paints seabirds on driftwood to sell.\n"
            "GUIDE: Be Oskar.",
            ["Lea Ortiz", "Oskar Berg"],
            ["", ""],
        ),
        # numbering drift
        (
            "1. DESCRIPTION 1: Ada Lund bakes rye bread before dawn in a stone oven and argues "
            "about football with every customer.\nNAME 1: Ada Lund\nGUIDE 1: Reply as Ada.",
            ["Ada Lund"],
            [""],
        ),
        # missing NAME; truncated last item
        (
            "DESCRIPTION: Someone nameless who wanders the hills and never says where they are "
            "from or where they go.\nGUIDE: Stay nameless.\nDESCRIPTION: A keeper of",
            ["", ""],
            ["missing NAME", "missing NAME, GUIDE"],
        ),
        # a name that is a sentence; a description that is too short
        (
            "DESCRIPTION: A clockmaker who fixes broken watches for free on Sundays in the "
            "market hall of an old town.\nNAME: The clockmaker whose name nobody remembers at all\n"
            "GUIDE: Be them.\nDESCRIPTION: Short.\nNAME: Bo\nGUIDE: Be Bo.",
            ["The clockmaker whose name nobody remembers at all", "Bo"],
            ["not a short name", "description has 1 words"],
        ),
        ("I cannot write characters today.", [], []),
    ],
)
def test_parse_cards_table(text: str, names: list[str], problems: list[str]) -> None:
    cards = parse_cards(text)
    assert len(cards) == len(names)
    for card, name, problem in zip(cards, names, problems, strict=True):
        if problem:
            assert problem in card.problem
        else:
            assert card.problem == "" and card.name == name
            assert card.guide and "\n\n" not in card.guide  # trailing prose is not the guide


def test_character_round_stores_cards_with_unique_names() -> None:
    reply_text = GOOD_CARDS + "\n" + GOOD_CARDS.split("\n\n")[1]  # Mara twice
    ctx = FakeContext(
        settings_for("character", CharacterConfig(), batch_size=5), lambda c: reply_text
    )
    drafts = run(CharacterInstructor(ctx.settings), ctx)
    assert [d.meta["card"]["name"] for d in drafts] == ["Mara Voss", "Tomasz Wren"]
    assert ctx.reasons() == ["duplicate_name"]
    assert all(
        d.dedup_text == d.meta["card"]["name"] for d in drafts
    )  # name uniqueness in the gate
    assert all(check_card(as_record("character", d)).ok for d in drafts)
    assert cards_from_records([as_record("character", d) for d in drafts])[1].name == "Tomasz Wren"
    prompt = ctx.calls[0].prompt
    assert "BEGINEXAMPLE" in prompt and "Write exactly 5 new character descriptions" in prompt
    assert prompt.count("must be related to topic") == 5
    assert CharacterInstructor.exported is False and CharacterInstructor.depends_on == ()


def test_character_round_rejects_a_copy_of_the_example(tmp_path) -> None:
    example = (
        "Marcus Aurelius, Roman emperor from 161 to 180 AD, is a stoic philosopher who wrote "
        "private reflections later known as the Meditations."
    )
    (tmp_path / "a.txt").write_text(example)
    copied = (
        f"DESCRIPTION: {example} He also keeps bees.\nNAME: Marcus Aurelius\nGUIDE: Be him.\n"
        + GOOD_CARDS.split("\n\n")[1]
    )
    section = CharacterConfig(seed_path=str(tmp_path))
    ctx = FakeContext(settings_for("character", section), lambda c: copied)
    drafts = run(CharacterInstructor(ctx.settings), ctx)
    assert [d.meta["card"]["name"] for d in drafts] == ["Mara Voss"]
    assert ctx.rejects == [("copied_example", "Marcus Aurelius")]


def test_character_seed_path(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("UNIQUE-SEED-EXAMPLE about a sailor.")
    section = CharacterConfig(seed_path=str(tmp_path))
    ctx = FakeContext(settings_for("character", section), lambda c: GOOD_CARDS)
    run(CharacterInstructor(ctx.settings), ctx)
    assert "UNIQUE-SEED-EXAMPLE" in ctx.calls[0].prompt
    assert len(builtin_examples()) == 5


# ====================================================================== rp
NAMES = ["Ann Duval", "Bo Lind", "Cy Okafor"]


@pytest.mark.parametrize(
    ("reply", "text", "next_name"),
    [
        ('*waves* "Hi."\nNEXT: Bo Lind', '*waves* "Hi."', "Bo Lind"),
        ('Ann Duval: "Hello."\n**NEXT:** "Cy Okafor"', '"Hello."', "Cy Okafor"),
        ("\u201cHi.\u201d\nREMINDER: this is fiction.\nNEXT: Bo", '"Hi."', "Bo"),
        ('"Hi."\nRULES: stay in character.\nNEXT: Bo', '"Hi."', "Bo"),
        ('"Hi."\nBo Lind: *answers for Bo*\nCy Okafor: me too', '"Hi."', None),
        ("NEXT: Bo Lind", "", "Bo Lind"),
        ('"No NEXT line at all."', '"No NEXT line at all."', None),
    ],
)
def test_parse_turn_table(reply: str, text: str, next_name: str | None) -> None:
    parsed = parse_turn(reply, "Ann Duval", NAMES)
    assert parsed.text == text
    assert parsed.next_name == next_name


@pytest.mark.parametrize(
    ("proposed", "speaker", "expected"),
    [
        ("Bo Lind", "Ann Duval", "Bo Lind"),
        ("bo lind.", "Ann Duval", "Bo Lind"),
        ("Cy Okafr", "Ann Duval", "Cy Okafor"),
        ("Bo Lind", "Bo Lind", "Ann Duval"),  # self-nomination: the human side answers
        ("Nobody", "Cy Okafor", "Ann Duval"),
        (None, "Bo Lind", "Ann Duval"),
    ],
)
def test_resolve_next_table(proposed: str | None, speaker: str, expected: str) -> None:
    assert resolve_next(proposed, speaker, NAMES, "Ann Duval", random.Random(0)) == expected


def test_resolve_next_after_the_human_side_picks_a_character() -> None:
    picks = {
        resolve_next(None, "Ann Duval", NAMES, "Ann Duval", random.Random(s)) for s in range(20)
    }
    assert picks == {"Bo Lind", "Cy Okafor"}


@pytest.mark.parametrize(
    ("text", "delimiter", "expected"),
    [
        ("*smiles* Hi. *( nods )*", "~", "~smiles~ Hi. ~nods~"),
        ("~ smiles ~ Hi.", "*", "*smiles* Hi."),
        ("*smiles*  Hi.", "", "*smiles*  Hi."),
    ],
)
def test_clean_actions_table(text: str, delimiter: str, expected: str) -> None:
    assert clean_actions(text, delimiter) == expected


def test_training_turns_merge_consecutive_speakers() -> None:
    events = [
        ("Ann Duval", "a1"),
        ("Ann Duval", "a2"),  # two human-side lines in a row (the original broke here)
        ("Bo Lind", "b1"),
        ("Cy Okafor", "c1"),
        ("Ann Duval", "a3"),
    ]
    turns = training_turns(events, "Ann Duval", "Start.")
    assert turns == [
        Turn("user", "Ann Duval: a1\n\nAnn Duval: a2"),
        Turn("assistant", "Bo Lind: b1\n\nCy Okafor: c1"),
    ]
    opened_by_character = training_turns([("Bo Lind", "b1")], "Ann Duval", "Start.")
    assert opened_by_character == [Turn("user", "Start."), Turn("assistant", "Bo Lind: b1")]


class RpTeacher:
    """A scripted rp teacher: setting, then messages naming the next speaker in turn."""

    def __init__(self, fail_first_attempt: bool = False) -> None:
        self.fail_first_attempt = fail_first_attempt

    def __call__(self, call: Call) -> str:
        if call.key == "setting":
            return "A snowed-in railway station at midnight."
        prompt = call.prompt
        who = re.search(r"(?:open the chat as|next message as) ([^:.\n]+)", prompt).group(1)
        options = json.loads(re.search(r"chosen from (\[.*\])", prompt).group(1))
        attempt = int(call.key.rsplit(":", 1)[1])
        if self.fail_first_attempt and attempt == 0:
            return "NEXT: " + options[0]  # no message: a reroll
        index = int(call.key.split(":")[1])
        return f'{who}: *looks around* "Line {index} from {who}."\nNEXT: {options[0]}'


def rp_round(
    config: RpConfig, teacher: Reply, seed: int = 0, cards=CARDS
) -> tuple[list[Draft], FakeContext]:
    ctx = FakeContext(settings_for("rp", config), teacher, seed=seed, records={"character": cards})
    return run(RpInstructor(ctx.settings), ctx), ctx


def test_rp_session_is_one_alternating_record() -> None:
    drafts, ctx = rp_round(RpConfig(turn_count=6), RpTeacher())
    (draft,) = drafts
    turns = list(draft.conversation)
    assert len(turns) >= 6 and turns[0].role == "user" and turns[-1].role == "assistant"
    assert [t.role for t in turns] == ["user", "assistant"] * (len(turns) // 2)
    participants = draft.meta["participants"]
    user = draft.meta["user_character"]
    assert user == participants[0]
    for turn in turns:
        speakers = re.findall(r"^([^:\n]+): ", turn.content, re.MULTILINE)
        if turn.role == "assistant":
            assert speakers and all(s in participants and s != user for s in speakers)
    assert draft.system.startswith(f"This is a chat between {len(participants)} characters")
    assert "A snowed-in railway station at midnight." in draft.system
    assert draft.skip_prompt_formatting and check_session(as_record("rp", draft)).ok
    assert "{topic}" not in "".join(c.prompt for c in ctx.calls)  # moves are formatted
    assert all(c.filtered is False for c in ctx.calls)
    assert all(c.params is None for c in ctx.calls)  # the instructor's api_params apply
    # every message call carries the speaker's private rules and its own view of the chat
    messages = [c for c in ctx.calls if c.key.startswith("message:")]
    assert all("RULES for every message" in c.system for c in messages)
    assert any(c.history for c in messages[2:])


def test_rp_reroll_counter_is_per_message() -> None:
    drafts, ctx = rp_round(
        RpConfig(turn_count=8, max_rerolls=1), RpTeacher(fail_first_attempt=True)
    )
    assert len(drafts) == 1 and len(drafts[0].conversation) >= 8
    assert ctx.reasons().count("empty_message") >= 7  # far more than 3 rerolls per session


def test_rp_session_too_short_and_no_cards() -> None:
    def silent(call: Call) -> str:
        return "A quiet room." if call.key == "setting" else "NEXT: nobody"

    with pytest.raises(Rejected) as info:
        rp_round(RpConfig(turn_count=6), silent)
    assert info.value.reason == "session_too_short"
    with pytest.raises(SourceExhausted) as info:
        rp_round(RpConfig(), RpTeacher(), cards=CARDS[:1])
    assert info.value.reason == "no_cards"


def test_rp_round_is_deterministic_per_seed() -> None:
    first, _ = rp_round(RpConfig(turn_count=6), RpTeacher(), seed=3)
    again, _ = rp_round(RpConfig(turn_count=6), RpTeacher(), seed=3)
    other = {rp_round(RpConfig(turn_count=6), RpTeacher(), seed=s)[0][0].system for s in range(8)}
    assert first[0].conversation == again[0].conversation and first[0].system == again[0].system
    assert len(other) > 1


def test_rp_config_rejects_bad_moves() -> None:
    with pytest.raises(ValueError):
        RpConfig(moves=["talk about {subject}"])
    with pytest.raises(ValueError):
        RpConfig(participant_weights={1: 1.0})


def test_rp_exports() -> None:
    (draft,) = rp_round(RpConfig(turn_count=4), RpTeacher())[0]
    record = as_record("rp", draft)
    row = airoboros_row(record)
    assert row["skip_prompt_formatting"] is True
    assert (
        row["instruction"].startswith(draft.system)
        and row["response"] == draft.conversation[-1].content
    )
    sharegpt = sharegpt_row(record)["conversations"]
    assert [t["from"] for t in sharegpt] == ["system"] + ["human", "gpt"] * (
        len(draft.conversation) // 2
    )


# ====================================================================== stylized_response
@pytest.mark.parametrize(
    ("reply", "skip", "skip_line"),
    [
        ("SKIP", True, True),
        (" **SKIP.** ", True, True),
        ('"skip"', True, True),
        ("SKIP\nThe voice would not change this list.", False, True),
        ("Here is my answer.\nSKIP", False, True),
        ("I would never skip breakfast, dear.", False, False),
        ("SKIPPING stones is my favourite pastime.", False, False),
    ],
)
def test_skip_is_a_whole_reply(reply: str, skip: bool, skip_line: bool) -> None:
    assert is_skip(reply) is skip
    assert has_skip_line(reply) is skip_line


def sources(n: int) -> list[dict[str, Any]]:
    return [
        record_of(
            id=f"s{i}",
            category="general" if i % 2 else "joke",
            instruction=f"Question number {i}?",
            response=f"Answer {i}.",
            created_at=float(i),
            conversation=None,
        )
        for i in range(n)
    ]


def stylized_round(
    reply: Reply, round_index: int, n_sources: int = 5
) -> tuple[list[Draft], FakeContext]:
    config = StylizedResponseConfig(categories=["general", "joke"])
    ctx = FakeContext(
        settings_for("stylized_response", config, batch_size=2),
        reply,
        round_index=round_index,
        records={
            "character": CARDS,
            "general": sources(n_sources)[1::2],
            "joke": sources(n_sources)[::2],
        },
    )
    return run(StylizedResponseInstructor(ctx.settings), ctx), ctx


def test_stylized_rounds_take_consecutive_slices_then_end() -> None:
    def reply(call: Call) -> str:
        name = re.match(r"You are ([^.]+)\.", call.system).group(1)
        return f"{name}: Well now, {call.prompt.lower()} I'd say yes.\nREMINDER: fiction"

    seen = []
    for index in range(3):
        drafts, ctx = stylized_round(reply, index)
        seen += [d.instruction for d in drafts]
        assert all(d.system.startswith("You are ") for d in drafts)
        assert all(d.response.startswith("Well now, question number") for d in drafts)
        assert all(d.meta["character"] in d.system for d in drafts)
        assert all("SKIP and nothing else" in c.system for c in ctx.calls)
    assert seen == [f"Question number {i}?" for i in range(5)]  # each source once, in order
    with pytest.raises(SourceExhausted) as info:
        stylized_round(reply, 3)
    assert info.value.reason == "source_exhausted"


def test_stylized_skip_and_malformed_skip() -> None:
    replies = iter(["SKIP", "SKIP\nbecause it is a list"])
    drafts, ctx = stylized_round(lambda c: next(replies), 0)
    assert drafts == []
    assert sorted(ctx.reasons()) == ["malformed_skip", "skipped"]


def test_stylized_dependencies_follow_the_configured_sources() -> None:
    section = StylizedResponseConfig(categories=["general", "writing"])
    assert StylizedResponseInstructor.dependencies(section) == ("character", "general", "writing")
    registry = dict(available_instructors())
    waves = run_order(
        ["stylized_response", "general", "character", "gtkm"],
        registry,
        {"stylized_response": section},
    )
    assert waves == [["character", "general"], ["gtkm", "stylized_response"]]
    # an unregistered configured source is ignored, not an error
    unknown = StylizedResponseConfig(categories=["imported_only"])
    assert run_order(["stylized_response"], registry, {"stylized_response": unknown}) == [
        ["stylized_response"]
    ]


def test_source_pool_skips_multi_turn_records() -> None:
    turns = [{"role": "user", "content": "i"}, {"role": "assistant", "content": "r"}]
    rows = [*sources(2), record_of(id="x", instruction="i", response="r", conversation=turns)]
    assert [r.id for r in source_pool(rows)] == ["s0", "s1"]


# ====================================================================== gtkm
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "QUESTION: Where did you grow up?\nQUESTION: What do you fear?",
            ["Where did you grow up?", "What do you fear?"],
        ),
        (
            "Sure!\n1. QUESTION: First?\n2. QUESTION: Second?\n\nHope this helps.",
            ["First?", "Second?"],
        ),
        ("**QUESTION 1:** First?\n**QUESTION 2:** first?", ["First?"]),
        (
            "1. Where were you born?\n2. Why the sea?\nThese are my questions.",
            ["Where were you born?", "Why the sea?"],
        ),
        ("QUESTION: Cut off mid", ["Cut off mid"]),
        ("No questions today.", []),
    ],
)
def test_parse_questions_table(text: str, expected: list[str]) -> None:
    assert parse_questions(text) == expected


def gtkm_reply(call: Call) -> str:
    if call.key == "questions":
        return "\n".join(f"QUESTION: What is your favourite thing number {i}?" for i in range(6))
    if "number 2" in call.prompt:
        return "REMINDER: only a disclaimer"
    return f"Ann Duval: My favourite is the sea, since {call.prompt[-3:]}"


def test_gtkm_session() -> None:
    ctx = FakeContext(
        settings_for("gtkm", GtkmConfig(question_count=5)),
        gtkm_reply,
        records={"character": CARDS[:1]},
    )
    (draft,) = run(GtkmInstructor(ctx.settings), ctx)
    turns = draft.conversation
    assert len(turns) == 8  # 5 asked, one answer was only a disclaimer
    assert ctx.reasons() == ["empty_answer"]
    interviewer = draft.meta["interviewer"]
    assert all(t.content.startswith(f"{interviewer}: ") for t in turns[::2])
    assert all(t.content.startswith("Ann Duval: My favourite") for t in turns[1::2])
    assert draft.system.startswith(f"A chat between Ann Duval and {interviewer}.")
    assert "Rules for your reply" in ctx.calls[1].system and "Rules" not in draft.system
    assert check_session(as_record("gtkm", draft)).ok


def test_gtkm_word_cap_and_too_few() -> None:
    pairs = [("Q one two?", "A one two."), ("Q three?", "A three.")]
    assert len(transcript_turns(pairs, "Ann", "Bo", "system words", 12)) == 2
    ctx = FakeContext(
        settings_for("gtkm", GtkmConfig(max_prompt_words=60)),
        gtkm_reply,
        records={"character": CARDS[:1]},
    )
    with pytest.raises(Rejected) as info:
        run(GtkmInstructor(ctx.settings), ctx)
    assert info.value.reason == "too_few_answers"
    bad = FakeContext(
        settings_for("gtkm", GtkmConfig()),
        lambda c: "QUESTION: only one?",
        records={"character": CARDS[:1]},
    )
    with pytest.raises(Rejected) as info:
        run(GtkmInstructor(bad.settings), bad)
    assert info.value.reason == "too_few_questions"


# ====================================================================== awareness
LOCATION = """Here you go.
QUESTION: Where is the nearest pharmacy?
CONTEXT: The user is in Tromso. Nearby: Apotek 1 (300 m), Vitus (1 km).
ANSWER: I can't know where you are.
CONTEXTUAL_ANSWER: Apotek 1, about 300 m away.
QUESTION: Same answers here?
CONTEXT: none
ANSWER: I don't know.
CONTEXTUAL_ANSWER: I don't know.
QUESTION: Truncated one?
CONTEXT: cut"""


def test_parse_awareness_blocks() -> None:
    blocks = parse_context_blocks(LOCATION)
    assert blocks[0]["CONTEXTUAL_ANSWER"] == "Apotek 1, about 300 m away."
    assert blocks[2] == "missing ANSWER, CONTEXTUAL_ANSWER"
    assert parse_character_blocks("QUESTION: q\nCONTEXTUAL ANSWER: c") == ["missing ANSWER"]
    assert character_answer("As Ann Duval, I smell the sea.", "Ann Duval") == "I smell the sea."


def test_awareness_context_round_counts_a_question_once() -> None:
    config = AwarenessConfig(location_ratio=1.0, temporal_ratio=0.0)
    ctx = FakeContext(settings_for("awareness", config, batch_size=3), lambda c: LOCATION)
    drafts = run(AwarenessInstructor(ctx.settings), ctx)
    assert len(drafts) == 2 and drafts[0].unit == drafts[1].unit
    plain, contextual = drafts
    assert plain.system is None and contextual.system.startswith("A chat. The user is in Tromso")
    assert plain.dedup_text is None and contextual.dedup_text != plain.instruction
    assert sorted(ctx.reasons()) == ["same_answers", "unparseable"]
    assert "cannot be answered without knowing where the person is" in ctx.calls[0].prompt


def test_awareness_character_round() -> None:
    reply = (
        "QUESTION: What does rain feel like?\nANSWER: I have no body.\n"
        "CONTEXTUAL_ANSWER: As Ann Duval, cold and sharp on my cheeks.\n"
        "QUESTION: Where do you live?\nANSWER: I have no home.\n"
        "CONTEXTUAL_ANSWER: As a human, here."
    )
    config = AwarenessConfig(location_ratio=0.0, temporal_ratio=0.0)
    ctx = FakeContext(
        settings_for("awareness", config), lambda c: reply, records={"character": CARDS[:1]}
    )
    drafts = run(AwarenessInstructor(ctx.settings), ctx)
    assert len(drafts) == 2 and drafts[0].unit == drafts[1].unit
    person = drafts[1].instruction.split(":")[0]
    assert drafts[1].response == "Ann Duval: Cold and sharp on my cheeks."
    assert drafts[1].system.startswith(f"A chat between Ann Duval and {person}.")
    assert ctx.reasons() == ["broke_character"]


def test_awareness_never_loops_when_every_card_is_an_ai() -> None:
    robots = [card_record("Unit Seven", "Unit Seven is an AI, built to sort mail in a depot.")]
    config = AwarenessConfig()
    kinds = set()
    for seed in range(60):
        ctx = FakeContext(
            settings_for("awareness", config),
            lambda c: LOCATION,
            seed=seed,
            records={"character": robots},
        )
        run(AwarenessInstructor(ctx.settings), ctx)
        prompt = ctx.calls[0].prompt
        kinds.add("location" if "where the person is" in prompt else "temporal")
        assert "current date or time" in prompt or "where the person is" in prompt
        assert len(ctx.calls) == 1
    assert all(
        choose_kind(random.Random(s), config, has_humans=False) != "character" for s in range(200)
    )
    assert len(kinds) == 2  # location and temporal prompts only


# ====================================================================== inline_actions
SCENE = {
    "setting": "A flooded archive at night.",
    "objects_available": [
        {"name": "lantern", "description": "a brass lantern", "location": "desk"},
        {"name": "map", "description": "a wet map", "location": "wall"},
    ],
    "functions": [
        {
            "name": "pick_up",
            "description": "pick up",
            "parameters": {"object": {"type": "string", "description": "it"}},
        },
        {
            "name": "move_to",
            "description": "go",
            "parameters": {"location": {"type": "string", "description": "where"}},
        },
        {"name": "scan", "description": "look around", "parameters": {}},
    ],
    "prompts": ["Grab what you need!", "Is anyone here?"],
}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (json.dumps(SCENE), ""),
        ("Here is the scene:\n```json\n" + json.dumps(SCENE) + "\n```\nEnjoy!", ""),
        (json.dumps(SCENE)[:-40], "not JSON"),
        (
            json.dumps({**SCENE, "functions": [{"name": "pick up", "parameters": {}}]}),
            "not a plain identifier",
        ),
        (json.dumps({**SCENE, "functions": SCENE["functions"][:1]}), "1 functions (2 needed)"),
        (
            json.dumps({**SCENE, "objects_available": [{"description": "nameless"}]}),
            "object without a name",
        ),
        (json.dumps({**SCENE, "prompts": []}), "no prompts"),
        ("[1, 2, 3]", "not a JSON object"),
    ],
)
def test_parse_scene_table(text: str, problem: str) -> None:
    if not problem:
        scene = parse_scene(text, min_functions=2, min_objects=1)
        assert scene.card.registry.names == ["pick_up", "move_to", "scan"]
        return
    with pytest.raises(Rejected) as info:
        parse_scene(text, min_functions=2, min_objects=1)
    assert info.value.reason == "bad_scene" and problem in info.value.detail


CARD = CharacterCard.from_dict(
    {"functions": SCENE["functions"], "objects_available": SCENE["objects_available"]}
)
CALL = '<|begin_func|>{"name": "pick_up", "parameters": {"object": "lantern"}}<|end_func|>'


@pytest.mark.parametrize(
    ("reply", "reason", "canonical"),
    [
        (f"Got it. {CALL} Let's go.", "", f"Got it. {CALL} Let's go."),
        (
            'Go. <|begin_func|>{"name": "pick_up", "arguments": '
            '"{\\"object\\": \\"lantern\\"}"}<|end_func|>',
            "",
            f"Go. {CALL}",
        ),
        (
            'Go. <|begin_func|>{"name": "Pick_Up", "parameters": {"object": "lantern"}}',
            "",
            f"Go. {CALL}",
        ),
        (
            'Up. <|begin_func|>{"name": "fly", "parameters": {}}<|end_func|>',
            "unknown function 'fly'",
            "",
        ),
        (
            'Hm. <|begin_func|>{"name": "pick_up", '
            '"parameters": {"object": "crowbar"}}<|end_func|>',
            "not an available object",
            "",
        ),
        ('Hm. <|begin_func|>{"name": "pick_up", "parameters": {}}<|end_func|>', "object", ""),
        ('Hm. <|begin_func|>{"name": "scan", "parameters": {"depth": 3}}<|end_func|>', "depth", ""),
        ("Hm. <|begin_func|>not json<|end_func|>", "JSON object", ""),
        (CALL, "no_narration", ""),
    ],
)
def test_validate_reply_table(reply: str, reason: str, canonical: str) -> None:
    if not reason:
        text, actions = validate_reply(reply, CARD, "Ann")
        assert text == canonical and [a.name for a in actions] == ["pick_up"]
        return
    with pytest.raises(Rejected) as info:
        validate_reply(reply, CARD, "Ann")
    assert reason in f"{info.value.reason} {info.value.detail}"


def test_validate_reply_without_actions_allowed() -> None:
    with pytest.raises(Rejected) as info:
        validate_reply(f"Again! {CALL}", CARD, "Ann", allow_actions=False)
    assert info.value.reason == "unexpected_action"


@pytest.mark.parametrize(
    ("text", "count", "ok"),
    [
        ('[{"status": "done"}, "ok"]', 2, True),
        ('```json\n{"results": ["a", "b"]}\n```', 2, True),
        ('["only one"]', 2, False),
        ("Result: done", 1, False),
    ],
)
def test_parse_results_table(text: str, count: int, ok: bool) -> None:
    if ok:
        assert len(parse_results(text, count)) == count
    else:
        with pytest.raises(Rejected):
            parse_results(text, count)


def inline_reply(call: Call) -> str:
    key = call.key
    if key == "scene":
        return json.dumps(SCENE)
    if key.startswith("results"):
        count = int(re.search(r"exactly (\d+) items", call.prompt).group(1))
        return json.dumps([{"status": "done"}] * count)
    if key.startswith("reaction"):
        return "That worked. *shakes water off*"
    if key == "reply:0:0":
        return 'Let me fly. <|begin_func|>{"name": "fly", "parameters": {}}<|end_func|>'
    if key.startswith("reply:0"):
        return f"Right. {CALL} Follow me."
    return "Nobody here but us."


def test_inline_actions_session() -> None:
    ctx = FakeContext(
        settings_for("inline_actions", InlineActionsConfig(min_functions=2)),
        inline_reply,
        records={"character": CARDS[:1]},
    )
    (draft,) = run(InlineActionsInstructor(ctx.settings), ctx)
    roles = [t.role for t in draft.conversation]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert draft.conversation[1].content == f"Right. {CALL} Follow me."
    assert (
        draft.conversation[2].content
        == '<|begin_func_response|>{"status": "done"}<|end_func_response|>'
    )
    assert ctx.rejects[0][0] == "invalid_action" and "fly" in ctx.rejects[0][1]
    assert '"functions"' in draft.system and draft.meta["card"]["functions"] == SCENE["functions"]
    record = as_record("inline_actions", draft)
    assert check_inline_actions(record).ok and check_session(record).ok
    assert "write the action inline" in ctx.calls[1].system


def test_inline_actions_without_function_responses_and_without_actions() -> None:
    config = InlineActionsConfig(min_functions=2, function_responses=False)
    ctx = FakeContext(
        settings_for("inline_actions", config), inline_reply, records={"character": CARDS[:1]}
    )
    (draft,) = run(InlineActionsInstructor(ctx.settings), ctx)
    assert len(draft.conversation) == 4
    calm = FakeContext(
        settings_for("inline_actions", InlineActionsConfig(min_functions=2)),
        lambda c: json.dumps(SCENE) if c.key == "scene" else "I just sit here.",
        records={"character": CARDS[:1]},
    )
    with pytest.raises(Rejected) as info:
        run(InlineActionsInstructor(calm.settings), calm)
    assert info.value.reason == Reason.FAILED_CHECK and "no valid action" in info.value.detail


def test_check_inline_actions_table() -> None:
    card = {"functions": SCENE["functions"], "objects_available": SCENE["objects_available"]}
    response = "<|begin_func_response|>{}<|end_func_response|>"

    def record(*contents: str) -> dict[str, Any]:
        roles = ["user", "assistant"] * len(contents)
        return record_of(
            meta={"card": card},
            conversation=[{"role": r, "content": c} for r, c in zip(roles, contents, strict=False)],
        )

    assert check_inline_actions(record("Go", f"Ok {CALL}", response, "Done")).ok
    assert (
        "1 function responses for 0 calls"
        in check_inline_actions(record("Go", "Ok", response, "x")).reason
    )
    assert (
        "not an available object"
        in check_inline_actions(
            record(
                "Go",
                'Ok <|begin_func|>{"name": "pick_up", "parameters": {"object": "gun"}}<|end_func|>',
            )
        ).reason
    )
    no_card = record_of(meta={}, conversation=[])
    assert check_inline_actions(no_card).reason == "no valid action in the session"


# ====================================================================== introspection
@pytest.mark.parametrize(
    ("text", "setting", "speakers"),
    [
        ("SETTING: A ferry.\nBo: Cold?\nAnn Duval: Very.", "A ferry.", ["Bo", "Ann Duval"]),
        (
            "**SETTING:** A ferry.\n**Bo:** Cold?\n**Ann Duval:** Very.\nit is",
            "A ferry.",
            ["Bo", "Ann Duval"],
        ),
        ("Bo: Cold?\nAnn Duval: Very.", "", ["Bo", "Ann Duval"]),
        ("SETTING: A ferry.\nNarrator: Waves.", "A ferry.\nNarrator: Waves.", []),
    ],
)
def test_parse_chat_table(text: str, setting: str, speakers: list[str]) -> None:
    parsed_setting, lines = parse_chat(text, "Bo", "Ann Duval")
    assert parsed_setting == setting
    assert [who for who, _ in lines] == speakers


def test_chat_turns_start_with_the_user_and_end_with_a_reply() -> None:
    lines = [("Ann", "hi"), ("Bo", "q1"), ("Ann", "a1"), ("Bo", "q2")]
    assert chat_turns(lines, "Bo") == [Turn("user", "Bo: q1"), Turn("assistant", "Ann: a1")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'QUESTION: Where?\nANSWER: Lyon.\nEVIDENCE: "in Lyon" | "rye bread"',
            ("Where?", "Lyon.", ["in Lyon", "rye bread"]),
        ),
        (
            "QUESTION: Where?\nANSWER: Lyon.\nEVIDENCE:\n- in Lyon\n- rye",
            ("Where?", "Lyon.", ["in Lyon", "rye"]),
        ),
        ("QUESTION: Where?\nANSWER: Lyon.", None),
        ("I can't do that.", None),
    ],
)
def test_parse_question_table(text: str, expected: tuple | None) -> None:
    if expected is None:
        with pytest.raises(Rejected) as info:
            parse_question(text)
        assert info.value.reason == "unparseable"
    else:
        assert parse_question(text) == expected


CHAT = (
    "SETTING: A lighthouse on Gull Point during a storm.\n"
    "{user}: Did you see the copper compass?\n"
    "Ann Duval: It belonged to my aunt.\n"
    "{user}: Why keep it?\n"
    "Ann Duval: Habit, mostly."
)


def introspection_reply(answer: str, evidence: str) -> Reply:
    def reply(call: Call) -> str:
        if call.key == "chat":
            user = re.search(r"chat between (\w+) and", call.prompt).group(1)
            return CHAT.format(user=user)
        return f"QUESTION: Tell me again?\nANSWER: {answer}\nEVIDENCE: {evidence}"

    return reply


@pytest.mark.parametrize(
    ("kind", "answer", "evidence", "ok"),
    [
        (
            "earlier",
            "My aunt's compass, the copper one.",
            "It belonged to my aunt | copper compass",
            True,
        ),
        ("setting", "We are on Gull Point, in the lighthouse.", "A lighthouse on Gull Point", True),
        ("character", "I grew up in a fishing village.", "grew up in a fishing village", True),
        ("earlier", "It was my uncle's.", "belonged to my uncle", False),
        ("setting", "No idea where we are.", "A lighthouse on Gull Point", False),
    ],
)
def test_introspection_round_checks_evidence(
    kind: str, answer: str, evidence: str, ok: bool
) -> None:
    config = IntrospectionConfig(kinds=[kind])
    ctx = FakeContext(
        settings_for("introspection", config),
        introspection_reply(answer, evidence),
        records={"character": CARDS[:1]},
    )
    if not ok:
        with pytest.raises(Rejected) as info:
            run(IntrospectionInstructor(ctx.settings), ctx)
        assert info.value.reason == Reason.FAILED_CHECK
        return
    (draft,) = run(IntrospectionInstructor(ctx.settings), ctx)
    assert draft.meta["kind"] == kind
    assert draft.conversation[-1].content == f"Ann Duval: {answer}"
    assert draft.conversation[-2].content.endswith(": Tell me again?")
    assert "Setting: A lighthouse on Gull Point" in draft.system
    record = as_record("introspection", draft)
    assert check_introspection(record).ok and check_session(record).ok


def test_introspection_rejects_a_chat_without_setting() -> None:
    ctx = FakeContext(
        settings_for("introspection", IntrospectionConfig()),
        lambda c: "Bo: hi\nAnn Duval: hello",
        records={"character": CARDS[:1]},
    )
    with pytest.raises(Rejected) as info:
        run(IntrospectionInstructor(ctx.settings), ctx)
    assert info.value.reason == "unparseable"


# ====================================================================== checks
@pytest.mark.parametrize(
    ("turns", "reason"),
    [
        ([("user", "a"), ("assistant", "b")], ""),
        ([], "neither turns nor an instruction"),
        ([("assistant", "b")], "expected user"),
        ([("user", "a"), ("user", "b")], "expected assistant"),
        ([("user", "a"), ("assistant", "b"), ("user", "c")], "does not end with an assistant"),
        ([("user", "a"), ("assistant", " ")], "turn 1 is empty"),
    ],
)
def test_check_session_table(turns: list[tuple[str, str]], reason: str) -> None:
    record = record_of(conversation=[{"role": r, "content": c} for r, c in turns])
    verdict = check_session(record)
    assert verdict.ok is (not reason)
    assert reason in verdict.reason


def test_check_session_compares_the_transcript() -> None:
    record = record_of(
        system="S",
        skip_prompt_formatting=True,
        conversation=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        instruction="S\na\n",
        response="b",
    )
    assert check_session(record).ok
    assert not check_session(record.replace(response="changed")).ok


def test_checks_are_registered_for_every_session_category() -> None:
    for category in ("rp", "gtkm", "inline_actions", "introspection", "character"):
        assert checks_for(category), category
    assert check_inline_actions in checks_for("inline_actions")
    assert check_introspection in checks_for("introspection")


def test_every_character_category_is_registered_and_depends_on_cards() -> None:
    registry = available_instructors()
    for name in ("rp", "stylized_response", "gtkm", "awareness", "inline_actions", "introspection"):
        assert registry[name].depends_on == ("character",), name
    assert registry["character"] is CharacterInstructor
    assert run_order(["rp", "character", "gtkm"]) == [["character"], ["gtkm", "rp"]]


def test_card_from_records_and_ai_detection() -> None:
    cards = cards_from_records(
        [card_record("Ann"), card_record("ann"), record_of(meta={"card": "x"})]
    )
    assert [c.name for c in cards] == ["Ann"]
    assert Card("R", "R is an artificial intelligence. It sorts mail.", "").is_ai
    assert not Card("Al", "Al paints signs for shops.", "").is_ai


@pytest.mark.parametrize(
    "make",
    [
        lambda: RpConfig(turn_count=3, min_turn_count=4),
        lambda: GtkmConfig(question_count=2, min_questions=3),
        lambda: IntrospectionConfig(kinds=["mood"]),
        lambda: IntrospectionConfig(exchanges=1, min_exchanges=2),
        lambda: InlineActionsConfig(min_functions=5, max_functions=3),
        lambda: AwarenessConfig(location_ratio=0.7, temporal_ratio=0.5),
        lambda: StylizedResponseConfig(categories=[]),
    ],
)
def test_configs_reject_inconsistent_knobs(make: Callable[[], InstructorConfig]) -> None:
    with pytest.raises(ValueError):
        make()
