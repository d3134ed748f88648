"""Closed-context records (``contextual``, ``counterfactual_contextual``): a well-formed
prompt and honest citations.

The instruction must parse as a closed-context prompt; the answer must not be empty; when
it cites sources, every cited pair must be metadata of a block of the prompt.

Example:
    >>> from airloom.formats.records import make_record
    >>> prompt = ("BEGININPUT\\nBEGINCONTEXT\\nurl: https://w/x\\nENDCONTEXT\\n"
    ...           "The bridge opened in 1990.\\nENDINPUT\\nBEGININSTRUCTION\\n"
    ...           "When did the bridge open? Cite.\\nENDINSTRUCTION")
    >>> check_closed_context(make_record(instruction=prompt,
    ...                       response="In 1990.\\n\\nReference(s):\\nurl: https://w/x")).ok
    True
    >>> check_closed_context(make_record(instruction=prompt,
    ...                       response="In 1990.\\n\\nReference(s):\\nurl: https://w/y")).ok
    False
"""

from __future__ import annotations

from airloom.checks import Verdict
from airloom.errors import ParseError
from airloom.formats.closed_context import check_citations, parse_closed_context
from airloom.formats.records import Record

__all__ = ["check_closed_context"]


def check_closed_context(record: Record) -> Verdict:
    """Fail a record whose prompt is malformed or whose answer cites unknown metadata."""
    instruction = record.instruction
    try:
        parse_closed_context(instruction, strict=True)
    except ParseError as exc:
        return Verdict.failed(f"malformed prompt: {exc.message}")
    response = record.response
    if not response.strip():
        return Verdict.failed("empty answer")
    problems = check_citations(response, instruction)
    if problems:
        return Verdict.failed(problems[0])
    return Verdict.passed()
