"""Inline character actions: ``<|begin_func|>{...}<|end_func|>`` inside narrative text.

:class:`ActionStreamParser` is fed a model's output in arbitrary chunks (markers may be
split anywhere) and returns events in order: :class:`TextEvent` for narrative (never
containing a marker), :class:`ActionEvent` for a valid call, :class:`ActionErrorEvent`
for a segment that cannot be used (its raw text is kept in the event, nothing is lost).
Calls are ``{"name", "parameters"}`` (cinematika) or ``{"name", "arguments"}`` with the
arguments possibly a JSON string (glaive); they are validated against the functions of
a character card with the same registry as plain function calling. Results go back to
the model as a user turn ``<|begin_func_response|>...<|end_func_response|>``.

Example:
    >>> card = CharacterCard.from_dict({"functions": [{"name": "pick_up",
    ...     "description": "pick up an object",
    ...     "parameters": {"object": {"type": "string", "description": "the object"}}}],
    ...     "objects_available": [{"name": "laptop", "description": "", "location": "desk"}]})
    >>> parser = ActionStreamParser(card)
    >>> events = parser.feed('Let me see. <|begin_func|>{"name": "pick_up", "param')
    >>> events += parser.feed('eters": {"object": "laptop"}}<|end_') + parser.feed("func|> Done.")
    >>> events += parser.close()
    >>> [type(e).__name__ for e in events]
    ['TextEvent', 'ActionEvent', 'TextEvent']
    >>> events[1].name, events[1].arguments
    ('pick_up', {'object': 'laptop'})
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airloom.errors import AirloomError, ParseError
from airloom.runtime.decode import loads_json, loads_lenient
from airloom.runtime.functions import (
    FunctionCall,
    FunctionCallError,
    FunctionRegistry,
    serialise_result,
    split_call,
)

__all__ = [
    "BEGIN_FUNC",
    "BEGIN_RESPONSE",
    "END_FUNC",
    "END_RESPONSE",
    "MAX_SEGMENT",
    "OBJECT_PARAMETERS",
    "ActionErrorEvent",
    "ActionEvent",
    "ActionResult",
    "ActionStreamParser",
    "CharacterCard",
    "Event",
    "ObjectAvailable",
    "TextEvent",
    "function_response_turn",
    "merge_text",
    "parse_action",
    "parse_actions",
    "run_action",
    "stream_events",
]

BEGIN_FUNC = "<|begin_func|>"
END_FUNC = "<|end_func|>"
BEGIN_RESPONSE = "<|begin_func_response|>"
END_RESPONSE = "<|end_func_response|>"
MAX_SEGMENT = 64_000
OBJECT_PARAMETERS = ("object", "item")
_QUIET_NOTES = {"name key was name", "params key was parameters", "params key was arguments"}


@dataclass(frozen=True, slots=True)
class TextEvent:
    """Narrative text, markers removed."""

    text: str


@dataclass(frozen=True, slots=True)
class ActionEvent:
    """A valid action call; ``raw`` is the JSON text the model wrote."""

    name: str
    arguments: dict[str, Any]
    raw: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionErrorEvent:
    """A segment that could not be used: why, every problem, and its raw text."""

    reason: str
    raw: str
    problems: tuple[str, ...] = ()


Event = TextEvent | ActionEvent | ActionErrorEvent


@dataclass(frozen=True, slots=True)
class ObjectAvailable:
    """An object of the scene the character may act on."""

    name: str
    description: str = ""
    location: str = ""


@dataclass(slots=True)
class CharacterCard:
    """The parts of a character card that inline actions need."""

    registry: FunctionRegistry
    objects: list[ObjectAvailable] = field(default_factory=list)

    @classmethod
    def from_dict(cls, card: Mapping[str, Any]) -> CharacterCard:
        """Build from the card's ``functions`` and ``objects_available`` lists.

        Function parameters may be the card's shorthand (names mapped straight to
        ``{"type", "description"}``, all required) or a JSON Schema object.

        Example:
            >>> card = CharacterCard.from_dict({"functions": [{"name": "scan",
            ...     "description": "scan for signals", "parameters": {}}]})
            >>> card.registry.names
            ['scan']
        """
        functions = card.get("functions", [])
        objects = card.get("objects_available", [])
        if not isinstance(functions, list) or not isinstance(objects, list):
            raise AirloomError(
                "a character card's 'functions' and 'objects_available' must be lists"
            )
        return cls(
            registry=FunctionRegistry.from_schemas(functions),
            objects=[
                ObjectAvailable(
                    str(o.get("name", "")),
                    str(o.get("description", "")),
                    str(o.get("location", "")),
                )
                for o in objects
                if isinstance(o, Mapping)
            ],
        )

    def object_problems(self, arguments: Mapping[str, Any]) -> list[str]:
        """Object-valued arguments that name no object of the scene.

        Example:
            >>> card = CharacterCard(FunctionRegistry(), [ObjectAvailable("laptop")])
            >>> card.object_problems({"object": "Laptop"}), card.object_problems({"object": "gun"})
            ([], ["$.parameters.object: 'gun' is not an available object (laptop)"])
        """
        if not self.objects:
            return []
        known = {item.name.casefold() for item in self.objects}
        problems = []
        for key in OBJECT_PARAMETERS:
            value = arguments.get(key)
            if isinstance(value, str) and value.strip().casefold() not in known:
                names = ", ".join(item.name for item in self.objects)
                problems.append(
                    f"$.parameters.{key}: {value!r} is not an available object ({names})"
                )
        return problems


# ---------------------------------------------------------------------- segments


def _decode_object(text: str) -> Any:
    try:
        return loads_json(text)
    except ParseError:
        return loads_lenient(text)


def parse_action(text: str, card: CharacterCard | None = None) -> ActionEvent | ActionErrorEvent:
    """Decode and validate the JSON of one action segment (markers already removed).

    Example:
        >>> segment = '''{"name": "hack", "arguments": "{\\\\"system\\\\": \\\\"x\\\\"}"}'''
        >>> event = parse_action(segment)
        >>> event.name, event.arguments, event.notes
        ('hack', {'system': 'x'}, ('params given as a JSON string',))
    """
    raw = text.strip()
    try:
        name, arguments, notes = split_call(_decode_object(raw), raw)
    except FunctionCallError as exc:
        return ActionErrorEvent(exc.message, raw, tuple(exc.problems))
    except ParseError as exc:
        return ActionErrorEvent(f"action is not a JSON object: {exc.message}", raw)
    kept = tuple(note for note in notes if note not in _QUIET_NOTES)
    if card is None:
        return ActionEvent(name, arguments, raw, kept)
    try:
        resolved, name_notes = card.registry.resolve(name, raw)
        checked = card.registry.check(resolved, arguments, raw)
    except FunctionCallError as exc:
        problems = [p.replace("$.params", "$.parameters") for p in exc.problems]
        return ActionErrorEvent(exc.message.split(":")[0], raw, tuple(problems))
    object_problems = card.object_problems(checked)
    if object_problems:
        return ActionErrorEvent(
            "action uses an object that is not there", raw, tuple(object_problems)
        )
    return ActionEvent(resolved, checked, raw, kept + tuple(name_notes))


@dataclass(slots=True)
class _SegmentScanner:
    """Finds where a segment's JSON object ends, resuming where the last call stopped.

    ``scan`` returns ``("object", end)`` when the first ``{`` is balanced (quotes
    honoured), ``("end", index)`` / ``("begin", index)`` when an end or begin marker
    appears outside any string first, ``None`` when more text is needed. One
    left-to-right pass over a growing buffer, so the answer never depends on how the
    stream was chunked, and feeding stays linear.
    """

    index: int = -1
    depth: int = 0
    quote: str = ""
    escaped: bool = False
    found: tuple[str, int] | None = None

    def scan(self, buffer: str) -> tuple[str, int] | None:
        if self.found is None:
            self.found = self._advance(buffer)
        return self.found

    def _advance(self, buffer: str) -> tuple[str, int] | None:
        if self.index < 0:
            self.index = buffer.index("{")
        while self.index < len(buffer):
            char = buffer[self.index]
            if self.quote:
                self._in_string(char)
            elif char in "\"'":
                self.quote = char
            elif char == "{":
                self.depth += 1
            elif char == "}":
                self.depth -= 1
                if self.depth == 0:
                    return "object", self.index + 1
            elif char == "<":
                marker = self._marker(buffer)
                if marker is not None:
                    return marker
                if len(buffer) - self.index < len(BEGIN_FUNC):
                    tail = buffer[self.index :]
                    if BEGIN_FUNC.startswith(tail) or END_FUNC.startswith(tail):
                        return None  # a marker may be arriving
            self.index += 1
        return None

    def _in_string(self, char: str) -> None:
        if self.escaped:
            self.escaped = False
        elif char == "\\":
            self.escaped = True
        elif char == self.quote:
            self.quote = ""

    def _marker(self, buffer: str) -> tuple[str, int] | None:
        if buffer.startswith(END_FUNC, self.index):
            return "end", self.index
        if buffer.startswith(BEGIN_FUNC, self.index):
            return "begin", self.index
        return None


def _held_back(text: str, marker: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``marker``."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class ActionStreamParser:
    """Incremental parser: ``feed`` chunks, then ``close``; each returns new events.

    Pure and synchronous: no I/O, no clock. Text is emitted as soon as it cannot be
    the start of a marker; an action is emitted once its JSON object and end marker
    (or, when the end marker is missing, the first text after the object) arrived.
    """

    def __init__(
        self, card: CharacterCard | None = None, *, max_segment: int = MAX_SEGMENT
    ) -> None:
        self.card = card
        self.max_segment = max_segment
        self._buffer = ""
        self._in_segment = False
        self._scanner = _SegmentScanner()

    def feed(self, chunk: str) -> list[Event]:
        """Consume one chunk of model output.

        Example:
            >>> p = ActionStreamParser()
            >>> p.feed("Hi <|beg")
            [TextEvent(text='Hi ')]
            >>> [type(event).__name__ for event in p.feed("in_func|>{}<|end_func|>!")]
            ['ActionErrorEvent', 'TextEvent']
        """
        self._buffer += chunk
        events: list[Event] = []
        while True:
            step = self._segment_step(final=False) if self._in_segment else self._text_step()
            if step is None:
                return events
            events.extend(step)

    def close(self) -> list[Event]:
        """End of stream: flush text; an unterminated segment becomes an event.

        Example:
            >>> p = ActionStreamParser()
            >>> p.feed('Go <|begin_func|>{"name": "x", "par')
            [TextEvent(text='Go ')]
            >>> p.close()
            [ActionErrorEvent(reason='unterminated action at the end of the output', \
raw='{"name": "x", "par', problems=())]
        """
        events: list[Event] = []
        while self._buffer:
            step = self._segment_step(final=True) if self._in_segment else self._flush_text()
            if step is None:
                break
            events.extend(step)
        self._leave_segment("")
        return events

    # -- text mode

    def _text_step(self) -> list[Event] | None:
        index = self._buffer.find(BEGIN_FUNC)
        stray = self._buffer.find(END_FUNC)
        if stray >= 0 and (index < 0 or stray < index):
            before, self._buffer = self._buffer[:stray], self._buffer[stray + len(END_FUNC) :]
            error = ActionErrorEvent("end marker without a begin marker", END_FUNC)
            return [TextEvent(before), error] if before else [error]
        if index >= 0:
            before, self._buffer = self._buffer[:index], self._buffer[index + len(BEGIN_FUNC) :]
            self._in_segment = True
            return [TextEvent(before)] if before else []
        keep = max(_held_back(self._buffer, BEGIN_FUNC), _held_back(self._buffer, END_FUNC))
        ready = self._buffer[: len(self._buffer) - keep]
        if not ready:
            return None
        self._buffer = self._buffer[len(ready) :]
        return [TextEvent(ready)]

    def _flush_text(self) -> list[Event]:
        text, self._buffer = self._buffer, ""
        return [TextEvent(text)]

    # -- segment mode

    def _leave_segment(self, rest: str) -> None:
        self._buffer, self._in_segment = rest, False
        self._scanner = _SegmentScanner()

    def _segment_step(self, *, final: bool) -> list[Event] | None:
        buffer = self._buffer
        lead = buffer.lstrip()
        if not lead:
            if final:
                self._leave_segment("")
                return [ActionErrorEvent("action marker at the end of the output with no call", "")]
            return None
        if lead[0] != "{":
            self._leave_segment(buffer)
            return [ActionErrorEvent("action marker not followed by a JSON object", BEGIN_FUNC)]
        found = self._scanner.scan(buffer)
        if found is None:
            return self._incomplete_object(buffer, final)
        kind, position = found
        if kind == "object":
            return self._complete_object(buffer, (buffer.index("{"), position), final)
        marker = END_FUNC if kind == "end" else ""
        self._leave_segment(buffer[position + len(marker) :])
        return [ActionErrorEvent("action is not a complete JSON object", buffer[:position].strip())]

    def _incomplete_object(self, buffer: str, final: bool) -> list[Event] | None:
        if final:
            self._leave_segment("")
            return [
                ActionErrorEvent("unterminated action at the end of the output", buffer.strip())
            ]
        if len(buffer) > self.max_segment:
            self._leave_segment("")
            return [ActionErrorEvent(f"action longer than {self.max_segment} characters", buffer)]
        return None

    def _complete_object(
        self, buffer: str, span: tuple[int, int], final: bool
    ) -> list[Event] | None:
        body, rest = buffer[span[0] : span[1]], buffer[span[1] :]
        after = rest.lstrip()
        if after.startswith(END_FUNC):
            self._leave_segment(after[len(END_FUNC) :])
            return [parse_action(body, self.card)]
        if not final and (not after or END_FUNC.startswith(after)):
            return None  # the end marker may still be on its way
        self._leave_segment(rest)
        event = parse_action(body, self.card)
        if isinstance(event, ActionEvent):
            event = ActionEvent(
                event.name, event.arguments, event.raw, (*event.notes, "end marker missing")
            )
        return [event]


def parse_actions(text: str, card: CharacterCard | None = None) -> list[Event]:
    """Parse a whole output at once (same result as feeding it in any chunks).

    Adjacent text events are merged.

    Example:
        >>> [type(e).__name__ for e in parse_actions(
        ...     '<|begin_func|>{"name": "a", "parameters": {}}<|end_func|>'
        ...     '<|begin_func|>{"name": "b", "parameters": {}}<|end_func|> ok')]
        ['ActionEvent', 'ActionEvent', 'TextEvent']
    """
    parser = ActionStreamParser(card)
    return merge_text(parser.feed(text) + parser.close())


def merge_text(events: Iterable[Event]) -> list[Event]:
    """Join consecutive text events (streaming splits text arbitrarily).

    Example:
        >>> merge_text([TextEvent("a"), TextEvent("b")])
        [TextEvent(text='ab')]
    """
    merged: list[Event] = []
    for event in events:
        if isinstance(event, TextEvent) and merged and isinstance(merged[-1], TextEvent):
            merged[-1] = TextEvent(merged[-1].text + event.text)
        elif not isinstance(event, TextEvent) or event.text:
            merged.append(event)
    return merged


async def stream_events(
    chunks: AsyncIterable[str], card: CharacterCard | None = None
) -> AsyncIterator[Event]:
    """Events from an async stream of text deltas (e.g. ``backend.stream(request)``).

    Example:
        >>> import asyncio
        >>> async def deltas():
        ...     for part in ["Hi <|begin", "_func|>{\\"name\\": \\"x\\"}", "<|end_func|>"]:
        ...         yield part
        >>> async def collect():
        ...     return [type(e).__name__ async for e in stream_events(deltas())]
        >>> asyncio.run(collect())
        ['TextEvent', 'ActionEvent']
    """
    parser = ActionStreamParser(card)
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
    for event in parser.close():
        yield event


# ------------------------------------------------------------------ results channel


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What running an action gave: a value, or an error message."""

    name: str
    value: Any = None
    error: str | None = None


async def run_action(
    event: ActionEvent, card: CharacterCard, *, timeout: float | None = 30.0
) -> ActionResult:
    """Dispatch a validated action to the card's registered callable.

    Failures become an :class:`ActionResult` with ``error`` (the story goes on).

    Example:
        >>> import asyncio
        >>> registry = FunctionRegistry()
        >>> @registry.register
        ... def scan() -> str:
        ...     '''Scan for wireless signals.'''
        ...     return "3 networks"
        >>> asyncio.run(run_action(ActionEvent("scan", {}, "{}"), CharacterCard(registry)))
        ActionResult(name='scan', value='3 networks', error=None)
    """
    try:
        value = await card.registry.dispatch(
            FunctionCall(event.name, event.arguments), timeout=timeout
        )
    except AirloomError as exc:
        return ActionResult(event.name, error=exc.message)
    return ActionResult(event.name, value=value)


def function_response_turn(results: Sequence[ActionResult]) -> dict[str, str]:
    """The user turn that carries action results back to the model.

    Example:
        >>> function_response_turn([ActionResult("scan", {"networks": 3})])
        {'role': 'user', 'content': '<|begin_func_response|>{"networks": 3}<|end_func_response|>'}
    """
    parts = []
    for result in results:
        payload = {"error": result.error} if result.error is not None else result.value
        text = serialise_result(payload)
        text = text.replace(END_RESPONSE, "<|end-func_response|>")
        parts.append(f"{BEGIN_RESPONSE}{text}{END_RESPONSE}")
    return {"role": "user", "content": "\n".join(parts)}
