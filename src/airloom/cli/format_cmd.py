"""``airloom format``: print the exact prompt a template makes of a conversation."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import click

from airloom.errors import AirloomError
from airloom.formats.chat import (
    TEMPLATES,
    ChatTemplate,
    get_template,
    render,
    split_system,
    template_for_model,
)

__all__ = ["format_command", "resolve_template"]


def resolve_template(name: str) -> ChatTemplate:
    """A template by name or alias, or the one an airoboros model id calls for.

    Example:
        >>> resolve_template("jondurbin/airoboros-70b-3.3").name
        'llama-3'
    """
    try:
        return get_template(name)
    except AirloomError:
        by_model = template_for_model(name)
        if by_model is None:
            raise
        return get_template(by_model)


def _turns_from_options(
    users: tuple[str, ...], assistants: tuple[str, ...]
) -> list[Mapping[str, str]]:
    if len(users) not in (len(assistants), len(assistants) + 1):
        raise click.UsageError(
            f"{len(users)} --user and {len(assistants)} --assistant: turns alternate, "
            "so give as many --assistant as --user, or one fewer"
        )
    turns: list[Mapping[str, str]] = []
    for index, user in enumerate(users):
        turns.append({"role": "user", "content": user})
        if index < len(assistants):
            turns.append({"role": "assistant", "content": assistants[index]})
    return turns


def _conversation_from_json(text: str) -> tuple[str | None, list[Mapping[str, str]]]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"stdin is not JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, list):
        data = {"turns": data}
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise click.UsageError('stdin JSON must be {"system": ..., "turns": [{"role", "content"}]}')
    system, turns = split_system(data["turns"])
    given = data.get("system")
    if given is not None and not isinstance(given, str):
        raise click.UsageError('"system" must be a string')
    return (given if given is not None else system), turns


def _print_list() -> None:
    for template in TEMPLATES.values():
        aliases = f" (also: {', '.join(template.aliases)})" if template.aliases else ""
        click.echo(f"{template.name}{aliases}\n    {template.description}")


@click.command("format")
@click.option(
    "--template", "-t", "template_name", help="Template name, alias or airoboros model id."
)
@click.option("--system", default=None, help="System prompt (default: the template's own).")
@click.option("--no-system", is_flag=True, help="Render without any system prompt.")
@click.option("--user", "users", multiple=True, help="A user turn (repeatable).")
@click.option("--assistant", "assistants", multiple=True, help="An assistant turn (repeatable).")
@click.option(
    "--no-generation-prompt",
    is_flag=True,
    help="End after the last turn instead of where the assistant's answer begins.",
)
@click.option("--jinja", is_flag=True, help="Print the template as a Jinja chat template.")
@click.option("--list", "list_templates", is_flag=True, help="List the templates.")
def format_command(
    template_name: str | None,
    system: str | None,
    no_system: bool,
    users: tuple[str, ...],
    assistants: tuple[str, ...],
    no_generation_prompt: bool,
    jinja: bool,
    list_templates: bool,
) -> None:
    """Print the exact prompt string for a conversation (no newline is added).

    Turns come from --user/--assistant (alternating, starting with --user) or, when no
    --user is given, from JSON on stdin: {"system": "...", "turns": [{"role": "user",
    "content": "..."}, ...]}.
    """
    if list_templates:
        _print_list()
        return
    if not template_name:
        raise click.UsageError("give --template NAME (see --list)")
    template = resolve_template(template_name)
    if jinja:
        click.echo(template.jinja)
        return
    if users or assistants:
        turns = _turns_from_options(users, assistants)
    elif sys.stdin.isatty():
        raise click.UsageError("give --user TEXT, or pipe the conversation as JSON on stdin")
    else:
        stdin_system, turns = _conversation_from_json(sys.stdin.read())
        system = system if system is not None else stdin_system
    if no_system:
        system = ""
    text = render(template, system, turns, add_generation_prompt=not no_generation_prompt)
    click.echo(text, nl=False)
