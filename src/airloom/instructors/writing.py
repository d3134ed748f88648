"""``writing``: creative and professional writing tasks on random topics, some in a style.

One round = one call writing ``batch_size`` tasks (``TSK n.`` list, one topic each) +
one answer call per novel task through the ``writing_response.txt`` template. When
``styles`` are configured, a quarter of the tasks (at least one when ``batch_size`` >
1, never more than there are styles) must ask for a style sampled from them. The
original capped that number with the list itself instead of its length and crashed
when ``batch_size / 4`` exceeded the number of styles. Writing records are the source
texts of ``editor``.

Example:
    >>> import random
    >>> print(style_requirements(random.Random(1), ["sad", "happy"], 12))
    Additional requirements:
    - task 2 should specify that the style be sad
    - task 5 should specify that the style be happy
    >>> style_requirements(random.Random(1), [], 12)
    ''
"""

from __future__ import annotations

import random
from typing import Any

from airloom.instructors.base import RoundContext
from airloom.instructors.engines import SimpleTaskInstructor
from airloom.instructors.settings.writing import WritingConfig

__all__ = ["WritingInstructor", "style_requirements"]


def style_requirements(rng: random.Random, styles: list[str], batch_size: int) -> str:
    """The "Additional requirements" block naming a style for some tasks ('' if none).

    ``batch_size // 4`` tasks get a style (at least 1 when ``batch_size`` > 1), capped
    at the number of styles; styles are sampled without replacement and assigned to
    random task numbers.
    """
    wanted = batch_size // 4
    if batch_size > 1:
        wanted = max(1, wanted)
    wanted = min(wanted, len(styles), batch_size)
    if wanted <= 0:
        return ""
    chosen = rng.sample(styles, wanted)
    tasks = sorted(rng.sample(range(1, batch_size + 1), wanted))
    lines = [
        f"- task {task} should specify that the style be {style}"
        for task, style in zip(tasks, chosen, strict=True)
    ]
    return "\n".join(["Additional requirements:", *lines])


class WritingInstructor(SimpleTaskInstructor):
    """Writing tasks (see the module docstring)."""

    name = "writing"
    config_model = WritingConfig
    uses_topics = True
    prompt_file = "writing.txt"
    response_file = "writing_response.txt"

    def template_values(self, ctx: RoundContext) -> dict[str, Any]:
        config = self.config
        assert isinstance(config, WritingConfig)
        return {"style_extra": style_requirements(ctx.rng, config.styles, self.settings.batch_size)}
