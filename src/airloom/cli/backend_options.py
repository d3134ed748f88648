"""Backend options shared by ``ask``, ``call`` and ``plan``.

The teacher is chosen exactly as ``generate`` chooses it: from a config file
(``--config``, ``--set``) or the defaults — the embedded local model when no base URL
is given — with ``--base-url``, ``--model``, ``--api-key-env`` and
``--request-timeout`` as shortcuts for the matching config keys, and ``--adapter`` for
``local.adapter`` (a trained LoRA adapter on the local model).

Example:
    >>> choice = BackendChoice(base_url="http://127.0.0.1:9/v1", model="m")
    >>> backend, model = choice.build()
    >>> backend.name, model
    ('http://127.0.0.1:9/v1', 'm')
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from airloom.backends.base import Backend
from airloom.cli.options import set_option
from airloom.config import Config
from airloom.config_load import load_config
from airloom.errors import ConfigError

__all__ = ["BackendChoice", "F", "backend_options"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class BackendChoice:
    """The command line's choice of teacher (see the module docstring)."""

    config_path: Path | None = None
    overrides: tuple[str, ...] = ()
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    timeout: float | None = None
    adapter: Path | None = None

    def config(self) -> Config:
        """The config with the shortcuts applied as ``--set`` overrides."""
        shortcuts = [
            f"{key}={value}"
            for key, value in (
                ("base_url", self.base_url),
                ("model", self.model),
                ("api_key_env", self.api_key_env),
                ("retry.timeout", self.timeout),
            )
            if value is not None
        ]
        if self.adapter is not None:
            from airloom.weights.adapters import check_adapter_dir

            if self.base_url:
                raise ConfigError(
                    "--adapter applies to the embedded/local model, not to --base-url",
                    hint="serve the adapter with its endpoint, or drop --base-url",
                )
            check_adapter_dir(self.adapter)
            shortcuts.append(f"local.adapter={self.adapter.resolve()}")
        if self.api_key_env and not os.environ.get(self.api_key_env):
            raise ConfigError(
                f"the environment variable {self.api_key_env} is not set",
                hint=f"export {self.api_key_env}=<your key>, or drop --api-key-env",
            )
        from airloom.cli.options import show_notes

        return show_notes(load_config(self.config_path, (*self.overrides, *shortcuts)))

    def adapter_template(self) -> str | None:
        """The prompt format the ``--adapter`` was trained in (None without an adapter).

        Example:
            >>> BackendChoice().adapter_template() is None
            True
        """
        from airloom.weights.adapters import read_train_info

        info = read_train_info(self.adapter) if self.adapter is not None else None
        return info.template if info else None

    def build(self) -> tuple[Backend, str]:
        """The backend and the model name to put in requests."""
        backend, model, _ = self.build_with()
        return backend, model

    def build_with(
        self, purpose: Mapping[str, Any] | None = None
    ) -> tuple[Backend, str, dict[str, Any]]:
        """The backend, the model name and the sampling parameters: the config's
        ``api_params``, with ``purpose`` values where the config sets none.

        Example:
            >>> choice = BackendChoice(base_url="http://127.0.0.1:9/v1", model="m",
            ...                        overrides=("api_params.top_p=0.5",))
            >>> _, _, params = choice.build_with({"temperature": 0.0, "top_p": 0.9})
            >>> params["temperature"], params["top_p"]
            (0.0, 0.5)
        """
        from airloom.backends.factory import build_default_backend, describe_default

        config = self.config()
        base_dir = self.config_path.resolve().parent if self.config_path else Path.cwd()
        _, _, model = describe_default(config)
        return build_default_backend(config, base_dir), model, config.call_params(purpose)


def backend_options(func: F) -> F:
    """Add the backend options; the command receives one ``backend: BackendChoice``.

    Example:
        >>> @click.command()
        ... @backend_options
        ... def hello(backend):
        ...     click.echo(backend.model or "embedded")
        >>> from click.testing import CliRunner
        >>> CliRunner().invoke(hello, ["--model", "m"]).output
        'm\\n'
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["backend"] = BackendChoice(
            config_path=kwargs.pop("config_path"),
            overrides=kwargs.pop("overrides"),
            base_url=kwargs.pop("base_url"),
            model=kwargs.pop("model"),
            api_key_env=kwargs.pop("api_key_env"),
            timeout=kwargs.pop("timeout"),
            adapter=kwargs.pop("adapter"),
        )
        return func(*args, **kwargs)

    options = [
        click.option(
            "--config",
            "-c",
            "config_path",
            default=None,
            type=click.Path(dir_okay=False, path_type=Path),
            help="Config file whose teacher to use (default: built-in defaults).",
        ),
        set_option,
        click.option(
            "--base-url",
            envvar="AIRLOOM_BASE_URL",
            default=None,
            help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
            "(default: the embedded local model).",
        ),
        click.option("--model", envvar="AIRLOOM_MODEL", default=None, help="Model id."),
        click.option(
            "--api-key-env",
            default=None,
            metavar="VAR",
            help="Environment variable that holds the API key.",
        ),
        click.option(
            "--request-timeout",
            "timeout",
            type=float,
            default=None,
            help="Seconds before a request is abandoned (default: retry.timeout).",
        ),
        click.option(
            "--adapter",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="A LoRA adapter made by `airloom train`, applied to the local model "
            "(its prompt format is used).",
        ),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return cast(F, decorated)
