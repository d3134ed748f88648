"""Options shared by commands: ``--config`` and ``--set``, and config loading."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from airloom.config import Config
from airloom.config_load import load_config
from airloom.configfile import config_folder
from airloom.redact import remember_headers

__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_LISTED_PROBLEMS",
    "F",
    "config_options",
    "echo_problems",
    "echo_unreadable",
    "exit_if_unreadable",
    "load",
    "read_text_file",
    "set_option",
    "show_notes",
]

F = TypeVar("F", bound=Callable[..., Any])


def set_option(func: F) -> F:
    """Add the repeatable ``--set dotted.key=value`` of every command that reads a config."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a config value, e.g. --set retry.max_attempts=3 (repeatable).",
    )(func)


def config_options(func: F) -> F:
    """Add ``--config FILE`` and repeatable ``--set dotted.key=value``."""
    func = set_option(func)
    func = click.option(
        "--config",
        "-c",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="YAML config file (default: built-in defaults).",
    )(func)
    return func


def show_notes(config: Config) -> Config:
    """Print the config's notes (accepted keys without effect here), one line each, and
    mask the secrets it holds in every message from now on.

    Example:
        >>> show_notes(Config()).notes  # nothing to say: nothing printed
        []
    """
    for note in config.notes:
        click.echo(f"note: {note}", err=True)
    remember_headers({"openai_api_key": config.openai_api_key or "", **config.headers})
    for endpoint in config.endpoints.values():
        remember_headers(endpoint.headers)
    return config


def load(config_path: Path | None, overrides: tuple[str, ...]) -> tuple[Config, Path]:
    """Load the config; relative paths in it are relative to its folder (else the cwd)."""
    return show_notes(load_config(config_path, overrides)), config_folder(config_path)


#: Largest file read whole by ``--from-file`` options.
MAX_INPUT_BYTES = 16 << 20
#: Problems listed before the rest are only counted.
MAX_LISTED_PROBLEMS = 20


def read_text_file(path: Path, option: str = "--from-file") -> str:
    """A text file given to ``option``: a one-line error when it is too large or not UTF-8.

    Example:
        >>> import tempfile
        >>> bad = Path(tempfile.mkdtemp()) / "b.txt"
        >>> _ = bad.write_bytes(b"plan\\xff")
        >>> read_text_file(bad)
        Traceback (most recent call last):
        ...
        airloom.errors.ConfigError: --from-file ...b.txt is not UTF-8 text (bad byte at...)
    """
    from airloom.errors import ConfigError

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{option} {path} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise ConfigError(f"{option} {path} is larger than {MAX_INPUT_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{option} {path} is not UTF-8 text (bad byte at offset {exc.start})",
            hint="is it a binary file? give a text file",
        ) from None


def echo_problems(problems: list[str], total: int | None = None, shown: int = 0) -> None:
    """List problems on stderr, the first few (``shown``, default
    :data:`MAX_LISTED_PROBLEMS`), then how many more there are (of ``total``)."""
    shown = shown or MAX_LISTED_PROBLEMS
    total = len(problems) if total is None else total
    for problem in problems[:shown]:
        click.echo(f"  - {problem}", err=True)
    if total > min(shown, len(problems)):
        click.echo(f"  … and {total - min(shown, len(problems))} more", err=True)


def exit_if_unreadable(total: int) -> None:
    """End with status 1 when rows were skipped (the readable ones were used)."""
    if total:
        click.secho(
            f"error: {total} unreadable rows were skipped (listed above); "
            "the readable rows were used",
            fg="red",
            err=True,
        )
        sys.exit(1)


def echo_unreadable(source: str, problems: list[str], total: int) -> None:
    """Say on stderr that ``total`` rows of ``source`` were skipped, and why (the first 5)."""
    if total:
        click.echo(f"{source}: skipped {total} unreadable rows", err=True)
        echo_problems(problems, total, shown=5)
