"""Teacher-output parsers: TSK lists, numbered lists, QUESTION/ANSWER pairs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airloom.instructors.parsing import parse_labelled_items, parse_numbered_list, parse_qa_pairs

LABELLED = [
    (
        "plain",
        "TSK 1. Write a poem.\nTSK 2. Name three rivers.",
        ["Write a poem.", "Name three rivers."],
    ),
    (
        "markdown bold",
        "**TSK 1.** First task\n**TSK 2.** Second task",
        ["First task", "Second task"],
    ),
    ("bold with colon", "**TSK 1:** First\n__TSK 2.__ Second", ["First", "Second"]),
    ("no space, colon", "TSK1: Alpha\nTSK2: Beta", ["Alpha", "Beta"]),
    ("paren and bracket", "TSK 1) Alpha\nTSK 2] Beta\nTSK 3 - Gamma", ["Alpha", "Beta", "Gamma"]),
    (
        "bullets and headings",
        "- TSK 1. Alpha\n### TSK 2. Beta\n> TSK 3. Gamma",
        ["Alpha", "Beta", "Gamma"],
    ),
    ("lower case label", "tsk 1. Alpha\nTsk 2. Beta", ["Alpha", "Beta"]),
    ("CRLF", "TSK 1. Alpha\r\nmore\r\nTSK 2. Beta\r\n", ["Alpha\nmore", "Beta"]),
    ("lone CR", "TSK 1. Alpha\rTSK 2. Beta", ["Alpha", "Beta"]),
    ("numbering gaps", "TSK 1. A\nTSK 5. B\nTSK 2. C", ["A", "B", "C"]),
    ("preamble", "Sure! Here are your tasks:\n\nTSK 1. Alpha\nTSK 2. Beta", ["Alpha", "Beta"]),
    (
        "multi-line body",
        "TSK 1. Line one\n  line two\n\nline three\nTSK 2. B",
        ["Line one\n  line two\n\nline three", "B"],
    ),
    (
        "truncated last item",
        "TSK 1. Alpha\nTSK 2. Beta is cut off mid",
        ["Alpha", "Beta is cut off mid"],
    ),
    ("truncated bare label", "TSK 1. Alpha\nTSK 2. Beta\nTSK 3", ["Alpha", "Beta"]),
    ("truncated bold label", "TSK 1. Alpha\n**TSK 2**", ["Alpha"]),
    ("body on next line", "TSK 1.\nAlpha\nTSK 2\nBeta", ["Alpha", "Beta"]),
    (
        "fenced block",
        "TSK 1. Write code:\n```python\nprint(1)\n```\nTSK 2. B",
        ["Write code:\nprint(1)", "B"],
    ),
    ("whole reply fenced", "```\nTSK 1. Alpha\nTSK 2. Beta\n```", ["Alpha", "Beta"]),
    ("empty items dropped", "TSK 1.\nTSK 2.   \nTSK 3. C\nTSK 4.", ["C"]),
    (
        "label mid-line is text",
        "TSK 1. Compare TSK 2. with other lists",
        ["Compare TSK 2. with other lists"],
    ),
    (
        "list-wrapped with nested label",
        'TSK 1: ["TSK 1.1. What would happen?"]\nTSK 2. Plain',
        ["What would happen?", "Plain"],
    ),
    ("list of several", 'TSK 1. ["A?", "TSK 1.2: B?"]', ["A?", "B?"]),
    ("nested numbering", "TSK 1.1. Alpha\nTSK 1.2. Beta", ["Alpha", "Beta"]),
    ("bracket that is not a list", "TSK 1. [draft] Alpha [v2]", ["[draft] Alpha [v2]"]),
    ("decimal in body", "TSK 1. Pour 1.5 litres", ["Pour 1.5 litres"]),
    ("no items", "I cannot produce a list today.", []),
    ("empty", "", []),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in LABELLED], ids=[c[0] for c in LABELLED]
)
def test_parse_labelled_items(text: str, expected: list[str]) -> None:
    assert parse_labelled_items(text, "TSK") == expected


def test_parse_labelled_items_other_label_and_regex_chars() -> None:
    assert parse_labelled_items("Q+ 1. a\nQ+ 2. b\nQ 3. c", "Q+") == ["a", "b\nQ 3. c"]
    assert parse_labelled_items("TSK 1. x\nTSK 2. y", "TSK") == ["x", "y"]


NUMBERED = [
    ("dots", "1. Volcanoes\n2. Ancient Rome", ["Volcanoes", "Ancient Rome"]),
    ("parens", "1) Volcanoes\n2) Ancient Rome", ["Volcanoes", "Ancient Rome"]),
    ("preamble", "Here are topics:\n1. A\n2. B", ["A", "B"]),
    ("bold numbers", "**1.** A\n**2.** B", ["A", "B"]),
    ("continuation", "1. A\n   more about A\n2. B", ["A\n   more about A", "B"]),
    ("empty item", "1. A\n2.   \n3. C", ["A", "C"]),
    ("CRLF", "1. A\r\n2. B\r\n", ["A", "B"]),
    ("indented", "  1. A\n  2. B", ["A", "B"]),
    ("number without space is text", "1.5 litres\n1. A", ["A"]),
    ("no list", "nothing to see", []),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in NUMBERED], ids=[c[0] for c in NUMBERED]
)
def test_parse_numbered_list(text: str, expected: list[str]) -> None:
    assert parse_numbered_list(text) == expected


QA = [
    ("basic", "QUESTION: 2+2?\nANSWER: 4", [("2+2?", "4")]),
    ("two pairs", "QUESTION: a?\nANSWER: x\nQUESTION: b?\nANSWER: y", [("a?", "x"), ("b?", "y")]),
    (
        "numbered keys",
        "QUESTION 1: a?\nANSWER 1: x\nQUESTION 2: b?\nANSWER 2: y",
        [("a?", "x"), ("b?", "y")],
    ),
    (
        "bold keys",
        "**QUESTION:** a?\n**ANSWER:** x\n**QUESTION 2**: b?\n**ANSWER 2**: y",
        [("a?", "x"), ("b?", "y")],
    ),
    ("lower case keys", "question: a?\nanswer: x", [("a?", "x")]),
    (
        "multi-line",
        "QUESTION: line 1\nline 2\nANSWER: first\n\nsecond",
        [("line 1\nline 2", "first\n\nsecond")],
    ),
    ("preamble", "Here you go.\n\nQUESTION: a?\nANSWER: x", [("a?", "x")]),
    ("CRLF", "QUESTION: a?\r\nANSWER: x\r\n", [("a?", "x")]),
    ("last answer missing", "QUESTION: a?\nANSWER: x\nQUESTION: b?", [("a?", "x")]),
    ("middle answer missing", "QUESTION: a?\nQUESTION: b?\nANSWER: y", [("b?", "y")]),
    ("empty answer", "QUESTION: a?\nANSWER:\nQUESTION: b?\nANSWER: y", [("b?", "y")]),
    ("empty question", "QUESTION:\nANSWER: x", []),
    ("answer before any question", "ANSWER: stray\nQUESTION: a?\nANSWER: x", [("a?", "x")]),
    (
        "key inside text is text",
        "QUESTION: What does ANSWER: mean?\nANSWER: a label",
        [("What does ANSWER: mean?", "a label")],
    ),
    ("nothing", "no pairs here", []),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in QA], ids=[c[0] for c in QA])
def test_parse_qa_pairs(text: str, expected: list[tuple[str, str]]) -> None:
    assert parse_qa_pairs(text) == expected


def test_parse_qa_pairs_custom_keys() -> None:
    text = 'PROMPT: pick a function\nANSWER: {"function": "search"}\nPROMPT 2: again\nANSWER: no'
    assert parse_qa_pairs(text, "PROMPT") == [
        ("pick a function", '{"function": "search"}'),
        ("again", "no"),
    ]


# Free text with the markers sprinkled in: parsers return plain strings and never raise.
_PIECES = st.sampled_from(
    [
        "TSK 1.",
        "**TSK 2.**",
        "TSK3:",
        "QUESTION:",
        "ANSWER 2:",
        "1.",
        "2)",
        "```",
        "\n",
        "\r\n",
        " ",
        "**",
        "x",
    ]
)
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_parsers_total_on_free_text(text: str) -> None:
    for items in (parse_labelled_items(text, "TSK"), parse_numbered_list(text)):
        assert all(isinstance(item, str) and item and item == item.strip() for item in items)
    for question, answer in parse_qa_pairs(text):
        assert question and answer
        assert question == question.strip() and answer == answer.strip()


_TASK = (
    st.text(alphabet="abcdefghij KLMNOP,.?'()0123456789", min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_TASK, min_size=1, max_size=8),
    st.sampled_from(["TSK {i}. ", "**TSK {i}.** ", "TSK{i}: "]),
)
def test_labelled_round_trip(tasks: list[str], style: str) -> None:
    text = "Preamble line.\n" + "\n".join(style.format(i=i) + t for i, t in enumerate(tasks, 1))
    assert parse_labelled_items(text, "TSK") == tasks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TASK, _TASK), min_size=1, max_size=6))
def test_qa_round_trip(pairs: list[tuple[str, str]]) -> None:
    text = "\n".join(f"QUESTION {i}: {q}\nANSWER {i}: {a}" for i, (q, a) in enumerate(pairs, 1))
    assert parse_qa_pairs(text) == pairs


def test_qa_parser_is_linear_enough() -> None:
    # Many questions without answers must not blow up (old regex rescanned to the end).
    text = "QUESTION: q\n" * 5000 + "ANSWER: a"
    assert parse_qa_pairs(text) == [("q", "a")]
