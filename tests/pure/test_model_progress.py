"""The model preparation display: each stage shown as it starts and when it ends."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from airloom.cli.model_cmd import load_with_progress


class PreparingBackend:
    """Reports the stages a first load of the embedded model goes through."""

    def __init__(self) -> None:
        self.progress = None

    async def load(self) -> str:
        for done in (*range(0, 491, 100), 491):
            self.progress("assembling", done * 2**20, 491 * 2**20)
        for tensor in range(292):
            self.progress("converting", tensor, 291)
        self.progress("saving", 0, 0)
        self.progress("loading", 0, 0)
        return "report"


def test_every_stage_is_shown_in_order_off_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    backend = PreparingBackend()
    assert asyncio.run(load_with_progress(backend, console)) == "report"  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    starts = [line for line in lines if line.endswith("…")]
    assert starts == [
        "model: starting the model runtime (torch, transformers)…",
        "model: assembling the model file from its packages (once)…",
        "model: converting the model to dense weights (once)…",
        "model: saving the converted model for fast starts (once)…",
        "model: loading the model…",
    ]
    assert len([line for line in lines if line.endswith(" s")]) == 5
    assert backend.progress is None


def test_on_a_terminal_the_bars_show_counts() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    asyncio.run(load_with_progress(PreparingBackend(), console))  # type: ignore[arg-type]
    text = out.getvalue()
    assert "491/491 MiB" in text
    assert "291/291 tensors" in text
