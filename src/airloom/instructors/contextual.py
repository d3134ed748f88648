"""``contextual``: closed-context QA — input blocks with metadata, tasks, cited answers.

One round = ``batch_size`` independent generation calls (each writes 1–4
BEGININPUT…ENDINPUT blocks and BEGININSTRUCTION…ENDINSTRUCTION tasks, randomised as in
the original: block count, target blocks, styles, output format, cross references,
source requests, confounders, display style) + one response call per valid, novel
instruction. A generation that is not exactly the closed-context layout is rejected
(``unparseable``); an answer whose citations are not metadata of the given blocks is
rejected (``bad_citation``).

``mode: compose`` is for teachers too small to write that layout: the teacher writes a
passage and a question, and the program lays out the record (see
:mod:`airloom.instructors.contextual_compose`).

Example:
    >>> choose_spec(random.Random(0), ContextualConfig(), ["pottery"]).input_count in (1, 2, 3, 4)
    True
"""

from __future__ import annotations

import datetime
import random
import re
from dataclasses import dataclass

from airloom.errors import ParseError
from airloom.formats.closed_context import (
    DELIMITER_WORD,
    check_citations,
    parse_closed_context,
)
from airloom.instructors.base import Draft, Instructor, Rejected, RoundContext
from airloom.instructors.contextual_compose import compose_round
from airloom.instructors.engines import copied_from_prompt, topic_lines
from airloom.instructors.settings.contextual import (
    ContextualConfig,
)
from airloom.reasons import Reason

__all__ = [
    "ContextSpec",
    "ContextualInstructor",
    "answer_problem",
    "canonical_instruction",
    "choose_spec",
]

_SOURCE_PHRASES = [
    "What is your source?",
    "Please provide references.",
    "Cite.",
    "Source?",
    "[insert references]",
    "Add a citation.",
    "Where did you find this information?",
    "Include your references.",
]


@dataclass(frozen=True)
class ContextSpec:
    """The randomised shape of one generation prompt."""

    input_count: int
    task_count: int
    target_selection: str
    styles: list[str]
    topics: list[str]
    format_note: str
    reference_note: str
    source_note: str
    confounder_note: str
    display_style: str


def choose_spec(rng: random.Random, config: ContextualConfig, topics: list[str]) -> ContextSpec:
    """Draw the shape of one prompt (pure given the generator)."""
    input_count = rng.choice([1, 1, 1, 2, 2, 3, 4])
    task_count = rng.choice([1, 1, 1, 2, 2, 3])
    if input_count == 1:
        target = "the text block"
    else:
        target = rng.choice(
            [
                "the first text block",
                "the last text block",
                "all of the text blocks",
                "one or more of the text blocks",
                f"text block {rng.randint(1, input_count)}",
            ]
        )
    styles = (
        [rng.choice(config.context_styles) for _ in range(input_count)]
        if config.context_styles
        else []
    )
    format_note = ""
    if config.formatting_options and rng.random() < 0.2:
        options = rng.sample(config.formatting_options, min(3, len(config.formatting_options)))
        format_note = (
            f"One task should ask for output in a specific format, such as {', '.join(options)}."
        )
    reference_note = "The text blocks must not reference each other."
    if input_count > 1 and rng.random() < 0.1:
        reference_note = (
            "One of the text blocks should reference another one via its metadata, such as a link."
            if rng.random() < 0.5
            else "One of the text blocks should reference details of another one."
        )
    source_note = ""
    if rng.random() < 0.2:
        source_note = "The last task should ask for the source or references, e.g. " + ", ".join(
            f'"{p}"' for p in rng.sample(_SOURCE_PHRASES, 3)
        )
        if config.formatting_options and rng.random() < 0.2:
            source_note += (
                f", and ask for the references in {rng.choice(config.formatting_options)} format"
            )
        source_note += "."
    confounder_note = ""
    if rng.random() < 0.1:
        kind = rng.choice(
            ["completely unrelated to the text", "related to the text but not answerable from it"]
        )
        confounder_note = (
            f"The task should be {kind}."
            if task_count == 1
            else f"One of the tasks should be {kind}."
        )
    display = rng.choice(["as a single paragraph", "one per line", "as a bullet list"])
    return ContextSpec(
        input_count,
        task_count,
        target,
        styles,
        topics[:input_count],
        format_note,
        reference_note,
        source_note,
        confounder_note,
        display,
    )


def canonical_instruction(text: str, prompt: str) -> str:
    """The teacher's blocks and tasks in the exact trained layout, or Rejected.

    Layout drift (prose around the structure, marker case, a missing ENDINSTRUCTION) is
    repaired by parsing tolerantly and rendering canonically; what cannot be repaired —
    no block, a block without metadata, no tasks, a block copied from the prompt's
    illustration — is rejected with the reason.

    Example:
        >>> canonical_instruction("Sure!\\nBEGININPUT\\nBEGINCONTEXT\\nurl: u\\nENDCONTEXT\\n"
        ...     "Some text.\\nENDINPUT\\nbegininstruction\\nWhat?", "prompt").splitlines()[-3:]
        ['BEGININSTRUCTION', 'What?', 'ENDINSTRUCTION']
    """
    try:
        parsed = parse_closed_context(text.strip(), strict=False)
    except ParseError as exc:
        raise Rejected(Reason.UNPARSEABLE, exc.message) from exc
    if not parsed.instruction.strip():
        raise Rejected(Reason.UNPARSEABLE, "no tasks between BEGININSTRUCTION and ENDINSTRUCTION")
    if copied_from_prompt(parsed.instruction, prompt):
        raise Rejected(Reason.COPIED_PROMPT, parsed.instruction[:120])
    for number, block in enumerate(parsed.blocks, start=1):
        if not block.metadata:
            raise Rejected(Reason.UNPARSEABLE, f"input block {number} has no metadata")
        if _PLACEHOLDER_TEXT.fullmatch(block.text.strip()) or any(
            key.lower() == "key" or value.lower() in ("value", "[value]")
            for key, value in block.metadata.items()
        ):
            raise Rejected(
                Reason.PLACEHOLDER, f"input block {number} keeps the layout's placeholders"
            )
        if copied_from_prompt(block.text, prompt):
            raise Rejected(Reason.COPIED_PROMPT, block.text[:120])
    return parsed.render()


