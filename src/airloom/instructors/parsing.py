"""Pure parsers for the list shapes teachers write (``TSK n.``, numbered lists, Q/A pairs).

They are tolerant of the drift real teachers produce (markdown bold, ``TSK1:``,
``**TSK 2.**``, CRLF, numbering gaps, a preamble, a truncated last item) and return
plain strings; deciding what to reject is the caller's business.

Example:
    >>> parse_labelled_items("Sure!\\nTSK 1. Write a poem.\\nTSK 2. Name three rivers.", "TSK")
    ['Write a poem.', 'Name three rivers.']
"""

from __future__ import annotations

import json
import re

from airloom.formats.fences import strip_fence_lines

__all__ = [
    "lone_question",
    "parse_labelled_items",
    "parse_numbered_list",
    "parse_qa_pairs",
    "strip_markdown_debris",
]


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _item_start(label: str) -> re.Pattern[str]:
    # e.g. "TSK 1.", "**TSK 2.**", "TSK3:", "- TSK 4)", "### TSK 5 -"
    # A label alone on its line ("TSK 3" cut off by max_tokens, or a body on the next
    # line) still starts an item, so it is never glued onto the previous one.
    return re.compile(
        rf"^[ \t]*(?:[-*#>]+[ \t]*)?(?:\*\*|__)?{re.escape(label)}[ \t]*(\d{{1,4}}(?:\.\d{{1,4}})*)"
        r"(?:[ \t]*(?:[.:)\]-]|\*\*)+(?:\*\*|__)?|[ \t]*(?:\*\*|__)?[ \t]*$)[ \t]*",
        re.MULTILINE | re.IGNORECASE,
    )


_DEBRIS_LINE = re.compile(r"^[ \t]*(?:[*_#=`~-][ \t]*){1,}$", re.MULTILINE)
_QUESTION_LINE = re.compile(
    r"^\W*(?:(?:the\s+)?question(?:\s+is)?\s*[:.)-]?|q\s*[:.)-])\s*[\"']*(.+?)[\"'\s]*$",
    re.IGNORECASE,
)


def strip_markdown_debris(text: str) -> str:
    """Drop markdown a teacher left around an item: lines of only ``**``/``---``/``#``,
    emphasis markers at its ends, and ``**`` left unpaired inside.

    Example:
        >>> strip_markdown_debris("Write a limerick about tides.**")
        'Write a limerick about tides.'
        >>> strip_markdown_debris("**Task:** List three rivers.\\n\\n---\\n**")
        'Task: List three rivers.'
        >>> strip_markdown_debris("Name **two** planets.")
        'Name **two** planets.'
    """
    text = _DEBRIS_LINE.sub("", text).strip()
    text = re.sub(r"^(?:[#>]+[ \t]*)+", "", text)
    while True:
        stripped = re.sub(r"^(?:\*\*|__)\s*|\s*(?:\*\*|__)$", "", text).strip()
        if stripped == text:
            break
        text = stripped
    if text.count("**") % 2:  # one half of a pair was cut off: the other is debris
        text = text.replace("**", "")
    return text.strip()


def parse_labelled_items(text: str, label: str) -> list[str]:
    """Split ``LABEL n.`` items (multi-line bodies allowed) into stripped strings.

    Empty items are dropped; text before the first label is ignored.

    Example:
        >>> parse_labelled_items("**TSK 1.** First\\nmore\\nTSK 2: Second", "TSK")
        ['First\\nmore', 'Second']
    """
    text = _normalise(text)
    pattern = _item_start(label)
    matches = list(pattern.finditer(text))
    items: list[str] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = strip_markdown_debris(strip_fence_lines(text[match.end() : end]))
        items.extend(piece for piece in _unwrap(body, pattern) if piece)
    return items


