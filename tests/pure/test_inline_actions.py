"""Inline character actions: streaming parser, every chunking, validation, results turn."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airloom.runtime.actions import (
    BEGIN_FUNC,
    END_FUNC,
    ActionErrorEvent,
    ActionEvent,
    ActionResult,
    ActionStreamParser,
    CharacterCard,
    Event,
    TextEvent,
    function_response_turn,
    merge_text,
    parse_actions,
    run_action,
)
from airloom.runtime.functions import FunctionRegistry

CARD = {
    "objects_available": [
        {"name": "laptop", "description": "a high-end laptop", "location": "on the desk"},
        {"name": "encryption key", "description": "a USB drive", "location": "in her backpack"},
    ],
    "functions": [
        {
            "name": "move_to",
            "description": "move to a specified location",
            "parameters": {
                "location": {"type": "string", "description": "the location to move to"}
            },
        },
        {
            "name": "pick_up",
            "description": "pick up an object",
            "parameters": {"object": {"type": "string", "description": "the object to pick up"}},
        },
        {
            "name": "hack",
            "description": "attempt to hack into a computer system",
            "parameters": {"system": {"type": "string", "description": "the computer system"}},
        },
        {
            "name": "analyze",
            "description": "analyze data for patterns and anomalies",
            "parameters": {"data": {"type": "string", "description": "the data to analyze"}},
        },
        {"name": "scan", "description": "scan for wireless signals", "parameters": {}},
    ],
}
CHARACTER = CharacterCard.from_dict(CARD)

# The response from the 3.x card's inline-actions example.
CARD_RESPONSE = (
    "I've had my suspicions about them for a while now. Let me see what I can uncover.\n"
    '<|begin_func|>{"name": "move_to", "parameters": {"location": "the desk in her secret '
    'hideout"}}<|end_func|>\n'
    '<|begin_func|>{"name": "pick_up", "parameters": {"object": "laptop"}}<|end_func|>\n'
    "Time to put my skills to the test.\n"
    '<|begin_func|>{"name": "hack", "parameters": {"system": "Megacorp X\'s mainframe"}}'
    "<|end_func|>\n"
    "Their firewalls are tough, but not unbreakable. I'm in. Let's see what secrets they're "
    "hiding...\n"
    '<|begin_func|>{"name": "analyze", "parameters": {"data": "encrypted files"}}<|end_func|>\n'
    "Interesting. It looks like they've been conducting illegal experiments and covering up "
    "the evidence.\nI'll need to dig deeper to find the proof."
)


def _summary(events: list[Event]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for event in merge_text(events):
        if isinstance(event, TextEvent):
            out.append(("text", event.text))
        elif isinstance(event, ActionEvent):
            out.append(("action", (event.name, event.arguments)))
        else:
            out.append(("error", event.reason))
    return out


def test_card_example() -> None:
    assert _summary(parse_actions(CARD_RESPONSE, CHARACTER)) == [
        (
            "text",
            "I've had my suspicions about them for a while now. Let me see what I can uncover.\n",
        ),
        ("action", ("move_to", {"location": "the desk in her secret hideout"})),
        ("text", "\n"),
        ("action", ("pick_up", {"object": "laptop"})),
        ("text", "\nTime to put my skills to the test.\n"),
        ("action", ("hack", {"system": "Megacorp X's mainframe"})),
        (
            "text",
            "\nTheir firewalls are tough, but not unbreakable. I'm in. Let's see what secrets "
            "they're hiding...\n",
        ),
        ("action", ("analyze", {"data": "encrypted files"})),
        (
            "text",
            "\nInteresting. It looks like they've been conducting illegal experiments and "
            "covering up the evidence.\nI'll need to dig deeper to find the proof.",
        ),
    ]


CASES = [
    (
        "back to back",
        '<|begin_func|>{"name": "scan", "parameters": {}}<|end_func|>'
        '<|begin_func|>{"name": "pick_up", "parameters": {"object": "Laptop"}}<|end_func|>',
        [("action", ("scan", {})), ("action", ("pick_up", {"object": "Laptop"}))],
    ),
    (
        "glaive arguments string with spaces around",
        'Ok. <|begin_func|> {"name": "hack", "arguments": "{\\"system\\": \\"bank\\"}"} '
        "<|end_func|> Done.",
        [("text", "Ok. "), ("action", ("hack", {"system": "bank"})), ("text", " Done.")],
    ),
    (
        "single-quoted arguments string",
        """<|begin_func|>{"name": "hack", "arguments": '{"system": "bank"}'}<|end_func|>""",
        [("action", ("hack", {"system": "bank"}))],
    ),
    (
        "missing end marker at the end of the output, object complete",
        'Go. <|begin_func|>{"name": "scan", "parameters": {}}',
        [("text", "Go. "), ("action", ("scan", {}))],
    ),
    (
        "missing end marker, then narrative",
        '<|begin_func|>{"name": "scan", "parameters": {}} The screen flickers.',
        [("action", ("scan", {})), ("text", " The screen flickers.")],
    ),
    (
        "missing end marker, then another action",
        '<|begin_func|>{"name": "scan", "parameters": {}}'
        '<|begin_func|>{"name": "scan", "parameters": {}}<|end_func|>',
        [("action", ("scan", {})), ("action", ("scan", {}))],
    ),
    (
        "unterminated object at the end of the output",
        'Wait <|begin_func|>{"name": "hack", "parameters": {"sys',
        [("text", "Wait "), ("error", "unterminated action at the end of the output")],
    ),
    (
        "unknown function is not executed",
        '<|begin_func|>{"name": "launch_missiles", "parameters": {}}<|end_func|> Oops.',
        [("error", "unknown function 'launch_missiles'"), ("text", " Oops.")],
    ),
    (
        "object not in the scene",
        '<|begin_func|>{"name": "pick_up", "parameters": {"object": "sword"}}<|end_func|>',
        [("error", "action uses an object that is not there")],
    ),
    (
        "missing parameter",
        '<|begin_func|>{"name": "hack", "parameters": {}}<|end_func|>',
        [("error", "invalid call to 'hack'")],
    ),
    (
        "marker inside quoted narrative",
        'She typed "<|begin_func|>" into the prompt and laughed.',
        [
            ("text", 'She typed "'),
            ("error", "action marker not followed by a JSON object"),
            ("text", '" into the prompt and laughed.'),
        ],
    ),
    (
        "end marker inside a JSON string",
        '<|begin_func|>{"name": "analyze", "parameters": {"data": "x<|end_func|>y"}}<|end_func|>!',
        [("action", ("analyze", {"data": "x<|end_func|>y"})), ("text", "!")],
    ),
    (
        "broken JSON closed by the end marker",
        '<|begin_func|>{"name": "scan", "parameters": {<|end_func|> after',
        [("error", "action is not a complete JSON object"), ("text", " after")],
    ),
    (
        "stray end marker",
        "Hello <|end_func|> world",
        [("text", "Hello "), ("error", "end marker without a begin marker"), ("text", " world")],
    ),
    (
        "partial marker at the end is text",
        "The end <|begin_fu",
        [("text", "The end <|begin_fu")],
    ),
    (
        "marker alone at the end",
        "Bye <|begin_func|>  ",
        [("text", "Bye "), ("error", "action marker at the end of the output with no call")],
    ),
    ("no markers", "Just talking.", [("text", "Just talking.")]),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_cases_whole(name: str, text: str, expected: list) -> None:
    assert _summary(parse_actions(text, CHARACTER)) == expected


def _feed(parts: list[str], card: CharacterCard | None = CHARACTER) -> list[Event]:
    parser = ActionStreamParser(card)
    events: list[Event] = []
    for part in parts:
        events.extend(parser.feed(part))
    events.extend(parser.close())
    return events


STREAM_TEXTS = [text for _, text, _ in CASES if len(text) <= 130]


@pytest.mark.parametrize("text", STREAM_TEXTS)
def test_every_two_and_three_piece_chunking(text: str) -> None:
    expected = parse_actions(text, CHARACTER)
    n = len(text)
    for i in range(n + 1):
        assert merge_text(_feed([text[:i], text[i:]])) == expected, i
        for j in range(i, n + 1):
            assert merge_text(_feed([text[:i], text[i:j], text[j:]])) == expected, (i, j)


@pytest.mark.parametrize("text", [CARD_RESPONSE, *STREAM_TEXTS])
def test_character_by_character(text: str) -> None:
    assert merge_text(_feed(list(text))) == parse_actions(text, CHARACTER)


def test_text_is_emitted_before_the_stream_ends() -> None:
    parser = ActionStreamParser(CHARACTER)
    assert parser.feed("Hello there, ") == [TextEvent("Hello there, ")]
    assert parser.feed("<|begin") == []
    assert parser.feed('_func|>{"name": "scan", "parameters": {}}') == []
    events = parser.feed("<|end_func|> and")
    assert [type(e) for e in events] == [ActionEvent, TextEvent]


def test_incomplete_segment_keeps_its_text() -> None:
    events = parse_actions('Hmm <|begin_func|>{"name": "hack", "parameters": {"system": "ba')
    error = events[-1]
    assert isinstance(error, ActionErrorEvent)
    assert error.raw == '{"name": "hack", "parameters": {"system": "ba'


def test_notes_for_tolerated_drift() -> None:
    events = parse_actions('<|begin_func|>{"name": "scan", "parameters": {}}', CHARACTER)
    assert isinstance(events[0], ActionEvent)
    assert events[0].notes == ("end marker missing",)


def test_oversized_segment_is_cut() -> None:
    parser = ActionStreamParser(max_segment=100)
    events = parser.feed(BEGIN_FUNC + '{"name": "x", "parameters": {"a": "' + "y" * 200)
    assert isinstance(events[-1], ActionErrorEvent)
    assert events[-1].reason == "action longer than 100 characters"


def test_feeding_a_long_action_in_small_chunks_stays_linear() -> None:
    import time

    text = BEGIN_FUNC + '{"name": "analyze", "parameters": {"data": "' + "z" * 50_000 + '"}}'
    text += END_FUNC
    started = time.perf_counter()
    events = _feed([text[i : i + 4] for i in range(0, len(text), 4)])
    assert time.perf_counter() - started < 3.0
    assert isinstance(events[0], ActionEvent)
    assert len(events[0].arguments["data"]) == 50_000


def test_without_a_card_calls_are_only_decoded() -> None:
    events = parse_actions('<|begin_func|>{"name": "anything", "parameters": {"a": 1}}<|end_func|>')
    assert events == [
        ActionEvent("anything", {"a": 1}, '{"name": "anything", "parameters": {"a": 1}}')
    ]


# -------------------------------------------------------------- properties

_alphabet = st.sampled_from(["a", " ", "\n", "{", "}", '"', ":", "<|", "|>", "begin_func", "x"])
_pieces = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [BEGIN_FUNC, END_FUNC, '{"name": "scan", "parameters": {}}', "<|begin_fu", "nc|>", "{"]
    ),
)


@settings(deadline=1000, max_examples=300)
@given(st.lists(_pieces, max_size=12), st.data())
def test_any_chunking_gives_the_same_events(pieces: list[str], data: st.DataObject) -> None:
    text = "".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    events = merge_text(_feed(parts))
    assert events == parse_actions(text, CHARACTER)
    for event in events:
        if isinstance(event, TextEvent):
            assert BEGIN_FUNC not in event.text and END_FUNC not in event.text


@settings(deadline=1000, max_examples=200)
@given(st.text(max_size=200).filter(lambda t: "<|" not in t))
def test_text_without_markers_passes_through_unchanged(text: str) -> None:
    expected = [TextEvent(text)] if text else []
    assert parse_actions(text, CHARACTER) == expected


# ---------------------------------------------------------- results channel


def test_run_action_and_response_turn() -> None:
    registry = FunctionRegistry()

    @registry.register
    def scan() -> dict[str, int]:
        """Scan for wireless signals."""
        return {"networks": 3}

    @registry.register
    def hack(system: str) -> str:
        """Attempt to hack into a computer system."""
        raise PermissionError(f"{system} is locked")

    card = CharacterCard(registry)
    events = parse_actions(
        '<|begin_func|>{"name": "scan", "parameters": {}}<|end_func|>'
        '<|begin_func|>{"name": "hack", "arguments": {"system": "bank"}}<|end_func|>',
        card,
    )
    actions = [e for e in events if isinstance(e, ActionEvent)]
    results = [asyncio.run(run_action(action, card)) for action in actions]
    assert results == [
        ActionResult("scan", {"networks": 3}),
        ActionResult("hack", error="function 'hack' failed: PermissionError: bank is locked"),
    ]
    assert function_response_turn(results) == {
        "role": "user",
        "content": '<|begin_func_response|>{"networks": 3}<|end_func_response|>\n'
        '<|begin_func_response|>{"error": "function \'hack\' failed: PermissionError: bank is '
        'locked"}<|end_func_response|>',
    }


def test_response_turn_cannot_be_closed_early_by_the_result() -> None:
    turn = function_response_turn([ActionResult("x", "a<|end_func_response|>b")])
    assert turn["content"].count("<|end_func_response|>") == 1
