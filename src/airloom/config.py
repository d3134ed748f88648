"""Typed configuration, loaded from YAML, validated with clear errors.

The original airoboros keys (model, openai_api_key, output_path, topics_path, overwrite,
append, embedding_model, embedding_device, topic_avoidance, response_filters, max_tokens,
min_docsearch_score, api_params, topic_prompt, topic_request_count, default_count,
default_batch_size, default_flesch, language, instructors.<name>.…) keep their meanings;
our own keys (base_url, api_key_env, endpoints, concurrency, retry, budget, dedup, seed,
store_path, …) sit beside them.

Unknown keys are errors that name the key, the file and line, and the closest valid key.

Names of categories and backends are checked against the plug-in tables the caller
passes in (:class:`PluginTables`); :mod:`airloom.config_load` reads files and text with
the installed plug-ins' tables.

Example:
    >>> tables = PluginTables(section_models={}, backends=["openai"])
    >>> cfg = validate_config({"model": "gpt-4o-mini", "base_url": "http://x/v1"}, tables=tables)
    >>> cfg.model, cfg.default_count
    ('gpt-4o-mini', 100)
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airloom.configfile import (
    LineMap,
    Strict,
    describe_errors,
    raise_problems,
)
from airloom.local_settings import LocalModelSettings

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_FLESCH",
    "DEFAULT_RESPONSE_FILTERS",
    "DEFAULT_TOPIC_AVOIDANCE",
    "DEFAULT_TOPIC_PROMPT",
    "EMBEDDED_MODEL",
    "EXAMPLE_HINT",
    "IGNORED_INSTRUCTOR_KEYS",
    "IGNORED_KEYS",
    "OPENAI_API",
    "ORIGINAL_SAMPLING",
    "RENAMED_INSTRUCTORS",
    "ApiParams",
    "BudgetConfig",
    "ConcurrencyConfig",
    "Config",
    "DedupConfig",
    "EndpointConfig",
    "InstructorConfig",
    "JudgeConfig",
    "Price",
    "ReplicaConfig",
    "RetryConfig",
    "ScoringConfig",
    "configured_path",
    "hosted_base_url",
    "validate_config",
]

#: The refusal / AI-mention patterns of the original's example config (case-insensitive).
DEFAULT_RESPONSE_FILTERS: tuple[str, ...] = (
    r"my programming",
    r"openai",
    r"language model",
    r"large language",
    r"as an? (ai|generative language|gpt|bot)",
    r"illegal and dangerous",
    r"i do(n't| not) (possess|have|exhibit) (personal|consciousness|subjective)",
    r"personal (feelings|thoughts|emotions|desires|experiences|goals|objective|belief)",
    r"(can('t| ?not)|w(on't|will not)|unable.?) (\w+\s)+(with (that|your)|your \w+|provide)",
    r"my limitations",
    r"the limitations of my",
    r"my abilities",
    r"violates my",
    r"i (can('t| ?not)|w(on't|will not)|am (not |un)able.?).{0,30}(you are|you're|your )",
    r"please note that",
    r"flesch",
)

DEFAULT_FLESCH = (
    "The output should be written in such a way as to have a Flesch-Kincaid readability "
    "score of 30 or lower - best understood by those with college education.  "
    "The response must not contain any notes or information about Flesch-Kincaid scores."
)

DEFAULT_TOPIC_PROMPT = "Give me a numbered list of 20 completely random topics. {topic_avoidance}"

DEFAULT_TOPIC_AVOIDANCE = (
    "Avoid any tasks that would be related to climate change, green tech, renewable energy, "
    "DEI (diversity, equity, inclusion), sex and/or gender, religion, politics, social issues, "
    "race, ethnicity, artificial intelligence, baking/cooking, urban development, or any topic "
    "that you would likely not respond to, or any task which a language model would not be "
    "able to respond to, e.g. tasks about emotions, feelings, physical senses, etc."
)

#: The sampling parameters the original sends with every call when its config sets none.
ORIGINAL_SAMPLING: dict[str, float] = {
    "temperature": 1.0,
    "top_p": 1.0,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
}

#: Name of the model used when no teacher endpoint is configured.
EMBEDDED_MODEL = "qwen2.5-coder-0.5b-instruct"
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


#: Where OpenAI's models are served (``OPENAI_BASE_URL`` overrides it, as in OpenAI's client).
OPENAI_API = "https://api.openai.com/v1"
_OPENAI_MODEL = re.compile(r"^(gpt-|chatgpt-|o\d|text-|davinci|babbage|ft:)", re.IGNORECASE)


def hosted_base_url(model: str | None) -> str | None:
    """The API of a provider's hosted model named without ``base_url``, else None.

    Example:
        >>> hosted_base_url("gpt-4") == (os.environ.get("OPENAI_BASE_URL") or OPENAI_API)
        True
        >>> hosted_base_url("qwen2.5-coder-0.5b-instruct") is None
        True
    """
    if model and _OPENAI_MODEL.match(model):
        return os.environ.get("OPENAI_BASE_URL") or OPENAI_API
    return None


class ApiParams(BaseModel):
    """Sampling parameters sent with every call (endpoint-specific extras pass through)."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(None, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="OpenAI-style.")
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="OpenAI-style.")
    max_tokens: int | None = Field(None, ge=1, description="Per-request completion limit.")
    seed: int | None = Field(None, description="Per-request sampling seed, where supported.")
    stop: list[str] | None = Field(None, description="Stop sequences.")

    def merged(self, override: ApiParams | None) -> dict[str, Any]:
        """This object's set values with ``override``'s set values on top (shallow)."""
        values = {k: v for k, v in self.model_dump().items() if v is not None}
        if override is not None:
            values.update({k: v for k, v in override.model_dump().items() if v is not None})
        return values


