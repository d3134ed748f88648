"""Record conversions (pure): store rows → airoboros 2.x JSONL rows and ShareGPT.

Example:
    >>> row = {"id": "1", "category": "general", "instruction": "Hi?", "response": "Hello.",
    ...        "system": None, "conversation": None, "skip_prompt_formatting": False}
    >>> to_airoboros(row)
    {'instruction': 'Hi?', 'response': 'Hello.', 'category': 'general'}
    >>> [t["from"] for t in to_sharegpt(row)["conversations"]]
    ['human', 'gpt']
"""

from __future__ import annotations

from typing import Any

_ROLE_TO_SHAREGPT = {"system": "system", "user": "human", "assistant": "gpt"}


def to_airoboros(row: dict[str, Any]) -> dict[str, Any]:
    """The 2.x row: instruction, response, category, and system / skip flag when set."""
    out: dict[str, Any] = {
        "instruction": row["instruction"],
        "response": row["response"],
        "category": row["category"],
    }
    if row.get("system"):
        out["system"] = row["system"]
    if row.get("skip_prompt_formatting"):
        out["skip_prompt_formatting"] = True
    return out


def conversation_turns(row: dict[str, Any]) -> list[dict[str, str]]:
    """The record as role/content turns (stored turns for multi-turn categories).

    The record's ``system`` comes first unless the stored turns already open with one.

    Example:
        >>> row = {"system": "Be brief.", "conversation": [{"role": "user", "content": "Hi"}]}
        >>> [t["role"] for t in conversation_turns(row)]
        ['system', 'user']
    """
    turns: list[dict[str, str]] = []
    if row.get("conversation"):
        stored = [dict(turn) for turn in row["conversation"]]
        if row.get("system") and stored[0].get("role") != "system":
            turns.append({"role": "system", "content": row["system"]})
        return turns + stored
    if row.get("system"):
        turns.append({"role": "system", "content": row["system"]})
    turns.append({"role": "user", "content": row["instruction"]})
    turns.append({"role": "assistant", "content": row["response"]})
    return turns


def to_sharegpt(row: dict[str, Any]) -> dict[str, Any]:
    """The 3.x ShareGPT object: id, category, conversations (system, human, gpt, …)."""
    conversations = [
        {"from": _ROLE_TO_SHAREGPT.get(turn["role"], turn["role"]), "value": turn["content"]}
        for turn in conversation_turns(row)
    ]
    return {"id": row["id"], "category": row["category"], "conversations": conversations}
