"""``airloom ask``: one prompt to the teacher (the embedded model, or an OpenAI-compatible
endpoint), answer printed as it arrives."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from airloom.backends.base import Backend, ChatRequest, ChatResponse, Message, StreamingBackend
from airloom.cli.backend_options import BackendChoice, backend_options
from airloom.cli.format_cmd import resolve_template
from airloom.cli.interrupt import run_command
from airloom.formats.chat import (
    ChatTemplate,
    is_plainformat,
    plain_code,
    render,
    template_for_model,
)

__all__ = ["ask", "chat_request", "merge_options", "run_request"]


def merge_options(params: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The config's sampling parameters with the command line's given options on top.

    Example:
        >>> merge_options({"temperature": 0.7, "top_p": 0.5}, temperature=None, max_tokens=9)
        {'temperature': 0.7, 'top_p': 0.5, 'max_tokens': 9}
    """
    return {**params, **{key: value for key, value in options.items() if value is not None}}


def chat_request(
    prompt: str,
    *,
    model: str,
    template: ChatTemplate | None,
    system: str | None,
    params: dict[str, Any],
) -> ChatRequest:
    """The chat request for one prompt: the template's default system prompt and stops.

    The endpoint applies the model's own chat template to these messages; the template
    chosen here supplies the system prompt the model was trained with and the stop
    strings that end its turn.

    Example:
        >>> from airloom.formats.chat import get_template
        >>> req = chat_request("Hi", model="m", template=get_template("airoboros-2.2"),
        ...                    system=None, params={})
        >>> [m.to_dict() for m in req.messages], req.params["stop"]
        ([{'role': 'system', 'content': 'A chat.'}, {'role': 'user', 'content': 'Hi'}], \
['USER:', 'ASSISTANT:', '</s>'])
    """
    messages: list[Message] = []
    system_text = system if system is not None else (template.default_system if template else "")
    if system_text:
        messages.append(Message("system", system_text))
    messages.append(Message("user", prompt))
    all_params = {k: v for k, v in params.items() if v is not None}
    if template is not None:
        all_params.setdefault("stop", list(template.stop))
    return ChatRequest(model=model, messages=tuple(messages), params=all_params)


async def run_request(
    backend: Backend, request: ChatRequest, *, stream: bool, sink: Callable[[str], None]
) -> ChatResponse:
    """Send one request, hand each piece of text to ``sink``, return the whole answer
    (a streamed answer comes back with finish reason ``stop``).

    A local model is loaded first, with visible progress. The backend is closed
    afterwards.

    Example:
        >>> import asyncio
        >>> class Echo:
        ...     name = "echo"
        ...     async def complete(self, request):
        ...         return ChatResponse(text=request.last_user_text().upper())
        ...     async def aclose(self):
        ...         pass
        >>> pieces = []
        >>> req = ChatRequest(model="m", messages=(Message("user", "hi"),))
        >>> asyncio.run(run_request(Echo(), req, stream=True, sink=pieces.append)).text, pieces
        ('HI', ['HI'])
    """
    from airloom.cli.model_cmd import ready

    try:
        await ready(backend)
        if stream and isinstance(backend, StreamingBackend):
            parts: list[str] = []
            async for delta in backend.stream(request):
                sink(delta)
                parts.append(delta)
            return ChatResponse(text="".join(parts))
        response = await backend.complete(request)
        sink(response.text)
        return response
    finally:
        await backend.aclose()


def _echo_now(text: str) -> None:
    click.echo(text, nl=False)
    sys.stdout.flush()


@click.command("ask")
@click.argument("prompt")
@click.option(
    "--template",
    "-t",
    "template_name",
    default=None,
    help="Prompt template (default: from the model id when it is an airoboros one).",
)
@click.option("--system", default=None, help="System prompt (default: the template's own).")
@click.option(
    "--raw",
    is_flag=True,
    help="Print the answer exactly as received (no PLAINFORMAT code extraction).",
)
@click.option("--no-stream", is_flag=True, help="Wait for the whole answer instead of streaming.")
@click.option("--temperature", type=float, default=None, help="Sampling temperature (0: greedy).")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Most tokens of the answer; the answer then comes whole, and a cut one says so.",
)
@click.option(
    "--show-prompt",
    is_flag=True,
    help="Also print, on stderr, the exact prompt the template makes of the request.",
)
@backend_options
def ask(
    prompt: str,
    template_name: str | None,
    system: str | None,
    raw: bool,
    no_stream: bool,
    temperature: float | None,
    max_tokens: int | None,
    show_prompt: bool,
    backend: BackendChoice,
) -> None:
    """Send PROMPT ("-" reads stdin) to the teacher and print the answer as it arrives.

    The teacher is the embedded local model unless --base-url (or a config with
    base_url) names an OpenAI-compatible endpoint.
    """
    if prompt == "-":
        prompt = sys.stdin.read()
    teacher, model, params = backend.build_with()
    name = template_name or backend.adapter_template() or template_for_model(model)
    template = resolve_template(name) if name else None
    request = chat_request(
        prompt,
        model=model,
        template=template,
        system=system,
        params=merge_options(params, temperature=temperature, max_tokens=max_tokens),
    )
    if show_prompt and template is not None:
        turns = [{"role": "user", "content": prompt}]
        click.echo(render(template, system, turns), err=True)
        click.echo("-" * 40, err=True)
    extract_code = is_plainformat(prompt) and not raw
    sink = (lambda _text: None) if extract_code else _echo_now
    # A cut can only be told from a whole answer's finish reason, not from a stream.
    stream = not no_stream and max_tokens is None
    response = run_command(run_request(teacher, request, stream=stream, sink=sink))
    answer = response.text
    if extract_code:
        click.echo(plain_code(answer))
    elif not raw and not answer.endswith("\n"):
        click.echo()
    if response.truncated:
        click.echo(
            f"[the answer was cut at --max-tokens {max_tokens}; raise it for the whole answer]",
            err=True,
        )
