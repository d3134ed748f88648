"""``airloom plan``: get a reWOO plan from a model (or a file), check it, run it, show the trace.

Example:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(plan, ["--help"])
    >>> result.exit_code, "--validate-only" in result.output
    (0, True)
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from airloom.backends.base import Backend
from airloom.cli.backend_options import BackendChoice, backend_options
from airloom.cli.interrupt import run_command
from airloom.cli.model_cmd import ready
from airloom.cli.options import echo_problems, read_text_file
from airloom.cli.progress import progress_line
from airloom.errors import BudgetExceeded, ConfigError, PlanError
from airloom.runtime.budget import Budget
from airloom.runtime.rewoo.execute import ExecOptions, execute_plan
from airloom.runtime.rewoo.runner import check_plan, request_plan
from airloom.runtime.rewoo.trace import Trace
from airloom.runtime.rewoo.validate import PlanLimits, ValidPlan
from airloom.runtime.tools.registry import DEFAULT_ALIASES, ToolRegistry
from airloom.runtime.tools.search import (
    DdgsEngine,
    LocalCorpus,
    SearchEngine,
    SearxngEngine,
)
from airloom.runtime.tools.standard import close_registry, make_registry

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["make_search_engine", "plan", "show_trace"]


@dataclass(frozen=True)
class _Sources:
    corpus: Path | None
    searxng: str | None
    ddg: bool


def make_search_engine(sources: _Sources) -> SearchEngine:
    """The one search engine chosen on the command line.

    Example:
        >>> make_search_engine(_Sources(None, "http://127.0.0.1:8888", False)).name
        'searxng'
    """
    chosen = [s for s in (sources.corpus, sources.searxng, sources.ddg or None) if s]
    if len(chosen) != 1:
        raise ConfigError(
            "choose exactly one search source",
            hint="pass --corpus DIR (offline), --searxng URL or --ddg",
        )
    if sources.corpus is not None:
        return LocalCorpus(sources.corpus)
    if sources.searxng:
        return SearxngEngine(sources.searxng)
    return DdgsEngine()


def _print_problems(error: PlanError) -> None:
    click.secho(f"error: {error.message.split(':')[0]}", fg="red", err=True)
    echo_problems(error.problems)


def _show_plan(text: str) -> None:
    from rich.console import Console
    from rich.panel import Panel

    Console(stderr=True).print(Panel(text.strip(), title="plan", expand=False))


def _clip(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def show_trace(trace: Trace) -> None:
    """Print the steps as a table, then the answer (or why there is none).

    Example:
        >>> show_trace(Trace(answer="Paris", answer_kind="literal", steps=(), ungrounded=True))
        ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
        execution trace ... Answer: Paris (ungrounded: the answer cites no evidence)
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(title="execution trace")
    for column in ("step", "tool", "status", "start s", "time s", "input", "evidence / error"):
        table.add_column(column, overflow="fold")
    for step in trace.steps:
        table.add_row(
            step.label,
            step.tool,
            step.status + (" (cached)" if step.cached else ""),
            "" if step.started_s is None else f"{step.started_s:.2f}",
            "" if step.duration_s is None else f"{step.duration_s:.2f}",
            _clip(step.input, 40),
            _clip(step.error if step.error else step.evidence, 60),
        )
    console = Console()
    console.print(table)
    usage = ", ".join(f"{key}={value}" for key, value in trace.usage.items())
    console.print(f"wall {trace.wall_s:.2f}s, sum of steps {trace.sum_of_step_s:.2f}s; {usage}")
    for warning in trace.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if trace.ok:
        note = (
            " [yellow](ungrounded: the answer cites no evidence)[/yellow]"
            if trace.ungrounded
            else ""
        )
        console.print(f"[bold]Answer:[/bold] {trace.answer}{note}")
    else:
        console.print(f"[red]No answer:[/red] {trace.error}")


async def _run(
    question: str,
    plan_file: Path | None,
    backend: Backend | None,
    model: str,
    registry: ToolRegistry,
    budget: Budget,
    limits: PlanLimits,
    options: ExecOptions,
    quiet: bool,
    params: Mapping[str, Any] | None = None,
) -> tuple[str, ValidPlan, Trace | None]:
    from rich.console import Console

    console = Console(stderr=True)
    if plan_file is not None:
        text = read_text_file(plan_file)
        offered = None
    else:
        assert backend is not None
        await ready(backend, console)
        budget.restart_clock()  # the deadline covers writing the plan and running it
        text = await _write_plan(console, backend, model, question, registry, budget, params)
        offered = [name for name, _ in registry.offered()]
    if not quiet:
        _show_plan(text)
    plan = check_plan(text, registry, offered=offered, limits=limits)
    options = replace(options, restart_deadline=plan_file is not None)
    with progress_line(console, f"running the plan ({len(plan.steps)} steps)…"):
        trace = await execute_plan(
            plan, registry, budget=budget, options=options, question=question
        )
    return text, plan, trace


