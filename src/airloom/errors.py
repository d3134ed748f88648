"""The one exception hierarchy of airloom.

Every message says what went wrong and what to do next. The library raises these;
only ``airloom.cli`` prints them and chooses the exit code.

Example:
    >>> try:
    ...     raise ConfigError("unknown key 'modle'", hint="did you mean 'model'?")
    ... except AirloomError as exc:
    ...     print(exc)
    unknown key 'modle' (did you mean 'model'?)
"""

from __future__ import annotations

import importlib
from typing import Any

from airloom.redact import redact_text

__all__ = [
    "AirloomError",
    "BackendError",
    "BudgetExceeded",
    "ConfigError",
    "ContextLengthError",
    "EndpointUnreachable",
    "FatalBackendError",
    "Interrupted",
    "MissingDependencyError",
    "ModelFileError",
    "ParseError",
    "PlanError",
    "RateLimitedError",
    "RunStopped",
    "StoreError",
    "ToolError",
    "TrainError",
    "TransientBackendError",
]


class AirloomError(Exception):
    """Root of every error airloom raises on purpose.

    ``hint`` is the "what to do next" part of the message, kept apart so that
    callers can show it differently.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = redact_text(message)
        hint = None if hint is None else redact_text(hint)
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class ConfigError(AirloomError):
    """The configuration (file, ``--set`` override or option) is invalid."""

    exit_code = 2


class MissingDependencyError(AirloomError):
    """An optional dependency (extra) is not installed."""

    exit_code = 3


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional dependency or raise a clear :class:`MissingDependencyError`.

    Example:
        >>> require("json", "hf", "reading JSON").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package, which is not installed",
            hint=f"pip install 'airloom[{extra}]'",
        ) from exc


class BackendError(AirloomError):
    """A teacher call failed.

    ``status`` is the HTTP status where there was one; ``body`` the start of the
    reply body, kept for diagnosis.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.body = None if body is None else redact_text(body)
        super().__init__(message, hint=hint)


class TransientBackendError(BackendError):
    """A failure worth retrying: 5xx, connection errors, timeouts, garbled replies."""

    retryable = True


class EndpointUnreachable(TransientBackendError):
    """No connection to the endpoint at all (refused, reset, DNS): it may come back."""


class RateLimitedError(TransientBackendError):
    """HTTP 429 or an equivalent; ``retry_after`` is the server's wish in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        body: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, body=body)


class FatalBackendError(BackendError):
    """A failure no retry can fix (bad key, unknown model): the run must stop."""

    exit_code = 4


class ContextLengthError(BackendError):
    """The request does not fit the model's context window: skip that item."""


class ParseError(AirloomError):
    """Text could not be parsed into the expected structure; ``raw`` keeps the text."""

    def __init__(self, message: str, *, raw: str = "", hint: str | None = None) -> None:
        self.raw = raw
        super().__init__(message, hint=hint)


class PlanError(ParseError):
    """A reWOO plan is malformed or invalid; ``problems`` lists every reason."""

    def __init__(self, message: str, *, raw: str = "", problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message, raw=raw)


class ToolError(AirloomError):
    """A runtime tool (search, scraper, …) failed or refused a request."""


class BudgetExceeded(AirloomError):
    """A budget (requests, tokens, cost, steps, deadline) is spent: stop cleanly."""

    exit_code = 0


class RunStopped(AirloomError):
    """The run was asked to stop (Ctrl-C, SIGTERM): no new teacher calls are made."""

    exit_code = 130


class Interrupted(RunStopped):
    """A command was stopped by Ctrl-C or SIGTERM before it finished."""


class StoreError(AirloomError):
    """The store file cannot be used: wrong schema, another run's file, disk full."""

    exit_code = 5


class ModelFileError(AirloomError):
    """A model file is missing, truncated or corrupted, or cannot be written to the cache."""

    exit_code = 6


class TrainError(AirloomError):
    """Fine-tuning cannot start or continue: no usable data, a mismatched base, a full disk."""

    exit_code = 8
