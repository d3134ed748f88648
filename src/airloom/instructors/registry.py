"""Instructor registry: every instructor, built-in or third-party, comes from the
``airloom.instructors`` entry-point group.

A third-party package adds a category by declaring, in its own pyproject.toml::

    [project.entry-points."airloom.instructors"]
    my_category = "my_package.module:MyInstructor"

Example:
    >>> "general" in available_instructors()
    True
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from importlib.metadata import entry_points

from airloom.config import InstructorConfig
from airloom.errors import ConfigError
from airloom.instructors.base import Instructor

GROUP = "airloom.instructors"


@functools.cache
def available_instructors() -> dict[str, type[Instructor]]:
    """Load every registered instructor class, keyed by category name."""
    found: dict[str, type[Instructor]] = {}
    for entry in entry_points(group=GROUP):
        if entry.name in found:
            continue
        try:
            cls = entry.load()
        except Exception as exc:  # a broken plug-in must not hide the others
            raise ConfigError(
                f"instructor plug-in '{entry.name}' ({entry.value}) failed to load: {exc}",
                hint="reinstall or uninstall the package that provides it",
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Instructor)):
            raise ConfigError(
                f"instructor plug-in '{entry.name}' ({entry.value}) is not an Instructor subclass"
            )
        if cls.name != entry.name:
            raise ConfigError(
                f"instructor plug-in '{entry.name}' declares name '{cls.name}'",
                hint="the entry-point name and the class's name must match",
            )
        found[entry.name] = cls
    return found


def instructor_config_models() -> dict[str, type[InstructorConfig]]:
    """Each category's config section model (used by config validation)."""
    return {name: cls.config_model for name, cls in available_instructors().items()}


def run_order(
    enabled: list[str],
    registry: Mapping[str, type[Instructor]] | None = None,
    sections: Mapping[str, InstructorConfig] | None = None,
) -> list[list[str]]:
    """Group enabled instructors into waves: each wave depends only on earlier ones.

    A dependency that is registered but not enabled is ignored (its records may
    already be in the store); an unknown ``depends_on`` entry is an error. With
    ``sections`` (the config's instructor sections), dependencies a knob adds
    (:meth:`Instructor.dependencies`) are ordered too; unknown ones among those are
    ignored. ``registry`` defaults to every installed instructor.

    Example:
        >>> run_order(["coding", "general"])
        [['coding', 'general']]
    """
    if registry is None:
        registry = available_instructors()
    graph: dict[str, set[str]] = {}
    for name in enabled:
        deps = set()
        for dep in registry[name].depends_on:
            if dep not in registry:
                raise ConfigError(f"instructor '{name}' depends on unknown instructor '{dep}'")
            if dep in enabled:
                deps.add(dep)
        section = sections.get(name) if sections is not None else None
        if section is not None:
            deps.update(
                dep
                for dep in registry[name].dependencies(section)
                if dep in registry and dep in enabled and dep != name
            )
        graph[name] = deps
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise ConfigError(f"instructor dependencies form a cycle: {exc.args[1]}") from exc
    waves = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        waves.append(ready)
        sorter.done(*ready)
    return waves
