"""``airloom call``: function calling with a registry of Python functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from airloom.cli.ask_cmd import chat_request, run_request
from airloom.cli.backend_options import BackendChoice, backend_options
from airloom.cli.format_cmd import resolve_template
from airloom.cli.interrupt import run_command
from airloom.cli.options import echo_problems, read_text_file
from airloom.errors import ParseError
from airloom.formats.chat import template_for_model
from airloom.runtime.functions import (
    FunctionCall,
    FunctionCallError,
    FunctionRegistry,
    NoCall,
    load_registry,
    serialise_result,
)

__all__ = ["call"]


def _ask_model(registry: FunctionRegistry, question: str, backend: BackendChoice, fmt: str) -> str:
    teacher, model, params = backend.build_with({"temperature": 0.0})
    name = backend.adapter_template() or template_for_model(model)
    template = resolve_template(name) if name else None
    prompt = registry.prompt(question, fmt="yaml" if fmt == "yaml" else "json")
    request = chat_request(
        prompt,
        model=model,
        template=template,
        system=None,
        params=params,
    )
    return run_command(run_request(teacher, request, stream=False, sink=lambda _: None)).text


def _fail(message: str, problems: list[str]) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    echo_problems(problems)
    sys.exit(1)


def _read_call(registry: FunctionRegistry, answer: str, fmt: str) -> FunctionCall | NoCall:
    try:
        return registry.parse(answer, prefer="yaml" if fmt == "yaml" else "json")
    except FunctionCallError as exc:
        _fail(f"the answer is not a valid call: {exc.message}", exc.problems)
    except ParseError as exc:
        _fail(exc.message, [])


@click.command("call")
@click.argument("question", required=False)
@click.option(
    "--registry",
    "registry_path",
    required=True,
    help="Python file or module whose typed, documented functions the model may call.",
)
@click.option(
    "--from-file",
    "answer_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the model's answer from this file instead of asking a model.",
)
@click.option(
    "--validate-only", is_flag=True, help="Print the validated call as JSON instead of running it."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "yaml"]),
    default="json",
    show_default=True,
    help="Answer format to ask the model for.",
)
@click.option("--show-prompt", is_flag=True, help="Print the function-calling prompt and stop.")
@click.option(
    "--timeout",
    "call_timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds a function may run.",
)
@click.option("--verbose", "-v", is_flag=True, help="Say which functions were skipped and why.")
@backend_options
def call(
    question: str | None,
    registry_path: str,
    answer_file: Path | None,
    validate_only: bool,
    fmt: str,
    show_prompt: bool,
    call_timeout: float,
    verbose: bool,
    backend: BackendChoice,
) -> None:
    """Let a model pick one of your functions for QUESTION, validate the call, run it.

    With --from-file the answer is read from a file (no model is asked). Exit code 1
    when the answer is not a valid call; the problems are listed on stderr.
    """
    registry = load_registry(registry_path)
    if verbose:
        for name, reason in registry.skipped:
            click.echo(f"skipped {name}: {reason}", err=True)
    if show_prompt:
        click.echo(
            registry.prompt(question or "<question>", fmt="yaml" if fmt == "yaml" else "json")
        )
        return
    if answer_file is not None:
        answer = read_text_file(answer_file)
    elif question:
        answer = _ask_model(registry, question, backend, fmt)
    else:
        raise click.UsageError("give a QUESTION for the model, or --from-file ANSWER")
    parsed = _read_call(registry, answer, fmt)
    if isinstance(parsed, NoCall):
        click.echo(json.dumps({"function": None, "reason": parsed.reason}))
        return
    if validate_only:
        click.echo(json.dumps(parsed.to_dict(), ensure_ascii=False))
        return
    click.echo(
        f"calling {parsed.name}({json.dumps(parsed.arguments, ensure_ascii=False)})", err=True
    )
    result = run_command(registry.dispatch(parsed, timeout=call_timeout))
    click.echo(serialise_result(result))
