"""Keep secrets out of what airloom stores and prints.

* :func:`mask_url` hides the credentials of a URL (``user:password@``) and the values of
  query parameters that carry keys or tokens;
* :func:`redact_config` replaces keys, tokens and authentication headers in a
  configuration (as stored with each run) by ``***`` and masks its URLs;
* :func:`redact_text` masks every URL credential in a message and every secret value
  the configuration announced with :func:`remember` (an API key, an auth header), so an
  error that quotes a server's reply cannot print the key either.

Every :class:`airloom.errors.AirloomError` passes its message through
:func:`redact_text`.

Example:
    >>> mask_url("https://bob:hunter2@api.example.com/v1?api_key=abc&x=1")
    'https://***@api.example.com/v1?api_key=***&x=1'
    >>> redact_config({"openai_api_key": "sk-1", "headers": {"Authorization": "Bearer t"}})
    {'openai_api_key': '***', 'headers': {'Authorization': '***'}}
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MASK",
    "is_secret_name",
    "mask_url",
    "redact_config",
    "redact_text",
    "remember",
    "remember_headers",
]

MASK = "***"
_SECRET_NAME = re.compile(
    r"(?:^|[_\-\s])(?:api[_-]?key|key|token|secret|passw(?:or)?d|authorization|auth|cookie"
    r"|credentials?|session)$",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@\"'<>]+@")
_QUERY_SECRET = re.compile(
    r"([?&](?:[\w-]*(?:key|token|secret|password|signature|sig)[\w-]*)=)[^&#\s\"'<>]+",
    re.IGNORECASE,
)
_KNOWN: set[str] = set()
_GUARD = threading.Lock()


def is_secret_name(name: str) -> bool:
    """True for a setting or header name that holds a secret.

    Example:
        >>> [is_secret_name(n) for n in ("X-Api-Key", "openai_api_key", "api_key_env",
        ...                                  "max_tokens", "model")]
        [True, True, False, False, False]
    """
    return bool(_SECRET_NAME.search(name))


def remember(value: str | None) -> None:
    """Announce a secret value so that :func:`redact_text` masks it wherever it appears.

    Example:
        >>> remember("sk-remembered-123")
        >>> redact_text("server said: bad key sk-remembered-123")
        'server said: bad key ***'
    """
    if value and len(value) >= 6:
        with _GUARD:
            _KNOWN.add(value)
            if value.lower().startswith(("bearer ", "basic ", "token ")):
                _KNOWN.add(value.split(None, 1)[1])


def remember_headers(headers: Mapping[str, str]) -> None:
    """:func:`remember` the value of every secret-looking name in ``headers``.

    Example:
        >>> remember_headers({"X-Api-Key": "k-123456", "X-Title": "airloom"})
        >>> redact_text("k-123456 airloom")
        '*** airloom'
    """
    for name, value in headers.items():
        if is_secret_name(name):
            remember(value)


def mask_url(url: str) -> str:
    """A URL without its credentials or secret query values (module docstring)."""
    return _QUERY_SECRET.sub(rf"\1{MASK}", _URL_CREDENTIALS.sub(rf"\1{MASK}@", url))


def redact_text(text: str) -> str:
    """``text`` with URL credentials and remembered secrets masked.

    Example:
        >>> redact_text("cannot reach http://u:p@h:8/v1: refused")
        'cannot reach http://***@h:8/v1: refused'
    """
    text = mask_url(text)
    with _GUARD:
        known = sorted(_KNOWN, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_config(value: Any, name: str = "") -> Any:
    """A copy of a configuration (dicts, lists, strings) with secrets replaced by ``***``:
    values under secret-looking names, every header value of an authentication header,
    and URL credentials (module docstring)."""
    if isinstance(value, dict):
        return {key: redact_config(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_config(item, name) for item in value]
    if isinstance(value, str):
        if name and is_secret_name(name) and value:
            return MASK
        return redact_text(value)
    return value
