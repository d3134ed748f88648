"""The memory estimate of a training step and the warning ``airloom train`` gives with it,
checked against peaks measured on the embedded Qwen2.5-0.5B (float32, CPU, LoRA r 16)."""

from __future__ import annotations

from airloom.train.memory import ModelShape, memory_warning, step_bytes

QWEN = ModelShape(hidden=896, intermediate=4864, layers=24, vocab=151936, parameters=494_032_768)
GB = 10**9


def test_the_shape_is_read_from_a_transformers_config() -> None:
    config = {
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "vocab_size": 151936,
    }
    assert ModelShape.from_config(config) == ModelShape(896, 4864, 24, 151936)
    nested = {"text_config": config, "model_type": "llava"}
    assert ModelShape.from_config(nested, 7) == ModelShape(896, 4864, 24, 151936, 7)
    # a config without an MLP width gets the classic four times the hidden width
    assert ModelShape.from_config({"n_embd": 64, "n_layer": 2, "vocab_size": 9}).intermediate == 256


def test_the_batch_that_was_killed_does_not_fit_and_its_remedies_do() -> None:
    # 4 x 942 tokens without checkpointing grew past 23 GB and was killed on a 24 GiB
    # machine (about 3 GB of it the loaded model and libraries)
    killed = step_bytes(QWEN, tokens=4 * 942, dtype_bytes=4)
    assert killed > 21 * GB
    # batch 2 with checkpointing peaked at 9.9 GB in all
    checkpointed = step_bytes(QWEN, tokens=2 * 942, dtype_bytes=4, checkpointing=True)
    assert 5 * GB < checkpointed < 8 * GB
    # one row at a time without checkpointing peaked at 10.4 GB in all
    single = step_bytes(QWEN, tokens=942, dtype_bytes=4)
    assert single < 8 * GB < killed


def test_each_part_of_the_estimate_moves_it_the_right_way() -> None:
    base = step_bytes(QWEN, tokens=1000, dtype_bytes=4)
    assert step_bytes(QWEN, tokens=2000, dtype_bytes=4) == 2 * base
    assert step_bytes(QWEN, tokens=1000, dtype_bytes=2) < base  # bf16 activations
    assert step_bytes(QWEN, tokens=1000, dtype_bytes=4, checkpointing=True) < base / 1.5
    # full fine-tuning adds a gradient and two AdamW moments for each of the 494M weights
    full = step_bytes(QWEN, tokens=1000, dtype_bytes=4, full=True)
    assert full - base == 3 * 4 * QWEN.parameters


def test_no_warning_when_it_fits() -> None:
    assert (
        memory_warning(GB, 2 * GB, batch=4, length=512, device="cpu", checkpointing=False) is None
    )
    assert memory_warning(GB, GB, batch=1, length=512, device="cpu", checkpointing=True) is None


def test_the_warning_names_the_batch_the_sizes_and_only_the_remedies_left() -> None:
    text = memory_warning(30 * GB, 20 * GB, batch=4, length=942, device="cpu", checkpointing=False)
    assert text is not None
    assert "(4 x 942 tokens)" in text and "30.0 GB" in text and "20.0 GB of memory" in text
    assert text.endswith(
        "Lower batch_size and raise grad_accum by the same factor, set "
        "gradient_checkpointing: true, or lower max_length"
    )
    # one row a step with checkpointing already on: only a shorter max_length is left
    one = memory_warning(30 * GB, GB, batch=1, length=942, device="cuda", checkpointing=True)
    assert one is not None and one.endswith("killed part-way. Lower max_length")
    assert "of cuda memory is free" in one
    two = memory_warning(30 * GB, GB, batch=1, length=942, device="cpu", checkpointing=False)
    assert two is not None
    assert two.endswith("Set gradient_checkpointing: true, or lower max_length")