_PAIR_OR_HEADER = re.compile(
    r"^\s*(?:[-*]\s*)?(?:[\w ]{1,30}:\s*\S.*|(?:reference\(s\)|references?|sources?):?\s*)$",
    re.IGNORECASE,
)


_PLACEHOLDER_PAIR = re.compile(r"^\s*(?:[-*]\s*)?key\s*:\s*value\b", re.IGNORECASE | re.MULTILINE)
_NO_SOURCE = re.compile(
    r"^\W*(?:(?:there (?:is|are) )?no (?:sources?|references?|citations?)(?: (?:is |are )?"
    r"(?:available|provided|given))?|not available|n/?a)\W*$",
    re.IGNORECASE,
)


def answer_problem(response: str) -> tuple[Reason, str] | None:
    """Why an answer is unusable — a delimiter leaked into it, the layout's ``key: value``
    placeholder, or nothing but metadata lines, a references header and "no source
    available" — or None.

    Example:
        >>> answer_problem("ENDINPUT")
        (<Reason.LEAKED_DELIMITER: 'leaked_delimiter'>, 'ENDINPUT')
        >>> answer_problem("key: value")
        (<Reason.PLACEHOLDER: 'placeholder'>, 'key: value')
        >>> answer_problem("Reference(s):\\nurl: https://x\\nNo source available.")
        (<Reason.NO_ANSWER: 'no_answer'>, 'only key: value lines')
        >>> answer_problem("It opened in 1911.\\n\\nReference(s):\\nurl: https://x") is None
        True
    """
    leaked = DELIMITER_WORD.search(response)
    if leaked:
        return Reason.LEAKED_DELIMITER, leaked.group(0)
    placeholder = _PLACEHOLDER_PAIR.search(response)
    if placeholder:
        return Reason.PLACEHOLDER, placeholder.group(0).strip()
    prose = [
        line
        for line in response.splitlines()
        if line.strip() and not _PAIR_OR_HEADER.match(line) and not _NO_SOURCE.match(line)
    ]
    if not prose:
        return Reason.NO_ANSWER, "only key: value lines"
    return None


_PLACEHOLDER_TEXT = re.compile(r"\[[^\]]{0,40}\]|\.\.\.|…|")


class ContextualInstructor(Instructor):
    """Closed-context question answering with citations."""

    name = "contextual"
    config_model = ContextualConfig
    uses_topics = True

    def _prompt(self, spec: ContextSpec) -> tuple[str, str]:
        config = self.config
        assert isinstance(config, ContextualConfig)
        template = self.settings.template("contextual.txt")
        style_lines = "\n".join(
            f"Text block {i} should be in the form of: {style}"
            for i, style in enumerate(spec.styles, 1)
        )
        avoidance = (
            config.topic_avoidance
            if config.topic_avoidance is not None
            else self.settings.topic_avoidance
        )
        prompt = template.render(
            input_count=spec.input_count,
            style_lines=style_lines,
            topics=topic_lines("text", spec.topics),
            reference_note=f"{spec.reference_note} {avoidance}".strip(),
            language=self.settings.language,
            next_year=datetime.date.today().year + 1,
            task_count=spec.task_count,
            target_selection=spec.target_selection,
            format_note=spec.format_note,
            source_note=spec.source_note,
            confounder_note=spec.confounder_note,
            display_style=spec.display_style,
            flesch=self.settings.flesch,
        )
        return prompt, template.digest

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.config
        assert isinstance(config, ContextualConfig)
        if config.mode == "compose":
            return await compose_round(ctx, config)
        specs = [
            choose_spec(ctx.rng, config, ctx.topics(4)) for _ in range(self.settings.batch_size)
        ]
        response_template = self.settings.template("contextual_response.txt", response=True)

        async def generate(indexed: tuple[int, ContextSpec]) -> str:
            index, spec = indexed
            prompt, _ = self._prompt(spec)
            # The layout ends itself: stopping there saves tokens and keeps weak teachers
            # from rambling past max_tokens (the parser accepts the missing end marker).
            text = await ctx.complete(
                prompt, key=f"context:{index}", params={"stop": ["ENDINSTRUCTION"]}
            )
            return canonical_instruction(text, prompt)

        instructions = await ctx.map(generate, list(enumerate(specs)))
        fresh = [t for t, ok in zip(instructions, await ctx.novel(instructions), strict=True) if ok]

        async def answer(instruction: str) -> Draft:
            prompt = response_template.render(
                instruction=instruction,
                language=self.settings.language,
                flesch=self.settings.flesch,
            )
            response = (await ctx.complete(prompt, key="response")).strip()
            problem = answer_problem(response)
            if problem is not None:
                raise Rejected(*problem)
            if config.check_citations:
                problems = check_citations(response, instruction)
                if problems:
                    raise Rejected(Reason.BAD_CITATION, problems[0])
            return Draft(instruction=instruction, response=response)

        return await ctx.map(answer, fresh)
