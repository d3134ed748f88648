"""What a finished training run did: the summary the trainer returns, the card describes
and ``training_summary.json`` keeps.

Example:
    >>> from airloom.train.data import DataSummary
    >>> result = TrainResult("out", "lora", "chatml", "embedded", 3, None, 1.5, None, 2.0,
    ...                      100, 80, DataSummary())
    >>> result.to_json()["steps"], result.to_json()["data"]["skipped"]
    (3, {})
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from airloom.train.data import DataSummary

__all__ = ["TrainResult"]


@dataclass
class TrainResult:
    """What a finished run did (also written as ``training_summary.json``)."""

    output_dir: str
    method: str
    template: str
    base_model: str
    steps: int
    resumed_from: str | None
    train_loss: float | None
    eval_loss: float | None
    seconds: float
    tokens_seen: int
    trained_tokens: int
    data: DataSummary
    world_size: int = 1
    log_history: list[dict[str, Any]] = field(default_factory=list)
    model: Any = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (counters as plain dicts; the in-memory model left out)."""
        model, self.model = self.model, None
        try:
            out = asdict(self)
        finally:
            self.model = model
        out["data"]["skipped"] = dict(self.data.skipped)
        out["data"]["categories"] = dict(self.data.categories)
        return out
