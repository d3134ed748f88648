"""The built-in categories, in code: each one's implementation (imported only when
it runs) and its settings model (what config validation checks a section against).

A new built-in category is one row here, a module beside this one and, when it has
its own knobs, a settings module in :mod:`airloom.instructors.settings`; nothing is
reinstalled. Third-party categories come from the ``airloom.instructors`` entry-point
group (see :mod:`airloom.instructors.registry`).

Example:
    >>> models = section_models()
    >>> models["rules"].__name__, models["general"].__name__
    ('RulesConfig', 'InstructorConfig')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airloom.config import InstructorConfig
from airloom.errors import ConfigError
from airloom.plugins import Registry, load_spec

if TYPE_CHECKING:
    from airloom.instructors.base import Instructor

__all__ = [
    "BUILTIN_CATEGORIES",
    "GROUP",
    "INSTRUCTORS",
    "Category",
    "SectionModels",
    "section_models",
]

#: The entry-point group third-party categories register in.
GROUP = "airloom.instructors"


@dataclass(frozen=True, slots=True)
class Category:
    """A built-in category: ``module:Class`` of its instructor in this package, and
    the name of its settings model in ``settings/<module>.py`` (None: the common
    :class:`InstructorConfig`)."""

    implementation: str
    settings: str | None = None

    @property
    def spec(self) -> str:
        """Where the instructor class is.

        Example:
            >>> Category("general:GeneralInstructor").spec
            'airloom.instructors.general:GeneralInstructor'
        """
        return f"airloom.instructors.{self.implementation}"

    def settings_model(self) -> type[InstructorConfig]:
        """The settings model (imports the settings module, never the instructor's).

        Example:
            >>> Category("plan:PlanInstructor", "PlanConfig").settings_model().__name__
            'PlanConfig'
        """
        if self.settings is None:
            return InstructorConfig
        module = self.implementation.partition(":")[0]
        model: type[InstructorConfig] = load_spec(
            f"airloom.instructors.settings.{module}:{self.settings}"
        )
        return model


BUILTIN_CATEGORIES: dict[str, Category] = {
    "agent": Category("agent:AgentInstructor", "AgentConfig"),
    "anonymization": Category("anonymization:AnonymizationInstructor", "AnonymizationConfig"),
    "awareness": Category("awareness:AwarenessInstructor", "AwarenessConfig"),
    "card": Category("card:CardInstructor"),
    "character": Category("character:CharacterInstructor", "CharacterConfig"),
    "coding": Category("coding:CodingInstructor", "CodingConfig"),
    "contextual": Category("contextual:ContextualInstructor", "ContextualConfig"),
    "cot": Category("cot:CotInstructor"),
    "counterfactual_contextual": Category(
        "counterfactual_contextual:CounterfactualContextualInstructor", "CounterfactualConfig"
    ),
    "detailed_writing": Category(
        "detailed_writing:DetailedWritingInstructor", "DetailedWritingConfig"
    ),
    "editor": Category("editor:EditorInstructor", "EditorConfig"),
    "experience": Category("experience:ExperienceInstructor", "ExperienceConfig"),
    "general": Category("general:GeneralInstructor"),
    "greeting": Category("greeting:GreetingInstructor"),
    "gtkm": Category("gtkm:GtkmInstructor", "GtkmConfig"),
    "inline_actions": Category("inline_actions:InlineActionsInstructor", "InlineActionsConfig"),
    "inline_qa": Category("inline_qa:InlineQAPairsInstructor"),
    "introspection": Category("introspection:IntrospectionInstructor", "IntrospectionConfig"),
    "joke": Category("joke:JokeInstructor"),
    "log_extraction": Category("log_extraction:LogExtractionInstructor", "LogExtractionConfig"),
    "mathjson": Category("mathjson:MathJSONInstructor", "MathJSONConfig"),
    "misconception": Category("misconception:MisconceptionInstructor"),
    "multiple_choice": Category("multiple_choice:MultipleChoiceInstructor", "MultipleChoiceConfig"),
    "orca": Category("orca:OrcaInstructor"),
    "plan": Category("plan:PlanInstructor", "PlanConfig"),
    "quiz": Category("quiz:QuizInstructor", "QuizConfig"),
    "riddle": Category("riddle:RiddleInstructor"),
    "roleplay": Category("roleplay:RoleplayInstructor"),
    "rp": Category("rp:RpInstructor", "RpConfig"),
    "rules": Category("rules:RulesInstructor", "RulesConfig"),
    "song": Category("song:SongInstructor"),
    "stylized_response": Category(
        "stylized_response:StylizedResponseInstructor", "StylizedResponseConfig"
    ),
    "summarization": Category("summarization:SummarizationInstructor", "SummarizationConfig"),
    "theory_of_mind": Category("theory_of_mind:TheoryOfMindInstructor"),
    "trivia": Category("trivia:TriviaInstructor", "TriviaConfig"),
    "wordgame": Category("wordgame:WordgameInstructor", "WordgameConfig"),
    "writing": Category("writing:WritingInstructor", "WritingConfig"),
}


def _accept_instructor(name: str, value: Any) -> type[Instructor]:
    from airloom.instructors.base import Instructor

    if not (isinstance(value, type) and issubclass(value, Instructor)):
        raise ConfigError(f"instructor plug-in '{name}' is not an Instructor subclass")
    if value.name != name:
        raise ConfigError(
            f"instructor plug-in '{name}' declares name '{value.name}'",
            hint="the entry-point name and the class's name must match",
        )
    return value


#: Every category: the built-ins above, third-party ones by entry point.
INSTRUCTORS: Registry[type[Instructor]] = Registry(
    "instructor",
    GROUP,
    {name: (category.spec,) for name, category in BUILTIN_CATEGORIES.items()},
    _accept_instructor,
)


class SectionModels(Mapping[str, type[InstructorConfig]]):
    """Every category's settings model by name, each found when first asked for: a
    built-in's from its settings module (no instructor code imported), a third-party
    category's from its class (so a broken plug-in only matters where it is used)."""

    def __init__(self) -> None:
        self._names = INSTRUCTORS.names()
        self._models: dict[str, type[InstructorConfig]] = {}

    def __getitem__(self, name: str) -> type[InstructorConfig]:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._models:
            builtin = BUILTIN_CATEGORIES.get(name)
            self._models[name] = (
                builtin.settings_model()
                if builtin is not None
                else INSTRUCTORS.load(name).config_model
            )
        return self._models[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def section_models() -> SectionModels:
    """The settings model of every installed category (see :class:`SectionModels`)."""
    return SectionModels()
