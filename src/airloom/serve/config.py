"""The typed server config (``airloom serve --config serve.yaml``).

Read with the same loader as the other configs: line-numbered errors, closest-key
suggestions for typos, ``--set dotted.key=value`` overrides. Relative paths are relative
to the file's folder.

Example:
    >>> cfg = load_serve_config_text("engine: local\\nport: 9000\\n")
    >>> cfg.engine, cfg.port, cfg.host
    ('local', 9000, '127.0.0.1')
    >>> load_serve_config_text("router: {marign: 0.1}\\n")
    Traceback (most recent call last):
    ...
    airloom.errors.ConfigError: <serve config> line 1: unknown key 'router.marign' \
(did you mean 'margin'?) (see `airloom config example --kind serve` for every key)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from airloom import configfile
from airloom.config import DEFAULT_EMBEDDING_MODEL
from airloom.configfile import Strict, config_folder, resolve_path
from airloom.errors import AirloomError
from airloom.formats.chat import get_template

__all__ = [
    "ENGINES",
    "HINT",
    "GenerationConfig",
    "RouterConfig",
    "ServeConfig",
    "VllmConfig",
    "load_serve_config",
    "load_serve_config_text",
    "resolve_paths",
]

HINT = "see `airloom config example --kind serve` for every key"
ENGINES = ("peft", "local", "vllm")


class RouterConfig(Strict):
    """How a request without an explicit expert finds one.

    * ``kind``: ``embedding`` (the original's router: the expert whose routing examples
      have the lowest mean of the top-``k`` squared L2 distances to the request) or
      ``agent`` (the ``function`` expert picks one from the descriptions);
    * ``margin``: when the best two experts' scores are closer than this, or the best
      is farther than ``threshold``, the request goes to ``default_expert``.
    """

    kind: Literal["embedding", "agent"] = Field(
        "embedding", description="embedding (routing examples) or agent (an expert picks)."
    )
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL, description="sentence-transformers name or local path."
    )
    k: int = Field(20, ge=1, le=1000, description="Nearest routing examples averaged.")
    max_samples: int = Field(1000, ge=1, description="Routing examples kept per expert.")
    margin: float = Field(
        0.0, ge=0.0, description="Best two experts closer than this: the default expert."
    )
    threshold: float | None = Field(
        None, gt=0.0, description="Best expert farther than this: the default expert."
    )
    default_expert: str | None = Field(
        None, description="Fallback expert (default: the split's default, else 'general')."
    )
    agent_expert: str = Field("function", description="The expert the agent router asks.")
    seed: int = Field(0, description="Seed of the routing-example sample.")


class GenerationConfig(Strict):
    """In-process engines (``peft``, ``local``): batching and the torch settings."""

    max_batch_size: int = Field(16, ge=1, le=256, description="Requests generated together.")
    batch_window_ms: float = Field(
        10.0, ge=0.0, le=10_000, description="Wait for companions of a first request."
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto, cpu or cuda.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 where it is fast, else float32."
    )


class VllmConfig(Strict):
    """The ``vllm`` engine: the Python that has vLLM, and what it is started with."""

    python: str = Field("python", description="Python of an environment with vLLM.")
    port: int = Field(0, ge=0, le=65535, description="vLLM's own port (0: a free one).")
    max_loras: int | None = Field(
        None, ge=1, description="Adapters per batch (default: all experts)."
    )
    max_model_len: int | None = Field(None, ge=16, description="Lower the context window.")
    dtype: str = Field("auto", description="Weights dtype passed to vLLM.")
    memory_utilization: float | None = Field(
        None, gt=0.0, le=1.0, description="Share of memory vLLM reserves (of RAM on a CPU)."
    )
    startup_timeout: float = Field(600.0, gt=0, description="Seconds to wait for vLLM.")
    extra_args: list[str] = Field(default_factory=list, description="More vLLM server arguments.")


class ServeConfig(Strict):
    """Everything ``airloom serve`` needs (see the README's "Serving" section)."""

    engine: Literal["peft", "local", "vllm"] = Field(
        "peft", description="peft (base + adapters), local (the base alone) or vllm."
    )
    base: str = Field("embedded", description="'embedded', a model folder or a .gguf.")
    base_name: str | None = Field(None, description="Its id in /v1/models (default: name).")
    template: str | None = Field(
        None, description="The base's prompt format (default: its tokenizer's template)."
    )
    lmoe: str | None = Field(None, description="An `airloom experts split` folder.")
    adapters: dict[str, str] = Field(
        default_factory=dict, description="More experts: name -> adapter folder."
    )
    routed_model: str = Field("lmoe", description="The model id that routes to an expert.")
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port (0: a free one).")
    api_key_env: str = Field(
        "AIRLOOM_SERVE_KEY", description="Variable with the API key(s), comma-separated."
    )
    no_auth: bool = Field(False, description="Accept requests without a key (loopback only).")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (none: CORS off)."
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Larger bodies get 413.")
    max_tokens_cap: int = Field(2048, ge=1, description="Larger max_tokens get 400.")
    default_max_tokens: int = Field(256, ge=1, description="max_tokens when none is given.")
    max_concurrency: int = Field(64, ge=1, description="Requests generating at once.")
    max_queue: int = Field(256, ge=0, description="Requests waiting; beyond it 429.")
    router: RouterConfig = Field(default_factory=RouterConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    vllm: VllmConfig = Field(default_factory=VllmConfig)

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return get_template(value).name
        except AirloomError as exc:
            raise ValueError(f"{exc.message}; {exc.hint}") from None

    def loopback(self) -> bool:
        """True when the server listens on this machine only.

        Example:
            >>> ServeConfig(host="::1").loopback(), ServeConfig(host="0.0.0.0").loopback()
            (True, False)
        """
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def display_base(self) -> str:
        """The id of the base model in ``/v1/models``.

        Example:
            >>> ServeConfig(base="/models/tiny-llama/").display_base()
            'tiny-llama'
        """
        if self.base_name:
            return self.base_name
        return Path(self.base.rstrip("/")).name or self.base


def load_serve_config_text(
    text: str, *, source: str = "<serve config>", overrides: Iterable[str] = ()
) -> ServeConfig:
    """Parse, apply ``--set`` overrides, and validate server config text."""
    return configfile.load_text(text, ServeConfig, source=source, overrides=overrides, hint=HINT)


def resolve_paths(config: ServeConfig, base_dir: Path) -> ServeConfig:
    """The config with relative base, LMoE and adapter paths made absolute.

    Example:
        >>> cfg = resolve_paths(ServeConfig(lmoe="experts", adapters={"a": "x"}), Path("/srv"))
        >>> cfg.lmoe, cfg.adapters, cfg.base
        ('/srv/experts', {'a': '/srv/x'}, 'embedded')
    """
    updates: dict[str, Any] = {
        "adapters": {name: resolve_path(p, base_dir) for name, p in config.adapters.items()}
    }
    if config.lmoe:
        updates["lmoe"] = resolve_path(config.lmoe, base_dir)
    if config.base != "embedded" and (
        config.base.startswith((".", "~")) or (base_dir / config.base).exists()
    ):
        updates["base"] = resolve_path(config.base, base_dir)
    return config.model_copy(update=updates)


def load_serve_config(path: str | Path | None, overrides: Iterable[str] = ()) -> ServeConfig:
    """Load ``serve.yaml`` (or only ``--set`` values when ``path`` is None).

    Example:
        >>> load_serve_config(None, ["engine=local", "port=0"]).port
        0
    """
    config = configfile.load(
        path, ServeConfig, overrides, hint=HINT, example="airloom config example --kind serve"
    )
    return resolve_paths(config, config_folder(path))
