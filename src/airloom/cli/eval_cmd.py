"""``airloom eval``: run a skill suite against a model and score it by program checks.

Example:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(eval_command, ["--help"])
    >>> result.exit_code, "--compare" in result.output
    (0, True)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from airloom.cli.backend_options import BackendChoice, backend_options
from airloom.errors import ConfigError
from airloom.evaluate.cases import KINDS, Suite, load_suite
from airloom.evaluate.runner import CaseResult, EvalRun, RunSettings

__all__ = ["eval_command"]


def _template(backend: BackendChoice, model: str, name: str | None) -> Any:
    from airloom.cli.format_cmd import resolve_template
    from airloom.formats.chat import template_for_model

    chosen = name or backend.adapter_template() or template_for_model(model)
    return resolve_template(chosen) if chosen else None


def _progress(total: int, label: str, log: Path | None) -> Any:
    """Print one line per scored case; with ``log``, also append it there as JSON (so an
    interrupted run keeps what it scored)."""
    done = [0]

    def show(result: CaseResult) -> None:
        done[0] += 1
        if log is not None:
            with log.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps({"run": label, **result.to_dict()}, ensure_ascii=False))
                sink.write("\n")
        verdict = (
            click.style("pass", fg="green") if result.passed else click.style("fail", fg="red")
        )
        click.echo(
            f"[{label} {done[0]}/{total}] {result.id:<14} {verdict}  {result.seconds:5.1f}s  "
            f"{result.reason[:70]}",
            err=True,
        )

    return show


async def _evaluate(
    suite: Suite,
    backend: BackendChoice,
    label: str,
    template: str | None,
    settings: RunSettings,
    log: Path | None,
) -> EvalRun:
    from airloom.evaluate.runner import run_suite
    from airloom.runtime.tools.search import LocalCorpus
    from airloom.runtime.tools.standard import close_registry, make_registry

    teacher, model = backend.build()
    settings = dataclasses.replace(settings, template=_template(backend, model, template))
    corpus = suite.corpus
    registry = (
        make_registry(LocalCorpus(corpus), teacher, model, corpus) if corpus is not None else None
    )
    click.echo(
        f"evaluating {len(suite.cases)} cases of suite {suite.name} on {label} ({model})",
        err=True,
    )
    try:
        return await run_suite(
            suite,
            teacher,
            model,
            registry=registry,
            settings=settings,
            label=label,
            on_result=_progress(len(suite.cases), label, log),
        )
    finally:
        await teacher.aclose()
        if registry is not None:
            await close_registry(registry)


def _print_table(runs: list[EvalRun]) -> None:
    from rich.console import Console
    from rich.table import Table

    from airloom.evaluate.report import score_rows

    table = Table(title=f"airloom eval: {runs[0].suite}")
    table.add_column("kind")
    for run in runs:
        table.add_column(f"{run.label}\npassed  score", justify="right")
    if len(runs) == 2:
        table.add_column("change", justify="right")
    for row in score_rows(runs):
        table.add_row(*row)
    Console().print(table)
    for run in runs:
        click.echo(f"{run.label}: {len(run.results)} cases in {run.wall_s:.1f}s")


def _label(backend: BackendChoice) -> str:
    if backend.adapter is not None:
        return f"adapter:{backend.adapter.name}"
    return backend.model or "base"


@click.command("eval")
@backend_options
@click.option(
    "--suite",
    default="core",
    show_default=True,
    help="A bundled suite name or a JSONL file of cases.",
)
@click.option(
    "--split",
    type=click.Choice(["dev", "heldout", "all"]),
    default="all",
    show_default=True,
    help="Which part of the suite to run (tune on dev, measure on heldout).",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Only these kinds (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most N cases per kind.")
@click.option(
    "--compare",
    "compare",
    type=click.Path(exists=True, path_type=Path),
    help="Compare with a previous run's results.json, or with this adapter folder "
    "(the suite is run a second time with it; its results go to results-adapter.json).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for results.json, cases.jsonl (each case as it is scored) and, with "
    "--compare, compare.html/png.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--label", help="Name of this run in tables and plots (default: model or adapter).")
@click.option("--template", help="Prompt template (default: the adapter's or the model's).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Reply budget for every case.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Cases in flight at once (useful with an endpoint).",
)
def eval_command(
    backend: BackendChoice,
    suite: str,
    split: str,
    kinds: tuple[str, ...],
    limit: int | None,
    compare: Path | None,
    out: Path | None,
    as_json: bool,
    label: str | None,
    template: str | None,
    max_tokens: int | None,
    concurrency: int,
) -> None:
    """Run a suite of airoboros-format skill cases and score them by program checks."""
    from airloom.evaluate.report import load_results, to_json, write_compare_page

    chosen = load_suite(suite).select(split, kinds, limit)
    if not chosen.cases:
        raise ConfigError(
            f"no cases of suite {suite} match split={split} kinds={','.join(kinds) or 'all'}",
            hint="widen --split or --kind",
        )
    settings = RunSettings(max_tokens=max_tokens, concurrency=concurrency)
    other = None
    if compare is not None and compare.is_dir():
        other = dataclasses.replace(backend, adapter=compare)
        other.config()  # a bad adapter folder fails now, not after the first run
    log = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        log = out / "cases.jsonl"
        log.write_text("", encoding="utf-8")
    runs: list[EvalRun] = []
    if compare is not None and compare.is_file():
        before = load_results(compare)
        if {r.id for r in before.results} != {case.id for case in chosen.cases}:
            click.secho(
                f"warning: {compare} holds other cases than this run; scores may not compare",
                fg="yellow",
                err=True,
            )
        runs.append(before)
    run = asyncio.run(_evaluate(chosen, backend, label or _label(backend), template, settings, log))
    runs.append(run)
    if other is not None:
        runs.append(asyncio.run(_evaluate(chosen, other, _label(other), template, settings, log)))
    meta = {"split": split, "kinds": list(kinds), "limit": limit}
    if out is not None:
        written = [("results.json", run)] + ([("results-adapter.json", runs[-1])] if other else [])
        for name, item in written:
            data = to_json(item, meta)
            (out / name).write_text(json.dumps(data, indent=2, ensure_ascii=False), "utf-8")
        if len(runs) > 1:
            page = write_compare_page(runs, out)
            click.echo(f"comparison: {page}", err=True)
    if as_json:
        payload: Any = (
            [to_json(item, meta) for item in runs] if len(runs) > 1 else to_json(run, meta)
        )
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print_table(runs)
