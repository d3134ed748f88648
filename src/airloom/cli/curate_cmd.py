"""``airloom judge`` and ``airloom cull``: the LLM judge and near-duplicate culling."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from airloom.cli.options import config_options, load

__all__ = ["F", "cull", "judge"]

F = TypeVar("F", bound=Callable[..., Any])

_STORE = click.argument(
    "store_path", required=False, type=click.Path(dir_okay=False, path_type=Path)
)


def _common(func: F) -> F:
    func = click.option("--quiet", "-q", is_flag=True, help="No live display.")(func)
    func = click.option(
        "--retry-errors", is_flag=True, help="Judge again records whose verdict was an error."
    )(func)
    func = click.option(
        "--category", "categories", multiple=True, help="Only these categories (repeatable)."
    )(func)
    func = click.option(
        "--endpoint", default=None, help="A named endpoint of the config as the judge."
    )(func)
    return config_options(_STORE(func))


def _session(
    config_path: Path | None,
    overrides: tuple[str, ...],
    store_path: Path | None,
    endpoint: str | None,
) -> Any:
    from airloom.curate.session import CurationSession

    config, base_dir = load(config_path, overrides)
    if store_path is None:
        store_path = config.resolved_store_path(base_dir)
    return CurationSession(config, store_path, base_dir=base_dir, endpoint=endpoint)


def _run(coro: Any, session: Any, quiet: bool) -> Any:
    from airloom.cli.interrupt import run_interruptible
    from airloom.cli.progress import print_summary, run_with_display
    from airloom.errors import Interrupted

    console = Console(stderr=True)

    def stop() -> bool:
        scheduler = getattr(session, "scheduler", None)
        if scheduler is not None:
            scheduler.limiter.pause()  # the calls in flight finish (and are kept)
        return False

    try:
        return asyncio.run(
            run_interruptible(
                run_with_display(coro, session.stats, console, quiet=quiet),
                console=console,
                grace=session.config.concurrency.stop_grace,
                in_flight=lambda: session.stats.spending.in_flight,
                on_stop=stop,
            )
        )
    except Interrupted:
        session.stats.mark_interrupted()
        raise
    finally:
        print_summary(session.stats, console, kind=session.kind)


@click.command("judge")
@_common
def judge(
    config_path: Path | None,
    overrides: tuple[str, ...],
    store_path: Path | None,
    endpoint: str | None,
    categories: tuple[str, ...],
    retry_errors: bool,
    quiet: bool,
) -> None:
    """Judge every record of STORE with the LLM judge (verdicts are cached per record).

    In the table, 'accepted' counts records with a verdict; rejects are BAD verdicts,
    errors (replies that are neither GOOD, BAD nor a JSON score) and failed calls.
    """
    from airloom.curate.jobs import judge_store

    session = _session(config_path, overrides, store_path, endpoint)
    outcome = _run(
        judge_store(session, categories=categories or None, retry_errors=retry_errors),
        session,
        quiet,
    )
    good = sum(v.status == "good" for v in outcome.verdicts.values())
    bad = sum(v.status == "bad" for v in outcome.verdicts.values())
    errors = sum(v.status == "error" for v in outcome.verdicts.values())
    click.echo(
        json.dumps(
            {
                "good": good,
                "bad": bad,
                "errors": errors,
                "judged_now": outcome.judged,
                "from_cache": outcome.cached,
                "failed_calls": outcome.failed_calls,
                "stopped": outcome.stopped or None,
            }
        )
    )


@click.command("cull")
@_common
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Where survivors go.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "sharegpt", "parquet", "hf", "text", "store"]),
    default=None,
    help="Output format (default: from the file name; jsonl otherwise).",
)
@click.option("--template", default=None, help="Chat format for --format text.")
@click.option(
    "--decisions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Per-record decisions (default: OUT.decisions.jsonl).",
)
@click.option(
    "--pass-through", multiple=True, help="Categories kept without judging (still deduplicated)."
)
@click.option(
    "--threshold",
    type=click.FloatRange(-1.0, 1.0),
    default=None,
    help="Cosine at or above which records are near-duplicates (default: per category).",
)
@click.option(
    "--scope",
    type=click.Choice(["category", "global"]),
    default="category",
    show_default=True,
    help="Compare records within their category or across all.",
)
def cull(
    config_path: Path | None,
    overrides: tuple[str, ...],
    store_path: Path | None,
    endpoint: str | None,
    categories: tuple[str, ...],
    retry_errors: bool,
    quiet: bool,
    out: Path,
    fmt: str | None,
    template: str | None,
    decisions: Path | None,
    pass_through: tuple[str, ...],
    threshold: float | None,
    scope: str,
) -> None:
    """Judge STORE, keep the best-judged record of each near-duplicate cluster, write OUT.

    Survivors are written in input order; every record's decision and reason goes to
    the decisions file.
    """
    from airloom.curate.jobs import CullOptions, cull_store

    session = _session(config_path, overrides, store_path, endpoint)
    options = CullOptions(
        out=out,
        fmt=fmt,
        decisions=decisions,
        categories=categories,
        pass_through=pass_through,
        threshold=threshold,
        scope=scope,
        retry_errors=retry_errors,
        template=template,
    )
    result = _run(cull_store(session, options), session, quiet)
    click.echo(json.dumps({"written": result.written, "out": str(out), **result.summary}))
