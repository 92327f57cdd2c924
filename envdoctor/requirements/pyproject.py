"""``pyproject.toml``: [project] dependencies, optional dependencies and PEP 735 dependency groups."""

from __future__ import annotations

import bisect
import re
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envdoctor.errors import InputError
from envdoctor.requirements.model import Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text
from envdoctor.requirements.versions import check_requirement
from envdoctor.safety import quote, snippet
from envdoctor.structured import parse_toml

# An assignment at the start of a line: the anchor from which a key's values are searched.
_ASSIGNMENT = re.compile(r"^[ \t]*[\"']?([^\"'=\n]*?)[\"']?[ \t]*=", re.MULTILINE)
# Values not found as written (escapes, multi-line strings) each cost a search to the end of
# the file; past this many, the rest get no line rather than the reader slowing to a crawl.
_MAX_MISSES = 64


class _LineFinder:
    """Finds the line each dependency string was written on: tomllib gives no positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [match.start() for match in re.finditer("\n", text)]
        self.anchors: dict[str, int] = {}
        for match in _ASSIGNMENT.finditer(text):
            self.anchors.setdefault(match.group(1).strip(), match.start())
        self.misses = 0

    def lines_of(self, values: list[str], key: str) -> list[int | None]:
        """The lines of ``values``, searched in order from the line that assigns ``key``."""
        offset = self.anchors.get(key, 0)
        lines: list[int | None] = []
        for value in values:
            found = self._find(value, offset)
            if found is None:
                lines.append(None)
                continue
            offset = found + len(value)
            lines.append(bisect.bisect_left(self.newlines, found) + 1)
        return lines

    def _find(self, value: str, offset: int) -> int | None:
        if self.misses >= _MAX_MISSES:
            return None
        positions = [p for p in (self.text.find(f"{q}{value}{q}", offset) for q in ('"', "'")) if p >= 0]
        if not positions:
            self.misses += 1
            return None
        return min(positions)


def parse_pyproject(
    text: str, path: str, extras: tuple[str, ...] = (), groups: tuple[str, ...] = ()
) -> list[Requirement]:
    data = parse_toml(text, path)
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise InputError(path, "[project] must be a table")
    finder = _LineFinder(text)
    requirements = _strings(project.get("dependencies", []), path, "project.dependencies", finder, "dependencies")
    optional = project.get("optional-dependencies", {})
    if extras and not isinstance(optional, dict):
        raise InputError(path, "project.optional-dependencies must be a table")
    for extra in extras:
        if extra not in optional:
            raise InputError(path, f"no optional dependencies named {quote(extra)} (--extra)")
        requirements += _strings(optional[extra], path, f"optional-dependencies.{extra}", finder, extra)
    if groups:
        requirements += _DependencyGroups(data.get("dependency-groups", {}), path, finder).requirements(groups)
    return requirements


def requires_python(text: str, path: str) -> tuple[SpecifierSet, Location] | None:
    """The project's own ``requires-python``, with its line: the Pythons the project installs on."""
    data = parse_toml(text, path)
    project = data.get("project", {})
    value = project.get("requires-python") if isinstance(project, dict) else None
    if value is None:
        return None
    line = next((n for n, t in enumerate(text.splitlines(), start=1) if t.lstrip().startswith("requires-python")), None)
    if not isinstance(value, str):
        raise InputError(path, "project.requires-python must be a string", line)
    try:
        return SpecifierSet(value), Location(path, line)
    except InvalidSpecifier:
        raise InputError(path, f"project.requires-python: {quote(value)} is not a version specifier", line) from None


class _DependencyGroups:
    """PEP 735 groups, with ``include-group`` followed without recursion: each group is read once
    however many groups include it (a diamond of includes is linear work, not exponential), a
    group that includes itself through any chain is an error, and a chain of any depth is fine."""

    def __init__(self, table: Any, path: str, finder: _LineFinder) -> None:
        if not isinstance(table, dict):
            raise InputError(path, "[dependency-groups] must be a table")
        self.table: dict[str, Any] = table
        self.path = path
        self.finder = finder
        self._parsed: dict[str, list[Requirement | str]] = {}

    def requirements(self, groups: tuple[str, ...]) -> list[Requirement]:
        """The requirements of ``groups`` and every group they include, each group's once, in order."""
        found: list[Requirement] = []
        done: set[str] = set()
        for group in groups:
            if group not in self.table:
                raise InputError(self.path, f"no dependency group named {quote(group)} (--group)")
            self._walk(group, done, found)
        return found

    def _walk(self, start: str, done: set[str], found: list[Requirement]) -> None:
        if start in done:
            return
        # The chain of groups being read, each with the index of its next entry.
        path: list[tuple[str, int]] = [(start, 0)]
        on_path = {start}
        while path:
            group, index = path[-1]
            entries = self._entries(group)
            if index == len(entries):
                path.pop()
                on_path.discard(group)
                done.add(group)
                continue
            path[-1] = (group, index + 1)
            entry = entries[index]
            if isinstance(entry, Requirement):
                found.append(entry)
            elif entry in on_path:
                raise InputError(self.path, f"dependency group {quote(entry)} includes itself")
            elif entry not in done:
                if entry not in self.table:
                    raise InputError(
                        self.path, f"dependency-groups.{snippet(group)}: no group named {quote(entry)} to include"
                    )
                path.append((entry, 0))
                on_path.add(entry)

    def _entries(self, group: str) -> list[Requirement | str]:
        """A group's entries: its requirements, parsed once, and the names of groups it includes."""
        cached = self._parsed.get(group)
        if cached is not None:
            return cached
        entries = self.table[group]
        where = f"dependency-groups.{snippet(group)}"
        if not isinstance(entries, list):
            raise InputError(self.path, f"{where} must be a list")
        strings = [entry for entry in entries if isinstance(entry, str)]
        parsed = iter(_strings(strings, self.path, where, self.finder, group))
        result: list[Requirement | str] = []
        for entry in entries:
            if isinstance(entry, str):
                result.append(next(parsed))
            elif _is_include(entry):
                result.append(entry["include-group"])
            else:
                raise InputError(self.path, f'{where}: each entry is a requirement or {{include-group = "NAME"}}')
        self._parsed[group] = result
        return result


def _is_include(entry: Any) -> bool:
    return isinstance(entry, dict) and set(entry) == {"include-group"} and isinstance(entry["include-group"], str)


def _strings(values: Any, path: str, where: str, finder: _LineFinder, key: str) -> list[Requirement]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InputError(path, f"{where} must be a list of strings")
    lines = finder.lines_of(values, key)
    return [
        check_requirement(parse_requirement_text(value, Location(path, line)))
        for value, line in zip(values, lines, strict=True)
    ]
