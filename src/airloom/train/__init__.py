"""Fine-tuning on airloom data: full, LoRA and QLoRA SFT in the airoboros prompt formats.

``config`` (the typed training config and presets), ``data`` (records → exact prompt
text, token ids and assistant-only loss masks), ``trainer`` (TRL ``SFTTrainer`` + PEFT,
resumable), ``card`` (model card and loss curve), ``experts`` (LMoE segmentation),
``adapter`` (trained folders and applying an adapter), ``merge`` (adapter → full weights).
"""
