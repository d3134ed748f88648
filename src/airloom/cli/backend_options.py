"""Options and construction of the backend used by ``ask`` and ``call``.

All of it goes through :func:`build_backend`, so that other kinds of backend (the
embedded local model, a config file's endpoints) can be routed here later.

Example:
    >>> backend = build_backend(BackendSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    >>> backend.name
    'http://127.0.0.1:9/v1'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from airloom.backends.base import Backend
from airloom.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """Where to send requests: an OpenAI-compatible endpoint, a model, a key variable."""

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 600.0


def backend_options(*, required: bool = True) -> Callable[[F], F]:
    """Add ``--base-url``, ``--model``, ``--api-key-env`` and ``--request-timeout``.

    Example:
        >>> @click.command()
        ... @backend_options(required=False)
        ... def hello(base_url, model, api_key_env, timeout):
        ...     pass
        >>> [p.name for p in hello.params]
        ['base_url', 'model', 'api_key_env', 'timeout']
    """
    options = [
        click.option(
            "--base-url",
            envvar="AIRLOOM_BASE_URL",
            required=required,
            help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
            "(env AIRLOOM_BASE_URL).",
        ),
        click.option("--model", envvar="AIRLOOM_MODEL", required=required, help="Model id to ask."),
        click.option(
            "--api-key-env",
            default=None,
            metavar="VAR",
            help="Environment variable that holds the API key (none is sent without it).",
        ),
        click.option(
            "--request-timeout",
            "timeout",
            type=float,
            default=600.0,
            show_default=True,
            help="Seconds before a request is abandoned.",
        ),
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def settings_from(
    base_url: str, model: str, api_key_env: str | None, timeout: float
) -> BackendSettings:
    """Collect the option values.

    Example:
        >>> settings_from("http://h/v1", "m", None, 5.0).timeout
        5.0
    """
    return BackendSettings(base_url=base_url, model=model, api_key_env=api_key_env, timeout=timeout)


def build_backend(settings: BackendSettings) -> Backend:
    """The backend for these settings (an OpenAI-compatible client today).

    Raises :class:`airloom.errors.ConfigError` when the key variable is named but unset.

    Example:
        >>> build_backend(BackendSettings("http://127.0.0.1:9/v1", "m", "AIRLOOM_NO_SUCH_KEY"))
        Traceback (most recent call last):
        ...
        airloom.errors.ConfigError: the environment variable AIRLOOM_NO_SUCH_KEY is not set \
(export AIRLOOM_NO_SUCH_KEY=<your key>, or drop --api-key-env)
    """
    from airloom.backends.openai import OpenAIBackend

    api_key = None
    if settings.api_key_env:
        api_key = os.environ.get(settings.api_key_env)
        if not api_key:
            raise ConfigError(
                f"the environment variable {settings.api_key_env} is not set",
                hint=f"export {settings.api_key_env}=<your key>, or drop --api-key-env",
            )
    return OpenAIBackend(
        base_url=settings.base_url,
        api_key=api_key,
        api_key_env=settings.api_key_env,
        timeout=settings.timeout,
    )