async def _write_plan(
    console: Console,
    backend: Backend,
    model: str,
    question: str,
    registry: ToolRegistry,
    budget: Budget,
    params: Mapping[str, Any] | None = None,
) -> str:
    """Ask for the plan with a progress line; the run's deadline bounds the wait."""
    remaining = budget.remaining_time()
    limit = f" (deadline {budget.deadline_s:g} s)" if budget.deadline_s is not None else ""
    with progress_line(console, f"writing the plan with {model}{limit}…"):
        try:
            return await asyncio.wait_for(
                request_plan(backend, model, question, registry, budget=budget, params=params),
                timeout=None if remaining is None else max(remaining, 0.0),
            )
        except asyncio.TimeoutError:
            raise BudgetExceeded(
                f"deadline of {budget.deadline_s:g}s reached while the plan was being written",
                hint="raise --deadline, or use a faster model",
            ) from None


async def _run_and_close(backend: Backend, registry: ToolRegistry, *args: object) -> Trace | None:
    try:
        return (await _run(*args))[2]  # type: ignore[arg-type]
    finally:
        await backend.aclose()
        await close_registry(registry)


@click.command("plan")
@click.argument("question", required=False, default="")
@backend_options
@click.option(
    "--corpus", type=click.Path(file_okay=False, path_type=Path), help="Offline search folder."
)
@click.option("--searxng", help="SearXNG base URL (its JSON format must be enabled).")
@click.option("--ddg", is_flag=True, help="Search DuckDuckGo (needs the ddgs package).")
@click.option(
    "--from-file",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Execute a plan written elsewhere instead of asking the model.",
)
@click.option(
    "--validate-only", is_flag=True, help="Only parse and check the plan; print it as JSON."
)
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON.")
@click.option("--max-steps", default=24, show_default=True, help="Most steps a plan may have.")
@click.option("--max-tool-calls", type=int, help="Most tool calls in the run.")
@click.option("--max-llm-tokens", type=int, help="Most LLM tokens (planning and QA).")
@click.option(
    "--max-bytes", type=int, default=20_000_000, show_default=True, help="Most bytes fetched."
)
@click.option(
    "--deadline",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds for the whole run: writing the plan and running it (a model load is apart).",
)
@click.option(
    "--tool-timeout", type=float, default=60.0, show_default=True, help="Per-call timeout."
)
def plan(
    question: str,
    backend: BackendChoice,
    corpus: Path | None,
    searxng: str | None,
    ddg: bool,
    plan_file: Path | None,
    validate_only: bool,
    as_json: bool,
    max_steps: int,
    max_tool_calls: int | None,
    max_llm_tokens: int | None,
    max_bytes: int,
    deadline: float,
    tool_timeout: float,
) -> None:
    """Answer QUESTION with a reWOO plan and real tools, or run/check --from-file PLAN."""
    limits = PlanLimits(max_steps=max_steps)
    if validate_only:
        _validate_only(plan_file, limits)
        return
    if plan_file is None and not question.strip():
        raise ConfigError("give a QUESTION or --from-file PLAN.txt")
    teacher, model, params = backend.build_with({"temperature": 0.0})
    registry = make_registry(
        make_search_engine(_Sources(corpus, searxng, ddg)), teacher, model, corpus, params
    )
    budget = Budget(
        max_steps=max_steps,
        max_tool_calls=max_tool_calls,
        max_llm_tokens=max_llm_tokens,
        max_fetched_bytes=max_bytes,
        deadline_s=deadline,
    )
    options = ExecOptions(tool_timeout_s=tool_timeout)
    try:
        trace = run_command(
            _run_and_close(
                teacher,
                registry,
                question,
                plan_file,
                teacher,
                model,
                registry,
                budget,
                limits,
                options,
                as_json,
                params,
            )
        )
    except PlanError as error:
        _print_problems(error)
        sys.exit(1)
    except BudgetExceeded as error:  # the deadline ran out while the plan was written
        click.secho(f"error: {error.message}", fg="red", err=True)
        if error.hint:
            click.echo(f"  hint: {error.hint}", err=True)
        sys.exit(1)
    assert trace is not None
    if as_json:
        click.echo(json.dumps(trace.to_dict(), indent=2, ensure_ascii=False))
    else:
        show_trace(trace)
    sys.exit(0 if trace.ok else 1)


def _validate_only(plan_file: Path | None, limits: PlanLimits) -> None:
    if plan_file is None:
        raise ConfigError("--validate-only needs --from-file PLAN.txt")
    try:
        checked = check_plan(
            read_text_file(plan_file),
            ToolRegistry(),
            offered=list(DEFAULT_ALIASES),
            limits=limits,
        )
    except PlanError as error:
        _print_problems(error)
        sys.exit(1)
    click.echo(json.dumps(checked.to_dict(), indent=2, ensure_ascii=False))
