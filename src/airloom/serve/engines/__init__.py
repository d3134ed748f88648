"""Serving engines: one protocol (:mod:`.protocol`), three implementations.

``local`` (the base model in-process), ``peft`` (the base plus every expert adapter
in-process, mixed-adapter batches) and ``vllm`` (a vLLM OpenAI server with LoRA).
"""
