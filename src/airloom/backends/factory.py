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

__all__ = [
    "LocalKind",
    "OpenAIKind",
    "ScriptedKind",
    "build_default_backend",
    "build_endpoint_backend",
    "check_local_model",
    "default_base_url",
    "default_kind",
    "describe_default",
    "describe_endpoint",
]


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
    named = config.endpoint or config.base_url or hosted_base_url(config.model)
    return "openai" if named else "local"


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


def describe_endpoint(name: str, endpoint: EndpointConfig) -> str:
    """How ``config check`` names a named endpoint: its server, or a pool's replicas.

    Example:
        >>> describe_endpoint("judge", EndpointConfig(base_url="http://j:8000/v1", model="m"))
        'judge: m at http://j:8000/v1 (16 in flight)'
        >>> print(describe_endpoint("teacher", EndpointConfig(
        ...     base_urls=["http://a/v1", {"base_url": "http://b/v1", "max_concurrency": 4}])))
        teacher: pool of 2 replicas, 20 in flight in all, each call to the least busy one
          http://a/v1 (16 in flight)
          http://b/v1 (4 in flight)
    """
    replicas = [f"{mask_url(url)} ({limit} in flight)" for url, limit in endpoint.replicas()]
    if not endpoint.is_pool:
        model = f"{endpoint.model} at " if endpoint.model else ""
        return f"{name}: {model}{replicas[0]}"
    model = f" serving {endpoint.model}" if endpoint.model else ""
    head = (
        f"{name}: pool of {len(replicas)} replicas{model}, {endpoint.capacity} in flight in "
        "all, each call to the least busy one"
    )
    return "\n".join([head, *(f"  {line}" for line in replicas)])


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
        if config.endpoint is not None:
            model = config.endpoints[config.endpoint].model or config.model
            if not model:
                raise ConfigError(
                    f"endpoint '{config.endpoint}' has no model",
                    hint=f"set model: under endpoints.{config.endpoint} (or at the top)",
                )
            return config.endpoint, model
        if not config.model:
            raise ConfigError("base_url is set but model is not", hint="set model: <model id>")
        return mask_url(default_base_url(config)), config.model

    def build(self, config: Config, base_dir: Path | None) -> Backend:
        """The HTTP client (no request is made here); the named endpoint (a single server
        or a pool of replicas) when ``endpoint`` picks one as the default teacher."""
        if config.endpoint is not None:
            name = config.endpoint
            return build_endpoint_backend(name, config.endpoints[name], config.retry.timeout)
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
    """A named OpenAI-compatible endpoint; a pool over its replicas when it lists
    ``base_urls``.

    Example:
        >>> pool = EndpointConfig(base_urls=["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"])
        >>> backend = build_endpoint_backend("teacher", pool, timeout=60.0)
        >>> backend.name, [replica.url for replica in backend.replicas]
        ('teacher', ['http://127.0.0.1:9/v1', 'http://127.0.0.1:10/v1'])
    """
    import os

    from airloom.backends.openai import OpenAIBackend

    key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None

    def client(url: str, limit: int, label: str) -> OpenAIBackend:
        return OpenAIBackend(
            base_url=url,
            api_key=key,
            api_key_env=endpoint.api_key_env,
            headers=endpoint.headers,
            timeout=timeout,
            max_connections=limit,
            name=label,
        )

    if not endpoint.is_pool:
        return client(str(endpoint.base_url), endpoint.max_concurrency, name)
    from airloom.backends.pool import PoolBackend

    members = [
        (client(url, limit, mask_url(url)), mask_url(url), limit)
        for url, limit in endpoint.replicas()
    ]
    return PoolBackend(
        name,
        members,
        timeout=timeout,
        rest_initial=endpoint.rest_initial,
        rest_max=endpoint.rest_max,
    )
