"""Command line: one module per command group; the only place that prints or exits."""
