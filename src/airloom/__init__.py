"""airloom: grow instruction-tuning data with a teacher LLM and run the models trained on it."""

__all__ = ["__version__"]

__version__ = "0.1.0"
