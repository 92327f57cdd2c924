"""``pyproject.toml``: [project] dependencies, optional dependencies and PEP 735 dependency groups."""

from __future__ import annotations

import re
from typing import Any

from envdoctor.errors import InputError
from envdoctor.requirements.model import Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text
from envdoctor.tomlcompat import tomllib

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def load_toml(text: str, path: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        position = _TOML_POSITION.search(str(exc))
        line = getattr(exc, "lineno", None) or (int(position.group(1)) if position else None)
        message = str(exc).split(" (at ", 1)[0]
        raise InputError(path, f"not valid TOML: {message}", line) from None
    return data


class _LineFinder:
    """Finds the line each dependency string was written on: tomllib gives no positions."""

    def __init__(self, text: str) -> None:
        self.text = text

    def lines_of(self, values: list[str], key: str) -> list[int | None]:
        """The lines of ``values``, searched in order from the line that assigns ``key``."""
        anchor = re.search(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", self.text, re.MULTILINE)
        offset = anchor.start() if anchor else 0
        lines: list[int | None] = []
        for value in values:
            positions = [p for p in (self.text.find(f"{q}{value}{q}", offset) for q in ('"', "'")) if p >= 0]
            if not positions:
                lines.append(None)
                continue
            offset = min(positions) + len(value)
            lines.append(self.text.count("\n", 0, min(positions)) + 1)
        return lines


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
        requirements += _strings(optional[extra], path, f"optional-dependencies.{extra}", finder, extra)
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
            found += _strings([entry], path, f"dependency-groups.{group}", finder, group)
    return found


def _strings(values: Any, path: str, where: str, finder: _LineFinder, key: str) -> list[Requirement]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InputError(path, f"{where} must be a list of strings")
    lines = finder.lines_of(values, key)
    return [parse_requirement_text(value, Location(path, line)) for value, line in zip(values, lines, strict=True)]
