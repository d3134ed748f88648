"""Real training runs on a tiny random-init Llama made here (seconds each)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from airloom.train.config import TrainConfig  # noqa: E402
from airloom.train.trainer import train  # noqa: E402
from airloom.weights.adapters import apply_adapter  # noqa: E402
from tests.support.cli import airloom_env  # noqa: E402
from tests.support.tiny_model import tiny_cli, tiny_model_dir, write_records  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return tiny_model_dir(folder / "base"), write_records(folder / "data.jsonl", 40)


def _config(tiny, out: Path, **overrides) -> TrainConfig:
    base, data = tiny
    values = {
        "data": [str(data)],
        "base_model": str(base),
        "output_dir": str(out),
        "max_steps": 12,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "lr_scheduler": "constant",
        "warmup_ratio": 0.0,
        "eval_fraction": 0.1,
        "eval_steps": 6,
        "save_steps": 6,
        "template": "airoboros-2.2",
    }
    values.update(overrides)
    return TrainConfig(**values)


def _losses(result) -> list[float]:
    return [entry["loss"] for entry in result.log_history if "loss" in entry]


def _logits(model, ids):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_full_fine_tune_loss_decreases_and_writes_card_and_curve(tiny, tmp_path):
    result = train(
        _config(tiny, tmp_path / "full", method="full", max_steps=30, learning_rate=3e-3)
    )
    losses = _losses(result)
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    out = tmp_path / "full"
    card = (out / "README.md").read_text()
    assert "`airoboros-2.2`" in card and result.data.data_sha256 in card
    assert "A chat.\nUSER: {prompt}\nASSISTANT: " in card
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["steps"] == 30 and summary["data"]["used"] == 40
    assert summary["eval_loss"] is not None and summary["data"]["eval_examples"] == 4


def test_lora_save_reload_gives_identical_logits(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = train(_config(tiny, tmp_path / "lora"))
    ids = torch.tensor([[5, 17, 42, 99, 3, 250]])
    trained = _logits(result.model, ids)
    base = AutoModelForCausalLM.from_pretrained(str(tiny[0]), dtype=torch.float32)
    before = _logits(base, ids)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny[0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reloaded, tokenizer, _ = apply_adapter(base, tokenizer, tmp_path / "lora")
    # the libraries' deprecation notes to each other do not reach the user
    assert not [w for w in caught if issubclass(w.category, FutureWarning)]
    after = _logits(reloaded, ids)
    assert (trained - before).abs().max() > 1e-3  # the adapter changed the model
    assert torch.allclose(trained, after, atol=1e-5)
    # the saved tokenizer carries the training prompt format
    messages = [{"role": "user", "content": "Hi"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt == "A chat.\nUSER: Hi\nASSISTANT: "


def test_packing_with_gradient_checkpointing_trains(tiny, tmp_path):
    config = _config(
        tiny, tmp_path / "packed", packing=True, gradient_checkpointing=True, max_length=128,
        max_steps=4, eval_fraction=0,
    )  # fmt: skip
    result = train(config)
    losses = _losses(result)
    assert result.steps == 4 and len(losses) == 4 and all(0 < loss < 20 for loss in losses)
    # rows are packed up to max_length: 4 steps of 4 rows see far more than 4 x 4 records
    # (about 1,800 tokens here against about 530 unpacked)
    assert result.tokens_seen > 4 * 4 * 80


def test_qlora_path_trains(tiny, tmp_path):
    pytest.importorskip("bitsandbytes")
    from safetensors.torch import load_file

    result = train(_config(tiny, tmp_path / "q", method="qlora", max_steps=8, eval_fraction=0))
    assert result.steps == 8
    base_layer = result.model.base_model.model.model.layers[0].self_attn.q_proj.base_layer
    assert type(base_layer).__name__ == "Linear4bit"
    weights = load_file(str(tmp_path / "q" / "adapter_model.safetensors"))
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and all(t.abs().max() > 0 for t in lora_b)  # B starts at zero: it learned


def _train_args(tiny, out: Path, *extra: str) -> list[str]:
    base, data = tiny
    return [
        "train",
        "--data",
        str(data),
        "--set",
        f"base_model={base}",
        "--set",
        f"output_dir={out}",
        "--set",
        "eval_fraction=0",
        "--set",
        "batch_size=2",
        *extra,
    ]


def test_sigkill_mid_training_resumes_to_the_same_step_count(tiny, tmp_path):
    out = tmp_path / "killed"
    args = _train_args(tiny, out, "--set", "max_steps=120", "--set", "save_steps=10")
    process = subprocess.Popen(
        [sys.executable, "-m", "airloom", *args],
        env=airloom_env(threads=1),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline and process.poll() is None:
            if any((out / f"checkpoint-{n}" / "trainer_state.json").exists() for n in (20, 30)):
                break
            time.sleep(0.05)
        assert process.poll() is None, "training ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert not (out / "training_summary.json").exists()
    done = tiny_cli(*_train_args(tiny, out, "--set", "max_steps=120", "--set", "save_steps=10"))
    assert done.returncode == 0, done.stderr
    assert "resuming from checkpoint-" in done.stderr
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["steps"] == 120 and summary["resumed_from"].startswith("checkpoint-")


def test_torchrun_two_processes(tiny, tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "airloom",
        *_train_args(tiny, out, "--set", "max_steps=6", "--set", "device=cpu"),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=airloom_env(threads=1), timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 6
    assert done.stderr.count("airloom train:") == 1  # one summary, from the main process


def test_cli_errors_are_one_line(tiny, tmp_path):
    base = tiny[0]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cases = {
        "no usable training records": [
            "train",
            "--data",
            str(empty),
            "--set",
            f"base_model={base}",
        ],
        "unknown prompt template": [*_train_args(tiny, tmp_path / "b"), "--set", "template=x"],
        "is not a model folder": [
            *_train_args(tiny, tmp_path / "c"),
            "--set",
            f"base_model={tmp_path}",
        ],
    }
    for message, args in cases.items():
        done = tiny_cli(*args, cwd=tmp_path)
        assert done.returncode != 0 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_adapter_on_a_mismatched_base_is_a_clear_error(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from airloom.errors import ModelFileError

    train(_config(tiny, tmp_path / "lora", max_steps=2, eval_fraction=0))
    other = tiny_model_dir(tmp_path / "wide", hidden=128)
    model = AutoModelForCausalLM.from_pretrained(str(other))
    with pytest.raises(ModelFileError, match="does not fit this base model"):
        apply_adapter(model, AutoTokenizer.from_pretrained(str(other)), tmp_path / "lora")
    done = tiny_cli(
        "ask", "Hi", "--adapter", str(tmp_path / "lora"), "--set", f"local.model={other}"
    )
    assert done.returncode != 0 and "does not fit this base model" in done.stderr
    assert "Traceback" not in done.stderr


def test_merge_folds_the_adapter_into_full_weights(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    result = train(_config(tiny, tmp_path / "lora", max_steps=4, eval_fraction=0))
    done = tiny_cli("train", "merge", str(tmp_path / "lora"), "--out", str(tmp_path / "merged"))
    assert done.returncode == 0, done.stderr
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"), dtype=torch.float32)
    ids = torch.tensor([[5, 17, 42, 99]])
    assert torch.allclose(_logits(merged, ids), _logits(result.model, ids), atol=1e-5)
    again = tiny_cli("train", "merge", str(tmp_path / "lora"), "--out", str(tmp_path / "merged"))
    assert again.returncode != 0 and "already exists" in again.stderr


def test_a_finished_run_is_kept_unless_overwrite_is_asked(tiny, tmp_path):
    from airloom.errors import TrainError

    config = _config(tiny, tmp_path / "lora", max_steps=3, eval_fraction=0, save_steps=1)
    train(config)
    with pytest.raises(TrainError, match="already holds a finished training run"):
        train(config)
    again = train(config.model_copy(update={"overwrite": True}))
    assert again.resumed_from is None and again.steps == 3


def test_local_backend_answers_with_the_adapter(tiny, tmp_path):
    import asyncio

    from airloom.backends.base import ChatRequest, Message
    from airloom.backends.local import LocalBackend, LocalModelSettings

    train(_config(tiny, tmp_path / "lora", max_steps=2, eval_fraction=0))
    settings = LocalModelSettings(model=str(tiny[0]), adapter=tmp_path / "lora", device="cpu")
    backend = LocalBackend(settings)
    request = ChatRequest(
        model="m", messages=(Message("user", "Hi"),), params={"max_tokens": 4, "temperature": 0}
    )

    async def ask():
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    response = asyncio.run(ask())
    assert response.usage.completion_tokens >= 1
    assert backend.load_report is not None and backend.load_report.model == "lora"


def test_a_batch_too_big_for_the_free_memory_is_warned_before_the_first_step(
    tiny, tmp_path, monkeypatch
):
    import airloom.train.memory as memory
    from airloom.train.trainer import TrainProgress, TrainWarning

    events: list[object] = []
    result = train(_config(tiny, tmp_path / "fits", max_steps=1), events.append)
    assert result.steps == 1 and not any(isinstance(e, TrainWarning) for e in events)

    monkeypatch.setattr(memory, "free_bytes", lambda device: 1000)  # a nearly full machine
    events.clear()
    result = train(_config(tiny, tmp_path / "tight", max_steps=1), events.append)
    said = [e for e in events if isinstance(e, TrainWarning)]
    assert len(said) == 1 and "(4 x " in said[0].message
    assert "0.0 GB of memory is free" in said[0].message
    # said before the first step, and the run still goes on
    first_step = next(i for i, e in enumerate(events) if isinstance(e, TrainProgress))
    assert events.index(said[0]) < first_step and result.steps == 1
