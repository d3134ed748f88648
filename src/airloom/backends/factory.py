"""Build backends from config: the default teacher and the named endpoints.

Example:
    >>> from airloom.config import Config
    >>> describe_default(Config(base_url="http://127.0.0.1:9/v1", model="m"))
    ('openai', 'http://127.0.0.1:9/v1', 'm')
"""

from __future__ import annotations

from pathlib import Path

from airloom.backends.base import Backend
from airloom.backends.registry import BACKENDS
from airloom.config import EMBEDDED_MODEL, Config, EndpointConfig, hosted_base_url
from airloom.errors import ConfigError
from airloom.redact import mask_url


def check_local_model(config: Config, model: str) -> None:
    """Refuse to label the embedded model's records with another model's name.

    Example:
        >>> check_local_model(Config(), EMBEDDED_MODEL)
    """
    if model in (EMBEDDED_MODEL, "embedded", config.local.model):
        return
    raise ConfigError(
        f"model '{model}' is not served here: no base_url is set, and the embedded model "
        f"is {EMBEDDED_MODEL}",
        hint="set base_url to the OpenAI-compatible endpoint that serves it, or remove "
        "'model' to use the embedded model",
    )


def default_kind(config: Config) -> str:
    """The backend kind of the default teacher: ``backend``, or with ``auto``,
    ``openai`` when an endpoint is known and ``local`` otherwise.

    Example:
        >>> default_kind(Config()), default_kind(Config(base_url="http://h/v1", model="m"))
        ('local', 'openai')
    """
    if config.backend != "auto":
        return config.backend
    return "openai" if config.base_url or hosted_base_url(config.model) else "local"


def default_base_url(config: Config) -> str:
    """The endpoint of an ``openai`` teacher: ``base_url``, or the provider's API.

    Example:
        >>> default_base_url(Config(base_url="http://127.0.0.1:9/v1", model="gpt-4"))
        'http://127.0.0.1:9/v1'
    """
    return str(config.base_url or hosted_base_url(config.model) or "")


def describe_default(config: Config) -> tuple[str, str, str]:
    """(kind, endpoint name, model) of the default teacher."""
    kind = default_kind(config)
    return (kind, *BACKENDS.load(kind).describe(config))


def build_default_backend(config: Config, base_dir: Path | None = None) -> Backend:
    """The default teacher backend (the local model is loaded lazily on first call)."""
    return BACKENDS.load(default_kind(config)).build(config, base_dir)


class OpenAIKind:
    """Any OpenAI-compatible endpoint: ``base_url``, or the provider that serves ``model``."""

    def describe(self, config: Config) -> tuple[str, str]:
        """Example:
        >>> OpenAIKind().describe(Config(base_url="http://127.0.0.1:9/v1", model="m"))
        ('http://127.0.0.1:9/v1', 'm')
        """
        if not config.model:
            raise ConfigError("base_url is set but model is not", hint="set model: <model id>")
        return mask_url(default_base_url(config)), config.model

    def build(self, config: Config, base_dir: Path | None) -> Backend:
        """The HTTP client (no request is made here)."""
        from airloom.backends.openai import OpenAIBackend

        name, _ = self.describe(config)
        headers = dict(config.headers)
        if config.organization_id:
            headers["OpenAI-Organization"] = config.organization_id
        if not config.base_url and not config.api_key():
            raise ConfigError(
                f"model '{config.model}' is served by {name}, and no API key is set",
                hint=f"export {config.api_key_env}=<your key> (or set openai_api_key), or set "
                "base_url to your own OpenAI-compatible endpoint",
            )
        return OpenAIBackend(
            base_url=name,
            api_key=config.api_key(),
            api_key_env=config.api_key_env,
            headers=headers,
            timeout=config.retry.timeout,
            max_connections=config.concurrency.max_requests,
        )


class ScriptedKind:
    """Deterministic replies from a script file (tests and demos)."""

    def describe(self, config: Config) -> tuple[str, str]:
        """Example:
        >>> ScriptedKind().describe(Config(backend="scripted", script_path="demo"))
        ('scripted:demo', 'scripted')
        """
        return f"scripted:{config.script_path}", config.model or "scripted"

    def build(self, config: Config, base_dir: Path | None) -> Backend:
        """The script, found beside the config file when its path is relative."""
        from airloom.backends.scripted import ScriptedBackend

        script = str(config.script_path)
        if script != "demo" and base_dir is not None and not Path(script).is_absolute():
            candidate = base_dir / script
            script = str(candidate) if candidate.exists() else script
        return ScriptedBackend.from_file(script)


class LocalKind:
    """The embedded model, run in-process (loaded on the first call)."""

    def describe(self, config: Config) -> tuple[str, str]:
        """Example:
        >>> LocalKind().describe(Config())[0]
        'local'
        """
        model = config.model or EMBEDDED_MODEL
        check_local_model(config, model)
        return "local", model

    def build(self, config: Config, base_dir: Path | None) -> Backend:
        """The local backend (nothing heavy is imported or loaded here)."""
        from airloom.backends.local import LocalBackend

        name, _ = self.describe(config)
        return LocalBackend(config.local, name=name)


def build_endpoint_backend(name: str, endpoint: EndpointConfig, timeout: float) -> Backend:
    """A named OpenAI-compatible endpoint."""
    import os

    from airloom.backends.openai import OpenAIBackend

    key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
    return OpenAIBackend(
        base_url=endpoint.base_url,
        api_key=key,
        api_key_env=endpoint.api_key_env,
        headers=endpoint.headers,
        timeout=timeout,
        max_connections=endpoint.max_concurrency,
        name=name,
    )
