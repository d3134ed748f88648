"""OpenAI presence and frequency penalties, per row of a batch.

The OpenAI API defines them as ``logit -= presence * [count > 0] + frequency * count``
over the tokens generated so far (the prompt does not count). :func:`token_penalties`
is that formula (pure); :class:`PenaltyProcessor` applies it inside ``generate``.

Example:
    >>> token_penalties([7, 7, 3], presence=0.5, frequency=1.0)
    {7: 2.5, 3: 1.5}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from airloom.backends.local.jobs import Job

if TYPE_CHECKING:
    import torch

__all__ = ["PenaltyProcessor", "token_penalties"]


def token_penalties(tokens: Iterable[int], presence: float, frequency: float) -> dict[int, float]:
    """How much to subtract from each generated token's logit (tokens not seen: nothing).

    Example:
        >>> token_penalties([1, 2, 2], presence=0.0, frequency=0.5)
        {1: 0.5, 2: 1.0}
        >>> token_penalties([], presence=1.0, frequency=1.0)
        {}
    """
    if not presence and not frequency:
        return {}
    return {token: presence + frequency * count for token, count in Counter(tokens).items()}


class PenaltyProcessor:
    """A logits processor applying each row's own penalties to the tokens it generated."""

    def __init__(self, jobs: Sequence[Job], prompt_width: int) -> None:
        self.prompt_width = prompt_width
        self.presence = [job.params.presence_penalty for job in jobs]
        self.frequency = [job.params.frequency_penalty for job in jobs]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        generated = input_ids[:, self.prompt_width :].tolist()
        penalised = scores
        for row, tokens in enumerate(generated):
            amounts = token_penalties(tokens, self.presence[row], self.frequency[row])
            if not amounts:
                continue
            if penalised is scores:
                penalised = scores.clone()
            ids = torch.tensor(list(amounts), dtype=torch.long, device=scores.device)
            values = torch.tensor(list(amounts.values()), dtype=scores.dtype, device=scores.device)
            penalised[row, ids] -= values
        return penalised
