"""The OpenAI wire schema (chat, completions, models, errors) as pydantic models.

One module for both sides: the client (:mod:`airloom.backends.openai`) builds its requests
and reads the replies with it, ``airloom serve`` validates requests and builds responses with
it, and the test server speaks it. Unknown request fields are kept (a client passes vendor
parameters through) and ignored by the server, as the OpenAI API and vLLM do; known fields
are checked (a bad value is a 400). Response fields that some servers leave out or garble
have defaults, so that a reader accepts every OpenAI-compatible server's replies.

The airoboros LMoE extensions are kept: an optional request field ``expert``, and
``expert`` and ``routing_duration`` (seconds) in responses.

Example:
    >>> req = ChatCompletionRequest.model_validate(
    ...     {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stop": "\\n"})
    >>> req.stop_list(), req.n
    (['\\n'], 1)
    >>> error_body("no model", "invalid_request_error", code="model_not_found")["error"]["code"]
    'model_not_found'
    >>> reply = ChatCompletion.model_validate_json(
    ...     '{"choices": [{"message": {"content": null}}], "usage": {"prompt_tokens": "x"}}')
    >>> reply.choices[0].text(), reply.choices[0].finish_reason, reply.usage.prompt_tokens
    ('', None, 0)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_STOP_STRINGS",
    "AssistantMessage",
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "ChunkChoice",
    "Completion",
    "CompletionChoice",
    "CompletionRequest",
    "ContentPart",
    "Delta",
    "ErrorDetail",
    "ErrorResponse",
    "LMoEFields",
    "ModelCard",
    "ModelList",
    "Role",
    "SamplingFields",
    "StreamOptions",
    "Usage",
    "chat_request_json",
    "error_body",
    "new_id",
    "now",
]

MAX_STOP_STRINGS = 4

Role = Literal["system", "user", "assistant", "developer"]


class _Lenient(BaseModel):
    """Unknown fields are kept and not checked (clients send vendor extensions)."""

    model_config = ConfigDict(extra="allow")


class ContentPart(_Lenient):
    """One part of a multi-part message content; only text parts are understood."""

    type: Literal["text"] = "text"
    text: str = ""


class ChatMessage(_Lenient):
    """One message of a chat request."""

    role: Role
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The content as plain text (text parts joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Lenient):
    """``stream_options``: ``include_usage`` adds a last chunk with the usage counts."""

    include_usage: bool = False


class SamplingFields(_Lenient):
    """The fields chat and completion requests share."""

    model: str = Field(min_length=1, max_length=256)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=16)
    stop: str | list[str] | None = None
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    user: str | None = None
    expert: str | None = Field(None, max_length=256, description="LMoE: the expert to use.")

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > MAX_STOP_STRINGS:
            raise ValueError(f"at most {MAX_STOP_STRINGS} stop strings are allowed")
        return value

    def stop_list(self) -> list[str]:
        """``stop`` as a list (empty strings dropped)."""
        if self.stop is None:
            return []
        values = [self.stop] if isinstance(self.stop, str) else self.stop
        return [v for v in values if v]

    def sampling(self, max_tokens: int) -> dict[str, Any]:
        """The engine parameters of one choice (``max_tokens`` already capped)."""
        params: dict[str, Any] = {
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "stop": self.stop_list(),
        }
        if self.seed is not None:
            params["seed"] = self.seed
        return params


class ChatCompletionRequest(SamplingFields):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)


def _request_json(
    schema: type[SamplingFields],
    model: str,
    params: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    stream: bool,
) -> str:
    """The JSON of a ``schema`` request: ``params`` (``None`` values left out), ``model``
    and the ``body`` fields, unchecked (see :func:`chat_request_json`)."""
    fields = {key: value for key, value in params.items() if value is not None}
    fields["model"] = model
    fields.update(body)
    if stream:
        fields["stream"] = True
    return schema.model_construct(**fields).model_dump_json(exclude_unset=True)


def chat_request_json(
    model: str,
    messages: Iterable[tuple[str, str]],
    params: Mapping[str, Any],
    *,
    stream: bool = False,
) -> str:
    """The JSON body a client sends: the given fields only (``None`` values left out).

    The values are passed through unchecked, as the endpoint may accept more than the
    OpenAI API does (vLLM takes more stop strings, vendor parameters); the endpoint judges.

    Example:
        >>> chat_request_json("m", [("user", "Hi")], {"temperature": 0.5, "top_k": None})
        '{"model":"m","temperature":0.5,"messages":[{"role":"user","content":"Hi"}]}'
    """
    turns = [
        ChatMessage.model_construct(role=cast(Role, role), content=content)
        for role, content in messages
    ]
    return _request_json(ChatCompletionRequest, model, params, {"messages": turns}, stream=stream)


def completion_request_json(
    model: str, prompt: str, params: Mapping[str, Any], *, stream: bool = False
) -> str:
    """The JSON body of a text completion request (as :func:`chat_request_json`).

    Example:
        >>> completion_request_json("m", "Hi", {"stop": ["###"]}, stream=True)
        '{"model":"m","stream":true,"stop":["###"],"prompt":"Hi"}'
    """
    return _request_json(CompletionRequest, model, params, {"prompt": prompt}, stream=stream)


class CompletionRequest(SamplingFields):
    """``POST /v1/completions`` (one prompt; a list of one is accepted)."""

    prompt: str | list[str]
    echo: bool = False

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError("give one prompt (send several requests for several prompts)")
        return value

    def prompt_text(self) -> str:
        """The prompt as one string."""
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class Usage(BaseModel):
    """Token counts of a response; a garbled count reads as 0 (the text is still good)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @field_validator("prompt_tokens", "completion_tokens", "total_tokens", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int:
        try:
            return max(0, int(value or 0))
        except (TypeError, ValueError):
            return 0


class AssistantMessage(BaseModel):
    """The message of a chat choice (``content`` may be null in replies)."""

    role: str = "assistant"
    content: str | None = None


class ChatChoice(BaseModel):
    """One choice of a chat completion."""

    index: int = 0
    message: AssistantMessage = Field(default_factory=AssistantMessage)
    finish_reason: str | None = None

    def text(self) -> str:
        """The message content, ``""`` when there is none."""
        return self.message.content or ""


class LMoEFields(BaseModel):
    """The response extensions of the airoboros LMoE API, and the readers' leniency: a
    ``model`` that is not a string is read as text, a garbled ``usage`` as no counts."""

    expert: str | None = None
    routing_duration: float = 0.0

    @field_validator("model", mode="before", check_fields=False)
    @classmethod
    def _model_text(cls, value: Any) -> str:
        return "" if value is None else str(value)

    @field_validator("usage", mode="before", check_fields=False)
    @classmethod
    def _readable_usage(cls, value: Any) -> Any:
        if value is None:  # the field's own default: no counts, or none at all in a chunk
            return cls.model_fields["usage"].get_default(call_default_factory=True)
        return value if isinstance(value, Mapping | Usage) else {}


class ChatCompletion(LMoEFields):
    """A chat completion response."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[ChatChoice]
    usage: Usage = Field(default_factory=Usage)


class Delta(BaseModel):
    """The change a stream chunk carries."""

    role: str | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    """One choice of a stream chunk."""

    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChatCompletionChunk(LMoEFields):
    """One server-sent event of a streamed chat completion."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None


def choice_text(choice: ChatChoice | ChunkChoice | CompletionChoice) -> str:
    """The text a choice carries: a completion's text, a chat message's or a stream
    delta's content (``""`` when there is none).

    Example:
        >>> choice_text(ChunkChoice(delta=Delta(content="Hi"))), choice_text(ChatChoice())
        ('Hi', '')
    """
    if isinstance(choice, CompletionChoice):
        return choice.text
    if isinstance(choice, ChunkChoice):
        return choice.delta.content or ""
    return choice.text()


class CompletionChoice(BaseModel):
    """One choice of a text completion."""

    index: int
    text: str
    finish_reason: str | None = None
    logprobs: None = None


class Completion(LMoEFields):
    """A text completion response (also the shape of its stream chunks)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    """One entry of ``GET /v1/models``; ``parent`` is the base of an expert."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "airloom"
    parent: str | None = None


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    """The OpenAI error object."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The OpenAI error body."""

    error: ErrorDetail


def error_body(
    message: str, kind: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An OpenAI error body as a dict."""
    detail = ErrorDetail(message=message, type=kind, code=code, param=param)
    return ErrorResponse(error=detail).model_dump()


def new_id(prefix: str) -> str:
    """A response id such as ``chatcmpl-1f0c…``.

    Example:
        >>> new_id("chatcmpl").startswith("chatcmpl-")
        True
    """
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    """The ``created`` timestamp."""
    return int(time.time())
