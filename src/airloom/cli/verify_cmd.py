"""``airloom verify``: run every code-checkable verifier over a store or a dataset file."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from airloom.cli.options import echo_unreadable, exit_if_unreadable

__all__ = ["verify"]

_FORMATS = ["jsonl", "sharegpt", "parquet", "hf", "text", "store"]


@click.command("verify")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write records here.")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None, help="Output format.")
@click.option("--template", default=None, help="Chat format for --format text.")
@click.option(
    "--keep-failed",
    is_flag=True,
    help="Keep failing records in OUT, flagged with 'verification' (default: drop them).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Per-record verdicts and reasons as JSON lines.",
)
@click.option("--category", "categories", multiple=True, help="Only these categories.")
@click.option("--no-code", is_flag=True, help="Do not run or syntax-check code.")
@click.option("--cpu", type=float, default=5.0, show_default=True, help="CPU seconds per program.")
@click.option("--wall", type=float, default=15.0, show_default=True, help="Wall seconds per run.")
@click.option("--memory-mb", type=int, default=1024, show_default=True, help="Memory per run.")
@click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    help="Run code even where the bubblewrap sandbox is unavailable (resource limits only: "
    "the code can read your files and use the network).",
)
@click.option("--workers", type=int, default=4, show_default=True, help="Records at once.")
@click.option("--recheck", is_flag=True, help="Ignore verdicts cached in a store.")
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar or table: the totals as one JSON line."
)
def verify(
    source: Path,
    out: Path | None,
    fmt: str | None,
    template: str | None,
    keep_failed: bool,
    report: Path | None,
    categories: tuple[str, ...],
    no_code: bool,
    cpu: float,
    wall: float,
    memory_mb: int,
    unsafe_no_sandbox: bool,
    workers: int,
    recheck: bool,
    quiet: bool,
) -> None:
    """Verify every record of SOURCE (a store or a JSONL/ShareGPT/parquet/HF dataset).

    Coding records have their Python run in a sandbox (bubblewrap) and other
    languages syntax-checked there; every category runs the checks registered for it.
    Without the sandbox, code is not run and such records are marked unverified.
    """
    from rich.progress import Progress

    from airloom.curate.sandbox import Limits, isolation_layers, sandbox_problem
    from airloom.curate.verify_job import VerifyOptions, verify_source

    console = Console(stderr=True)
    options = VerifyOptions(
        out=out,
        fmt=fmt,
        report=report,
        keep_failed=keep_failed,
        categories=categories,
        code=not no_code,
        limits=Limits(
            cpu_seconds=cpu,
            wall_seconds=wall,
            memory_bytes=memory_mb << 20,
            unsafe_no_sandbox=unsafe_no_sandbox,
        ),
        workers=workers,
        recheck=recheck,
        template=template,
    )
    if not no_code:
        problem = sandbox_problem(options.limits)
        if problem is not None:
            console.print(f"[red]code is not run[/red]: {problem}; coding records are unverified")
        elif unsafe_no_sandbox:
            console.print("[red]unsafe[/red]: code runs without the sandbox (resource limits only)")
        else:
            console.print(f"sandbox: {', '.join(isolation_layers(options.limits))}")
    with Progress(console=console, transient=True, disable=quiet) as bar:
        task = bar.add_task("verifying", total=None)
        summary = verify_source(
            source,
            options,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    totals = summary.totals()
    statuses = ("pass", "fail", "skip", "error", "unverified")
    if quiet:  # for scripts: one JSON line, no table
        echo_unreadable(str(source), summary.problems, summary.unreadable)
        click.echo(
            json.dumps(
                {
                    **{s: totals.get(s, 0) for s in statuses},
                    "cached": summary.cached,
                    "written": summary.written if out else None,
                    "unreadable_rows": summary.unreadable,
                }
            )
        )
        exit_if_unreadable(summary.unreadable)
        return
    table = Table(title="verification")
    for column in ("category", *statuses):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category, counts in sorted(summary.counts.items()):
        table.add_row(category, *(str(counts.get(s, 0)) for s in statuses))
    if len(summary.counts) > 1:
        table.add_section()
        table.add_row("total", *(str(totals.get(s, 0)) for s in statuses))
    console.print(table)
    echo_unreadable(str(source), summary.problems, summary.unreadable)
    notes = [f"{summary.cached} verdicts from the cache"]
    if out:
        notes.append(f"{summary.written} records written to {out}")
    console.print("; ".join(notes))
    exit_if_unreadable(summary.unreadable)
