"""``rules``: multi-step instructions with acknowledgement, every rule checked by code.

The 3.x shape: the user announces that rules follow and asks for "OK" after each; each
rule is one user message answered exactly ``OK``; a last message sets a task, whose
answer obeys all the rules. Rules are sampled from the catalogue of
:mod:`airloom.checks.rules` (max/min words, must include or never use a word, only
lowercase or uppercase, no commas, no digits, fixed opening or closing phrase, ending
with a question, exact number of bullet points), ``min_rules``–``max_rules`` compatible
ones per conversation, each in one of its phrasings.

One round = one call writing ``batch_size`` open tasks + one call per novel task,
answering it under its rules. Acknowledgement turns are built by code. The record is
one conversation (``system``, then the turns), counted as one unit; its instruction
(for the 2.x export) lists the rules before the task. A conversation whose answer
breaks a rule is rejected naming the rule (``check_rules``).

Example:
    >>> print(flat_instruction(["Do not use any commas."], "Describe a kite."))
    Follow these rules in your response:
    - Do not use any commas.
    <BLANKLINE>
    Describe a kite.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from airloom.checks.rules import (
    INTRO_MESSAGES,
    KINDS,
    Rule,
    build_turns,
    sample_rules,
)
from airloom.instructors.base import Draft, Instructor, RoundContext, Turn
from airloom.instructors.checked import enforce
from airloom.instructors.engines import complete_task_list, topic_lines
from airloom.instructors.settings.rules import RulesConfig
from airloom.instructors.verified import item_rngs, strip_preamble
from airloom.reasons import Reason

__all__ = ["RulePlan", "RulesInstructor", "flat_instruction", "plan_rules"]


def flat_instruction(rule_texts: Sequence[str], task: str) -> str:
    """The single-turn form of a conversation: its rules as a list, then the task.

    Example:
        >>> flat_instruction(["No commas."], "Go.").splitlines()[1]
        '- No commas.'
    """
    lines = "\n".join(f"- {text}" for text in rule_texts)
    return f"Follow these rules in your response:\n{lines}\n\n{task}"


@dataclass(frozen=True)
class RulePlan:
    """The rules of one conversation, the phrasing of each, and the opening message."""

    rules: list[Rule]
    phrasings: list[int]
    intro: str

    @property
    def messages(self) -> list[str]:
        """The rule messages as the user sends them.

        Example:
            >>> RulePlan([Rule("no_commas")], [1], INTRO_MESSAGES[0]).messages
            ['Never use a comma in your replies.']
        """
        return [rule.text(p) for rule, p in zip(self.rules, self.phrasings, strict=True)]


def plan_rules(rng: random.Random, config: RulesConfig) -> RulePlan:
    """Draw one conversation's rules (pure given the generator).

    Example:
        >>> plan = plan_rules(random.Random(4), RulesConfig(min_rules=3, max_rules=3))
        >>> len(plan.messages), plan.intro in INTRO_MESSAGES
        (3, True)
    """
    rules = sample_rules(rng, rng.randint(config.min_rules, config.max_rules), config.kinds)
    phrasings = [rng.randrange(len(KINDS[rule.kind].phrasings)) for rule in rules]
    return RulePlan(rules, phrasings, rng.choice(INTRO_MESSAGES))


class RulesInstructor(Instructor):
    """Rules set one at a time, acknowledged with OK, then obeyed."""

    name = "rules"
    config_model = RulesConfig
    uses_topics = True

    def _config(self) -> RulesConfig:
        config = self.config
        assert isinstance(config, RulesConfig)
        return config

    async def _answer(self, ctx: RoundContext, index: int, task: str, plan: RulePlan) -> Draft:
        config = self._config()
        prompt = self.settings.template("rules_response.txt", response=True).render(
            task=task, rule_lines="\n".join(f"- {rule.text()}" for rule in plan.rules)
        )
        answer = strip_preamble(await ctx.complete(prompt, key=f"answer:{index}"))
        turns = build_turns(plan.intro, plan.messages, task, answer)
        draft = Draft(
            instruction=flat_instruction(plan.messages, task),
            response=answer,
            system=config.system or None,
            conversation=tuple(Turn(t["role"], t["content"]) for t in turns),
            dedup_text=task,
            meta={"rules": [[rule.kind, rule.value] for rule in plan.rules]},
        )
        return enforce(self.name, draft)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        count = self.settings.batch_size
        plans = [plan_rules(rng, config) for rng in item_rngs(ctx.rng, count)]
        template = self.settings.template("rules.txt")
        prompt = template.render(
            batch_size=count,
            topics=topic_lines("task", ctx.topics(count)),
            language=self.settings.language,
            topic_avoidance=self.settings.topic_avoidance,
        )
        listing = await complete_task_list(ctx, prompt, template=template)
        tasks = listing[:count]
        if not tasks:
            ctx.reject(Reason.UNPARSEABLE, "no 'TSK n.' items in the task list")
            return []
        novel = await ctx.novel(tasks)
        items = [(i, task) for i, (task, ok) in enumerate(zip(tasks, novel, strict=True)) if ok]
        return await ctx.map(
            lambda item: self._answer(ctx, item[0], item[1], plans[item[0]]), items
        )
