"""Configs with the complete key set of the original generator's versions 2.0 to 2.2.2.

Every key the original's example config and code read, in the layout of that version
(old instructor names in 2.0, Vertex AI keys from 2.2.2). Counts are small and the
embedding model is the offline ``hashing`` one so that a test run is quick; every other
value is what the original's example config sets.
"""

from __future__ import annotations

from typing import Any

VERSIONS = ("2.0.24", "2.1.6", "2.2.0", "2.2.1", "2.2.2")

_FILTERS = [
    "my programming",
    "openai",
    "language model",
    "large language",
    "as an? (ai|generative language|gpt|bot)",
    "illegal and dangerous",
    "i do(n't| not) (possess|have|exhibit) (personal|consciousness|subjective)",
    "personal (feelings|thoughts|emotions|desires|experiences|goals|objective|belief)",
    "(can('t| ?not)|w(on't|will not)|unable.?) (\\w+\\s)+(with (that|your)|your \\w+|provide)",
    "my limitations",
    "the limitations of my",
    "my abilities",
    "violates my",
    "i (can('t| ?not)|w(on't|will not)|am (not |un)able.?).{0,30}(you are|you're|your )",
    "please note that",
    "flesch",
]

#: Instructor-specific keys of the original (values from its example config).
_SPECIFIC: dict[str, dict[str, Any]] = {
    "contextual": {
        "context_styles": ["news article", "blog post", "slack conversation", "email"],
        "formatting_options": ["JSON", "YAML", "CSV", "markdown"],
        "topic_avoidance": "Avoid politics.",
    },
    "coding": {
        "coding_languages": ["python", "javascript", "golang"],
        "related_software": ["elasticsearch", "redis"],
        "plain_ratio": 0.5,
    },
    "experience": {"word_count": 60},
    "writing": {"styles": ["happy", "sad", "tragic"]},
    "multiple_choice": {"contextual_ratio": 0.3},
    "detailed_writing": {"seed_path": "detailed_writing_seeds", "word_count": 100},
    "character": {"seed_path": "character_seeds", "output_dir": "characters"},
    "rp": {"turn_count": 6},
    "stylized_response": {"categories": ["trivia", "experience", "general", "joke", "riddle"]},
    "gtkm": {"question_count": 4, "max_prompt_words": 2500},
}

#: Sampling the original's example config sets per instructor.
_API_PARAMS: dict[str, dict[str, float]] = {
    "contextual": {"temperature": 0.5},
    "experience": {"temperature": 0.9, "top_p": 0.4},
    "riddle": {"temperature": 0.9, "top_p": 0.4},
    "rp": {"temperature": 0.9, "presence_penalty": 1.3, "frequency_penalty": 1.3},
    "stylized_response": {"temperature": 0.7},
    "gtkm": {"temperature": 0.7},
}

#: Templates of the original that take a response prompt as well.
_RESPONSE_PROMPTS = ("contextual", "counterfactual_contextual", "cot", "writing")

_V20 = [
    "general",
    "contextual",
    "counterfactual_contextual",
    "coding",
    "trivia",
    "experience",
    "orca",
    "riddle",
    "wordgame",
    "roleplay",
    "cot",
    "agent",
    "plan",
    "writing",
    "card",
    "joke",
    "song",
    "multiple_choice",
    "detailed_writing",
    "chat_card",
    "chat",
]
_V21 = [
    *("character" if n == "chat_card" else "rp" if n == "chat" else n for n in _V20),
    "misconception",
    "stylized_response",
    "gtkm",
]
_V22 = [*_V21, "awareness", "editor"]
INSTRUCTORS = {"2.0.24": _V20, "2.1.6": _V21, "2.2.0": _V22, "2.2.1": _V22, "2.2.2": _V22}

_CURRENT = {"chat_card": "character", "chat": "rp"}


def _section(name: str, count: int) -> dict[str, Any]:
    current = _CURRENT.get(name, name)
    section: dict[str, Any] = {
        "count": count,
        "batch_size": 2,
        "api_params": dict(_API_PARAMS.get(current, {})),
        "min_docsearch_score": 0.1,
        "language": "English",
        "model": "gpt-4",
    }
    if current not in ("awareness",):
        section["prompt_path"] = f"{name}.txt"
    if current in _RESPONSE_PROMPTS:
        section["response_prompt_path"] = f"{current}_response.txt"
    if current in ("general", "contextual", "writing", "multiple_choice", "detailed_writing"):
        section["topics_path"] = "topics.txt"
        section["flesch"] = "The output should be easy to read."
    section.update(_SPECIFIC.get(current, {}))
    return section


def original_config(version: str, count: int = 2) -> dict[str, Any]:
    """The config of one original version, every key set (see the module docstring).

    Example:
        >>> sorted(original_config("2.0.24")["instructors"])[:2]
        ['agent', 'card']
    """
    data: dict[str, Any] = {
        "model": "gpt-4",
        "organization_id": "org-example",
        "openai_api_key": None,
        "topics_path": "topics.txt",
        "output_path": "instructions.jsonl",
        "overwrite": False,
        "append": True,
        "embedding_model": "hashing",
        "embedding_device": "cpu",
        "topic_avoidance": "Avoid any tasks that would be related to politics.",
        "response_filters": list(_FILTERS),
        "max_tokens": None,
        "min_docsearch_score": 0.07,
        "api_params": {
            "temperature": 1.0,
            "top_p": 1.0,
            "frequency_penalty": 0.0,
            "presence_penalty": 0.0,
        },
        "topic_prompt": "Give me a numbered list of 20 completely random topics. {topic_avoidance}",
        "topic_request_count": 20,
        "default_count": 100,
        "default_batch_size": 10,
        "default_flesch": "The output should be written in such a way as to have a "
        "Flesch-Kincaid readability score of 30 or lower.",
        "language": "English",
        "scoring": {"prompt_path": None, "api_params": {}, "threshold": 100},
        "judge": {"batch_size": 5},
        "cull_max_k": 1000,
        "instructors": {name: _section(name, count) for name in INSTRUCTORS[version]},
    }
    if version == "2.2.2":
        data.update(
            vertexai_credentials_path=None,
            vertexai_project_id=None,
            vertexai_region="us-central1",
            vertexai_publisher="google",
        )
    return data
