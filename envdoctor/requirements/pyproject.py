"""``pyproject.toml``: [project] dependencies, optional dependencies and PEP 735 dependency groups,
with uv's ``[tool.uv]``: the sources and indexes each dependency comes from, and the extras and
groups declared to conflict."""

from __future__ import annotations

import bisect
import re
from typing import Any, NamedTuple

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from envdoctor.errors import InputError
from envdoctor.kb.facts import pytorch_index_variant
from envdoctor.requirements.model import Form, IndexOptions, Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text
from envdoctor.requirements.uvlock import conjoin, extra_decider, negate_marker, restrict_marker
from envdoctor.requirements.versions import check_marker, check_requirement
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
    text: str,
    path: str,
    extras: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    *,
    default_groups: bool = False,
    without: tuple[str, ...] = (),
) -> list[Requirement]:
    """The project's dependencies, the selected extras' and groups', each lowered through
    ``[tool.uv.sources]`` as uv lowers it (an index, git, URL, path or workspace source for the
    extras, groups and markers it applies to). With ``default_groups``, the groups are those
    ``uv sync --group ...`` installs (sync_groups); without, exactly those given (a Dockerfile's
    ``uv sync`` has settled them from its own options, ``pip install .`` installs none)."""
    if default_groups:
        groups = sync_groups(text, path, groups)
    # uv's --no-group (and --no-dev) win over the defaults and --group alike.
    groups = tuple(g for g in groups if canonicalize_name(g) not in {canonicalize_name(w) for w in without})
    data = parse_toml(text, path)
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise InputError(path, "[project] must be a table")
    finder = _LineFinder(text)
    uv = UvProject(data, text, path)
    # Each requirement with the extra or group it is declared in: uv's sources can name either.
    declared: list[tuple[Requirement, str | None, str | None]] = [
        (r, None, None)
        for r in _strings(project.get("dependencies", []), path, "project.dependencies", finder, "dependencies")
    ]
    optional = project.get("optional-dependencies", {})
    if extras and not isinstance(optional, dict):
        raise InputError(path, "project.optional-dependencies must be a table")
    for extra in extras:
        if extra not in optional:
            raise InputError(path, f"no optional dependencies named {quote(extra)} (--extra)")
        found = _strings(optional[extra], path, f"optional-dependencies.{extra}", finder, extra)
        declared += [(r, extra, None) for r in found]
    if groups:
        table = uv.dependency_groups(data.get("dependency-groups", {}))
        declared += [(r, None, group) for group, r in _DependencyGroups(table, path, finder).requirements(groups)]
    uv.check_conflicts(project.get("name"), extras, groups)
    return [lowered for r, extra, group in declared for lowered in uv.lower(r, extra, group, extras)]


