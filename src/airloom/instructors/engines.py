"""Two reusable round shapes most categories are built on.

* :class:`SimpleTaskInstructor` — one call writes ``batch_size`` tasks as a ``TSK n.``
  list; each novel task gets its own response call (optionally wrapped in a response
  template). Subclasses set ``prompt_file`` and may override :meth:`template_values`,
  :meth:`response_prompt` and :meth:`make_draft` (to check or reshape a record).
* :class:`InlineQAInstructor` — one call writes ``QUESTION:``/``ANSWER:`` pairs (keys
  configurable); nothing else is called. Subclasses may override :meth:`check_pair`.

Example:
    >>> class Riddle(InlineQAInstructor):
    ...     name = "riddle_example"
    ...     prompt_file = "riddle.txt"
    >>> Riddle.start_key, Riddle.end_key
    ('QUESTION', 'ANSWER')
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from airloom.instructors.base import (
    Draft,
    Instructor,
    PromptTemplate,
    Rejected,
    RoundContext,
    complete_items,
)
from airloom.instructors.parsing import parse_labelled_items, parse_qa_pairs
from airloom.reasons import Reason

__all__ = [
    "InlineQAInstructor",
    "SimpleTaskInstructor",
    "complete_task_list",
    "copied_from_prompt",
    "drop_copies",
    "echoes",
    "rewords_prompt",
    "topic_lines",
]


async def complete_task_list(
    ctx: RoundContext,
    prompt: str,
    *,
    template: PromptTemplate,
    label: str = "TSK",
    filtered: bool = True,
) -> list[str]:
    """The ``{label} n.`` items of one teacher call (whole items only if it was cut).

    Example:
        >>> import asyncio
        >>> class Teacher:
        ...     async def complete(self, prompt, **options):
        ...         return "Sure:\\nTSK 1. Sort a list.\\nTSK 2. Reverse a string."
        >>> template = PromptTemplate("Write tasks.", "builtin")
        >>> asyncio.run(complete_task_list(Teacher(), "Write tasks.", template=template))
        ['Sort a list.', 'Reverse a string.']
    """
    return await complete_items(
        ctx,
        prompt,
        lambda text: parse_labelled_items(text, label),
        key="tasks",
        template=template,
        filtered=filtered,
    )


def topic_lines(label: str, topics: list[str]) -> str:
    """The topics block injected into prompts, one line per slot.

    Example:
        >>> topic_lines("instruction", ["volcanoes"])
        ' * instruction 1 must be related to topic: "volcanoes"'
    """
    return "\n".join(
        f" * {label} {index} must be related to topic: {json.dumps(topic, ensure_ascii=False)}"
        for index, topic in enumerate(topics, start=1)
    )


_WORDS = re.compile(r"\w+")
_SENTENCE_ENDS = re.compile(r"[.!?\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
_SHORT = frozenset(
    _WORDS.findall(
        "a an the and or of to in on for with by as at is are be it its this that from into "
        "your you their them which who what how should must can will each one"
    )
)


def _normal(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def _content_words(text: str) -> list[str]:
    return [w for w in _WORDS.findall(text.lower()) if w not in _SHORT and len(w) > 2]


@dataclass(frozen=True)
class _PromptParts:
    """What the copy checks compare an item with, worked out once per prompt."""

    normal: str
    #: normalised sentences of at least 40 characters
    sentences: tuple[str, ...]
    #: content words of each paragraph and line that has at least 6 of them
    passages: tuple[frozenset[str], ...]


@functools.lru_cache(maxsize=64)
def _prompt_parts(prompt: str) -> _PromptParts:
    # A round checks every item of a list against the same prompt: analysed once.
    sentences = (_normal(s) for s in _SENTENCE_ENDS.split(prompt))
    passages = (
        frozenset(_content_words(p)) for p in [*_BLANK_LINES.split(prompt), *prompt.splitlines()]
    )
    return _PromptParts(
        normal=_normal(prompt),
        sentences=tuple(s for s in sentences if len(s) >= 40),
        passages=tuple(words for words in passages if len(words) >= 6),
    )


def copied_from_prompt(item: str, prompt: str) -> bool:
    """True when a generated item is (a normalised copy of) text of its own prompt,
    e.g. a worked example the teacher repeated instead of writing a new task.

    Example:
        >>> copied_from_prompt("Implement a B*-tree in JavaScript.",
        ...                    "Example 3. Implement a B*-tree in JavaScript.")
        True
        >>> copied_from_prompt("Implement a trie in Rust.", "Example 3. Implement a B*-tree.")
        False
        >>> copied_from_prompt("[Write a Go program that reads a weighted graph]. Do it well.",
        ...                    "Example 4. Write a Go program that reads a weighted graph.")
        True
    """
    parts = _prompt_parts(prompt)
    normal = _normal(item)
    if len(normal) >= 12 and normal in parts.normal:
        return True
    # or it embeds a long sentence of the prompt ("[Example 2 text]. Also ...")
    if any(sentence in normal for sentence in parts.sentences):
        return True
    return rewords_prompt(item, prompt)


def rewords_prompt(item: str, prompt: str, threshold: float = 0.7) -> bool:
    """True when ``item`` says what one paragraph or line of its prompt says, in other
    words: most of its content words come from it, and most of its content words come
    back in the item (word-level similarity, not only exact copies).

    Example:
        >>> example = ("Create a python application with an async web server that accepts "
        ...            "file uploads and stores them, deduplicated by their hash.")
        >>> rewords_prompt("Write an async Python web server application that accepts "
        ...                "uploads of files and stores them deduplicated by hash.", example)
        True
        >>> rewords_prompt("Write a Rust CLI that counts words in a text file.", example)
        False
    """
    words = _content_words(item)
    if len(words) < 6:
        return False
    mine = set(words)
    for theirs in _prompt_parts(prompt).passages:
        shared = len(mine & theirs)
        if shared / len(mine) >= threshold and shared / len(theirs) >= threshold:
            return True
    return False


def echoes(instruction: str, response: str) -> bool:
    """True when a response only repeats its instruction (a weak teacher's echo).

    Example:
        >>> echoes("Name three rivers.", "  name three rivers ")
        True
        >>> echoes("Name three rivers.", "The Nile, the Amazon and the Yangtze.")
        False
    """
    said = _normal(response)
    return bool(said) and said == _normal(instruction)


def drop_copies(ctx: RoundContext, items: list[str], prompt: str) -> list[str]:
    """The items that are not copied from the prompt; the others are rejected."""
    kept = []
    for item in items:
        if copied_from_prompt(item, prompt):
            ctx.reject(Reason.COPIED_PROMPT, item[:120])
        else:
            kept.append(item)
    return kept


class SimpleTaskInstructor(Instructor):
    """Task list + one response call per task (see the module docstring)."""

    #: Packaged generation template (``str.format`` placeholders: language, flesch,
    #: batch_size, topic_avoidance, topics and whatever template_values adds).
    prompt_file: ClassVar[str]
    #: Optional packaged response template with an ``{instruction}`` placeholder.
    response_file: ClassVar[str | None] = None
    #: Label of the task list items, and of the topic lines ("TSK 1 must be related…").
    task_label: ClassVar[str] = "TSK"
    topic_label: ClassVar[str | None] = None
    #: Apply the refusal filter to the task list and to the responses.
    filter_tasks: ClassVar[bool] = True
    filter_responses: ClassVar[bool] = True

    def template_values(self, ctx: RoundContext) -> dict[str, Any]:
        """Extra placeholder values for the generation template (fresh per round)."""
        return {}

    def response_prompt(self, task: str, ctx: RoundContext) -> str:
        """What is sent to get the answer to one task."""
        if self.response_file is None and self.config.response_prompt_path is None:
            return task
        template = self.settings.template(self.response_file or "", response=True)
        return template.render(
            instruction=task, language=self.settings.language, flesch=self.settings.flesch
        )

    def make_draft(self, task: str, response: str, topic: str | None) -> Draft:
        """Turn a task and its answer into a record; raise Rejected to drop it."""
        return Draft(instruction=task, response=response.strip(), topic=topic)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        settings = self.settings
        template = settings.template(self.prompt_file)
        topics = ctx.topics(settings.batch_size) if self.uses_topics else []
        values = {
            "language": settings.language,
            "flesch": settings.flesch,
            "batch_size": settings.batch_size,
            "topic_avoidance": settings.topic_avoidance,
            "topics": topic_lines(self.topic_label or self.task_label, topics),
            **self.template_values(ctx),
        }
        prompt = template.render(**values)
        listing = await complete_task_list(
            ctx, prompt, template=template, label=self.task_label, filtered=self.filter_tasks
        )
        tasks = drop_copies(ctx, listing, prompt)[: settings.batch_size]
        if not tasks:
            ctx.reject(Reason.UNPARSEABLE, f"no '{self.task_label} n.' items in the task list")
            return []
        fresh = [t for t, ok in zip(tasks, await ctx.novel(tasks), strict=True) if ok]

        async def answer(task: str) -> Draft:
            response = await ctx.complete(
                self.response_prompt(task, ctx), key="response", filtered=self.filter_responses
            )
            if echoes(task, response):
                raise Rejected(Reason.ECHO, response[:120])
            index = tasks.index(task)
            return self.make_draft(task, response, topics[index] if index < len(topics) else None)

        return await ctx.map(answer, fresh)


class InlineQAInstructor(Instructor):
    """Questions and answers written by one call (see the module docstring)."""

    prompt_file: ClassVar[str]
    start_key: ClassVar[str] = "QUESTION"
    end_key: ClassVar[str] = "ANSWER"
    filter_output: ClassVar[bool] = True

    def template_values(self, ctx: RoundContext) -> dict[str, Any]:
        """Extra placeholder values for the generation template (fresh per round)."""
        return {}

    def check_pair(self, question: str, answer: str) -> Draft:
        """Turn one pair into a record; raise :class:`Rejected` to drop it."""
        return Draft(instruction=question, response=answer)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        settings = self.settings
        template = settings.template(self.prompt_file)
        topics = ctx.topics(settings.batch_size) if self.uses_topics else []
        values = {
            "language": settings.language,
            "flesch": settings.flesch,
            "batch_size": settings.batch_size,
            "topic_avoidance": settings.topic_avoidance,
            "topics": topic_lines(self.start_key, topics),
            **self.template_values(ctx),
        }
        pairs = await complete_items(
            ctx,
            template.render(**values),
            lambda text: parse_qa_pairs(text, self.start_key, self.end_key),
            key="pairs",
            template=template,
            filtered=self.filter_output,
        )
        pairs = pairs[: settings.batch_size]
        if not pairs:
            ctx.reject(Reason.UNPARSEABLE, f"no {self.start_key}/{self.end_key} pairs")
            return []
        drafts = []
        for question, answer in pairs:
            try:
                if echoes(question, answer):
                    raise Rejected(Reason.ECHO, answer[:120])
                drafts.append(self.check_pair(question, answer))
            except Rejected as exc:
                ctx.reject(exc.reason, exc.detail)
        novel = await ctx.novel([d.text_for_dedup() for d in drafts])
        return [draft for draft, ok in zip(drafts, novel, strict=True) if ok]
