"""The inline question/answer shape with the clean-up and checks group-a categories share.

:class:`CheckedInlineQAInstructor` is :class:`InlineQAInstructor` plus two things:
code-fence lines a teacher wraps its list in are trimmed from the edges of every
question and answer (a fenced reply otherwise leaves a stray fence in the last
answer), and each pair goes through the category's registered record checks
(:mod:`airloom.checks`), failing pairs being rejected with ``failed_check``.

Example:
    >>> trim_edge_fences("A1\\n```")
    'A1'
    >>> trim_edge_fences("```yaml\\nkey: value\\n```")
    'key: value'
"""

from __future__ import annotations

from airloom.formats.fences import trim_edge_fences
from airloom.instructors.base import Draft, Rejected
from airloom.instructors.checked import enforce
from airloom.instructors.engines import InlineQAInstructor
from airloom.reasons import Reason

__all__ = ["CheckedInlineQAInstructor"]


class CheckedInlineQAInstructor(InlineQAInstructor):
    """Inline Q/A pairs, fence-trimmed and checked (see the module docstring)."""

    def checks_enabled(self) -> bool:
        """Whether registered checks run (a config knob may turn them off)."""
        return True

    def make_pair(self, question: str, answer: str) -> Draft:
        """The record of one cleaned pair (override to add a system prompt, a unit…)."""
        return Draft(instruction=question, response=answer)

    def check_pair(self, question: str, answer: str) -> Draft:
        question, answer = trim_edge_fences(question), trim_edge_fences(answer)
        if not question or not answer:
            raise Rejected(
                Reason.UNPARSEABLE, "empty " + ("question" if not question else "answer")
            )
        draft = self.make_pair(question, answer)
        return enforce(self.name, draft) if self.checks_enabled() else draft
