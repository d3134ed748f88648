"""Counterfactual closed-context records: well-formed prompt, honest citations.

The instruction must parse as a closed-context prompt (one block with its ``url``
metadata); when the answer cites sources, every cited pair must be metadata of the
block (the same rule as for ``contextual``).

Example:
    >>> prompt = ("BEGININPUT\\nBEGINCONTEXT\\nurl: https://w/x\\nENDCONTEXT\\n"
    ...           "The bridge opened in 1990.\\nENDINPUT\\nBEGININSTRUCTION\\n"
    ...           "When did the bridge open? Cite.\\nENDINSTRUCTION")
    >>> check_counterfactual({"instruction": prompt,
    ...                       "response": "In 1990.\\n\\nReference(s):\\nurl: https://w/x"}).ok
    True
    >>> check_counterfactual({"instruction": prompt,
    ...                       "response": "In 1990.\\n\\nReference(s):\\nurl: https://w/y"}).ok
    False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airloom.checks import Verdict
from airloom.errors import ParseError
from airloom.formats.closed_context import check_citations, parse_closed_context


def check_counterfactual(record: Mapping[str, Any]) -> Verdict:
    """Fail a record whose prompt is malformed or whose answer cites unknown metadata."""
    instruction = str(record.get("instruction", ""))
    try:
        parse_closed_context(instruction, strict=True)
    except ParseError as exc:
        return Verdict.failed(f"malformed prompt: {exc.message}")
    response = str(record.get("response", ""))
    if not response.strip():
        return Verdict.failed("empty answer")
    problems = check_citations(response, instruction)
    if problems:
        return Verdict.failed(problems[0])
    return Verdict.passed()
