"""A tiny random-init Llama with a real byte-level BPE tokenizer, built in well under a second.

The tokenizer is trained with ``tokenizers`` on airoboros-like rows and knows the
special tokens of every chat template (``</s>``, ``<|im_end|>``, ``<|eot_id|>``, …).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import run_airloom

SPECIAL_TOKENS = [
    "<pad>",
    "<s>",
    "</s>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]

_WORDS = (
    "A chat. USER: ASSISTANT: [INST] [/INST] <<SYS>> <</SYS>> system user assistant "
    "What is the capital of France? Paris is the capital. Write a poem about the sea. "
    "The sea is wide and blue. def add(a, b): return a + b. Tell me a joke. Why did the "
    "chicken cross the road? To get to the other side. Explain gravity. Mass attracts mass."
)


def tiny_tokenizer() -> Any:
    """A trained byte-level BPE tokenizer wrapped for transformers (eos ``</s>``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([_WORDS] * 20, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="</s>",
        pad_token="<pad>",
        clean_up_tokenization_spaces=False,
    )


def tiny_model_dir(path: Path, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Save a tiny random-init Llama and its tokenizer into ``path``; return ``path``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def write_records(path: Path, count: int, *, categories: tuple[str, ...] = ("general",)) -> Path:
    """A JSONL of airoboros rows with short, learnable answers (and a multi-turn one)."""
    rows = []
    for index in range(count):
        category = categories[index % len(categories)]
        if index % 5 == 4:
            rows.append(
                {
                    "id": f"mt{index}",
                    "category": category,
                    "conversations": [
                        {"from": "system", "value": "Be brief."},
                        {"from": "human", "value": f"Tell me a joke {index}."},
                        {"from": "gpt", "value": "To get to the other side."},
                        {"from": "human", "value": "Why?"},
                        {"from": "gpt", "value": "The sea is wide."},
                    ],
                }
            )
        else:
            rows.append(
                {
                    "id": f"r{index}",
                    "category": category,
                    "instruction": f"What is the capital of France? ({index})",
                    "response": "Paris is the capital.",
                }
            )
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def tiny_cli(*args: str, **kwargs: Any) -> Any:
    """The airloom command on one CPU thread (tiny models only lose to thread contention)."""
    return run_airloom(*args, threads=1, **kwargs)
