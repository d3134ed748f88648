"""``plan``: reWOO execution plans over the tools a task offers.

One round = one call writing ``batch_size`` tasks (a tool set, ``Name[input]: what it
does`` per tool, and a question) + one call per novel task answering it. The stored
instruction is the planning prompt of the seed cards rendered from the task's tools
and question (:func:`airloom.runtime.rewoo.prompt.build_planning_prompt`); the teacher
also sees a worked example (``show_example``). Every plan is parsed and validated
by the runtime (:mod:`airloom.runtime.rewoo`) against exactly the offered tools, and
must end with an ``Answer:`` referring to evidence; an invalid plan is rejected with the
validator's reason (``check_plan``).

``mode: compose`` is for teachers too small to write task lists: each task offers the
runtime's own four tools (:func:`airloom.runtime.tools.standard.standard_tools`, in a drawn
order) and the teacher writes only a question about a topic (``plan_question.txt``, read
by :func:`parse_plan_question`); the plan is then written and checked as above.

Example:
    >>> parse_task("TOOLS:\\nSearch[input]: find pages.\\nQA[input]: answer.\\n"
    ...            "QUESTION: Who built it?").tools
    [('Search', 'find pages.'), ('QA', 'answer.')]
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from airloom.checks.introspection import key_words
from airloom.formats.fences import strip_fence_lines
from airloom.instructors.base import (
    REFUSALS_ONLY,
    Draft,
    Instructor,
    Rejected,
    RoundContext,
    Truncated,
)
from airloom.instructors.checked import enforce
from airloom.instructors.engines import complete_task_list, copied_from_prompt
from airloom.instructors.parsing import lone_question
from airloom.instructors.settings.plan import PlanConfig
from airloom.reasons import Reason
from airloom.runtime.plan_ir import normalise_tool_name
from airloom.runtime.rewoo.parse import first_plan
from airloom.runtime.rewoo.prompt import EXAMPLE, build_planning_prompt
from airloom.runtime.tools.standard import standard_tools

__all__ = [
    "PlanInstructor",
    "PlanTask",
    "example_words",
    "parse_plan_question",
    "parse_task",
    "plan_before_cut",
    "trim_plan",
]

_TOOL_RE = re.compile(
    r"^\s*(?:[-*]\s*)?(?:\*\*)?([A-Za-z][\w .-]{0,63}?)\[input\](?:\*\*)?\s*:\s*(.+?)\s*$"
)
_QUESTION_RE = re.compile(r"^\s*(?:\*\*)?QUESTION(?:\*\*)?\s*:\s*(?:\*\*)?", re.I | re.M)
_PLAN_START_RE = re.compile(
    r"^\s*(?:[-*]\s*|\d{1,3}[.)]\s*)?(?:\*\*)?(?:Plan\b|:evidence\s?\[?\d|#E\d)", re.I
)
_TOOL_INPUT_RE = re.compile(r"\[([^\]\n]*)\]")
_GENERIC = frozenset({"given", "most"})
_ANSWER_RE = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?(?:final\s+)?answer(?:\*\*)?\s*:", re.I)


@dataclass(frozen=True)
class PlanTask:
    """One task: its tools (name, description) and its question."""

    tools: list[tuple[str, str]]
    question: str


def parse_task(text: str) -> PlanTask:
    """Tools and question of one generated task; raise :class:`Rejected` when unusable.

    Example:
        >>> try:
        ...     parse_task("TOOLS:\\nSearch[input]: find.\\nNo question here")
        ... except Rejected as exc:
        ...     print(exc)
        unparseable: no QUESTION: line
    """
    parts = _QUESTION_RE.split(text, maxsplit=1)
    if len(parts) != 2 or not parts[1].strip():
        raise Rejected(Reason.UNPARSEABLE, "no QUESTION: line")
    tools: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line in parts[0].splitlines():
        match = _TOOL_RE.match(line)
        if match is None:
            continue
        name, description = match.group(1).strip(), match.group(2).strip()
        key = normalise_tool_name(name)
        if key in seen:
            raise Rejected(Reason.UNPARSEABLE, f"tool {name} is listed twice")
        seen.add(key)
        tools.append((name, description))
    question = " ".join(parts[1].replace("**", "").split())
    return PlanTask(tools, question)


def parse_plan_question(text: str, prompt: str) -> str:
    """The one question a compose-mode reply holds; raise :class:`Rejected` when there is
    none, it is too short or long, or it repeats the prompt's own example.

    Example:
        >>> parse_plan_question("Sure!\\nQuestion: When did the Kiel Canal open?", "")
        'When did the Kiel Canal open?'
        >>> try:
        ...     parse_plan_question("The Kiel Canal opened in 1895.", "")
        ... except Rejected as exc:
        ...     print(exc)
        no_question: The Kiel Canal opened in 1895.
    """
    question = " ".join(lone_question(text).split())
    if not question.endswith("?") or not 4 <= len(question.split()) <= 40:
        raise Rejected(Reason.NO_QUESTION, (question or text.strip())[:120])
    if copied_from_prompt(question, f"{prompt}\n\n{EXAMPLE}"):
        raise Rejected(Reason.COPIED_PROMPT, question[:120])
    return question


def _input_words(plan: str) -> set[str]:
    words = key_words(" ".join(_TOOL_INPUT_RE.findall(plan)))
    return {w for w in words if not w.startswith("evidence")} - _GENERIC


_EXAMPLE_INPUT_WORDS = frozenset(_input_words(EXAMPLE.split("\n\n", 1)[1]))


def example_words(plan: str, question: str) -> list[str]:
    """Words the plan's tool inputs took from the worked example rather than from its
    question: the teacher followed the example past its own task.

    Example:
        >>> example_words(":evidence0: = DuckDuckGo[Most famous work of :evidence1:]",
        ...               "Who painted the Lisbon murals?")
        ['famous', 'work']
        >>> example_words(":evidence0: = DuckDuckGo[Lisbon murals painter]",
        ...               "Who painted the Lisbon murals?")
        []
    """
    return sorted((_input_words(plan) & _EXAMPLE_INPUT_WORDS) - key_words(question))


def _tool_order(rng: random.Random) -> list[tuple[str, str]]:
    tools = standard_tools()
    rng.shuffle(tools)
    return tools


def trim_plan(text: str) -> str:
    """The plan without fences, a preamble before the first step, or what follows its
    first complete Answer line (prose, or further plans the teacher went on to write).

    Example:
        >>> trim_plan("Here is my plan:\\nPlan: a\\n:evidence0: = T[x]\\nAnswer: :evidence0:"
        ...           "\\nHope this helps!")
        'Plan: a\\n:evidence0: = T[x]\\nAnswer: :evidence0:'
        >>> trim_plan(":evidence0: = T[x]\\nAnswer: :evidence0:\\n\\nQUESTION: More?\\n"
        ...           ":evidence0: = T[y]\\nAnswer: :evidence0:")
        ':evidence0: = T[x]\\nAnswer: :evidence0:'
    """
    lines = strip_fence_lines(text).replace("\r\n", "\n").strip().split("\n")
    start = next((i for i, line in enumerate(lines) if _PLAN_START_RE.match(line)), 0)
    end = next(
        (i + 1 for i in range(len(lines) - 1, start - 1, -1) if _ANSWER_RE.match(lines[i])),
        len(lines),
    )
    return first_plan("\n".join(line.rstrip() for line in lines[start:end]).strip()).strip()


def plan_before_cut(cut: Truncated) -> str:
    """The whole lines of a reply cut at max_tokens when they hold a complete ``Answer:``
    line (the teacher went on past its plan); otherwise ``cut`` is raised again.

    Example:
        >>> plan_before_cut(Truncated(":evidence0: = T[x]\\nAnswer: :evidence0:\\nNow a"))
        ':evidence0: = T[x]\\nAnswer: :evidence0:'
        >>> try:
        ...     plan_before_cut(Truncated(":evidence0: = T[x]\\nAnswer: :evid"))
        ... except Truncated as exc:
        ...     print(exc.reason)
        truncated
    """
    whole = cut.text.replace("\r\n", "\n").split("\n")[:-1]  # the last line may be cut
    if not any(_ANSWER_RE.match(line) for line in whole):
        raise cut
    return "\n".join(whole)


class PlanInstructor(Instructor):
    """reWOO planning: Plan / :evidenceN: = Tool[input] / Answer."""

    name = "plan"
    config_model = PlanConfig

    def _config(self) -> PlanConfig:
        config = self.config
        assert isinstance(config, PlanConfig)
        return config

    def _tasks(self, items: list[str], ctx: RoundContext, prompt: str) -> list[PlanTask]:
        config = self._config()
        examples = f"{prompt}\n\n{EXAMPLE}"  # the teacher sees both worked examples
        tasks = []
        for item in items[: self.settings.batch_size]:
            try:
                task = parse_task(item)
            except Rejected as exc:
                ctx.reject(exc.reason, exc.detail)
                continue
            if copied_from_prompt(task.question, examples):
                ctx.reject(Reason.COPIED_PROMPT, task.question[:120])
                continue
            if not config.min_tools <= len(task.tools) <= config.max_tools:
                ctx.reject(
                    Reason.BAD_TOOLS,
                    f"{len(task.tools)} tools, expected {config.min_tools} to {config.max_tools}",
                )
                continue
            tasks.append(task)
        return tasks

    async def _written_tasks(self, ctx: RoundContext) -> list[PlanTask]:
        config = self._config()
        template = self.settings.template("plan.txt")
        prompt = template.render(
            batch_size=self.settings.batch_size,
            min_tools=config.min_tools,
            max_tools=config.max_tools,
            language=self.settings.language,
            topic_avoidance=self.settings.topic_avoidance,
        )
        listing = await complete_task_list(ctx, prompt, template=template, filtered=False)
        tasks = self._tasks(listing, ctx, prompt)
        if not tasks:
            ctx.reject(Reason.UNPARSEABLE, "no usable 'TSK n.' task in the list")
        return tasks

    async def _composed_tasks(self, ctx: RoundContext) -> list[PlanTask]:
        template = self.settings.template("plan_question.txt")
        count = self.settings.batch_size
        topics = ctx.topics(count) or ["any subject"]
        orders = [_tool_order(ctx.rng) for _ in range(count)]

        async def ask(index: int) -> PlanTask:
            prompt = template.render(
                topic=topics[index % len(topics)], language=self.settings.language
            )
            reply = await ctx.complete(prompt, key=f"question:{index}", filtered=False)
            return PlanTask(orders[index], parse_plan_question(reply, prompt))

        return await ctx.map(ask, list(range(count)))

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        if config.mode == "compose":
            tasks = await self._composed_tasks(ctx)
        else:
            tasks = await self._written_tasks(ctx)
        if not tasks:
            return []
        novel = await ctx.novel([task.question for task in tasks])
        fresh = [task for task, ok in zip(tasks, novel, strict=True) if ok]

        async def answer(task: PlanTask) -> Draft:
            teacher_prompt = build_planning_prompt(
                task.question, task.tools, example=config.show_example
            )
            try:
                text = await ctx.complete(
                    teacher_prompt, key=f"plan:{tasks.index(task)}", filtered=REFUSALS_ONLY
                )
            except Truncated as cut:
                text = plan_before_cut(cut)
            plan = trim_plan(text)
            copied = example_words(plan, task.question)
            if copied:
                raise Rejected(
                    Reason.COPIED_EXAMPLE, f"the plan follows the example: {', '.join(copied)}"
                )
            draft = Draft(
                instruction=build_planning_prompt(
                    task.question, task.tools, example=config.record_example
                ),
                response=plan,
                dedup_text=task.question,
                meta={"tools": [name for name, _ in task.tools], "mode": config.mode},
            )
            return enforce(self.name, draft)

        return await ctx.map(answer, fresh)
