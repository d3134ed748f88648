"""Options shared by commands: ``--config`` and ``--set``, and config loading."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from airloom.config import Config, load_config

F = TypeVar("F", bound=Callable[..., Any])


def config_options(func: F) -> F:
    """Add ``--config FILE`` and repeatable ``--set dotted.key=value``."""
    func = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a config value, e.g. --set instructors.general.count=10 (repeatable).",
    )(func)
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
    """Print the config's notes (accepted keys without effect here), one line each.

    Example:
        >>> show_notes(Config()).notes  # nothing to say: nothing printed
        []
    """
    for note in config.notes:
        click.echo(f"note: {note}", err=True)
    return config


def load(config_path: Path | None, overrides: tuple[str, ...]) -> tuple[Config, Path]:
    """Load the config; relative paths in it are relative to its folder (else the cwd)."""
    config = show_notes(load_config(config_path, overrides))
    base_dir = config_path.resolve().parent if config_path else Path.cwd()
    return config, base_dir
