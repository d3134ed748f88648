"""Tolerant parser for reWOO plans (airoboros ``:evidenceN:`` and ReWOO ``#EN`` forms).

Pure: text in, :class:`ParsedPlan` out; it never raises for bad plans. Defects are
listed in ``ParsedPlan.problems`` and tolerated deviations in ``warnings``; the
validator turns problems into one :class:`airloom.errors.PlanError`.

The scanner works line by line (no nested-quantifier regexes, so no ReDoS):

* text is NFKC-normalised, zero-width characters dropped, CRLF/tabs unified;
* code fences and markdown decoration (bullets, numbering, bold, backticks) go;
* ``Plan:`` lines carry optional plan text; a definition may share their line;
* a definition's input is read with a balanced-bracket scan that may span lines
  and stops at the next ``Plan:``/definition/``Answer:`` line; an unbalanced input
  falls back to the last closing bracket of its line and is flagged;
* ``Answer:``/``Final answer:`` (configurable labels) gives the answer.

Example:
    >>> plan = parse_plan('''Plan: search.
    ... :evidence0: = DuckDuckGo[airoboros model card]
    ... Plan: answer.
    ... :evidence1: = KnowledgeModel[What is it, given :evidence0:?]
    ... Answer: :evidence1:''')
    >>> [(s.id, s.tool) for s in plan.steps], plan.steps[1].raw_input
    ([(0, 'DuckDuckGo'), (1, 'KnowledgeModel')], 'What is it, given :evidence0:?')
    >>> plan.answer.kind, plan.problems
    ('ref', ())
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from airloom.formats.fences import is_fence_line
from airloom.runtime.plan_ir import AnswerSpec, ParsedPlan, RefSyntax, Step
from airloom.runtime.rewoo.compile import (
    compile_text,
    parse_id,
    placeholders_in,
    refs_of,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "MAX_INPUT_LINES",
    "ParseOptions",
    "first_plan",
    "normalise_plan_text",
    "parse_plan",
    "strip_decoration",
]

MAX_INPUT_LINES = 200
"""A multi-line input stops after this many lines (a runaway bracket cannot eat a plan)."""

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_DECORATION = re.compile(r"^(?:\s+|[-*+•>](?=\s)|\d{1,3}[.)](?=\s)|\*\*|__|`+|#{1,6}(?=\s))*")
_TRAILING_DECORATION = re.compile(r"[\s*_`]+$")
_DEFINITION = re.compile(
    r"(?<![A-Za-z0-9_])(?::evidence\s?\[?(?P<c>\d+)\]?\s?:?|#E(?P<h>\d+))\s*=(?!=)",
    re.IGNORECASE,
)
_TOOL_CALL = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9 ._\-]{0,63}?)\s*(?P<open>[\[(])")
_OPERAND = r"(?:\"[^\"]*\"|'[^']*'|:evidence\[?\d+\]?:?|#E\[?\d+\]?)"
_CONCATENATION = re.compile(rf"\s*{_OPERAND}(?:\s*\+\s*{_OPERAND})+\s*", re.IGNORECASE)
_OPERAND_RE = re.compile(_OPERAND, re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*\+?\s*")
_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "`": "`"}
_ANSWER_NOISE = re.compile(r"^[\s\[\](){}.,;:!?\"'`*_-]*$")


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Labels the parser accepts (casefolded; spaces match any whitespace).

    Add translated labels for non-English plans, e.g.
    ``ParseOptions(answer_labels=("answer", "final answer", "respuesta"))``.
    """

    plan_labels: tuple[str, ...] = ("plan",)
    answer_labels: tuple[str, ...] = ("final answer", "answer")

    def label_regex(self, labels: tuple[str, ...]) -> re.Pattern[str]:
        """A regex matching one of ``labels`` followed by a colon (and decoration).

        Example:
            >>> bool(ParseOptions().label_regex(("final answer",)).match("Final  Answer**: x"))
            True
        """
        words = sorted(labels, key=len, reverse=True)
        alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words if w.strip())
        return re.compile(
            rf"(?:{alternatives})\b(?:\s*\d{{1,4}})?\s*[*_`]*\s*:[*_`]*\s*", re.IGNORECASE
        )


DEFAULT_OPTIONS = ParseOptions()


def first_plan(text: str, options: ParseOptions = DEFAULT_OPTIONS) -> str:
    """The text up to its first complete answer line: a model that goes on writing
    further example plans after it has answered is held to its first plan.

    Example:
        >>> first_plan(":evidence0: = DuckDuckGo[x]\\nAnswer: :evidence0:\\n\\n"
        ...            "Question: Who else?\\n:evidence0: = DuckDuckGo[y]\\nAnswer: :evidence0:")
        ':evidence0: = DuckDuckGo[x]\\nAnswer: :evidence0:'
        >>> first_plan("Plan: think.\\nAnswer:")
        'Plan: think.\\nAnswer:'
    """
    answer_re = options.label_regex(options.answer_labels)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        body = strip_decoration(line)
        match = answer_re.match(body)
        if match and _clean_text(body[match.end() :]):
            return "\n".join(lines[: index + 1])
    return text