class ReplicaConfig(Strict):
    """One replica of a pool, when it takes another concurrency limit than the rest."""

    base_url: str = Field(description="Base URL of this replica, usually ending in /v1.")
    max_concurrency: int | None = Field(
        None, ge=1, description="Requests in flight at this replica (default: the endpoint's)."
    )


class EndpointConfig(Strict):
    """A named OpenAI-compatible endpoint that instructors may use via ``endpoint:``.

    ``base_urls`` makes it a pool: one logical teacher over several replicas serving the
    same model, each call sent to the replica with the fewest requests in flight, a
    failing replica rested and tried again later.

    Example:
        >>> pool = EndpointConfig(base_urls=["http://a:8000/v1",
        ...     {"base_url": "http://b:8000/v1", "max_concurrency": 4}], max_concurrency=8)
        >>> pool.replicas(), pool.capacity
        ([('http://a:8000/v1', 8), ('http://b:8000/v1', 4)], 12)
        >>> EndpointConfig(base_url="http://a:8000/v1").replicas()
        [('http://a:8000/v1', 16)]
    """

    base_url: str | None = Field(None, description="Base URL, usually ending in /v1.")
    base_urls: list[ReplicaConfig] | None = Field(
        None,
        description="Replicas of one teacher (a pool), instead of base_url: URLs, or "
        "{base_url, max_concurrency} for a replica with its own limit.",
    )
    api_key_env: str | None = Field(None, description="Environment variable holding the key.")
    model: str | None = Field(None, description="Default model on this endpoint.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")
    max_concurrency: int = Field(
        16, ge=1, description="Requests in flight at this endpoint (at each replica of a pool)."
    )
    rest_initial: float = Field(
        1.0, gt=0.0, description="Seconds a failing replica of a pool rests before a retry."
    )
    rest_max: float = Field(
        60.0, gt=0.0, description="Longest rest; it doubles with each failure in a row."
    )

    @field_validator("base_urls", mode="before")
    @classmethod
    def _urls_as_replicas(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(f"base_urls is a list: write [{value}]")
        if isinstance(value, list):
            for item in value:
                if not isinstance(item, str | dict):
                    raise ValueError(
                        f"base_urls holds {item!r}: each entry is a URL or "
                        "{base_url: URL, max_concurrency: N}"
                    )
            return [{"base_url": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _one_address(self) -> EndpointConfig:
        if self.base_url is None and self.base_urls is None:
            raise ValueError("set base_url (one server) or base_urls (a pool of replicas)")
        if self.base_url is not None and self.base_urls is not None:
            raise ValueError("set base_url (one server) or base_urls (a pool), not both")
        if self.base_urls is not None and not self.base_urls:
            raise ValueError("base_urls is empty: list the replicas' URLs (at least one)")
        urls = [url for url, _ in self.replicas()]
        repeated = sorted({url for url in urls if urls.count(url) > 1})
        if repeated:
            raise ValueError(f"base_urls lists {', '.join(repeated)} more than once")
        if self.rest_max < self.rest_initial:
            raise ValueError("rest_max must be at least rest_initial")
        return self

    def replicas(self) -> list[tuple[str, int]]:
        """(base URL, concurrency limit) of each server behind this endpoint."""
        if self.base_urls is None:
            return [(str(self.base_url), self.max_concurrency)]
        return [
            (item.base_url.rstrip("/"), item.max_concurrency or self.max_concurrency)
            for item in self.base_urls
        ]

    @property
    def is_pool(self) -> bool:
        """True when the endpoint lists its replicas in ``base_urls``."""
        return self.base_urls is not None

    @property
    def capacity(self) -> int:
        """Requests the whole endpoint may have in flight (summed over a pool's replicas)."""
        return sum(limit for _, limit in self.replicas())


class ConcurrencyConfig(Strict):
    """How many teacher calls run at once."""

    max_requests: int = Field(16, ge=1, description="Global limit on calls in flight.")
    adaptive: bool = Field(True, description="Back off on 429 storms, recover on success.")
    min_requests: int = Field(1, ge=1, description="Floor of the adaptive limit.")
    stop_grace: float = Field(
        30.0, ge=0.0, description="Seconds calls in flight may finish (and be kept) on a stop."
    )


class RetryConfig(Strict):
    """Retries of transient failures (429, 5xx, connection errors, timeouts)."""

    max_attempts: int = Field(6, ge=1, le=50, description="Attempts per call, first included.")
    backoff_initial: float = Field(1.0, ge=0.0, description="First backoff in seconds.")
    backoff_max: float = Field(60.0, ge=0.0, description="Longest backoff in seconds.")
    timeout: float = Field(600.0, gt=0.0, description="Per-request timeout in seconds.")
    max_consecutive_failures: int = Field(
        25, ge=1, description="Failed calls in a row (after retries) that stop the run."
    )


class Price(Strict):
    """Price of one model in currency units per million tokens."""

    input: float = Field(0.0, ge=0.0, description="Per million prompt tokens.")
    output: float = Field(0.0, ge=0.0, description="Per million completion tokens.")


class BudgetConfig(Strict):
    """Limits that stop a run cleanly, everything accepted so far kept."""

    max_requests: int | None = Field(None, ge=1, description="Teacher calls (cache hits free).")
    max_tokens: int | None = Field(None, ge=1, description="Total tokens (same as top-level).")
    max_cost: float | None = Field(None, gt=0.0, description="Total cost, with prices below.")
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="Per-model prices, e.g. {gpt-4o: {input: 2.5, output: 10}}.",
    )


class DedupConfig(Strict):
    """The embedding dedup gate."""

    enabled: bool = Field(True, description="Reject near-duplicate instructions.")
    scope: Literal["global", "category"] = Field(
        "global", description="One index for all categories, or one per category."
    )
    hnsw_above: int = Field(
        200_000, ge=1000, description="Switch from exact search to HNSW above this many records."
    )
    batch_size: int = Field(64, ge=1, description="Texts embedded together.")


class ScoringConfig(Strict):
    """The LLM judge used by curation."""

    prompt_path: str | None = Field(None, description="Judge template (default: built-in).")
    api_params: ApiParams = Field(default_factory=ApiParams, description="Judge call params.")
    threshold: int = Field(
        100, ge=0, le=100, description="Score at or above which a record passes."
    )


class JudgeConfig(Strict):
    """Judge concurrency (original key)."""

    batch_size: int | None = Field(None, ge=1, description="Judge calls at once.")


class InstructorConfig(Strict):
    """Keys every instructor section understands; instructors add their own."""

    count: int | None = Field(None, ge=0, description="Target records (default_count; 0 disables).")
    batch_size: int | None = Field(None, ge=1, description="Items per generation call.")
    api_params: ApiParams | None = Field(None, description="Merged over the global api_params.")
    min_docsearch_score: float | None = Field(
        None,
        ge=0.0,
        le=4.0,
        description="Dedup threshold as the original's squared L2 distance (cos >= 1 - t/2).",
    )
    similarity_threshold: float | None = Field(
        None, ge=-1.0, le=1.0, description="Dedup threshold as cosine similarity (alternative)."
    )
    prompt_path: str | None = Field(None, description="Generation template (default: built-in).")
    response_prompt_path: str | None = Field(None, description="Response template override.")
    topics_path: str | None = Field(None, description="Topics file for this instructor only.")
    language: str | None = Field(None, description="Output language (default: global).")
    flesch: str | None = Field(None, description="Readability hint (default: global).")
    model: str | None = Field(None, description="Teacher model for this instructor.")
    endpoint: str | None = Field(None, description="Name of an entry of 'endpoints'.")
    response_filters: list[str] | None = Field(
        None, description="Refusal patterns for this instructor (default: global list)."
    )

    @field_validator("response_filters")
    @classmethod
    def _compile_filters(cls, value: list[str] | None) -> list[str] | None:
        return _check_patterns(value)


def _check_patterns(value: list[str] | None) -> list[str] | None:
    import re

    for pattern in value or []:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return value


class Config(Strict):
    """The whole configuration of a run."""

    # Teacher
    model: str | None = Field(None, description="Teacher model (default: the embedded model).")
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint; unset means the embedded local model."
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable with the key.")
    openai_api_key: str | None = Field(None, description="Key in the file (prefer api_key_env).")
    organization_id: str | None = Field(None, description="Sent as OpenAI-Organization.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")
    backend: str = Field(
        "auto",
        description="auto: openai when base_url is set, else local; or openai, local, "
        "scripted, or a backend plug-in's name.",
    )
    script_path: str | None = Field(None, description="Reply script for the scripted backend.")
    local: LocalModelSettings = Field(
        default_factory=LocalModelSettings,
        description="The embedded local model (used when no base_url is set).",
    )
    endpoints: dict[str, EndpointConfig] = Field(
        default_factory=dict, description="Further named endpoints for instructors."
    )
    endpoint: str | None = Field(
        None,
        description="Name of an entry of 'endpoints' (a pool, say) that is the default "
        "teacher, instead of base_url.",
    )
    # Files
    output_path: str = Field(
        "instructions.jsonl", description="airoboros JSONL written at the end."
    )
    store_path: str | None = Field(None, description="SQLite store (default: beside output_path).")
    topics_path: str = Field("topics.txt", description="One topic per line.")
    overwrite: bool = Field(False, description="Start afresh (the old store is kept as a backup).")
    append: bool = Field(True, description="Resume from an existing store.")
    # Dedup
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL, description="sentence-transformers name or path, or 'hashing'."
    )
    embedding_device: str = Field("cpu", description="cpu or cuda.")
    embedding_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="How the embedding model runs on cpu: torch, onnx (fp32, same vectors) or "
        "onnx-int8 (about 3x faster); auto: onnx-int8 when onnxruntime is installed, else torch.",
    )
    min_docsearch_score: float = Field(
        0.2, ge=0.0, le=4.0, description="Squared L2 on unit vectors: reject if cos >= 1 - t/2."
    )
    dedup: DedupConfig = Field(default_factory=DedupConfig, description="Dedup gate.")
    # Content
    topic_avoidance: str = Field(DEFAULT_TOPIC_AVOIDANCE, description="Subjects to avoid.")
    response_filters: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RESPONSE_FILTERS),
        description="Refusal / AI-mention patterns (case-insensitive search).",
    )
    topic_prompt: str = Field(DEFAULT_TOPIC_PROMPT, description="Prompt for one topics list.")
    topic_request_count: int = Field(20, ge=1, description="Topic-list calls.")
    default_count: int = Field(100, ge=0, description="count of instructors that set none.")
    default_batch_size: int = Field(5, ge=1, description="batch_size of instructors that set none.")
    default_flesch: str = Field(DEFAULT_FLESCH, description="Readability hint.")
    language: str = Field("English", description="Output language.")
    api_params: ApiParams = Field(
        default_factory=ApiParams,
        description="Default sampling params (unset ones: temperature 1, top_p 1, penalties 0).",
    )
    # Run control
    max_tokens: int | None = Field(
        None, ge=1, description="Token budget of the run (original key)."
    )
    seed: int | None = Field(None, description="Run seed (default: drawn once, kept in the store).")
    stall_rounds: int = Field(
        30, ge=1, description="Rounds in a row that accept nothing before an instructor gives up."
    )
    concurrency: ConcurrencyConfig = Field(default_factory=ConcurrencyConfig, description="Limits.")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retries.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig, description="Budgets.")
    # Curation (original keys)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig, description="Judge.")
    judge: JudgeConfig = Field(default_factory=JudgeConfig, description="Judge concurrency.")
    cull_max_k: int = Field(1000, ge=1, description="Neighbours searched per record in cull.")
    instructors: dict[str, InstructorConfig] = Field(
        default_factory=dict, description="Per-category sections; absent means not generated."
    )

    _notes: list[str] = PrivateAttr(default_factory=list)
    _filled: set[str] = PrivateAttr(default_factory=set)

    @field_validator("response_filters")
    @classmethod
    def _compile_filters(cls, value: list[str]) -> list[str]:
        _check_patterns(value)
        return value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str, info: ValidationInfo) -> str:
        """Checked when the plug-in tables are given (:func:`validate_config`); a config
        built in code names an unknown kind only when its backend is built."""
        tables = (info.context or {}).get(TABLES_CONTEXT)
        if value == "auto" or not isinstance(tables, PluginTables):
            return value
        names = sorted(tables.backends)
        if value not in names:
            known = ", ".join(repr(name) for name in ["auto", *names])
            raise ValueError(f"unknown backend; known: {known}")
        return value

    @model_validator(mode="after")
    def _original_sampling(self) -> Config:
        """Like the original, every call carries temperature, top_p and both penalties
        (one set to null explicitly is left out, for endpoints that refuse it)."""
        params = self.api_params
        missing = {
            k: v
            for k, v in ORIGINAL_SAMPLING.items()
            if getattr(params, k) is None and k not in params.model_fields_set
        }
        if missing:
            self.api_params = params.model_copy(update=missing)
            self._filled = set(missing)
        return self

    def call_params(self, purpose: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Sampling for a one-off call (``ask``, ``plan``, ``call``): ``api_params``, where
        ``purpose`` (e.g. temperature 0 for a plan) replaces only what the config left unset.

        Example:
            >>> Config().call_params({"temperature": 0.0})["temperature"]
            0.0
            >>> Config(api_params=ApiParams(temperature=0.7)).call_params({"temperature": 0.0})
            ... # doctest: +ELLIPSIS
            {'temperature': 0.7, ...}
        """
        params = self.api_params.merged(None)
        for key, value in (purpose or {}).items():
            if key in self._filled or key not in params:
                params[key] = value
        return params

    @property
    def notes(self) -> list[str]:
        """One line per accepted key that has no effect here (shown by the CLI)."""
        return self._notes

    # ---- derived values -------------------------------------------------------------
    def resolved_store_path(self, base_dir: Path | None = None) -> Path:
        """The store file: ``store_path`` or ``<output_path stem>.airloom.db`` beside it."""
        if self.store_path:
            path = Path(self.store_path)
        else:
            out = Path(self.output_path)
            path = out.with_name(out.stem + ".airloom.db")
        return path if path.is_absolute() or base_dir is None else base_dir / path

    def token_budget(self) -> int | None:
        """Total token budget: the smaller of ``max_tokens`` and ``budget.max_tokens``."""
        values = [v for v in (self.max_tokens, self.budget.max_tokens) if v is not None]
        return min(values) if values else None

    def instructor_count(self, name: str) -> int:
        """Target of one instructor (``count`` or ``default_count``)."""
        section = self.instructors.get(name)
        if section is None:
            return 0
        return self.default_count if section.count is None else section.count

    def instructor_batch_size(self, name: str) -> int:
        """Batch size of one instructor (``batch_size`` or ``default_batch_size``)."""
        section = self.instructors.get(name)
        if section is None or section.batch_size is None:
            return self.default_batch_size
        return section.batch_size

    def dedup_cosine(self, name: str | None = None) -> float:
        """Cosine similarity at or above which an instruction is a duplicate.

        ``min_docsearch_score`` t (squared L2 on unit vectors) converts exactly to
        cos >= 1 - t/2; ``similarity_threshold`` is taken as a cosine directly.

        Example:
            >>> Config(min_docsearch_score=0.1).dedup_cosine()
            0.95
        """
        section = self.instructors.get(name) if name else None
        if section is not None and section.similarity_threshold is not None:
            return section.similarity_threshold
        if section is not None and section.min_docsearch_score is not None:
            return round(1.0 - section.min_docsearch_score / 2.0, 12)
        return round(1.0 - self.min_docsearch_score / 2.0, 12)

    def api_key(self) -> str | None:
        """The key from ``openai_api_key`` or the environment variable ``api_key_env``."""
        return self.openai_api_key or os.environ.get(self.api_key_env)


def configured_path(value: str | None, base_dir: Path | None, packaged: str) -> Path | None:
    """The file or folder a config value names (relative to ``base_dir``), or None for
    the built-in one.

    ``packaged`` is the name of the original's own packaged file or folder
    (``character_seeds``, ``filter.txt``): named bare and absent on disk, it means the
    built-in one, as it did there.

    Example:
        >>> configured_path("character_seeds", None, "character_seeds") is None
        True
        >>> configured_path("/data/seeds", None, "character_seeds")
        PosixPath('/data/seeds')
    """
    if not value:
        return None
    folder = Path(value)
    if not folder.is_absolute() and base_dir is not None:
        folder = base_dir / folder
    if value.rstrip("/") == packaged and not folder.exists():
        return None
    return folder


def _validate_instructors(
    raw: Any,
    *,
    source: str,
    lines: LineMap,
    overridden: set[tuple[str, ...]],
    section_models: Mapping[str, type[InstructorConfig]],
) -> tuple[dict[str, InstructorConfig], list[str]]:
    problems: list[str] = []
    result: dict[str, InstructorConfig] = {}
    if raw is None:
        return result, problems
    if not isinstance(raw, dict):
        return result, [f"{source}: 'instructors' must be a mapping of category name to section"]
    for name, section in raw.items():
        name = str(name)
        path = ("instructors", name)
        where = f"{source} line {lines[path]}" if path in lines else source
        model = section_models.get(name)
        if model is None:
            close = difflib.get_close_matches(name, list(section_models), n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(sorted(section_models))
            problems.append(f"{where}: unknown instructor '{name}'{hint}; known: {known}")
            continue
        try:
            result[name] = model.model_validate(section or {})
        except ValidationError as exc:
            problems.extend(
                describe_errors(
                    exc, model=model, prefix=path, source=source, lines=lines, overridden=overridden
                )
            )
    return result, problems


def _sampling_typos(
    data: Any, source: str, lines: LineMap, path: tuple[str, ...] = ()
) -> list[str]:
    """Keys of any ``api_params`` mapping that look like a misspelt known parameter.

    Other keys pass through to the endpoint (``top_k``, ``min_p``, …), but a near miss
    such as ``temprature`` would silently leave the default in force.
    """
    problems: list[str] = []
    if not isinstance(data, dict):
        return problems
    known = list(ApiParams.model_fields)
    for key, value in data.items():
        here = (*path, str(key))
        if key != "api_params" or not isinstance(value, dict):
            problems.extend(_sampling_typos(value, source, lines, here))
            continue
        for name in map(str, value):
            close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.85)
            if name in known or not close:
                continue
            full = (*here, name)
            where = f"{source} line {lines[full]}" if full in lines else source
            problems.append(f"{where}: unknown key '{'.'.join(full)}' (did you mean '{close[0]}'?)")
    return problems


_VERTEX = "Vertex AI is not supported here: the teacher is model at base_url (or OpenAI's API)"

#: Original keys accepted without effect, with the reason shown once per run.
IGNORED_KEYS: dict[str, str] = {
    "vertexai_credentials_path": _VERTEX,
    "vertexai_project_id": _VERTEX,
    "vertexai_region": _VERTEX,
    "vertexai_publisher": _VERTEX,
}

#: Per-instructor original keys accepted without effect.
IGNORED_INSTRUCTOR_KEYS: dict[str, dict[str, str]] = {
    "character": {
        "output_dir": "cards are kept in the store (airloom export --category character "
        "writes them out)",
    },
}

#: Instructor names of older original versions and the category that does their job.
RENAMED_INSTRUCTORS: dict[str, str] = {"chat_card": "character", "chat": "rp"}


def _original_forms(data: dict[str, Any], notes: list[str], source: str) -> list[str]:
    """Accept the original's keys that mean nothing here, and its old instructor names.

    Mutates ``data``; appends one note per key to ``notes``; returns problems.
    """
    problems: list[str] = []
    for key, reason in IGNORED_KEYS.items():
        if key in data:
            value = data.pop(key)
            if value not in (None, ""):
                notes.append(f"{source}: '{key}' has no effect: {reason}")
    sections = data.get("instructors")
    if not isinstance(sections, dict):
        return problems
    renamed: dict[str, Any] = {}
    for name, section in sections.items():
        new = RENAMED_INSTRUCTORS.get(str(name), str(name))
        if new != name:
            if new in sections:
                problems.append(
                    f"{source}: instructors '{name}' and '{new}' are the same instructor; "
                    f"keep only '{new}'"
                )
                continue
            notes.append(f"{source}: instructor '{name}' is called '{new}' here")
            if isinstance(section, dict) and section.get("prompt_path") == f"{name}.txt":
                section = {k: v for k, v in section.items() if k != "prompt_path"}
        for key, reason in IGNORED_INSTRUCTOR_KEYS.get(new, {}).items():
            if isinstance(section, dict) and key in section:
                section = {k: v for k, v in section.items() if k != key}
                notes.append(f"{source}: 'instructors.{name}.{key}' has no effect: {reason}")
        renamed[new] = section
    data["instructors"] = renamed
    return problems


#: The key of the validation context that carries the :class:`PluginTables`.
TABLES_CONTEXT = "plugin_tables"


@dataclass(frozen=True)
class PluginTables:
    """The names validation checks a config against: every category with its settings
    model, and every backend kind. The loader above the plug-in layers fills them in
    (:func:`airloom.config_load.plugin_tables`); a test may pass its own.

    Example:
        >>> PluginTables(section_models={}, backends=["openai"]).backends
        ['openai']
    """

    section_models: Mapping[str, type[InstructorConfig]]
    backends: Collection[str]


def validate_config(
    data: dict[str, Any],
    *,
    tables: PluginTables,
    source: str = "<config>",
    lines: LineMap | None = None,
    overridden: set[tuple[str, ...]] | None = None,
) -> Config:
    """Validate raw config data against the plug-in ``tables``; raise one
    :class:`ConfigError` listing every problem.

    Example:
        >>> tables = PluginTables(section_models={}, backends=["openai"])
        >>> validate_config({"backend": "openai", "base_url": "http://x/v1"}, tables=tables).backend
        'openai'
    """
    lines = lines or {}
    overridden = overridden or set()
    section_models = tables.section_models
    problems: list[str] = _sampling_typos(data, source, lines)
    notes: list[str] = []
    data = dict(data)
    problems.extend(_original_forms(data, notes, source))
    instructors_raw = data.pop("instructors", None)
    instructors, instructor_problems = _validate_instructors(
        instructors_raw,
        source=source,
        lines=lines,
        overridden=overridden,
        section_models=section_models,
    )
    problems.extend(instructor_problems)
    config: Config | None = None
    try:
        config = Config.model_validate(data, context={TABLES_CONTEXT: tables})
    except ValidationError as exc:
        problems.extend(
            describe_errors(
                exc, model=Config, prefix=(), source=source, lines=lines, overridden=overridden
            )
        )
    if config is not None:
        problems.extend(_cross_checks(config, instructors, source))
    raise_problems(problems, hint=EXAMPLE_HINT)
    assert config is not None
    config.instructors = instructors
    config.notes.extend(notes)
    return config


def _cross_checks(
    config: Config, instructors: Mapping[str, InstructorConfig], source: str
) -> list[str]:
    problems = []
    if config.endpoint is not None:
        if config.endpoint not in config.endpoints:
            known = ", ".join(sorted(config.endpoints)) or "none defined"
            problems.append(
                f"{source}: endpoint '{config.endpoint}' is not in 'endpoints' ({known})"
            )
        if config.base_url:
            problems.append(f"{source}: set base_url or endpoint for the teacher, not both")
    elif config.backend == "openai" and not config.base_url and not hosted_base_url(config.model):
        problems.append(f"{source}: backend 'openai' needs base_url")
    if config.backend == "scripted" and not config.script_path:
        problems.append(f"{source}: backend 'scripted' needs script_path")
    for name, section in instructors.items():
        if section.endpoint and section.endpoint not in config.endpoints:
            known = ", ".join(sorted(config.endpoints)) or "none defined"
            problems.append(
                f"{source}: instructors.{name}.endpoint '{section.endpoint}' is not in "
                f"'endpoints' ({known})"
            )
        if section.similarity_threshold is not None and section.min_docsearch_score is not None:
            problems.append(
                f"{source}: instructors.{name}: set either min_docsearch_score or "
                "similarity_threshold, not both"
            )
    return problems


#: Where every generation-config error points for the list of keys.
EXAMPLE_HINT = "see `airloom config example` for every key"