def sync_groups(text: str, path: str, groups: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The dependency groups installed for the project with ``--group`` ``groups``: for a uv
    project, uv's default groups first (``dev`` unless ``tool.uv.default-groups`` says otherwise,
    https://docs.astral.sh/uv/concepts/projects/dependencies/#default-groups), as ``uv sync`` does.
    A uv project is one with ``[tool.uv]`` or a ``uv.lock`` beside it: either says it is installed
    with ``uv sync``; any other pyproject is installed with ``pip install .``, which installs no group."""
    from pathlib import Path

    data = parse_toml(text, path)
    tool = data.get("tool")
    uv_table = tool.get("uv") if isinstance(tool, dict) else None
    if uv_table is None and not (path != "-" and (Path(path).parent / "uv.lock").is_file()):
        return groups
    uv = UvProject(data, text, path)
    table = uv.dependency_groups(data.get("dependency-groups", {}))
    defined = list(table) if isinstance(table, dict) else []
    line = uv._line("default-groups")
    return tuple(dict.fromkeys([*default_groups_of(uv.table.get("default-groups"), defined, path, line), *groups]))


def default_groups_of(value: Any, defined: list[str], path: str, line: int | None) -> list[str]:
    """``tool.uv.default-groups`` (None: not set) as the names of the defined groups it selects:
    ``dev`` when not set (where the project has one), every group for ``"all"``; a group it names
    that is not defined is refused, as uv refuses it."""
    by_name = {canonicalize_name(name): name for name in defined}
    if value is None:
        dev = canonicalize_name("dev")
        return [by_name[dev]] if dev in by_name else []
    if value == "all":
        return list(defined)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(path, 'tool.uv.default-groups must be "all" or a list of group names', line)
    missing = [item for item in value if canonicalize_name(item) not in by_name]
    if missing:
        raise InputError(
            path, f"tool.uv.default-groups: no dependency group named {quote(missing[0])} is defined", line
        )
    return [by_name[canonicalize_name(item)] for item in value]


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

    def requirements(self, groups: tuple[str, ...]) -> list[tuple[str, Requirement]]:
        """The requirements of ``groups`` and every group they include, each group's once, in order,
        each with the selected group it was reached from (uv applies a group's sources to all it includes)."""
        found: list[tuple[str, Requirement]] = []
        done: set[str] = set()
        for group in groups:
            if group not in self.table:
                raise InputError(self.path, f"no dependency group named {quote(group)} (--group)")
            reached: list[Requirement] = []
            self._walk(group, done, reached)
            found += [(group, requirement) for requirement in reached]
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


# [tool.uv], read as uv reads it. Sources pin a dependency to an index, a git repository, a URL, a
# path or a workspace member, each for an extra, a group or a marker
# (https://docs.astral.sh/uv/concepts/projects/dependencies/#dependency-sources); indexes are
# named in [[tool.uv.index]], an explicit one used only where a source names it, a default one in
# place of PyPI (https://docs.astral.sh/uv/concepts/indexes/); conflicting extras and groups are
# never installed together (https://docs.astral.sh/uv/concepts/projects/config/#conflicting-dependencies).
# Which source applies to which requirement is uv's lowering
# (https://github.com/astral-sh/uv/blob/main/crates/uv-distribution/src/metadata/lowering.rs): a
# source with ``extra``/``group`` applies only to the requirements declared in that extra or group;
# the rest of the requirement's marker space, where no source's marker holds, goes to the indexes.

_SOURCE_KINDS = ("index", "git", "url", "path", "workspace")


class _Index(NamedTuple):
    name: str | None
    url: str
    explicit: bool
    default: bool
    flat: bool


class _Source(NamedTuple):
    kind: str
    value: str  # the index's name, the repository, URL or path; "" for a workspace member
    marker: Marker | None
    extra: NormalizedName | None
    group: NormalizedName | None
    ref: str | None  # a git rev, tag or branch
    subdirectory: str | None
    editable: bool | None


class UvProject:
    """``[tool.uv]`` of a pyproject.toml: sources, indexes, conflicts and the legacy dev-dependencies."""

    def __init__(self, data: dict[str, Any], text: str, path: str) -> None:
        self.path, self.text = path, text
        tool = data.get("tool", {})
        uv = tool.get("uv", {}) if isinstance(tool, dict) else {}
        if not isinstance(uv, dict):
            raise InputError(path, "[tool.uv] must be a table")
        self.table: dict[str, Any] = uv
        self.indexes = self._indexes(uv.get("index", []))
        self.sources = self._sources(uv.get("sources", {}))

    def index_options(self) -> IndexOptions:
        """The indexes every package may come from: the non-explicit ones (a default one in place
        of PyPI, a flat one as find-links) and the pip-style settings uv still reads."""
        index_url = next((i.url for i in self.indexes if i.default and not i.explicit and not i.flat), None)
        extra = [i.url for i in self.indexes if not (i.explicit or i.default or i.flat)]
        links = [i.url for i in self.indexes if i.flat and not i.explicit]
        # An index both explicit and default also drops PyPI for every other package (uv's
        # indexes page); that is a set uv cannot resolve, not one these options can say.
        legacy_index = self._setting("index-url", str)
        extra += self._strings_setting("extra-index-url")
        links += self._strings_setting("find-links")
        return IndexOptions(
            index_url=index_url or legacy_index,
            extra_index_urls=tuple(dict.fromkeys(extra)),
            find_links=tuple(dict.fromkeys(links)),
            no_index=bool(self._setting("no-index", bool)),
        )

    def dependency_groups(self, table: Any) -> Any:
        """[dependency-groups] with the legacy ``tool.uv.dev-dependencies`` added to ``dev``, as uv combines them."""
        legacy = self.table.get("dev-dependencies")
        if legacy is None or not isinstance(table, dict):
            return table
        if not isinstance(legacy, list):
            raise InputError(
                self.path, "tool.uv.dev-dependencies must be a list of strings", self._line("dev-dependencies")
            )
        dev = table.get("dev", [])
        return {**table, "dev": [*dev, *legacy] if isinstance(dev, list) else dev}

    def check_conflicts(self, project: Any, extras: tuple[str, ...], groups: tuple[str, ...]) -> None:
        """Refuse a selection uv refuses: two extras or groups of one declared conflict."""
        conflicts = self.table.get("conflicts", [])
        line = self._line("conflicts")
        if not isinstance(conflicts, list) or not all(isinstance(c, list) for c in conflicts):
            raise InputError(self.path, "tool.uv.conflicts must be a list of lists", line)
        own = canonicalize_name(project) if isinstance(project, str) else None
        selected = {("extra", canonicalize_name(e)) for e in extras} | {("group", canonicalize_name(g)) for g in groups}
        for conflict in conflicts:
            chosen = []
            for item in conflict:
                if not isinstance(item, dict):
                    raise InputError(self.path, "tool.uv.conflicts: each item is a table (extra or group)", line)
                package = item.get("package")
                if package is not None and (not isinstance(package, str) or canonicalize_name(package) != own):
                    continue
                for kind in ("extra", "group"):
                    value = item.get(kind)
                    if isinstance(value, str) and (kind, canonicalize_name(value)) in selected:
                        chosen.append(f"--{kind} {value}")
            if len(chosen) > 1:
                said = " and ".join(chosen)
                raise InputError(
                    self.path, f"{said} are declared conflicting (tool.uv.conflicts): uv installs one at a time", line
                )

    def lower(
        self, requirement: Requirement, extra: str | None, group: str | None, selected: tuple[str, ...]
    ) -> list[Requirement]:
        """The requirement as uv installs it: one line per source that applies, with the source's
        marker, then the line for where no source's marker holds (from the indexes)."""
        sources = self.sources.get(requirement.name) if requirement.name else None
        if requirement.form is not Form.NAMED or not sources:
            return [requirement]
        extra_name = canonicalize_name(extra) if extra else None
        group_name = canonicalize_name(group) if group else None
        applicable = [s for s in sources if s.extra in (None, extra_name) and s.group in (None, group_name)]
        decide = extra_decider(frozenset(canonicalize_name(e) for e in selected))
        lowered: list[Requirement] = []
        covered: list[Marker] = []
        everywhere = False
        for source in applicable:
            where = True if source.marker is None else restrict_marker(source.marker, decide)
            if where is False:
                continue
            everywhere = everywhere or where is True
            if isinstance(where, Marker):
                covered.append(where)
            # A source whose marker cannot hold with the requirement's installs nothing (uv drops it).
            marker = conjoin(requirement.marker, where if isinstance(where, Marker) else None)
            if marker is not False:
                lowered.append(self._apply(requirement, source, marker if isinstance(marker, Marker) else None))
        if not covered and not everywhere:
            return [requirement]
        if everywhere:
            return lowered
        remaining = self._remaining(requirement, covered)
        return [*lowered, remaining] if remaining is not None else lowered

    def _apply(self, requirement: Requirement, source: _Source, marker: Marker | None) -> Requirement:
        base = requirement._replace(marker=check_marker(marker, self.path, requirement.location.line))
        name = requirement.name
        if source.kind == "index":
            index = next(i for i in self.indexes if i.name == source.value)
            return base._replace(
                variant=pytorch_index_variant(index.url), source=f"the {index.name} index (tool.uv.sources)"
            )
        if source.kind == "git":
            url = source.value if source.value.startswith("git+") else f"git+{source.value}"
            url += (f"@{source.ref}" if source.ref else "") + (
                f"#subdirectory={source.subdirectory}" if source.subdirectory else ""
            )
            form, editable = Form.VCS, False
        elif source.kind == "url":
            url, form, editable = source.value, Form.URL, False
        elif source.kind == "path":
            url, form, editable = source.value, Form.PATH, bool(source.editable)
        else:  # a workspace member: built from the workspace, editable unless said otherwise
            return base._replace(
                form=Form.PATH,
                text=f"{name} (workspace member)",
                specifier=SpecifierSet(),
                editable=source.editable is not False,
                source="the workspace (tool.uv.sources)",
            )
        return base._replace(
            form=form,
            text=f"{name} @ {url}",
            url=url,
            specifier=SpecifierSet(),
            editable=editable,
            source=f"{source.kind} (tool.uv.sources)",
        )

    def _remaining(self, requirement: Requirement, covered: list[Marker]) -> Requirement | None:
        """The requirement where none of the sources' markers holds, from the indexes; None where
        that is nowhere."""
        negated = [negate_marker(marker) for marker in covered]
        if any(marker is None for marker in negated):
            # A marker without an opposite (~=, ===): the line stays whole, after the sources'
            # lines, which the audit reads first.
            return requirement
        marker = conjoin(requirement.marker, *negated)
        if marker is False:
            return None
        kept = marker if isinstance(marker, Marker) else None
        return requirement._replace(marker=check_marker(kept, self.path, requirement.location.line))

    def _indexes(self, entries: Any) -> list[_Index]:
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise InputError(self.path, "[[tool.uv.index]] must be an array of tables", self._line("index"))
        headers = [n for n, line in enumerate(self.text.splitlines(), start=1) if line.strip() == "[[tool.uv.index]]"]
        lines: list[int | None] = list(headers) if len(headers) == len(entries) else [None] * len(entries)
        return [self._index(entry, line) for entry, line in zip(entries, lines, strict=True)]

    def _index(self, entry: dict[str, Any], line: int | None) -> _Index:
        url, name = entry.get("url"), entry.get("name")
        explicit, default, kind = (
            entry.get("explicit", False),
            entry.get("default", False),
            entry.get("format", "simple"),
        )
        if not isinstance(url, str) or not isinstance(name, (str, type(None))):
            raise InputError(self.path, "[[tool.uv.index]]: url must be a string, and name one if given", line)
        if not isinstance(explicit, bool) or not isinstance(default, bool) or kind not in ("simple", "flat"):
            raise InputError(
                self.path, "[[tool.uv.index]]: explicit and default are true or false, format simple or flat", line
            )
        return _Index(name, url, explicit, default, kind == "flat")

    def _sources(self, table: Any) -> dict[NormalizedName, list[_Source]]:
        if not isinstance(table, dict):
            raise InputError(self.path, "[tool.uv.sources] must be a table", self._line("sources"))
        sources: dict[NormalizedName, list[_Source]] = {}
        lines = _table_lines(self.text, "tool.uv.sources")
        for key, value in table.items():
            line = lines.get(key)
            entries = value if isinstance(value, list) else [value]
            where = f"tool.uv.sources.{snippet(key)}"
            sources.setdefault(canonicalize_name(key), []).extend(self._source(e, where, line) for e in entries)
        return sources

    def _source(self, entry: Any, where: str, line: int | None) -> _Source:
        kinds = [kind for kind in _SOURCE_KINDS if isinstance(entry, dict) and kind in entry]
        if not isinstance(entry, dict) or len(kinds) != 1:
            raise InputError(self.path, f"{where}: each source names one of {', '.join(_SOURCE_KINDS)}", line)
        kind = kinds[0]
        value = entry[kind]
        if (kind == "workspace" and value is not True) or (kind != "workspace" and not isinstance(value, str)):
            raise InputError(
                self.path, f"{where}: {kind} must be {'true' if kind == 'workspace' else 'a string'}", line
            )
        if kind == "index" and not any(index.name == value for index in self.indexes):
            raise InputError(self.path, f"{where}: no [[tool.uv.index]] named {quote(value)}", line)
        text = {key: entry.get(key) for key in ("marker", "extra", "group", "rev", "tag", "branch", "subdirectory")}
        if not all(isinstance(v, (str, type(None))) for v in text.values()) or not isinstance(
            entry.get("editable"), (bool, type(None))
        ):
            raise InputError(
                self.path, f"{where}: marker, extra, group, rev, tag, branch, subdirectory are strings", line
            )
        return _Source(
            kind=kind,
            value=value if isinstance(value, str) else "",
            marker=self._marker(text["marker"], where, line),
            extra=canonicalize_name(text["extra"]) if text["extra"] else None,
            group=canonicalize_name(text["group"]) if text["group"] else None,
            ref=text["rev"] or text["tag"] or text["branch"],
            subdirectory=text["subdirectory"],
            editable=entry.get("editable"),
        )

    def _marker(self, text: str | None, where: str, line: int | None) -> Marker | None:
        if text is None:
            return None
        try:
            return check_marker(Marker(text), self.path, line)
        except InvalidMarker:
            raise InputError(self.path, f"{where}: invalid marker {quote(text)}", line) from None

    def _setting(self, key: str, kind: type) -> Any:
        value = self.table.get(key)
        if value is not None and not isinstance(value, kind):
            raise InputError(self.path, f"tool.uv.{key} must be a {kind.__name__}", self._line(key))
        return value

    def _strings_setting(self, key: str) -> list[str]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(self.path, f"tool.uv.{key} must be a list of strings", self._line(key))
        return value

    def _line(self, key: str) -> int | None:
        return _key_line(self.text, "tool.uv", key)


def uv_indexes(text: str, path: str) -> IndexOptions:
    """The indexes ``[tool.uv]`` gives every package of the project (the loader merges them into
    the set's): explicit indexes are not among them, only the packages whose sources name them."""
    return UvProject(parse_toml(text, path), text, path).index_options()


_KEY = re.compile(r"""^\s*["']?(?P<key>[^"'=\s]+)["']?\s*=""")
_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*[^\]=\[]+\]\]?\s*(#.*)?$")


def _key_line(text: str, table: str, key: str) -> int | None:
    """The line that assigns ``key`` in the table headed ``[table]`` (tomllib gives no positions)."""
    return _table_lines(text, table).get(key)


def _table_lines(text: str, table: str) -> dict[str, int]:
    """The line of each key assigned in the table headed ``[table]``: the first, for each key."""
    lines = text.splitlines()
    header = f"[{table}]"
    start = next((n for n, line in enumerate(lines) if line.strip().replace(" ", "") == header), None)
    found: dict[str, int] = {}
    for number in range(start + 1, len(lines)) if start is not None else ():
        if _TABLE_HEADER.match(lines[number]):
            break
        if match := _KEY.match(lines[number]):
            found.setdefault(match.group("key"), number + 1)
    return found