def normalise_plan_text(text: str) -> str:
    """NFKC-normalise, drop zero-width/bidi characters, unify newlines and tabs.

    Example:
        >>> normalise_plan_text("Answer\uff1a\u200b :evidence1:\\r\\n")
        'Answer: :evidence1:\\n'
    """
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")


def strip_decoration(line: str) -> str:
    """Remove leading markdown decoration: bullets, numbering, bold, backticks, quotes.

    Example:
        >>> strip_decoration("1. **Plan:** look it up")
        'Plan:** look it up'
        >>> strip_decoration("- `:evidence0: = X[y]`")
        ':evidence0: = X[y]`'
    """
    return line[_DECORATION.match(line).end() :]  # type: ignore[union-attr]


def _clean_text(text: str) -> str:
    return _TRAILING_DECORATION.sub("", text.strip())


@dataclass(slots=True)
class _Call:
    tool: str = ""
    raw_input: str = ""
    flags: list[str] = field(default_factory=list)
    end_line: int = 0
    remainder: str = ""
    problem: str = ""


class _Scanner:
    """Stateful line scanner; one instance parses one plan."""

    def __init__(self, lines: list[str], options: ParseOptions) -> None:
        self.lines = lines
        self.plan_re = options.label_regex(options.plan_labels)
        self.answer_re = options.label_regex(options.answer_labels)
        self.steps: list[Step] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.ignored: list[str] = []
        self.plan_text = ""
        self.in_plan_text = False
        self.answer: AnswerSpec | None = None

    def run(self) -> ParsedPlan:
        index = 0
        while index < len(self.lines):
            index = self.line(index, self.lines[index])
        return self.result()

    def starts_keyword(self, line: str) -> bool:
        body = strip_decoration(line)
        return bool(
            self.plan_re.match(body) or self.answer_re.match(body) or _DEFINITION.match(body)
        )

    def line(self, index: int, text: str) -> int:
        body = strip_decoration(text)
        if is_fence_line(text) or not body.strip():
            self.in_plan_text = False
            return index + 1
        plan = self.plan_re.match(body)
        if plan:
            rest = body[plan.end() :]
            definition = _DEFINITION.search(rest)
            self.plan_text = _clean_text(rest[: definition.start()] if definition else rest)
            self.in_plan_text = definition is None
            return self.definition(index, rest, definition) if definition else index + 1
        answer = self.answer_re.match(body)
        if answer:
            return self.answer_line(index, body[answer.end() :])
        definition = _DEFINITION.search(body)
        if definition:
            prefix = _clean_text(body[: definition.start()])
            if prefix:
                self.warnings.append(
                    f"line {index + 1}: text before a definition ignored: {prefix[:60]!r}"
                )
            return self.definition(index, body, definition)
        if self.in_plan_text:
            self.plan_text = f"{self.plan_text} {_clean_text(body)}".strip()
        else:
            self.ignored.append(body.strip())
        return index + 1

    def definition(self, index: int, text: str, match: re.Match[str]) -> int:
        self.in_plan_text = False
        syntax: RefSyntax = "colon" if match.group("c") is not None else "hash"
        step_id = parse_id(match.group("c") or match.group("h"))
        call = self.scan_call(index, text[match.end() :])
        label = f":evidence{step_id}:"
        if self.answer is not None:
            self.warnings.append(f"line {index + 1}: {label} is defined after the answer line")
        flags = tuple(call.flags)
        if call.problem:
            self.problems.append(f"line {index + 1}: definition of {label}: {call.problem}")
            flags = (*flags, "malformed")
        self.steps.append(
            Step(step_id, call.tool, call.raw_input, index + 1, syntax, self.plan_text, flags)
        )
        if call.remainder.strip():
            return self.line(call.end_line, call.remainder)
        return call.end_line + 1

    def scan_call(self, index: int, after: str) -> _Call:
        call = _Call(end_line=index)
        text = after.lstrip()
        outer = False
        if text.startswith("["):
            inner = text[1:].lstrip()
            if _TOOL_CALL.match(inner):
                text, outer = inner, True
                call.flags.append("bracketed_call")
        head = _TOOL_CALL.match(text)
        if not head:
            call.problem = (
                f"no Tool[input] call after '=' (found {text.strip()[:60]!r}); "
                "write it as ':evidenceN: = ToolName[input]'"
            )
            return call
        call.tool = head.group("name").strip()
        closer = "]" if head.group("open") == "[" else ")"
        if closer == ")":
            call.flags.append("paren_call")
        self.scan_input(call, index, text[head.end() :], head.group("open"), closer, outer)
        call.raw_input = _clean_input(call.raw_input, call.flags)
        return call

    def scan_input(
        self, call: _Call, index: int, first: str, opener: str, closer: str, outer: bool
    ) -> None:
        chunks = [first]
        depth, line_no = 1, index
        while True:
            chunk = chunks[-1]
            for position, char in enumerate(chunk):
                if char == opener:
                    depth += 1
                elif char == closer:
                    depth -= 1
                    if depth == 0:
                        chunks[-1] = chunk[:position]
                        call.raw_input = "\n".join(chunks)
                        call.end_line = line_no
                        call.remainder = _drop_outer_closer(chunk[position + 1 :], outer)
                        return
            following = line_no + 1
            if (
                following >= len(self.lines)
                or following - index >= MAX_INPUT_LINES
                or self.starts_keyword(self.lines[following])
            ):
                break
            line_no = following
            chunks.append(self.lines[following])
        self.unbalanced(call, index, chunks, closer, outer)

    def unbalanced(
        self, call: _Call, index: int, chunks: list[str], closer: str, outer: bool
    ) -> None:
        for offset, chunk in enumerate(chunks):
            if closer not in chunk or (offset > 0 and closer in chunks[0]):
                continue
            last = chunk.rfind(closer)
            if outer:
                previous = chunk.rfind(closer, 0, last)
                if previous >= 0 and not chunk[previous + 1 : last].strip():
                    last = previous
            taken = [*chunks[:offset], chunk[:last]]
            call.raw_input = "\n".join(taken)
            call.end_line = index + offset
            call.remainder = chunk[last + 1 :]
            call.flags.append("unbalanced_brackets")
            return
        call.raw_input = "\n".join(chunks)
        call.end_line = index + len(chunks) - 1
        call.flags.append("truncated")

    def answer_line(self, index: int, value: str) -> int:
        self.in_plan_text = False
        if self.answer is not None:
            self.warnings.append(f"line {index + 1}: a second answer line was ignored")
            self.ignored.append(value.strip())
            return index + 1
        following = index + 1
        if not _clean_text(value):
            while following < len(self.lines) and not self.lines[following].strip():
                following += 1
            if following < len(self.lines) and not self.starts_keyword(self.lines[following]):
                value = strip_decoration(self.lines[following])
                following += 1
        self.answer = self.parse_answer(_clean_text(value), index + 1)
        return following

    def parse_answer(self, value: str, line: int) -> AnswerSpec:
        for placeholder in placeholders_in(value):
            self.problems.append(
                f"line {line}: the answer is the unfilled template {placeholder!r}; "
                "name the step that holds the answer, e.g. 'Answer: :evidence3:'"
            )
        parts = compile_text(value)
        refs = refs_of(parts)
        literal = "".join(part for part in parts if isinstance(part, str))
        if not refs:
            self.warnings.append(f"line {line}: the answer has no evidence reference (ungrounded)")
            return AnswerSpec("literal", parts, value, line)
        single = len({ref.id for ref in refs}) == 1
        echo = value.startswith("[") and value.endswith("]")
        if single and (echo or _ANSWER_NOISE.match(literal)):
            if not _ANSWER_NOISE.match(literal):
                self.warnings.append(
                    f"line {line}: template echo in the answer; using {refs[0].label}"
                )
            return AnswerSpec("ref", (refs[0],), value, line)
        return AnswerSpec("template", parts, value, line)

    def result(self) -> ParsedPlan:
        if not self.steps:
            self.problems.append(
                "no step definitions found; expected lines like ':evidence0: = Tool[input]'"
            )
        if self.ignored:
            self.warnings.append(f"{len(self.ignored)} line(s) of prose ignored")
        answer = self.answer or AnswerSpec("missing")
        return ParsedPlan(
            tuple(self.steps),
            answer,
            tuple(self.problems),
            tuple(self.warnings),
            tuple(self.ignored),
        )


