"""``editor``: fix a flawed text — the flaws are written into ``writing`` answers.

Runs after ``writing`` (``depends_on``) and reads its stored records. Round ``k``
takes the writing records at positions ``k·batch_size … (k+1)·batch_size − 1`` (in
acceptance order; the last, partial slice is used too — the original dropped it)
and, for each, asks the teacher to rewrite the text with 1–3 randomly chosen kinds
of error. The record is ``{instruction: <fixed request> + blank line + "Text: " +
flawed text, response: the original text}``; a "flawed" text identical to the
original is rejected (``failed_check``, :mod:`airloom.checks.editor`). Each record
keeps its source's id in ``meta.source_id``; sources already used by stored editor
records are skipped, so a resumed or extended run never edits a text twice. When the
sources run out the instructor ends ``exhausted`` (:class:`SourceExhausted`).

Example:
    >>> import random
    >>> choose_issues(random.Random(0), ["typos", "run-on sentences"], 1, 3)
    ['run-on sentences', 'typos']
"""

from __future__ import annotations

import random
import re

from airloom.checks import editor as _checks  # noqa: F401  (registers the check)
from airloom.checks.editor import TEXT_LABEL
from airloom.formats.records import Record
from airloom.instructors.base import Draft, Instructor, Rejected, RoundContext, round_slice
from airloom.instructors.checked import enforce
from airloom.instructors.settings.editor import EditorConfig
from airloom.reasons import Reason

__all__ = [
    "SOURCE_CATEGORY",
    "EditorInstructor",
    "choose_issues",
    "clean_flawed",
    "editor_instruction",
]

SOURCE_CATEGORY = "writing"

_PREAMBLE = re.compile(
    r"^(?:sure|certainly|okay|ok|of course|here(?:'s| is| are))\b[^\n]*\n+", re.IGNORECASE
)
_LABEL = re.compile(r"^(?:rewritten\s+)?text\s*:\s*", re.IGNORECASE)


def choose_issues(rng: random.Random, issues: list[str], low: int, high: int) -> list[str]:
    """Between ``low`` and ``high`` distinct kinds of error (capped at the list size)."""
    count = rng.randint(min(low, len(issues)), min(high, len(issues)))
    return rng.sample(issues, count)


def clean_flawed(text: str) -> str:
    """The teacher's rewrite without a "Sure, here is…" line or a ``Text:`` label.

    Example:
        >>> clean_flawed("Sure! Here is the text:\\n\\nText: Teh cat sat.")
        'Teh cat sat.'
    """
    text = _PREAMBLE.sub("", text.strip(), count=1).strip()
    return _LABEL.sub("", text, count=1).strip()


def editor_instruction(request: str, flawed: str) -> str:
    """The instruction of an editor record.

    Example:
        >>> editor_instruction("Fix it.", "Teh cat.")
        'Fix it.\\n\\nText: Teh cat.'
    """
    return f"{request.strip()}\n\n{TEXT_LABEL}{flawed}"


class EditorInstructor(Instructor):
    """Corrections of flawed writing (see the module docstring)."""

    name = "editor"
    config_model = EditorConfig
    depends_on = (SOURCE_CATEGORY,)

    def _config(self) -> EditorConfig:
        config = self.config
        assert isinstance(config, EditorConfig)
        return config

    async def _sources(self, ctx: RoundContext) -> list[Record]:
        """This round's slice of the writing records, minus those already edited."""
        records = await ctx.source_records([SOURCE_CATEGORY])
        share = round_slice(records, ctx.round_index, self.settings.batch_size, "writing records")
        done = await ctx.source_records([self.name])
        used = {str(r.meta.get("source_id")) for r in done}
        return [r for r in share if r.id not in used and r.response.strip()]

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        template = self.settings.template("editor.txt")
        sources = await self._sources(ctx)
        low, high = config.min_issues, config.max_issues
        jobs = [
            (index, source, choose_issues(ctx.rng, config.issues, low, high))
            for index, source in enumerate(sources)
        ]

        async def corrupt(job: tuple[int, Record, list[str]]) -> Draft:
            index, source, issues = job
            original = source.response.strip()
            prompt = template.render(
                issues="\n".join(f"- {issue}" for issue in issues), text=original
            )
            reply = await ctx.complete(prompt, key=f"corrupt:{index}", template=template)
            flawed = clean_flawed(reply)
            if not flawed:
                raise Rejected(Reason.EMPTY, "the rewrite is empty")
            draft = Draft(
                instruction=editor_instruction(config.request, flawed),
                response=original,
                meta={"source_id": source.id, "issues": issues},
            )
            return enforce(self.name, draft)

        return await ctx.map(corrupt, jobs)
