"""``pyproject.toml``: [project] dependencies, optional dependencies and PEP 735 dependency groups."""

from __future__ import annotations

import sys
from typing import Any

from envdoctor.errors import InputError
from envdoctor.requirements.model import Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def load_toml(text: str, path: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        message = str(exc).split(" (at line", 1)[0]
        raise InputError(path, f"not valid TOML: {message}", line) from None
    return data


class _LineFinder:
    """Finds the line each dependency string was written on, in order of appearance."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0

    def line_of(self, value: str, anchor: str) -> int | None:
        start = self.text.find(anchor, self.offset) if anchor else self.offset
        start = max(start, 0)
        for quote in ('"', "'"):
            position = self.text.find(f"{quote}{value}{quote}", start)
            if position >= 0:
                self.offset = position + len(value)
                return self.text.count("\n", 0, position) + 1
        return None


def parse_pyproject(
    text: str, path: str, extras: tuple[str, ...] = (), groups: tuple[str, ...] = ()
) -> list[Requirement]:
    data = load_toml(text, path)
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise InputError(path, "[project] must be a table")
    finder = _LineFinder(text)
    requirements = _strings(project.get("dependencies", []), path, "project.dependencies", finder, "dependencies")
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if not isinstance(optional, dict) or extra not in optional:
            raise InputError(path, f"no optional dependencies named {extra!r} (--extra)")
        finder.offset = 0
        requirements += _strings(optional[extra], path, f"optional-dependencies.{extra}", finder, f"{extra} =")
    all_groups = data.get("dependency-groups", {})
    for group in groups:
        requirements += _group(all_groups, group, path, finder, ())
    return requirements


def _group(all_groups: Any, group: str, path: str, finder: _LineFinder, seen: tuple[str, ...]) -> list[Requirement]:
    if not isinstance(all_groups, dict) or group not in all_groups:
        raise InputError(path, f"no dependency group named {group!r} (--group)")
    if group in seen:
        raise InputError(path, f"dependency group {group!r} includes itself")
    found: list[Requirement] = []
    entries = all_groups[group]
    if not isinstance(entries, list):
        raise InputError(path, f"dependency-groups.{group} must be a list")
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            found += _group(all_groups, entry["include-group"], path, finder, (*seen, group))
        else:
            finder.offset = 0
            found += _strings([entry], path, f"dependency-groups.{group}", finder, f"{group} =")
    return found


def _strings(values: Any, path: str, where: str, finder: _LineFinder, anchor: str) -> list[Requirement]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InputError(path, f"{where} must be a list of strings")
    return [parse_requirement_text(value, Location(path, finder.line_of(value, anchor))) for value in values]
