"""Instructor registry: the built-in categories of :mod:`airloom.instructors.catalog`
and the third-party ones of the ``airloom.instructors`` entry-point group.

A third-party package adds a category by declaring, in its own pyproject.toml::

    [project.entry-points."airloom.instructors"]
    my_category = "my_package.module:MyInstructor"

Example:
    >>> "general" in INSTRUCTORS.names() and "general" in available_instructors()
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter

from airloom.config import InstructorConfig
from airloom.errors import ConfigError
from airloom.instructors.base import Instructor
from airloom.instructors.catalog import INSTRUCTORS

__all__ = ["INSTRUCTORS", "available_instructors", "load_enabled", "run_order"]


def available_instructors() -> dict[str, type[Instructor]]:
    """Every registered instructor class, keyed by category name (imports them all)."""
    return INSTRUCTORS.load_all()


def load_enabled(enabled: list[str]) -> dict[str, type[Instructor]]:
    """The classes of the enabled categories and of the categories they depend on
    (only these are imported).

    Example:
        >>> sorted(load_enabled(["editor"]))
        ['editor', 'writing']
    """
    loaded = {name: INSTRUCTORS.load(name) for name in enabled}
    for cls in list(loaded.values()):
        for dep in cls.depends_on:
            if dep in INSTRUCTORS:
                loaded.setdefault(dep, INSTRUCTORS.load(dep))
    return loaded


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
    ignored. ``registry`` defaults to the enabled instructors and their dependencies.

    Example:
        >>> run_order(["coding", "general"])
        [['coding', 'general']]
    """
    if registry is None:
        registry = load_enabled(enabled)
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
