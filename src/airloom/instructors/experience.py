"""``experience``: immersive guided journeys through imaginary places.

One round = ``batch_size`` independent calls; each invents a location and writes a
``SETTING:`` (the place, then the user's request to be guided through it) and an
``EXPERIENCE:`` (the guided narration, asked to be at least ``word_count`` words).
The setting is the instruction, the experience the response. To keep calls of one
round apart without relying on temperature alone, each prompt names a loose theme
drawn from ``themes``. Experiences shorter than ``min_word_ratio`` × ``word_count``
words are rejected (``failed_check``, see :mod:`airloom.checks.experience`).

Example:
    >>> parse_experience("SETTING:\\nA glass forest. Guide me.\\nEXPERIENCE:\\nYou step in.")
    ('A glass forest. Guide me.', 'You step in.')
"""

from __future__ import annotations

import math
import re

from airloom.checks import experience as _checks  # noqa: F401  (registers the check)
from airloom.formats.fences import strip_fence_lines
from airloom.instructors.base import Draft, Instructor, Rejected, RoundContext
from airloom.instructors.checked import enforce
from airloom.instructors.settings.experience import ExperienceConfig
from airloom.reasons import Reason

__all__ = ["ExperienceInstructor", "parse_experience"]

_LABEL = r"^[ \t#>*_]*{name}[ \t*_]*:[ \t*_]*"
_SETTING = re.compile(_LABEL.format(name="SETTING"), re.MULTILINE | re.IGNORECASE)
_EXPERIENCE = re.compile(_LABEL.format(name="EXPERIENCE"), re.MULTILINE | re.IGNORECASE)


def parse_experience(text: str) -> tuple[str, str]:
    """The setting (with its request) and the experience of a reply.

    Raises :class:`Rejected` (``unparseable``) when a label is missing or a part is
    empty; text before ``SETTING:`` is ignored, quotes around the setting removed.
    """
    text = strip_fence_lines(text.replace("\r\n", "\n").replace("\r", "\n"))
    setting = _SETTING.search(text)
    if setting is None:
        raise Rejected(Reason.UNPARSEABLE, "no SETTING: label")
    experience = _EXPERIENCE.search(text, setting.end())
    if experience is None:
        raise Rejected(Reason.UNPARSEABLE, "no EXPERIENCE: label after SETTING:")
    instruction = text[setting.end() : experience.start()].strip().strip('"“”').strip()
    response = text[experience.end() :].strip()
    if not instruction or not response:
        raise Rejected(
            Reason.UNPARSEABLE, "empty " + ("setting" if not instruction else "experience")
        )
    return instruction, response


class ExperienceInstructor(Instructor):
    """Guided experiences (see the module docstring)."""

    name = "experience"
    config_model = ExperienceConfig

    def _config(self) -> ExperienceConfig:
        config = self.config
        assert isinstance(config, ExperienceConfig)
        return config

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        settings = self.settings
        template = settings.template("experience.txt")
        themes = [
            ctx.rng.choice(config.themes) if config.themes else "any place you like"
            for _ in range(settings.batch_size)
        ]

        async def generate(indexed: tuple[int, str]) -> tuple[str, str]:
            index, theme = indexed
            prompt = template.render(
                theme=theme,
                word_count=config.word_count,
                language=settings.language,
                flesch=settings.flesch,
            )
            reply = await ctx.complete(
                prompt, key=f"experience:{index}", template=template, filtered=False
            )
            return parse_experience(reply)

        parsed = await ctx.map(generate, list(enumerate(themes)))
        novel = await ctx.novel([setting for setting, _ in parsed])
        minimum = math.ceil(config.word_count * config.min_word_ratio)
        drafts = []
        for (setting, experience), ok in zip(parsed, novel, strict=True):
            if not ok:
                continue
            draft = Draft(
                instruction=setting,
                response=experience,
                meta={"min_words": minimum} if minimum else {},
            )
            try:
                drafts.append(enforce(self.name, draft))
            except Rejected as exc:
                ctx.reject(exc.reason, exc.detail)
        return drafts
