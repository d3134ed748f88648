"""``inline_actions``: character chats whose replies act on the world with inline calls.

The 3.3 "inline character actions" format: a character card extended with
``objects_available`` and ``functions``, and in-character replies that embed
``<|begin_func|>{"name": ..., "parameters": {...}}<|end_func|>`` where the character
acts. One round = one session:

1. a stored card (``ctx.source_records(["character"])``) and one call that designs a
   scene for it as JSON — setting, objects, functions, and ``exchanges`` user
   messages; the functions are loaded with the runtime's registry
   (:class:`airloom.runtime.actions.CharacterCard`), so a scene the runtime could not
   use is rejected (``bad_scene``) with the reason;
2. per user message, one in-character reply; every call in it is validated with
   :func:`airloom.runtime.actions.parse_actions` against the card's functions and
   objects, and a reply with an invalid call is rejected with the runtime's reason
   (``invalid_action``) and rerolled; valid calls are rewritten in the canonical form;
3. with ``function_responses`` on, a reply that acted is followed by the
   function-response turn (``<|begin_func_response|>…<|end_func_response|>``, one
   block per call, results written by the teacher as JSON) and the character's
   reaction to it, which must not act again.

Stored as ONE record: ``system`` = the card (persona, setting, the objects and
functions JSON, as the 3.3 card puts it in the system prompt), ``conversation``,
``meta["card"]`` (what the ``inline_actions`` check re-validates in curation).

Example:
    >>> scene = parse_scene('{"setting": "A lab.", "objects_available": [{"name": "vial"}],'
    ...     ' "functions": [{"name": "pick_up", "description": "take",'
    ...     ' "parameters": {"object": {"type": "string"}}}], "prompts": ["Grab it!"]}',
    ...     min_functions=1, min_objects=1)
    >>> scene.card.registry.names, scene.prompts
    (['pick_up'], ['Grab it!'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airloom.checks import inline_actions as _inline_checks  # noqa: F401  (registers)
from airloom.checks import sessions as _session_checks  # noqa: F401  (registers)
from airloom.errors import AirloomError, ParseError
from airloom.instructors.base import (
    Draft,
    Instructor,
    Rejected,
    RoundContext,
    Turn,
    load_template,
)
from airloom.instructors.characters import (
    IN_CHARACTER_RULES,
    Card,
    cut_at_markers,
    load_cards,
    session_draft,
    session_text,
    strip_speaker,
)
from airloom.instructors.checked import enforce
from airloom.instructors.settings.inline_actions import InlineActionsConfig
from airloom.reasons import Reason
from airloom.runtime.actions import (
    BEGIN_FUNC,
    END_FUNC,
    ActionErrorEvent,
    ActionEvent,
    ActionResult,
    CharacterCard,
    TextEvent,
    function_response_turn,
    parse_actions,
)
from airloom.runtime.decode import decode_structured

__all__ = [
    "InlineActionsInstructor",
    "Scene",
    "card_system",
    "parse_results",
    "parse_scene",
    "render_events",
    "validate_reply",
]


@dataclass(frozen=True)
class Scene:
    """A card's scene: setting, objects, functions (as written), user prompts."""

    setting: str
    objects: list[dict[str, str]]
    functions: list[dict[str, Any]]
    prompts: list[str]
    card: CharacterCard


