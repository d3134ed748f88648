"""The typed result of executing a plan: the answer and what every step did.

Example:
    >>> step = StepTrace(id=0, tool="Search", role="search", status="ok", input="q",
    ...                  evidence="r", started_s=0.0, finished_s=0.25)
    >>> trace = Trace(answer="r", answer_kind="ref", steps=(step,))
    >>> trace.ok, trace.sum_of_step_s, trace.to_dict()["steps"][0]["duration_s"]
    (True, 0.25, 0.25)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["StepStatus", "StepTrace", "Trace"]

StepStatus = Literal["ok", "error", "skipped", "pruned", "cancelled", "pending"]


@dataclass(frozen=True, slots=True)
class StepTrace:
    """One step: what it was asked, what it returned, when, and how it ended.

    ``status``: ``ok``; ``error`` (the tool failed, see ``error``); ``skipped``
    (an upstream step failed); ``pruned`` (the answer does not need it);
    ``cancelled`` (the deadline hit while it waited or ran). ``cached`` means an
    identical call earlier in the run produced the evidence.
    """

    id: int
    tool: str
    role: str
    status: StepStatus
    plan: str = ""
    input: str | None = None
    evidence: str | None = None
    error: str | None = None
    started_s: float | None = None
    finished_s: float | None = None
    cached: bool = False
    depends_on: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        """The canonical label, e.g. ``:evidence0:``."""
        return f":evidence{self.id}:"

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish, when the step started."""
        if self.started_s is None or self.finished_s is None:
            return None
        return round(self.finished_s - self.started_s, 6)


@dataclass(frozen=True, slots=True)
class Trace:
    """The run: the answer (``None`` when it could not be produced) and every step."""

    answer: str | None
    answer_kind: str
    steps: tuple[StepTrace, ...]
    ungrounded: bool = False
    error: str | None = None
    warnings: tuple[str, ...] = ()
    wall_s: float = 0.0
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when an answer was produced."""
        return self.answer is not None and self.error is None

    @property
    def sum_of_step_s(self) -> float:
        """Sum of the durations of the calls made (the time a sequential run would take)."""
        return round(
            sum(s.duration_s or 0.0 for s in self.steps if s.status == "ok" and not s.cached), 6
        )

    def step(self, step_id: int) -> StepTrace:
        """The trace of one step by id; ``KeyError`` when absent.

        Example:
            >>> Trace(None, "missing", (StepTrace(3, "S", "search", "pruned"),)).step(3).status
            'pruned'
        """
        for item in self.steps:
            if item.id == step_id:
                return item
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the whole trace."""
        data = asdict(self)
        data["steps"] = [{**asdict(s), "duration_s": s.duration_s} for s in self.steps]
        data["ok"] = self.ok
        data["sum_of_step_s"] = self.sum_of_step_s
        return data
