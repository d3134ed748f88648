"""Instructors: one module per category, prompt templates in ``prompts/`` beside them,
each category's settings model in ``settings/`` and the table of built-in categories in
``catalog.py`` (what config validation reads without importing any instructor)."""