def _objects(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise Rejected(Reason.BAD_SCENE, "objects_available is not a list")
    objects: list[dict[str, str]] = []
    names: set[str] = set()
    for item in value:
        if not isinstance(item, Mapping) or not str(item.get("name", "")).strip():
            raise Rejected(Reason.BAD_SCENE, f"object without a name: {item!r:.60}")
        name = str(item["name"]).strip()
        if name.casefold() in names:
            raise Rejected(Reason.BAD_SCENE, f"object {name!r} listed twice")
        names.add(name.casefold())
        objects.append(
            {
                "name": name,
                "description": str(item.get("description", "")).strip(),
                "location": str(item.get("location", "")).strip(),
            }
        )
    return objects


def parse_scene(text: str, *, min_functions: int, min_objects: int) -> Scene:
    """Read the scene JSON; raise :class:`Rejected` (``bad_scene``) saying what is wrong.

    Example:
        >>> try:
        ...     parse_scene('{"setting": "x", "functions": [], "objects_available": [],'
        ...                 ' "prompts": ["a"]}', min_functions=1, min_objects=0)
        ... except Rejected as exc:
        ...     print(exc.reason, "-", exc.detail)
        bad_scene - 0 functions (1 needed)
    """
    try:
        value = decode_structured(text).value
    except ParseError as exc:
        raise Rejected(Reason.BAD_SCENE, f"not JSON: {exc.message}") from exc
    if not isinstance(value, Mapping):
        raise Rejected(Reason.BAD_SCENE, "the scene is not a JSON object")
    setting = str(value.get("setting", "")).strip()
    if not setting:
        raise Rejected(Reason.BAD_SCENE, "no setting")
    objects = _objects(value.get("objects_available", []))
    functions = value.get("functions", [])
    if not isinstance(functions, list) or not all(isinstance(f, Mapping) for f in functions):
        raise Rejected(Reason.BAD_SCENE, "functions is not a list of objects")
    functions = [dict(f) for f in functions]
    try:
        card = CharacterCard.from_dict({"functions": functions, "objects_available": objects})
    except AirloomError as exc:
        raise Rejected(Reason.BAD_SCENE, exc.message) from exc
    if len(card.registry) < min_functions:
        raise Rejected(Reason.BAD_SCENE, f"{len(card.registry)} functions ({min_functions} needed)")
    if len(objects) < min_objects:
        raise Rejected(Reason.BAD_SCENE, f"{len(objects)} objects ({min_objects} needed)")
    prompts = value.get("prompts", [])
    if not isinstance(prompts, list):
        raise Rejected(Reason.BAD_SCENE, "prompts is not a list")
    prompts = [str(p).strip() for p in prompts if str(p).strip()]
    if not prompts:
        raise Rejected(Reason.BAD_SCENE, "no prompts")
    return Scene(setting, objects, functions, prompts, card)


def render_events(events: list[TextEvent | ActionEvent | ActionErrorEvent]) -> str:
    """A reply rewritten with every valid call in the canonical
    ``<|begin_func|>{"name", "parameters"}<|end_func|>`` form.

    Example:
        >>> render_events([TextEvent("Go. "), ActionEvent("scan", {}, "{}")])
        'Go. <|begin_func|>{"name": "scan", "parameters": {}}<|end_func|>'
    """
    parts: list[str] = []
    for event in events:
        if isinstance(event, TextEvent):
            parts.append(event.text)
        elif isinstance(event, ActionEvent):
            call = json.dumps(
                {"name": event.name, "parameters": event.arguments}, ensure_ascii=False
            )
            parts.append(f"{BEGIN_FUNC}{call}{END_FUNC}")
    return "".join(parts).strip()


def validate_reply(
    text: str, card: CharacterCard, name: str, *, allow_actions: bool = True
) -> tuple[str, list[ActionEvent]]:
    """Check a character reply's calls against the card; return the canonical reply
    and its actions, or raise :class:`Rejected` with the runtime's reason.

    Example:
        >>> card = CharacterCard.from_dict({"functions": [{"name": "scan", "parameters": {}}]})
        >>> validate_reply('Wait. <|begin_func|>{"name": "scan", "arguments": {}}', card, "Ann")
        ('Wait. <|begin_func|>{"name": "scan", "parameters": {}}<|end_func|>', \
[ActionEvent(name='scan', arguments={}, raw='{"name": "scan", "arguments": {}}', \
notes=('end marker missing',))])
        >>> try:
        ...     validate_reply('<|begin_func|>{"name": "fly", "parameters": {}}<|end_func|>',
        ...                    card, "Ann")
        ... except Rejected as exc:
        ...     print(exc.reason, "-", exc.detail)
        invalid_action - unknown function 'fly': $.function: 'fly' is not one of the listed \
functions (scan)
    """
    cleaned = strip_speaker(cut_at_markers(text, ("REMINDER:",)), name)
    events = parse_actions(cleaned, card)
    for event in events:
        if isinstance(event, ActionErrorEvent):
            detail = "; ".join(event.problems) if event.problems else event.raw[:80]
            raise Rejected(Reason.INVALID_ACTION, f"{event.reason}: {detail}")
    actions = [event for event in events if isinstance(event, ActionEvent)]
    if actions and not allow_actions:
        raise Rejected(Reason.UNEXPECTED_ACTION, f"{actions[0].name} in a reaction to results")
    narration = "".join(e.text for e in events if isinstance(e, TextEvent)).strip()
    if not narration:
        raise Rejected(Reason.NO_NARRATION, "a reply made only of calls")
    return render_events(events), actions


def parse_results(text: str, count: int) -> list[Any]:
    """The teacher's results of ``count`` actions: a JSON list of that length.

    Example:
        >>> parse_results('[{"status": "done"}, "ok"]', 2)
        [{'status': 'done'}, 'ok']
    """
    try:
        value = decode_structured(text).value
    except ParseError as exc:
        raise Rejected(Reason.BAD_RESULTS, exc.message) from exc
    if isinstance(value, Mapping) and len(value) == 1:
        value = next(iter(value.values()))
    if not isinstance(value, list) or len(value) != count:
        got = len(value) if isinstance(value, list) else type(value).__name__
        raise Rejected(Reason.BAD_RESULTS, f"expected a list of {count} results, got {got}")
    return value


def card_system(card: Card, scene: Scene) -> str:
    """The system prompt of the session: persona, setting, objects and functions JSON.

    Example:
        >>> scene = Scene("A lab.", [], [{"name": "scan"}], [], CharacterCard.from_dict({}))
        >>> '"functions"' in card_system(Card("Ann", "A chemist.", ""), scene)
        True
    """
    payload = {"objects_available": scene.objects, "functions": scene.functions}
    listing = json.dumps(payload, ensure_ascii=False, indent=2)
    return f"{card.persona()}\n\nSetting: {scene.setting}\n\n{listing}"


class InlineActionsInstructor(Instructor):
    """Inline character actions (see the module docstring)."""

    name = "inline_actions"
    config_model = InlineActionsConfig
    depends_on = ("character",)

    def expected_yield(self) -> int:
        return 1

    @property
    def actions_config(self) -> InlineActionsConfig:
        config = self.config
        assert isinstance(config, InlineActionsConfig)
        return config

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.actions_config
        settings = self.settings
        card = ctx.rng.choice(await load_cards(ctx))
        template = settings.template("inline_actions_scene.txt")
        text = await ctx.complete(
            template.render(
                name=card.name,
                description=card.description,
                min_functions=config.min_functions,
                max_functions=config.max_functions,
                min_objects=max(1, config.min_objects),
                exchanges=config.exchanges,
                language=settings.language,
            ),
            key="scene",
            template=template,
            filtered=False,
        )
        scene = parse_scene(
            text, min_functions=config.min_functions, min_objects=config.min_objects
        )
        system = card_system(card, scene)
        turns = await self._session(ctx, card, scene, system)
        if not turns:
            raise Rejected(Reason.NO_EXCHANGE, "no user message got a valid reply")
        draft = session_draft(
            system,
            turns,
            dedup_text="\n".join(
                [scene.setting, *(f["name"] for f in scene.functions), session_text(turns)]
            ),
            meta={
                "card": {
                    **card.to_meta(),
                    "setting": scene.setting,
                    "objects_available": scene.objects,
                    "functions": scene.functions,
                },
                "card_id": card.id,
                "character": card.name,
            },
        )
        enforce(self.name, draft)
        actions = sum(turn.content.count(BEGIN_FUNC) for turn in turns if turn.role == "assistant")
        if actions < config.min_actions:
            raise Rejected(
                Reason.NO_ACTIONS, f"{actions} valid calls ({config.min_actions} needed)"
            )
        return [draft]

    async def _session(
        self, ctx: RoundContext, card: Card, scene: Scene, system: str
    ) -> list[Turn]:
        config = self.actions_config
        generation_system = self.settings.template("inline_actions.txt", response=True).render(
            card_system=system,
            name=card.name,
            language=self.settings.language,
            rules=IN_CHARACTER_RULES,
        )
        turns: list[Turn] = []
        for index, prompt in enumerate(scene.prompts[: config.exchanges]):
            exchange = await self._exchange(
                ctx, card, scene, generation_system, [*turns, Turn("user", prompt)], index
            )
            if exchange is None:
                break
            turns = exchange
        return turns

    async def _exchange(
        self,
        ctx: RoundContext,
        card: Card,
        scene: Scene,
        system: str,
        turns: list[Turn],
        index: int,
    ) -> list[Turn] | None:
        """One user message answered (and its results reacted to), or None."""
        reply = await self._reply(ctx, card, scene, system, turns, f"reply:{index}", True)
        if reply is None:
            return None
        text, actions = reply
        turns = [*turns, Turn("assistant", text)]
        if not actions or not self.actions_config.function_responses:
            return turns
        results = await self._results(ctx, card, scene, actions, index)
        if results is None:
            return None
        turns.append(Turn("user", function_response_turn(results)["content"]))
        reaction = await self._reply(ctx, card, scene, system, turns, f"reaction:{index}", False)
        if reaction is None:
            return None
        return [*turns, Turn("assistant", reaction[0])]

    async def _reply(
        self,
        ctx: RoundContext,
        card: Card,
        scene: Scene,
        system: str,
        turns: list[Turn],
        key: str,
        allow_actions: bool,
    ) -> tuple[str, list[ActionEvent]] | None:
        for attempt in range(1 + self.actions_config.max_rerolls):
            try:
                text = await ctx.complete(
                    turns[-1].content,
                    key=f"{key}:{attempt}",
                    system=system,
                    history=turns[:-1],
                    filtered=False,
                )
                return validate_reply(text, scene.card, card.name, allow_actions=allow_actions)
            except Rejected as exc:
                ctx.reject(exc.reason, exc.detail)
        return None

    async def _results(
        self, ctx: RoundContext, card: Card, scene: Scene, actions: list[ActionEvent], index: int
    ) -> list[ActionResult] | None:
        calls = "\n".join(
            json.dumps({"name": a.name, "parameters": a.arguments}, ensure_ascii=False)
            for a in actions
        )
        template = load_template("inline_actions_results.txt", None)
        prompt = template.render(
            name=card.name, setting=scene.setting, calls=calls, count=len(actions)
        )
        for attempt in range(1 + self.actions_config.max_rerolls):
            try:
                text = await ctx.complete(prompt, key=f"results:{index}:{attempt}", filtered=False)
                values = parse_results(text, len(actions))
            except Rejected as exc:
                ctx.reject(exc.reason, exc.detail)
                continue
            return [ActionResult(a.name, value) for a, value in zip(actions, values, strict=True)]
        return None
