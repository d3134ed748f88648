"""``agent``: choose a function and its parameters from an "Available functions" listing.

One round = ``batch_size`` items, each two calls:

1. the teacher invents a toolbox of ``min_functions``–``max_functions`` functions (JSON
   schemas), one user input that exactly one of them fits, and names that function;
2. the functions become a :class:`~airloom.runtime.functions.FunctionRegistry`; the
   prompt is the airoboros function-calling prompt rendered by that registry, with
   the functions shuffled (so the right one sits anywhere in the list) and the answer
   requested in JSON or YAML (``yaml_ratio``); the teacher answers it.

The answer is parsed and validated against the registry's schemas and must call the
function the input was written for; the record keeps the validated call re-serialised
as bare JSON or YAML ``{function, params}``, and the schemas in ``meta["functions"]``
so curation can re-validate it (``check_function_call``).

``mode: compose`` is for teachers too small to invent toolboxes: airloom draws the toolbox,
the target and the call's values from a function catalogue, the teacher writes only the
user's request, and the answer must use exactly the drawn values
(:mod:`airloom.instructors.agent_compose`).

Example:
    >>> AgentConfig().min_functions, AgentConfig().max_functions
    (3, 9)
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airloom.errors import AirloomError, ParseError
from airloom.instructors.agent_compose import (
    DrawnCall,
    check_values,
    draw_call,
    load_catalogue,
    parse_request,
    render_values,
)
from airloom.instructors.base import (
    REFUSALS_ONLY,
    Draft,
    Instructor,
    InstructorSettings,
    Rejected,
    RoundContext,
)
from airloom.instructors.checked import enforce
from airloom.instructors.settings.agent import AgentConfig
from airloom.instructors.verified import item_rngs
from airloom.reasons import Reason
from airloom.runtime.decode import Format, decode_structured
from airloom.runtime.functions import (
    FunctionCall,
    FunctionCallError,
    FunctionRegistry,
    FunctionSpec,
)

__all__ = ["AgentInstructor", "Toolbox", "answer_call", "parse_toolbox", "serialise_call"]


@dataclass(frozen=True)
class Toolbox:
    """What the teacher invented: a registry, a user input and the function it needs."""

    registry: FunctionRegistry
    user_input: str
    function: str


def _definitions(value: Any) -> list[Mapping[str, Any]]:
    functions = value.get("functions") if isinstance(value, Mapping) else None
    if not isinstance(functions, list) or not all(isinstance(f, Mapping) for f in functions):
        raise Rejected(Reason.UNPARSEABLE, "no 'functions' list of objects")
    return functions


def parse_toolbox(text: str, min_functions: int, max_functions: int) -> Toolbox:
    """Read the teacher's toolbox JSON; raise :class:`Rejected` saying what is wrong.

    Example:
        >>> box = parse_toolbox('{"functions": [{"name": "a", "description": "A."}, '
        ...     '{"name": "b", "description": "B."}], "input": "Do b.", "function": "b"}', 2, 3)
        >>> box.registry.names, box.function
        (['a', 'b'], 'b')
    """
    try:
        value = decode_structured(text, prefer="json").value
    except ParseError as exc:
        raise Rejected(Reason.UNPARSEABLE, exc.message) from exc
    definitions = _definitions(value)
    if not min_functions <= len(definitions) <= max_functions:
        raise Rejected(
            Reason.BAD_FUNCTIONS,
            f"{len(definitions)} functions, expected {min_functions} to {max_functions}",
        )
    try:
        registry = FunctionRegistry.from_schemas(definitions)
    except AirloomError as exc:
        raise Rejected(Reason.BAD_FUNCTIONS, exc.message) from exc
    if any(not spec.description.strip() for spec in registry):
        raise Rejected(Reason.BAD_FUNCTIONS, "a function has no description")
    user_input = str(value.get("input") or "").strip()
    function = str(value.get("function") or "").strip()
    if not user_input:
        raise Rejected(Reason.UNPARSEABLE, "no user input")
    if function not in registry:
        raise Rejected(Reason.BAD_FUNCTIONS, f"the chosen function {function!r} is not in the list")
    return Toolbox(registry, user_input, function)


def _schema(spec: FunctionSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description, "parameters": spec.parameters}


def serialise_call(call: FunctionCall, fmt: str) -> str:
    """A validated call as the bare JSON or YAML answer the records keep.

    Example:
        >>> print(serialise_call(FunctionCall("scan", {"deep": False}), "yaml"))
        function: scan
        params:
          deep: false
    """
    if fmt == "yaml":
        return yaml.safe_dump(
            call.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False
        ).strip()
    return json.dumps(call.to_dict(), indent=2, ensure_ascii=False)


def answer_call(toolbox: Toolbox, answer: str, fmt: str) -> FunctionCall:
    """Validate the teacher's answer; raise :class:`Rejected` with the reason.

    Example:
        >>> box = parse_toolbox('{"functions": [{"name": "a", "description": "A."}, '
        ...     '{"name": "b", "description": "B."}], "input": "Do b.", "function": "b"}', 2, 3)
        >>> answer_call(box, '{"function": "b", "params": {}}', "json").name
        'b'
    """
    try:
        call = toolbox.registry.parse(answer, prefer="yaml" if fmt == "yaml" else "json")
    except FunctionCallError as exc:
        raise Rejected(Reason.INVALID_CALL, "; ".join(exc.problems) or exc.message) from exc
    except ParseError as exc:
        raise Rejected(Reason.UNPARSEABLE, exc.message) from exc
    if not isinstance(call, FunctionCall):
        raise Rejected(Reason.INVALID_CALL, "the answer chooses no function")
    if call.name != toolbox.function:
        raise Rejected(
            Reason.WRONG_FUNCTION, f"called {call.name}, the input needs {toolbox.function}"
        )
    return call


class AgentInstructor(Instructor):
    """Function selection from an airoboros "Available functions" listing."""

    name = "agent"
    config_model = AgentConfig
    uses_topics = True

    def __init__(self, settings: InstructorSettings) -> None:
        super().__init__(settings)
        self._functions: list[dict[str, Any]] | None = None

    def _config(self) -> AgentConfig:
        config = self.config
        assert isinstance(config, AgentConfig)
        return config

    def _catalogue(self) -> list[dict[str, Any]]:
        if self._functions is None:
            path = self._config().functions_path
            base = self.settings.base_dir
            if path is not None and base is not None and not Path(path).is_absolute():
                path = str(base / path)
            self._functions = load_catalogue(path)
        return self._functions

    async def _written(
        self, ctx: RoundContext, index: int, rng: random.Random, topic: str
    ) -> Toolbox:
        config = self._config()
        template = self.settings.template("agent.txt")
        prompt = template.render(
            function_count=rng.randint(config.min_functions, config.max_functions),
            topic=topic or "any everyday or professional task",
            language=self.settings.language,
            topic_avoidance=self.settings.topic_avoidance,
        )
        text = await ctx.complete(prompt, key=f"toolbox:{index}", template=template, filtered=False)
        return parse_toolbox(text, config.min_functions, config.max_functions)

    async def _composed(
        self, ctx: RoundContext, index: int, rng: random.Random
    ) -> tuple[Toolbox, DrawnCall]:
        config = self._config()
        drawn = draw_call(rng, self._catalogue(), config.min_functions, config.max_functions)
        target = next(f for f in drawn.functions if f["name"] == drawn.target)
        template = self.settings.template("agent_request.txt")
        prompt = template.render(
            description=target.get("description", drawn.target),
            values=render_values(drawn.values),
            language=self.settings.language,
        )
        reply = await ctx.complete(
            prompt, key=f"request:{index}", template=template, filtered=False
        )
        request = parse_request(reply, drawn.values)
        return Toolbox(FunctionRegistry.from_schemas(drawn.functions), request, drawn.target), drawn

    async def _item(
        self, ctx: RoundContext, index: int, rng: random.Random, topic: str
    ) -> Draft | None:
        config = self._config()
        drawn: DrawnCall | None = None
        if config.mode == "compose":
            toolbox, drawn = await self._composed(ctx, index, rng)
        else:
            toolbox = await self._written(ctx, index, rng, topic)
        if not (await ctx.novel([toolbox.user_input]))[0]:
            return None  # counted as a duplicate by the novelty check
        order = toolbox.registry.names
        rng.shuffle(order)
        fmt: Format = "yaml" if rng.random() < config.yaml_ratio else "json"
        instruction = toolbox.registry.prompt(toolbox.user_input, fmt=fmt, names=order)
        answer = await ctx.complete(instruction, key=f"answer:{index}", filtered=REFUSALS_ONLY)
        call = answer_call(toolbox, answer, fmt)
        meta: dict[str, Any] = {
            "functions": [_schema(toolbox.registry[name]) for name in order],
            "function": toolbox.function,
            "format": fmt,
        }
        if drawn is not None:
            check_values(call, drawn)
            meta.update(mode="compose", values=drawn.values)
        draft = Draft(
            instruction=instruction,
            response=serialise_call(call, fmt),
            topic=None if drawn is not None else topic or None,
            dedup_text=toolbox.user_input,
            meta=meta,
        )
        return enforce(self.name, draft)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        count = self.settings.batch_size
        topics = ctx.topics(count)
        rngs = item_rngs(ctx.rng, count)
        items = [(i, rngs[i], topics[i % len(topics)] if topics else "") for i in range(count)]

        async def one(item: tuple[int, random.Random, str]) -> Draft | None:
            return await self._item(ctx, *item)

        return [draft for draft in await ctx.map(one, items) if draft is not None]
