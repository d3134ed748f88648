"""The per-row stopping criterion of a generated batch.

Example:
    >>> tracker = BatchTracker([], prompt_width=0, eos_ids=frozenset(), tokenizer=None)
    >>> tracker.lengths
    []
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airloom.backends.local.jobs import Job

if TYPE_CHECKING:
    import torch

__all__ = ["BatchTracker"]


class BatchTracker:
    """Stopping criterion with per-row state: end-of-turn tokens, max tokens, stop strings.

    transformers calls it after every step with the whole sequences; it answers, per row,
    whether that row is finished, and remembers how many tokens each row produced. Rows
    of streamed requests get their new text pushed to their sink at every step, so that
    streamed requests batch like the others.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        prompt_width: int,
        eos_ids: frozenset[int],
        tokenizer: Any,
    ) -> None:
        self.jobs = list(jobs)
        self.prompt_width = prompt_width
        self.eos_ids = eos_ids
        self.tokenizer = tokenizer
        self.lengths: list[int | None] = [None] * len(jobs)
        self.reasons: list[str] = ["length"] * len(jobs)
        self._tail = [max((len(s) for s in job.params.stop), default=0) + 8 for job in self.jobs]
        self._emitted = [0] * len(jobs)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **_: Any) -> torch.Tensor:
        import torch

        generated = input_ids.shape[1] - self.prompt_width
        last = input_ids[:, -1].tolist()
        for row, job in enumerate(self.jobs):
            if self.lengths[row] is not None:
                continue
            ended = last[row] in self.eos_ids
            if ended or (job.params.stop and self._hit_stop(input_ids, row, generated)):
                self.lengths[row], self.reasons[row] = generated, "stop"
            elif generated >= job.max_new_tokens:
                self.lengths[row], self.reasons[row] = generated, "length"
            elif job.cancelled():
                self.lengths[row], self.reasons[row] = generated, "cancelled"
                continue
            if job.sink is not None:
                self._push(input_ids, row, generated, final=self.lengths[row] is not None)
        done = [length is not None for length in self.lengths]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _push(self, input_ids: torch.Tensor, row: int, generated: int, *, final: bool) -> None:
        """Send a streamed row's new text (held back while it ends in half a character)."""
        sink = self.jobs[row].sink
        assert sink is not None
        tokens = input_ids[row, self.prompt_width : self.prompt_width + generated].tolist()
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        if text.endswith("\ufffd") and not final:
            return
        sink.push(text[self._emitted[row] :])
        self._emitted[row] = len(text)

    def _hit_stop(self, input_ids: torch.Tensor, row: int, generated: int) -> bool:
        count = min(generated, self._tail[row])
        tail = input_ids[row, input_ids.shape[1] - count :].tolist()
        text = self.tokenizer.decode(tail, skip_special_tokens=True)
        return any(stop in text for stop in self.jobs[row].params.stop)