def _unwrap(body: str, label: re.Pattern[str]) -> list[str]:
    """The task(s) inside a body the teacher wrapped as a list of quoted strings.

    ``["TSK 1.1. What …?"]`` becomes ``["What …?"]``: the brackets, the quotes and a
    nested label go; a body that is not such a list is kept as it is.
    """
    if not (body.startswith("[") and body.endswith("]")):
        return [body]
    try:
        value = json.loads(body)
    except ValueError:
        return [body]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return [body]
    return [label.sub("", item.strip(), count=1).strip() for item in value]


_NUMBERED = re.compile(r"^[ \t]*(?:\*\*)?(\d{1,4})[.)](?:\*\*)?[ \t]+", re.MULTILINE)


def parse_numbered_list(text: str) -> list[str]:
    """Items of a ``1. …`` / ``2) …`` list; an item runs until the next number.

    Example:
        >>> parse_numbered_list("Topics:\\n1. Volcanoes\\n2) Ancient Rome\\n3.  ")
        ['Volcanoes', 'Ancient Rome']
    """
    text = _normalise(text)
    matches = list(_NUMBERED.finditer(text))
    items = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        if body:
            items.append(body)
    return items


def _qa_marker(start_key: str, end_key: str) -> re.Pattern[str]:
    keys = sorted({start_key, end_key}, key=len, reverse=True)
    alternatives = "|".join(re.escape(key) for key in keys)
    return re.compile(
        rf"^[ \t]*(?:\*\*)?(?P<key>{alternatives})(?:[ \t]*\d+)?[ \t]*(?:\*\*)?:(?:\*\*)?",
        re.MULTILINE | re.IGNORECASE,
    )


def parse_qa_pairs(
    text: str, start_key: str = "QUESTION", end_key: str = "ANSWER"
) -> list[tuple[str, str]]:
    """Pairs of ``QUESTION: … ANSWER: …`` blocks; a pair without an answer is dropped.

    A question runs to its ``ANSWER:`` line; an answer runs to the next ``QUESTION:``
    line (or the end). A question that is followed by another question instead of an
    answer is dropped, never glued onto the next one.

    Example:
        >>> parse_qa_pairs("QUESTION: 2+2?\\nANSWER: 4\\nQUESTION: Capital of Peru?\\nANSWER: Lima")
        [('2+2?', '4'), ('Capital of Peru?', 'Lima')]
        >>> parse_qa_pairs("QUESTION: lost?\\nQUESTION 2: Kept?\\nANSWER 2: Yes")
        [('Kept?', 'Yes')]
    """
    text = _normalise(text)
    markers = [
        (match.group("key").lower() == start_key.lower(), match.start(), match.end())
        for match in _qa_marker(start_key, end_key).finditer(text)
    ]
    starts = [index for index, (is_question, _, _) in enumerate(markers) if is_question]
    pairs = []
    for position, index in enumerate(starts):
        following = starts[position + 1] if position + 1 < len(starts) else len(markers)
        if index + 1 >= following:
            continue  # no answer before the next question
        _, _, question_end = markers[index]
        _, answer_start, answer_end = markers[index + 1]
        stop = markers[following][1] if following < len(markers) else len(text)
        question = strip_markdown_debris(text[question_end:answer_start])
        answer = text[answer_end:stop].strip()
        if question and answer:
            pairs.append((question, answer))
    return pairs


def lone_question(text: str) -> str:
    """The question of a reply that should hold just one: a ``Question:`` line, or the
    first line ending in ``?`` (markdown and numbering removed); ``""`` when none.

    Example:
        >>> lone_question("Sure! Here it is:\\n**Question:** Who founded Lagos?")
        'Who founded Lagos?'
        >>> lone_question("1. When did the canal open?")
        'When did the canal open?'
        >>> lone_question("The canal opened in 1869.")
        ''
    """
    for line in _normalise(text).strip().splitlines():
        line = re.sub(r"^\d{1,3}[.)]\s+", "", strip_markdown_debris(line))
        match = _QUESTION_LINE.match(line)
        if match or line.endswith("?"):
            return strip_markdown_debris(match.group(1) if match else line)
    return ""
