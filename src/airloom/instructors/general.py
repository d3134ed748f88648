"""``general``: diverse non-code, non-math tasks, each answered by a separate call.

One round = one generation call asking for ``batch_size`` tasks (``TSK n.`` list, one
topic per task) + one response call per novel task.

Example:
    >>> parse_tasks("TSK 1. Name three rivers.\\nTSK 2. Write a limerick about a cat.")
    ['Name three rivers.', 'Write a limerick about a cat.']
"""

from __future__ import annotations

import json

from airloom.instructors.base import Draft, Instructor, RoundContext
from airloom.instructors.parsing import parse_labelled_items


def parse_tasks(text: str) -> list[str]:
    """The tasks of a ``TSK n.`` list (pure)."""
    return parse_labelled_items(text, "TSK")


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


class GeneralInstructor(Instructor):
    """General tasks on random topics."""

    name = "general"
    uses_topics = True

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        settings = self.settings
        template = settings.template("general.txt")
        topics = ctx.topics(settings.batch_size)
        prompt = template.render(
            language=settings.language,
            topic_avoidance=settings.topic_avoidance,
            topics=topic_lines("instruction", topics),
            flesch=settings.flesch,
            batch_size=settings.batch_size,
        )
        listing = await ctx.complete(prompt, key="tasks", template=template)
        tasks = parse_tasks(listing)
        if not tasks:
            ctx.reject("unparseable", "no 'TSK n.' items in the task list")
            return []
        tasks = tasks[: settings.batch_size]
        fresh = [task for task, ok in zip(tasks, await ctx.novel(tasks), strict=True) if ok]

        async def answer(index_task: tuple[int, str]) -> Draft:
            index, task = index_task
            response = await ctx.complete(task, key="response")
            topic = topics[index] if index < len(topics) else None
            return Draft(instruction=task, response=response.strip(), topic=topic)

        indexed = [(tasks.index(task), task) for task in fresh]
        return await ctx.map(answer, indexed)
