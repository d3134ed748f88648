"""An LMoE folder on the tiny model: three LoRA experts made with PEFT, routing data.

The adapters are random (``init_lora_weights=False``), so each expert answers
differently from the base and from the others; each records a prompt format the way
``airloom train`` does (``airloom-train.json``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from airloom.weights.adapters import TrainInfo, write_train_info
from tests.support.tiny_model import tiny_model_dir

ROUTING = {
    "code": [
        "Write a Python function that sorts a list of numbers.",
        "Fix the bug in this JavaScript loop.",
        "How do I read a CSV file with pandas?",
        "Implement binary search in C++.",
        "Explain what a Python decorator does and write one.",
        "Write a SQL query that joins two tables.",
        "Refactor this Java class to use interfaces.",
        "Write a bash script that renames files.",
    ],
    "creative": [
        "Write a poem about the sea at night.",
        "Tell me a short story about a dragon and a knight.",
        "Compose song lyrics about summer love.",
        "Write a haiku about autumn leaves.",
        "Tell me a joke about cats.",
        "Write a limerick about a sailor.",
        "Describe a fantasy city in vivid detail.",
        "Role-play as a pirate captain greeting the crew.",
    ],
    "general": [
        "What is the capital of France?",
        "Who was the first president of the United States?",
        "How many planets are in the solar system?",
        "What is the boiling point of water?",
        "Which country has the largest population?",
        "When did the Second World War end?",
        "What language is spoken in Brazil?",
        "How tall is Mount Everest?",
    ],
}
TEMPLATES = {"code": "llama-3", "creative": "airoboros-2.2", "general": "airoboros-2.2"}


def make_adapter(base: Path, folder: Path, *, seed: int, template: str | None) -> Path:
    """A random LoRA adapter (r=8, q/v projections) for ``base``, saved to ``folder``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    config = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    with warnings.catch_warnings():  # PEFT's deprecation note to transformers
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        peft_model = get_peft_model(model, config)
    folder.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(folder))
    if template:
        write_train_info(folder, TrainInfo(template=template, base_model=str(base), method="lora"))
    return folder


def make_lmoe(root: Path) -> tuple[Path, Path]:
    """(tiny base folder, LMoE folder with experts code, creative and general)."""
    base = tiny_model_dir(root / "tiny-base")
    lmoe = root / "experts"
    for seed, (name, rows) in enumerate(ROUTING.items(), start=1):
        folder = make_adapter(base, lmoe / "adapters" / name, seed=seed, template=TEMPLATES[name])
        (folder / "description.txt").write_text(f"The {name} expert.\n", encoding="utf-8")
        routing = lmoe / "routing_data" / f"expert_{name}.jsonl"
        routing.parent.mkdir(parents=True, exist_ok=True)
        routing.write_text("".join(json.dumps({"instruction": r}) + "\n" for r in rows))
    manifest = {"experts": {name: [name] for name in ROUTING}, "default_expert": "general"}
    (lmoe / "experts.json").write_text(json.dumps(manifest), encoding="utf-8")
    return base, lmoe
