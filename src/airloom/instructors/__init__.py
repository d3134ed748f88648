"""Instructors: one module per category, prompt templates in ``prompts/`` beside them."""
