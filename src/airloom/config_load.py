"""Loading the generation config with the installed plug-ins' tables.

:mod:`airloom.config` validates against whatever :class:`~airloom.config.PluginTables`
it is given; this module, which sits above the instructor and backend layers, fills them
from the category catalog and the backend registry, and is what commands call.

Example:
    >>> load_config_text("default_count: 3\\n", overrides=["language=German"]).language
    'German'
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from airloom import configfile
from airloom.backends.registry import BACKENDS
from airloom.config import EXAMPLE_HINT, Config, PluginTables, validate_config
from airloom.instructors.catalog import section_models

__all__ = ["load_config", "load_config_text", "plugin_tables"]


def plugin_tables() -> PluginTables:
    """The installed categories (with their settings models) and backend kinds.

    Example:
        >>> "general" in plugin_tables().section_models
        True
    """
    return PluginTables(section_models=section_models(), backends=BACKENDS.names())


def load_config_text(
    text: str,
    *,
    source: str = "<config>",
    overrides: Iterable[str] = (),
    tables: PluginTables | None = None,
) -> Config:
    """Parse, override and validate config text (against the installed plug-ins unless
    ``tables`` is given).

    Example:
        >>> load_config_text("model: gpt-4o-mini\\nbase_url: http://x/v1\\n").default_count
        100
    """
    return configfile.load_text(
        text,
        Config,
        source=source,
        overrides=overrides,
        hint=EXAMPLE_HINT,
        validate=functools.partial(validate_config, tables=tables or plugin_tables()),
    )


def load_config(path: str | Path | None, overrides: Iterable[str] = ()) -> Config:
    """Load a config file (or the defaults when ``path`` is None) with ``--set`` overrides.

    Example:
        >>> load_config(None, ["default_count=3"]).default_count
        3
    """
    return configfile.load(
        path,
        Config,
        overrides,
        hint=EXAMPLE_HINT,
        example="airloom config example",
        validate=functools.partial(validate_config, tables=plugin_tables()),
    )
