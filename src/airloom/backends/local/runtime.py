"""A model loaded for generation: weights, tokenizer and what generation needs of them.

Example:
    >>> class Tok:
    ...     eos_token_id = 2; unk_token_id = 0; all_special_tokens = ["<|im_end|>"]
    ...     added_tokens_decoder = {}
    ...     def convert_tokens_to_ids(self, token): return 7
    >>> class Model:
    ...     class generation_config: eos_token_id = [2, 5]
    >>> sorted(end_of_turn_ids(Model(), Tok()))
    [2, 5, 7]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["END_OF_TURN_TOKENS", "LoadedModel", "end_of_turn_ids"]

END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")
"""Special tokens that end a turn in the chat formats of common models."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """The model and tokenizer in memory, with what batched generation reads of them."""

    model: Any
    tokenizer: Any
    torch: Any
    device: str
    display_name: str
    context_length: int
    eos_ids: frozenset[int]
    pad_id: int


def end_of_turn_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The token ids that end a reply: the model's and tokenizer's end-of-sequence ids and
    the end-of-turn tokens of known chat formats that the tokenizer has."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, (list, tuple)):
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    special.update(str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values())
    for token in END_OF_TURN_TOKENS:
        if token in special:
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
                ids.add(token_id)
    return frozenset(ids)
