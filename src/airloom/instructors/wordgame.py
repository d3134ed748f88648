"""``wordgame``: word-constraint prompts, answered and checked by code where possible.

One round = one call writing ``batch_size`` prompts (``TSK n.`` list) + one answer call
per novel prompt (the prompt is sent as is). The original kept every answer although
the teacher often breaks the constraints; here each answer is checked against the
rules its prompt states (word counts, "words that start with 'qu'", "contain 'ing'",
"exactly 5 letters", "without the letter 'e'", alphabet order — see
:mod:`airloom.checks.wordgame`) and rejected (``failed_check``) when it breaks one.

Example:
    >>> WordgameInstructor.prompt_file, WordgameInstructor.response_file
    ('wordgame.txt', None)
"""

from __future__ import annotations

from airloom.checks import wordgame as _checks  # noqa: F401  (registers the check)
from airloom.instructors.base import Draft
from airloom.instructors.checked import enforce
from airloom.instructors.engines import SimpleTaskInstructor
from airloom.instructors.settings.wordgame import WordgameConfig

__all__ = ["WordgameInstructor"]


class WordgameInstructor(SimpleTaskInstructor):
    """Word games (see the module docstring)."""

    name = "wordgame"
    config_model = WordgameConfig
    prompt_file = "wordgame.txt"

    def make_draft(self, task: str, response: str, topic: str | None) -> Draft:
        draft = Draft(instruction=task, response=response.strip(), topic=topic)
        config = self.config
        assert isinstance(config, WordgameConfig)
        return enforce(self.name, draft) if config.check_answers else draft
