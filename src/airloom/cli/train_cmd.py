"""``airloom train`` (full, LoRA, QLoRA SFT; ``--experts DIR`` for LMoE adapters),
``airloom train merge`` and ``airloom experts split``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from airloom.cli.options import config_options

if TYPE_CHECKING:
    from airloom.train.config import TrainConfig
    from airloom.train.trainer import TrainProgress, TrainResult, TrainWarning

__all__ = ["experts", "merge_command", "run_training", "split_command", "train_command"]


class _Display:
    """A progress bar with loss and tokens/s, and status lines, on the main process only.

    Where the console is not a terminal (a log file, ``| tee``) the bar cannot show, so a
    plain line says the step, loss and tokens/s at the first step, then at most every
    ``every`` seconds, and once for the last step (with its final loss) when training stops.
    """

    def __init__(self, console: Console, *, enabled: bool, every: float = 30.0) -> None:
        self.console = console
        self.enabled = enabled
        self.every = every
        self.said_at: float | None = None
        self.last_line: str | None = None
        self.progress = Progress(
            TextColumn("[bold]train[/bold]"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task: TaskID | None = None

    def __call__(self, event: str | TrainProgress | TrainWarning) -> None:
        if not self.enabled:
            return
        if isinstance(event, str):
            self.console.print(f"[dim]· {event}[/dim]")
            return
        from airloom.train.trainer import TrainWarning  # loaded by now: it sent the event

        if isinstance(event, TrainWarning):
            self.console.print(f"[yellow]warning:[/yellow] {event.message}", highlight=False)
            return
        info = f"loss {event.loss:.4f}" if event.loss is not None else "loss -"
        if event.eval_loss is not None:
            info += f"  eval {event.eval_loss:.4f}"
        info += f"  {event.tokens_per_second:,.0f} tok/s"
        if not self.console.is_terminal:
            line = f"train: step {event.step}/{event.max_steps}  {info}"
            if event.step and event.step == event.max_steps:
                self.last_line = line  # the last step reports more than once: its final loss
                return
            now = time.monotonic()
            if event.step and (self.said_at is None or now - self.said_at >= self.every):
                self.said_at = now
                self.console.print(line)
            return
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("train", total=event.max_steps, info=info)
        self.progress.update(self.task, completed=event.step, total=event.max_steps, info=info)

    def stop(self) -> None:
        if self.last_line is not None:
            self.console.print(self.last_line)
            self.last_line = None
        if self.task is not None:
            self.progress.stop()
            self.task = None


def _summary(console: Console, result: TrainResult) -> None:
    data = result.data
    table = Table(title=f"airloom train: {Path(result.output_dir).name}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("records read", str(data.records_read))
    table.add_row(
        "records used", f"{data.used} ({data.train_examples} train, {data.eval_examples} eval)"
    )
    for reason, count in data.skipped.most_common():
        table.add_row(f"skipped: {reason}", str(count))
    if data.truncated:
        table.add_row("truncated to max_length", str(data.truncated))
    if data.problems:
        table.add_row("unreadable rows", str(len(data.problems)))
    table.add_row("assistant tokens per epoch", f"{result.trained_tokens:,}")
    table.add_row("tokens seen", f"{result.tokens_seen:,}")
    table.add_row(
        "steps",
        str(result.steps)
        + (f" (resumed from {result.resumed_from})" if result.resumed_from else ""),
    )
    table.add_row(
        "final train loss", "-" if result.train_loss is None else f"{result.train_loss:.4f}"
    )
    table.add_row("final eval loss", "-" if result.eval_loss is None else f"{result.eval_loss:.4f}")
    table.add_row("time", f"{result.seconds:.1f} s")
    console.print(table)
    console.print(f"model, card and loss curve in {result.output_dir}")


def run_training(config: TrainConfig, console: Console) -> TrainResult:
    """Train one config with the progress display; Ctrl-C says how to resume."""
    from airloom.train.trainer import is_main_process, last_checkpoint, train

    display = _Display(console, enabled=is_main_process())
    try:
        result = train(config, display)
    except KeyboardInterrupt:
        display.stop()
        checkpoint = last_checkpoint(Path(config.output_dir))
        where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint yet)"
        console.print(f"interrupted; run the same command again to resume {where}")
        sys.exit(130)
    finally:
        display.stop()
    if is_main_process():
        _summary(console, result)
    return result


@click.group("train", invoke_without_command=True)
@config_options
@click.option(
    "--data",
    "data",
    multiple=True,
    help="Training data (store, JSONL, ShareGPT, HF folder); replaces the config's 'data'.",
)
@click.option(
    "--experts",
    "experts_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Train one adapter per expert of an `airloom experts split` folder.",
)
@click.pass_context
def train_command(
    ctx: click.Context,
    config_path: Path | None,
    overrides: tuple[str, ...],
    data: tuple[str, ...],
    experts_dir: Path | None,
) -> None:
    """Fine-tune a model (full, LoRA, QLoRA) on airloom data in an airoboros prompt format.

    Runs as it is under torchrun / accelerate launch for multi-GPU and multi-node training.
    """
    if ctx.invoked_subcommand is not None:
        return
    from airloom.train.config import load_train_config

    console = Console(stderr=True)
    if data:
        paths = [str(Path(item).resolve()) for item in data]
        overrides = (*overrides, f"data={json.dumps(paths)}")
    if experts_dir is None:
        config = load_train_config(config_path, overrides)
        run_training(config, console)
        return
    from airloom.train.experts import expert_names

    names = expert_names(experts_dir)
    folder = experts_dir.resolve()
    for name in names:
        expert_overrides = (
            *overrides,
            f"data={json.dumps([str(folder / 'training_data' / f'expert_{name}.jsonl')])}",
            f"output_dir={json.dumps(str(folder / 'adapters' / name))}",
        )
        config = load_train_config(config_path, expert_overrides)
        console.print(f"[bold]expert {name}[/bold]")
        run_training(config, console)


@train_command.command("merge")
@click.argument("adapter", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="New model folder.")
@click.option("--base", default=None, help="Base model folder (default: the one trained on).")
def merge_command(adapter: Path, out: Path, base: str | None) -> None:
    """Fold a trained adapter into full weights (an HF model folder)."""
    from airloom.train.merge import merge_adapter

    console = Console(stderr=True)
    console.print(f"[dim]· merging {adapter} into its base[/dim]")
    merge_adapter(adapter, out, base=base)
    click.echo(f"merged model written to {out}")


@click.group("experts")
def experts() -> None:
    """LMoE experts: split a dataset into per-expert training and routing data."""


@experts.command("split")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the LMoE layout.",
)
@click.option(
    "--expert",
    "expert_specs",
    multiple=True,
    metavar="NAME=CAT,CAT",
    help="An expert and its categories (repeatable; default: the original six experts).",
)
@click.option(
    "--default-expert",
    default="general",
    show_default=True,
    help="Expert of categories no expert lists.",
)
@click.option(
    "--cross-fraction",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of each other category sampled into an expert's training data.",
)
@click.option(
    "--max-cross",
    type=int,
    default=500,
    show_default=True,
    help="At most this many records of each other category.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
def split_command(
    sources: tuple[str, ...],
    out: Path,
    expert_specs: tuple[str, ...],
    default_expert: str,
    cross_fraction: float,
    max_cross: int,
    seed: int,
) -> None:
    """Write adapters/<expert>/, routing_data/expert_<expert>.jsonl and training data."""
    from airloom.errors import ConfigError
    from airloom.train.experts import split_experts

    experts_map: dict[str, list[str]] | None = None
    if expert_specs:
        experts_map = {}
        for spec in expert_specs:
            name, sep, categories = spec.partition("=")
            if not sep or not name.strip() or not categories.strip():
                raise ConfigError(
                    f"--expert {spec!r} is not NAME=CAT,CAT", hint="e.g. --expert code=coding"
                )
            experts_map[name.strip()] = [c.strip() for c in categories.split(",") if c.strip()]
    split = split_experts(
        list(sources),
        out,
        experts=experts_map,
        default_expert=default_expert,
        cross_fraction=cross_fraction,
        max_cross=max_cross,
        seed=seed,
    )
    table = Table(title=f"experts in {out}")
    for column in ("expert", "training records", "routing rows", "categories"):
        table.add_column(column)
    for name, counts in split.counts.items():
        shown = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
        table.add_row(name, str(split.total(name)), str(split.routing[name]), shown)
    Console().print(table)
