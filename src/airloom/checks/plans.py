"""reWOO plans: the response is a valid plan over the tools the task offered.

A plan record's instruction lists its tools as ``Name[input]: description`` lines (the
seed cards' layout) and ends with the question; the response is the plan. The check
parses it with the runtime's tolerant parser and validates it with the runtime's
validator against exactly the offered tool names (unknown tools, undefined or cyclic
references, duplicate ids, empty inputs … are all reasons), and requires an explicit
``Answer:`` line that refers to evidence.

Example:
    >>> from airloom.formats.records import make_record
    >>> task = ("Here are the tools available to be called:\\n"
    ...         "Search[input]: Web search.\\nQA[input]: Answers questions about a text.\\n\\n"
    ...         "Question: Who built the bridge?")
    >>> plan = ("Plan: Search first.\\n:evidence0: = Search[bridge builder]\\n"
    ...         "Plan: Read it.\\n:evidence1: = QA[Who built it, given :evidence0:?]\\n"
    ...         "Answer: :evidence1:")
    >>> check_plan(make_record(instruction=task, response=plan))
    Verdict(ok=True, reason='')
    >>> check_plan(make_record(instruction=task, response=plan.replace("QA[", "Ask["))).reason
    "line 4: :evidence1: uses unknown tool 'Ask' (offered: qa, search)"
    >>> shouted = task.replace("Search[", "SEARCH[")
    >>> check_plan(make_record(instruction=shouted, response=plan)).reason
    "the plan calls 'Search', the task offers 'SEARCH'"
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from airloom.checks import Verdict
from airloom.errors import PlanError
from airloom.formats.records import Record
from airloom.runtime.rewoo.parse import parse_plan
from airloom.runtime.rewoo.validate import ValidPlan, validate_plan

__all__ = ["check_plan", "offered_tools", "plan_verdict"]

_TOOL_LINE_RE = re.compile(r"^\s*(?:[-*]\s*)?([A-Za-z][\w .-]{0,63}?)\[input\]\s*:", re.MULTILINE)


def offered_tools(instruction: str) -> list[str]:
    """The tool names a task offers (``Name[input]: …`` lines), in order, once each.

    Example:
        >>> offered_tools("DuckDuckGo[input]: search\\n- TextScraper[input]: load\\nx[y]")
        ['DuckDuckGo', 'TextScraper']
    """
    seen: list[str] = []
    for name in _TOOL_LINE_RE.findall(instruction):
        if name.strip() not in seen:
            seen.append(name.strip())
    return seen


def plan_verdict(response: str, tools: Sequence[str]) -> tuple[Verdict, ValidPlan | None]:
    """Parse and validate a plan against the offered tools; require an Answer line.

    Example:
        >>> plan_verdict(":evidence0: = Search[x]", ["Search"])[0].reason
        "the plan has no 'Answer:' line"
    """
    if not tools:
        return Verdict.failed("the task offers no tools"), None
    parsed = parse_plan(response)
    for step in parsed.steps:  # a tool is called by its name exactly as offered
        if step.tool not in tools and step.tool.lower() in {t.lower() for t in tools}:
            offered = next(t for t in tools if t.lower() == step.tool.lower())
            return Verdict.failed(
                f"the plan calls '{step.tool}', the task offers '{offered}'"
            ), None
    try:
        valid = validate_plan(parsed, offered=tools)
    except PlanError as exc:
        return Verdict.failed(exc.problems[0] if exc.problems else exc.message), None
    if parsed.answer.kind == "missing":
        return Verdict.failed("the plan has no 'Answer:' line"), valid
    if parsed.answer.kind == "literal":
        return Verdict.failed("the 'Answer:' line refers to no evidence"), valid
    return Verdict.passed(), valid


def check_plan(record: Record) -> Verdict:
    """A plan record's response is a valid plan over the tools its task offers.

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_plan(make_record(instruction="Plan it.", response="Answer: 42")).reason
        'the task offers no tools'
    """
    tools = offered_tools(record.instruction)
    verdict, _ = plan_verdict(record.response, tools)
    return verdict
