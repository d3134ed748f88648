"""``coding``: programming tasks in configured languages, some in PLAINFORMAT.

A PLAINFORMAT record's instruction ends in `` PLAINFORMAT`` and its response is bare
code: the teacher is asked for plain code, and if it fences the code anyway only the
first fenced block is kept.

Example:
    >>> CodingConfig().plain_ratio
    0.5
"""

from __future__ import annotations

from airloom.formats.chat import PLAINFORMAT, plain_code
from airloom.instructors.base import REFUSALS_ONLY, Draft, Instructor, Rejected, RoundContext
from airloom.instructors.engines import complete_task_list, drop_copies
from airloom.instructors.settings.coding import (
    CodingConfig,
)
from airloom.reasons import Reason

__all__ = ["CodingInstructor"]


class CodingInstructor(Instructor):
    """Coding tasks; ``plain_ratio`` of them in PLAINFORMAT."""

    name = "coding"
    config_model = CodingConfig

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.config
        assert isinstance(config, CodingConfig)
        batch_size = self.settings.batch_size
        languages = config.coding_languages
        if batch_size <= len(languages):
            chosen = ctx.rng.sample(languages, batch_size)
        else:
            chosen = [ctx.rng.choice(languages) for _ in range(batch_size)]
        language_lines = "\n".join(
            f"- task {index} should ask the user to use {language}"
            for index, language in enumerate(chosen, start=1)
        )
        software = ""
        if batch_size > 3 and config.related_software:
            pick = ctx.rng.choice(config.related_software)
            software = f"- One of the tasks should require interacting with {pick}."
        template = self.settings.template("coding.txt")
        prompt = template.render(
            languages=language_lines,
            related_software=software,
            batch_size=batch_size,
            language=self.settings.language,
        )
        listing = await complete_task_list(ctx, prompt, template=template)
        tasks = drop_copies(ctx, listing, prompt)[:batch_size]
        if not tasks:
            ctx.reject(Reason.UNPARSEABLE, "no 'TSK n.' items in the task list")
            return []
        fresh = [task for task, ok in zip(tasks, await ctx.novel(tasks), strict=True) if ok]
        plain_flags = {task: ctx.rng.random() < config.plain_ratio for task in fresh}
        plain_template = self.settings.template("coding_plain.txt", response=True)

        async def answer(task: str) -> Draft:
            if plain_flags[task]:
                prompt = plain_template.render(instruction=task)
                code = plain_code(
                    await ctx.complete(prompt, key="response", filtered=REFUSALS_ONLY)
                )
                if not code.strip():
                    raise Rejected(Reason.UNPARSEABLE, "empty code in a PLAINFORMAT answer")
                return Draft(
                    instruction=f"{task} {PLAINFORMAT}",
                    response=code,
                    dedup_text=task,
                    meta={"plain": True},
                )
            response = await ctx.complete(task, key="response", filtered=REFUSALS_ONLY)
            return Draft(instruction=task, response=response.strip(), meta={"plain": False})

        return await ctx.map(answer, fresh)