def _drop_outer_closer(rest: str, outer: bool) -> str:
    if outer:
        stripped = rest.lstrip()
        if stripped.startswith("]"):
            return stripped[1:]
    return rest


def _clean_input(raw: str, flags: list[str]) -> str:
    text = raw.strip()
    if _CONCATENATION.fullmatch(text):
        flags.append("concatenation")
        return _join_concatenation(text)
    if len(text) >= 2 and _QUOTE_PAIRS.get(text[0]) == text[-1] and text[0] not in text[1:-1]:
        flags.append("quoted")
        return text[1:-1].strip()
    return text


def _join_concatenation(text: str) -> str:
    pieces: list[str] = []
    position = 0
    while position < len(text):
        separator = _SEPARATOR.match(text, position)
        position = separator.end() if separator else position
        operand = _OPERAND_RE.match(text, position)
        if operand is None:
            break
        token = operand.group(0)
        pieces.append(token[1:-1] if token[0] in "\"'" else token)
        position = operand.end()
    return "".join(pieces)


def parse_plan(text: str, options: ParseOptions = DEFAULT_OPTIONS) -> ParsedPlan:
    """Parse a reWOO plan tolerantly; never raises for malformed text.

    Example:
        >>> plan = parse_plan("Plan: look. #E1 = Google Search[x]\\nFinal answer: #E1")
        >>> plan.steps[0].tool, plan.steps[0].syntax, plan.answer.kind
        ('Google Search', 'hash', 'ref')
        >>> parse_plan("no plan here").problems[0][:28]
        'no step definitions found; e'
    """
    lines = normalise_plan_text(text).split("\n")
    return _Scanner(lines, options).run()
