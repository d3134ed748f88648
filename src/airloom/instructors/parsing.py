"""Pure parsers for the list shapes teachers write (``TSK n.``, numbered lists, Q/A pairs).

They are tolerant of the drift real teachers produce (markdown bold, ``TSK1:``,
``**TSK 2.**``, CRLF, numbering gaps, a preamble, a truncated last item) and return
plain strings; deciding what to reject is the caller's business.

Example:
    >>> parse_labelled_items("Sure!\\nTSK 1. Write a poem.\\nTSK 2. Name three rivers.", "TSK")
    ['Write a poem.', 'Name three rivers.']
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*```[\w+-]*\s*$", re.MULTILINE)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _item_start(label: str) -> re.Pattern[str]:
    # e.g. "TSK 1.", "**TSK 2.**", "TSK3:", "- TSK 4)", "### TSK 5 -"
    return re.compile(
        rf"^[ \t]*(?:[-*#>]+[ \t]*)?(?:\*\*|__)?{re.escape(label)}[ \t]*(\d{{1,4}})"
        r"[ \t]*(?:[.:)\]-]|\*\*)+(?:\*\*|__)?[ \t]*",
        re.MULTILINE | re.IGNORECASE,
    )


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
    items = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = _FENCE.sub("", text[match.end() : end]).strip()
        body = re.sub(r"^(?:\*\*|__)|(?:\*\*|__)$", "", body).strip()
        if body:
            items.append(body)
    return items


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


def parse_qa_pairs(
    text: str, start_key: str = "QUESTION", end_key: str = "ANSWER"
) -> list[tuple[str, str]]:
    """Pairs of ``QUESTION: … ANSWER: …`` blocks; a pair without an answer is dropped.

    Example:
        >>> parse_qa_pairs("QUESTION: 2+2?\\nANSWER: 4\\nQUESTION: Capital of Peru?\\nANSWER: Lima")
        [('2+2?', '4'), ('Capital of Peru?', 'Lima')]
    """
    text = _normalise(text)
    q = re.escape(start_key)
    a = re.escape(end_key)
    pattern = re.compile(
        rf"(?:^|\n)[ \t]*(?:\*\*)?{q}(?:[ \t]*\d+)?[ \t]*(?:\*\*)?:(?:\*\*)?(.*?)"
        rf"\n[ \t]*(?:\*\*)?{a}(?:[ \t]*\d+)?[ \t]*(?:\*\*)?:(?:\*\*)?(.*?)"
        rf"(?=\n[ \t]*(?:\*\*)?{q}(?:[ \t]*\d+)?[ \t]*(?:\*\*)?:|\Z)",
        re.DOTALL | re.IGNORECASE,
    )
    pairs = []
    for match in pattern.finditer(text):
        question, answer = match.group(1).strip(), match.group(2).strip()
        if question and answer:
            pairs.append((question, answer))
    return pairs
