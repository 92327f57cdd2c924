"""``poetry.lock``: the set ``poetry install`` installs, read from Poetry's lockfile.

The format is Poetry's own (``Locker`` in
https://github.com/python-poetry/poetry/blob/main/src/poetry/packages/locker.py; Poetry reads
``lock-version`` >=1,<3): one ``[[package]]`` per locked release with ``name``, ``version``,
``optional``, ``python-versions``, ``[package.dependencies]`` (a constraint string, or tables with
``version``, ``markers``, ``optional``, ``extras``), ``[package.extras]``, ``[package.source]``
(``type`` legacy, url, git, file or directory; ``url``; ``reference``, ``resolved_reference``) and
its files with their hashes; a top-level ``[extras]`` for the project's own extras; ``[metadata]``.

What each version says of where a package is installed differs:
- 2.1 (Poetry 2) writes, for each package, the ``groups`` that reach it and the ``markers`` under
  which they do (one string, or one per group: ``markers = {main = "..."}``), ``extra == "x"``
  comparisons included. Poetry installs from it a package of a selected group whose marker holds
  (``Transaction.calculate_operations``): read so, exactly.
- 1.x and 2.0 say nothing of it per package (1.x has ``category`` main or dev, its files in
  ``[metadata.files]``): Poetry resolves again from the lock. Here the packages are reached from
  the project's own dependencies (the ``[tool.poetry]`` of the pyproject.toml beside the lock; without
  one, from the locked packages nothing else depends on) along the dependency edges, each installed
  where the markers along some path hold. A package locked in several versions (numpy for each
  Python, torch for Intel macOS) is installed in the version Poetry's resolution from the lock takes
  in each environment (``_Lock.choices``), each version with the marker of where. Edges' ``python``
  constraints (Poetry's syntax, not a marker) are not read: such an edge is taken as holding.

``[metadata] python-versions`` (Poetry's constraint syntax) is the project's requires-python.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import VERSION_PATTERN, InvalidVersion, Version

from envdoctor.errors import InputError
from envdoctor.kb.facts import pytorch_index_variant
from envdoctor.requirements.model import Form, Location, Requirement
from envdoctor.requirements.uvlock import (
    conjoin,
    either,
    extra_decider,
    package_lines,
    package_tables,
    restrict_marker,
    wheel_file_names,
)
from envdoctor.requirements.versions import check_marker, check_specifier, check_version
from envdoctor.safety import quote, snippet
from envdoctor.structured import parse_toml

_SOURCE_TYPES = ("legacy", "url", "git", "file", "directory")
MAIN = "main"
# Far more dependency edges than any real lock holds, and far more marker merges than a real
# lock's paths need: past either, the lock is not judged / the walk keeps what it has.
MAX_EDGES = 200_000
_MAX_WORK = 50_000
# "torch (>=1.9)", "requests[socks] (>=2)": the name a [package.extras] entry starts with.
_EXTRA_ENTRY = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class _Package(NamedTuple):
    name: NormalizedName
    version: str
    table: dict[str, Any]
    location: Location


class _Edge(NamedTuple):
    name: NormalizedName
    marker: str | None
    optional: bool
    extras: frozenset[NormalizedName]
    version: str | None
    source: str | None = None  # the [[tool.poetry.source]] a project's dependency names


class PoetryProject(NamedTuple):
    """What the pyproject.toml beside a lock says of the selection: the project's dependencies per
    group (as edges), its groups and which are optional, its extras."""

    edges: dict[str, list[_Edge]]
    optional_groups: frozenset[NormalizedName]
    extras: dict[NormalizedName, frozenset[NormalizedName]]


def parse_poetry_lock(
    text: str, path: str, extras: tuple[str, ...] = (), groups: tuple[str, ...] = ()
) -> list[Requirement]:
    """Every package ``poetry install --with GROUPS --extras EXTRAS`` installs from this lock,
    pinned exactly, with its hashes, files, source and the marker under which it is installed."""
    lock = _Lock(parse_toml(text, path), text, path)
    project = _project_beside(path)
    chosen_groups = lock.groups(project, tuple(canonicalize_name(g) for g in groups))
    chosen_extras = lock.extras(tuple(canonicalize_name(e) for e in extras))
    if lock.version is not None and lock.version >= Version("2.1"):
        placed = lock.by_groups(chosen_groups, chosen_extras)
    else:
        placed = lock.by_walk(project, chosen_groups, chosen_extras)
    return [lock.requirement(index, where) for index, where in sorted(placed.items()) if where is not False]


def installed_groups(text: str, path: str, groups: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The dependency groups ``poetry install`` installs with ``--with`` ``groups``: main, every
    group the pyproject.toml beside the lock does not mark optional, and those named."""
    lock = _Lock(parse_toml(text, path), text, path)
    return tuple(sorted(lock.groups(_project_beside(path), tuple(canonicalize_name(g) for g in groups))))


class _Lock:
    def __init__(self, data: dict[str, Any], text: str, path: str) -> None:
        self.path = path
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            raise InputError(path, "not a poetry.lock: no [metadata] table")
        written = metadata.get("lock-version", "1.0")
        self.version = _lock_version(written)
        if self.version is None:
            raise InputError(path, f"poetry.lock lock-version {quote(str(written))}: this reader knows 1.x and 2.x")
        tables = package_tables(data, path)
        lines = package_lines(text, len(tables))
        self.packages = [self._package(table, Location(path, line)) for table, line in zip(tables, lines, strict=True)]
        self.by_name: dict[NormalizedName, list[int]] = {}
        for index, package in enumerate(self.packages):
            self.by_name.setdefault(package.name, []).append(index)
        files = metadata.get("files", {})
        self.legacy_files: dict[str, Any] = files if isinstance(files, dict) else {}
        declared = data.get("extras", {})
        if not isinstance(declared, dict):
            raise InputError(path, "[extras] must be a table")
        self.declared_extras = {
            canonicalize_name(key): frozenset(_entry_names(value, path, f"extras.{snippet(key)}"))
            for key, value in declared.items()
        }
        self.edge_count = 0
        self.metadata = metadata
        self.forked = False
        self._held: dict[tuple[str, frozenset[NormalizedName], str], bool] = {}
        self._read_edges: dict[tuple[int, frozenset[NormalizedName]], list[_Edge]] = {}
        self._solve_work = 0

    def _package(self, table: dict[str, Any], location: Location) -> _Package:
        name, version = table.get("name"), table.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise InputError(self.path, "[[package]] needs a name and a version, as strings", location.line)
        try:
            canonical = canonicalize_name(name, validate=True)
            Version(check_version(version, self.path, location.line))
        except InvalidName:
            raise InputError(self.path, f"{quote(name)} is not a package name", location.line) from None
        except InvalidVersion:
            raise InputError(self.path, f"{snippet(name)}: {quote(version)} is not a version", location.line) from None
        for key, kind in (("optional", bool), ("groups", list), ("category", str), ("source", dict), ("files", list)):
            if key in table and not isinstance(table[key], kind):
                raise InputError(self.path, f"{canonical}: {key} must be a {kind.__name__}", location.line)
        return _Package(canonical, version, table, location)

    def groups(self, project: PoetryProject | None, named: tuple[str, ...]) -> set[str]:
        """main, the non-optional groups (where the pyproject says which they are), and those named."""
        known = {MAIN}
        if project is not None:
            known |= set(project.edges)
        for package in self.packages:
            known |= {canonicalize_name(g) for g in package.table.get("groups", []) if isinstance(g, str)}
            if package.table.get("category") == "dev":
                known.add("dev")
        for group in named:
            if group not in known:
                raise InputError(self.path, f"no dependency group named {quote(group)} (--group)")
        defaults = {g for g in project.edges if g not in project.optional_groups} if project is not None else set()
        return {MAIN, *defaults, *named}

    def extras(self, named: tuple[NormalizedName, ...]) -> frozenset[NormalizedName]:
        for extra in named:
            if extra not in self.declared_extras:
                raise InputError(self.path, f"no extra named {quote(extra)} in the lock's [extras] (--extra)")
        return frozenset(named)

    def by_groups(self, groups: set[str], extras: frozenset[NormalizedName]) -> dict[int, bool | Marker]:
        """Lock 2.1: each package of a selected group where that group's marker holds."""
        decide = extra_decider(extras)
        placed: dict[int, bool | Marker] = {}
        for index, package in enumerate(self.packages):
            own = {canonicalize_name(g) for g in package.table.get("groups", []) if isinstance(g, str)}
            chosen = sorted(own & groups)
            if not chosen:
                continue
            markers = package.table.get("markers")
            if not isinstance(markers, (str, dict, type(None))):
                raise InputError(
                    self.path, f"{package.name}: markers must be a string or a table", package.location.line
                )
            texts = [markers.get(g) if isinstance(markers, dict) else markers for g in chosen]
            settled = [True if text is None else restrict_marker(self._marker(text, package), decide) for text in texts]
            placed[index] = either(*settled)
        return placed

    def by_walk(
        self, project: PoetryProject | None, groups: set[str], extras: frozenset[NormalizedName]
    ) -> dict[int, bool | Marker]:
        """Lock 1.x and 2.0: the packages reached from the project's dependencies, each where the
        markers along some path to it hold."""
        if project is not None:
            entry = [edge for group in sorted(groups) for edge in project.edges.get(group, [])]
            wanted = {name for extra in extras for name in project.extras.get(canonicalize_name(extra), ())}
            entry = [e for e in entry if not e.optional or e.name in wanted]
        else:
            entry = self._unreferenced(groups, extras)
        chosen = self.choices(entry, extras)
        where: dict[int, bool | Marker] = {}
        active: dict[int, frozenset[NormalizedName]] = {}
        queue: deque[int] = deque()
        work = 0

        def reach(edge: _Edge, parent: bool | Marker, parent_extras: frozenset[NormalizedName]) -> None:
            nonlocal work
            marker = (
                True if edge.marker is None else restrict_marker(self._edge_marker(edge), extra_decider(parent_extras))
            )
            onward = False if marker is False else conjoin(*(m for m in (parent, marker) if isinstance(m, Marker)))
            if onward is False or parent is False:
                return
            for target in self._targets(edge, where):
                work += 1
                if work > _MAX_WORK:
                    return
                # Of a package locked several times, this version only where Poetry would pick it,
                # and a package's own markers (where a lock writes them) always.
                narrowed = [m for m in (onward, chosen.get(target, True), self._own_marker(target)) if m is not True]
                arrived = False if False in narrowed else conjoin(*(m for m in narrowed if isinstance(m, Marker)))
                if arrived is False:
                    continue
                merged = either(where.get(target, False), arrived)
                more = active.get(target, frozenset()) | edge.extras
                if merged != where.get(target) or more != active.get(target):
                    where[target], active[target] = merged, more
                    queue.append(target)

        for edge in entry:
            reach(edge, True, extras)
        while queue and work <= _MAX_WORK:
            index = queue.popleft()
            for edge in self._edges(index, active.get(index, frozenset())):
                reach(edge, where[index], active.get(index, frozenset()))
        return where

    def choices(self, entry: list[_Edge], extras: frozenset[NormalizedName]) -> dict[int, bool | Marker]:
        """Where each version of a package locked more than once is the one installed.

        ``poetry install`` from a lock 1.x/2.0 resolves again, with the lock's packages as its only
        repository and the host's environment (``Installer._do_install`` and ``Provider`` in
        https://github.com/python-poetry/poetry/tree/1.8.5/src/poetry): it follows only the edges
        whose markers hold there, takes one version of each package, the newest locked one that every
        constraint on it and its own ``python-versions`` allow (an edge naming a source, or a source
        the project names for the package, limits it to that source's), and installs that. Here that
        resolution is made for each environment an audit's host can be (rules/markers.py: Linux
        x86_64 and aarch64, macOS arm64 and x86_64, Windows AMD64 and ARM64, Python 3.8 to 3.14), and
        each version gets a marker that holds in those where it was taken."""
        self.forked = False
        multiple = {name for name, found in self.by_name.items() if len(found) > 1}
        if not multiple:
            return {}
        allowed = self._project_pythons()
        picks: dict[tuple[int, int], dict[NormalizedName, int]] = {}
        try:
            for platform in range(len(_PLATFORMS)):
                for python in allowed:
                    picks[platform, python] = self._solve(_environment(platform, python), entry, extras)
        except _TooMuchWork:
            return {}  # past any real lock: each edge takes the version _targets finds, as before
        spans = {}
        for name in multiple:
            for index in self.by_name[name]:
                taken = set()
                for platform in range(len(_PLATFORMS)):
                    # A Python the project refuses is taken as its nearest allowed one: poetry refuses to
                    # install there at all (the audit says so), so those environments only shorten markers.
                    for python in range(len(_PYTHONS)):
                        nearest = min(allowed, key=lambda known: (abs(known - python), known))
                        if picks[platform, nearest].get(name) == index:
                            taken.add((platform, python))
                spans[index] = _span_marker(taken)
        self.forked = True
        return spans

    def _project_pythons(self) -> list[int]:
        """The positions in _PYTHONS of the Pythons the lock's python-versions allows (all if it says none)."""
        written = self.metadata.get("python-versions")
        try:
            specifier = python_specifier(written) if isinstance(written, str) else SpecifierSet()
        except (ValueError, InvalidVersion):
            specifier = SpecifierSet()
        allowed = [i for i, python in enumerate(_PYTHONS) if specifier.contains(f"{python}.0", prereleases=True)]
        return allowed or list(range(len(_PYTHONS)))

    def _solve(
        self, environment: dict[str, str], entry: list[_Edge], extras: frozenset[NormalizedName]
    ) -> dict[NormalizedName, int]:
        """The version of each package Poetry installs in one environment: from the project's edges
        that hold there, the newest locked version all the constraints met so far allow, again until
        the picks settle (a real lock settles in two or three rounds)."""
        chosen: dict[NormalizedName, int] = {}
        for _ in range(_ROUNDS):
            asked = self._round(environment, entry, extras, chosen)
            # A source the project names for a package is where Poetry takes it from, whoever asks.
            explicit = _explicit_sources(entry, asked)
            settled = {name: self._pick(name, edges, explicit, environment) for name, edges in asked.items()}
            if settled == chosen:
                break
            chosen = settled
        return chosen

    def _round(
        self,
        environment: dict[str, str],
        entry: list[_Edge],
        extras: frozenset[NormalizedName],
        chosen: dict[NormalizedName, int],
    ) -> dict[NormalizedName, list[_Edge]]:
        """The edges that hold in the environment, by the package they ask for, following each
        package's picked version (the newest its constraints so far allow where none is picked yet)."""
        asked: dict[NormalizedName, list[_Edge]] = {}
        active: dict[NormalizedName, frozenset[NormalizedName]] = {}
        queue: deque[NormalizedName] = deque()

        def follow(edges: list[_Edge], parent_extras: frozenset[NormalizedName]) -> None:
            self._solve_work += len(edges)
            if self._solve_work > _MAX_SOLVE_WORK:
                raise _TooMuchWork
            for edge in edges:
                if edge.name not in self.by_name or not self._holds(edge, parent_extras, environment):
                    continue
                asked.setdefault(edge.name, []).append(edge)
                more = active.get(edge.name, frozenset()) | edge.extras
                if edge.name not in active or more != active[edge.name]:
                    active[edge.name] = more
                    queue.append(edge.name)

        follow(entry, extras)
        explicit = _explicit_sources(entry, asked)
        while queue:
            name = queue.popleft()
            index = chosen.get(name)
            if index is None:
                index = self._pick(name, asked[name], explicit, environment)
            follow(self._edges(index, active[name]), active[name])
        return asked

    def _holds(self, edge: _Edge, extras: frozenset[NormalizedName], environment: dict[str, str]) -> bool:
        """Whether an edge's marker holds in the environment, the parent's extras settled."""
        if edge.marker is None:
            return True
        key = (edge.marker, extras, environment["key"])
        if key not in self._held:
            marker = restrict_marker(self._edge_marker(edge), extra_decider(extras))
            self._held[key] = marker if isinstance(marker, bool) else marker.evaluate(environment)
        return self._held[key]

    def _pick(
        self, name: NormalizedName, edges: list[_Edge], explicit: dict[NormalizedName, str], environment: dict[str, str]
    ) -> int:
        """The locked version of ``name`` Poetry takes: the newest that its source, the environment's
        Python and every constraint allow (the newest the source and the Python allow if none fits all)."""
        found = self.by_name[name]
        if len(found) == 1:
            return found[0]
        source = explicit.get(name) or next((e.source for e in edges if e.source), None)
        pool = [i for i in found if _source_of(self.packages[i]).get("reference") == source] if source else []
        pool = pool or [i for i in found if not _source_of(self.packages[i])] or found
        python = environment["python_full_version"]
        runs = [i for i in pool if _satisfies(python, _text(self.packages[i].table.get("python-versions")))] or pool
        fits = [i for i in runs if all(_satisfies(self.packages[i].version, e.version) for e in edges)] or runs
        return max(fits, key=lambda i: (Version(self.packages[i].version), -i))

    def _own_marker(self, index: int) -> bool | Marker:
        """A package's own ``markers`` (a string), where a lock 1.x/2.0 writes one."""
        package = self.packages[index]
        text = package.table.get("markers")
        return self._marker(text, package) if isinstance(text, str) else True

    def _unreferenced(self, groups: set[str], extras: frozenset[NormalizedName]) -> list[_Edge]:
        """Without the pyproject: the locked packages of the selected categories that no other one
        depends on stand for the project's dependencies; an optional one only for a selected extra."""
        wanted = {name for extra in extras for name in self.declared_extras.get(extra, frozenset())}
        kept = [
            i
            for i, p in enumerate(self.packages)
            if p.table.get("category", MAIN) in groups and (not p.table.get("optional", False) or p.name in wanted)
        ]
        referenced = {edge.name for i in kept for edge in self._edges(i, frozenset())}
        roots = {self.packages[i].name for i in kept if self.packages[i].name not in referenced}
        return [_Edge(name, None, False, frozenset(), None) for name in sorted(roots | (wanted & set(self.by_name)))]

    def _edges(self, index: int, active: frozenset[NormalizedName]) -> list[_Edge]:
        """A package's dependency edges: its optional ones only for the extras active on it."""
        if (index, active) not in self._read_edges:
            self._read_edges[index, active] = self._edges_of(index, active)
        return self._read_edges[index, active]

    def _edges_of(self, index: int, active: frozenset[NormalizedName]) -> list[_Edge]:
        package = self.packages[index]
        table = package.table.get("dependencies", {})
        if not isinstance(table, dict):
            raise InputError(self.path, f"{package.name}: dependencies must be a table", package.location.line)
        declared = package.table.get("extras", {})
        by_extra = declared if isinstance(declared, dict) else {}
        enabled = {
            name
            for key, value in by_extra.items()
            if canonicalize_name(key) in active
            for name in _entry_names(value, self.path, f"{package.name}: extras")
        }
        edges = []
        for name, value in table.items():
            for edge in _constraints(name, value, self.path, package):
                if not edge.optional or edge.name in enabled:
                    edges.append(edge)
        self.edge_count += len(edges)
        if self.edge_count > MAX_EDGES:
            raise InputError(self.path, f"more than {MAX_EDGES:,} dependency edges: not judged")
        return edges

    def _targets(self, edge: _Edge, reached: dict[int, bool | Marker]) -> list[int]:
        """The locked packages an edge names, as Poetry picks among releases locked more than once:
        among those its constraint allows, the one of the source it names; one already installed,
        which satisfies it (a build from a PyTorch source serves every package needing torch); else
        the one of the default source."""
        found = self.by_name.get(edge.name, [])
        if len(found) < 2:
            return found
        found = [i for i in found if _satisfies(self.packages[i].version, edge.version)] or found
        named = [i for i in found if _source_of(self.packages[i]).get("reference") == edge.source]
        if edge.source and named:
            return named
        if self.forked:
            return found  # each where choices() places it
        taken = [i for i in found if reached.get(i, False) is not False]
        default = [i for i in found if not _source_of(self.packages[i])]
        return taken or default or found

    def _marker(self, text: Any, package: _Package) -> Marker:
        if not isinstance(text, str):
            raise InputError(self.path, f"{package.name}: a marker must be a string", package.location.line)
        try:
            return check_marker(Marker(text), self.path, package.location.line) or Marker(text)
        except InvalidMarker:
            raise InputError(
                self.path, f"{package.name}: invalid marker {quote(text)}", package.location.line
            ) from None

    def _edge_marker(self, edge: _Edge) -> Marker:
        assert edge.marker is not None
        try:
            return Marker(edge.marker)
        except InvalidMarker:
            raise InputError(self.path, f"{edge.name}: invalid marker {quote(edge.marker)}") from None

    def requirement(self, index: int, where: bool | Marker) -> Requirement:
        """The locked package as an exact requirement, installed where ``where`` says."""
        package = self.packages[index]
        name, location = package.name, package.location
        marker = check_marker(where if isinstance(where, Marker) else None, self.path, location.line)
        files = self._files(package)
        hashes = tuple(dict.fromkeys(f["hash"] for f in files if isinstance(f.get("hash"), str) and ":" in f["hash"]))
        source = package.table.get("source") or {}
        kind, url = source.get("type"), source.get("url")
        if kind is not None and (kind not in _SOURCE_TYPES or not isinstance(url, str)):
            raise InputError(
                self.path, f"{name}: source: type one of {', '.join(_SOURCE_TYPES)}, with a url", location.line
            )
        if kind in (None, "legacy"):
            pin = f"=={package.version}"
            return Requirement(
                name=name,
                form=Form.NAMED,
                location=location,
                text=f"{name}{pin}",
                specifier=SpecifierSet(pin),
                marker=marker,
                hashes=hashes,
                wheels=wheel_file_names(files),
                sdist=any(isinstance(f.get("file"), str) and not f["file"].endswith(".whl") for f in files),
                variant=pytorch_index_variant(url) if isinstance(url, str) else None,
                source=f"{url} (poetry.lock)" if isinstance(url, str) else None,
            )
        assert isinstance(url, str)
        if kind == "git":
            ref = source.get("resolved_reference") or source.get("reference")
            vcs = f"git+{url}" + (f"@{ref}" if isinstance(ref, str) and ref else "")
            sub = source.get("subdirectory")
            vcs += f"#subdirectory={sub}" if isinstance(sub, str) else ""
            return Requirement(name, Form.VCS, location, f"{name} @ {vcs}", marker=marker, url=vcs, hashes=hashes)
        form = Form.URL if kind == "url" else Form.PATH
        editable = kind == "directory" and package.table.get("develop") is True
        return Requirement(
            name, form, location, f"{name} @ {url}", marker=marker, url=url, editable=editable, hashes=hashes
        )

    def _files(self, package: _Package) -> list[dict[str, Any]]:
        """The package's files: its own (2.x), else those of ``[metadata.files]`` (1.x) of its version."""
        files = package.table.get("files")
        if files is None:
            shared = self.legacy_files.get(package.table["name"], self.legacy_files.get(package.name, []))
            files = (
                [f for f in shared if _file_version(f) in (None, package.version)] if isinstance(shared, list) else []
            )
        if not all(isinstance(f, dict) for f in files):
            raise InputError(self.path, f"{package.name}: files must be tables (file, hash)", package.location.line)
        return files


# The environments an audit's host can be (envdoctor/rules/markers.py): sys_platform,
# platform_system, os_name, platform_machine; and its Pythons.
_PLATFORMS = (
    ("linux", "Linux", "posix", "x86_64"),
    ("linux", "Linux", "posix", "aarch64"),
    ("darwin", "Darwin", "posix", "arm64"),
    ("darwin", "Darwin", "posix", "x86_64"),
    ("win32", "Windows", "nt", "AMD64"),
    ("win32", "Windows", "nt", "ARM64"),
)
_PYTHONS = tuple(f"3.{minor}" for minor in range(8, 15))
# Rounds of picking again with the constraints the last picks met.
_ROUNDS = 6
# Edges followed in all those resolutions: a large real lock (docling's 299 packages) needs about
# 100,000; past this many the versions are not told apart by environment.
_MAX_SOLVE_WORK = 2_000_000


class _TooMuchWork(Exception):
    pass


def _explicit_sources(entry: list[_Edge], asked: dict[NormalizedName, list[_Edge]]) -> dict[NormalizedName, str]:
    """The sources the project's own edges that hold name for their packages."""
    return {e.name: e.source for e in entry if e.source and any(e is held for held in asked.get(e.name, ()))}


def _environment(platform: int, python: int) -> dict[str, str]:
    """A whole PEP 508 environment (packaging fills any key left out with this machine's own)."""
    sys_platform, system, os_name, machine = _PLATFORMS[platform]
    version = _PYTHONS[python]
    return {
        "key": f"{platform}-{python}",
        "sys_platform": sys_platform,
        "platform_system": system,
        "os_name": os_name,
        "platform_machine": machine,
        "platform_release": "",
        "platform_version": "",
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "platform_python_implementation": "CPython",
        "python_version": version,
        "python_full_version": f"{version}.0",
        "extra": "",
    }


def _span_marker(taken: set[tuple[int, int]]) -> bool | Marker:
    """A marker that holds in the environments ``taken`` (platform, Python positions) among all of
    _PLATFORMS x _PYTHONS: True for all, False for none."""
    everywhere = {(p, y) for p in range(len(_PLATFORMS)) for y in range(len(_PYTHONS))}
    if taken == everywhere:
        return True
    if not taken:
        return False
    by_pythons: dict[frozenset[int], set[int]] = {}
    for platform in range(len(_PLATFORMS)):
        pythons = frozenset(y for p, y in taken if p == platform)
        if pythons:
            by_pythons.setdefault(pythons, set()).add(platform)
    terms = []
    for pythons, platforms in sorted(by_pythons.items(), key=lambda item: sorted(item[1])):
        parts = [part for part in (_platforms_marker(platforms), _pythons_marker(pythons)) if part]
        terms.append(" and ".join(f"({part})" for part in parts))
    return conjoin(Marker(" or ".join(f"({term})" for term in terms)))


def _platforms_marker(platforms: set[int]) -> str:
    """The platforms as a marker ("" for all): those named, or all but those left out, whichever is shorter."""
    left_out = set(range(len(_PLATFORMS))) - platforms
    if not left_out:
        return ""
    named, excluded = _by_system(platforms), _by_system(left_out)
    if len(excluded) < len(named):
        return " and ".join(
            f'sys_platform != "{system}"'
            if machine is None
            else f'(sys_platform != "{system}" or platform_machine != "{machine}")'
            for system, machine in excluded
        )
    return " or ".join(
        f'sys_platform == "{system}"'
        if machine is None
        else f'sys_platform == "{system}" and platform_machine == "{machine}"'
        for system, machine in named
    )


def _by_system(platforms: set[int]) -> list[tuple[str, str | None]]:
    """The platforms as (sys_platform, machine), the machine None where all of that system's are there."""
    found: list[tuple[str, str | None]] = []
    for system in dict.fromkeys(p[0] for p in _PLATFORMS):
        own = [i for i, p in enumerate(_PLATFORMS) if p[0] == system]
        there = [i for i in own if i in platforms]
        if there and len(there) == len(own):
            found.append((system, None))
        else:
            found += [(system, _PLATFORMS[i][3]) for i in there]
    return found


def _pythons_marker(pythons: frozenset[int]) -> str:
    """Python minors (positions in _PYTHONS) as python_version ranges ("" for all); the oldest and
    newest stand for those before and after them too."""
    if len(pythons) == len(_PYTHONS):
        return ""
    runs: list[list[int]] = []
    for position in sorted(pythons):
        if runs and runs[-1][-1] == position - 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    ranges = []
    for run in runs:
        bounds = [f'python_version >= "{_PYTHONS[run[0]]}"'] if run[0] > 0 else []
        bounds += [f'python_version < "{_PYTHONS[run[-1] + 1]}"'] if run[-1] < len(_PYTHONS) - 1 else []
        ranges.append(" and ".join(bounds))
    return " or ".join(f"({r})" for r in ranges) if len(ranges) > 1 else ranges[0]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _satisfies(version: str, constraint: str | None) -> bool:
    """Whether a locked version meets a constraint in Poetry's syntax (">=1.10", "2.3.1", "^2.2",
    "~2.2.2", "*"); one that cannot be read is taken as met."""
    if constraint is None:
        return True
    try:
        return any(s.contains(version, prereleases=True) for s in poetry_specifiers(constraint))
    except (ValueError, InvalidVersion):
        return True


# Poetry's version constraints (https://python-poetry.org/docs/dependency-specification/#version-constraints),
# parsed as poetry-core 1.9.1 does (src/poetry/core/constraints/version/parser.py and patterns.py): "||"
# (or "|") between alternatives, "," or a space between the parts of one, each part a caret, tilde,
# ~=, wildcard or comparison.
_OR = re.compile(r"\s*\|\|?\s*")
_AND = re.compile(r"(?<!^)(?<![\^~=>< ,]) *(?<!-)[, ](?!-) *(?!,|$)")
_ANY = re.compile(r"(?i)^v?[x*](\.[x*])*$")
_CARET = re.compile(rf"^\^\s*(?P<version>{VERSION_PATTERN})$", re.VERBOSE | re.IGNORECASE)
_TILDE = re.compile(rf"^~(?!=)\s*(?P<version>{VERSION_PATTERN})$", re.VERBOSE | re.IGNORECASE)
_TILDE_PEP440 = re.compile(rf"^~=\s*(?P<version>{VERSION_PATTERN})$", re.VERBOSE | re.IGNORECASE)
_WILDCARD = re.compile(r"^(?P<op>!=|==)?\s*v?(?P<version>\d+(?:\.\d+){0,2})(?:\.[xX*])+$")
_BASIC = re.compile(
    rf"^(?P<op><>|!=|>=?|<=?|==?)?\s*(?P<version>{VERSION_PATTERN})(?P<wildcard>\.\*)?$", re.VERBOSE | re.IGNORECASE
)


def poetry_specifiers(constraint: str) -> tuple[SpecifierSet, ...]:
    """A Poetry version constraint as the PEP 440 specifier sets it allows any of ("^3.11" is
    ">=3.11,<4"; "~3.10" ">=3.10,<3.11"; ">=2.7,<2.8 || >=3.4" two); ValueError if it is not one."""
    text = constraint.strip()
    if not text or text == "*":
        return (SpecifierSet(),)
    found = []
    for alternative in _OR.split(text):
        parts = _AND.split(alternative.rstrip(",").rstrip())
        specifiers = [_single(part.strip()) for part in parts if part.strip()]
        try:
            found.append(SpecifierSet(",".join(s for s in specifiers if s)))
        except InvalidSpecifier:
            raise ValueError(constraint) from None
    return tuple(found)


def _single(part: str) -> str:
    """One part of a Poetry constraint as a PEP 440 specifier ("" allows every version)."""
    if _ANY.match(part):
        return ""
    if match := _TILDE.match(part):
        version = Version(match["version"])
        high = _next(version, 0 if len(version.release) == 1 else 1)
        return f">={version.public},<{high}"
    if match := _TILDE_PEP440.match(part):
        version = Version(match["version"])
        return f">={version.public},<{_next(version, 0 if len(version.release) <= 2 else 1)}"
    if match := _CARET.match(part):
        version = Version(match["version"])
        release = version.release
        # poetry-core's next_breaking: the first non-zero part of those written moves up.
        if release[0] > 0 or len(release) == 1:
            place = 0
        elif release[1] > 0 or len(release) == 2:
            place = 1
        else:
            place = 2
        return f">={version.public},<{_next(version, place)}"
    if match := _WILDCARD.match(part):
        return f"{match['op'] or '=='}{match['version']}.*"
    if match := _BASIC.match(part):
        op = {None: "==", "=": "==", "<>": "!="}.get(match["op"], match["op"])
        wildcard = ".*" if match["wildcard"] and op in ("==", "!=") else ""
        # PEP 440 has local versions (+cu121) only in == and !=: an ordered bound takes the public one.
        written = match["version"] if op in ("==", "!=") and not wildcard else Version(match["version"]).public
        return f"{op}{written}{wildcard}"
    raise ValueError(part)


def _next(version: Version, place: int) -> str:
    """The release after ``version``'s at ``place`` (0: major, 1: minor, 2: patch): 1.2.3 at 1 is 1.3."""
    release = [*version.release, 0, 0][: place + 1]
    release[place] += 1
    return ".".join(map(str, release))


# The Python minors a gap between alternatives is written in, oldest first.
_MINORS = (*((2, minor) for minor in range(8)), *((3, minor) for minor in range(31)))


def python_specifier(constraint: str) -> SpecifierSet:
    """A Poetry ``python-versions`` constraint as one PEP 440 specifier set: alternatives ("||")
    become what spans them, less each Python minor none of them allows (``!=3.0.*``, as
    python_requires writes such gaps)."""
    alternatives = poetry_specifiers(constraint)
    if len(alternatives) == 1:
        return alternatives[0]
    lows = [_bound(a, low=True) for a in alternatives]
    highs = [_bound(a, low=False) for a in alternatives]
    parts = []
    if all(lows):
        parts.append(min((b for b in lows if b), key=lambda bound: bound[1])[0])
    if all(highs):
        parts.append(max((b for b in highs if b), key=lambda bound: bound[1])[0])
    allowed = [m for m in _MINORS if _minor_allowed(alternatives, m)]
    if allowed:
        between = _MINORS[_MINORS.index(allowed[0]) : _MINORS.index(allowed[-1]) + 1]
        parts += [f"!={m[0]}.{m[1]}.*" for m in between if m not in allowed]
    return SpecifierSet(",".join(parts))


def _bound(alternative: SpecifierSet, *, low: bool) -> tuple[str, Version] | None:
    """An alternative's lower (or upper) bound, as a specifier and its version; None if it has none."""
    found: list[tuple[str, Version]] = []
    for spec in alternative:
        op, text = spec.operator, spec.version
        if op == "==" and text.endswith(".*"):
            base = Version(text[:-2])
            top = Version(_next(base, len(base.release) - 1))
            found.append((f">={base}", base) if low else (f"<{top}", top))
        elif low and op in (">=", ">", "==", "===", "~="):
            found.append((f"{op if op in ('>=', '>') else '>='}{text}", Version(text)))
        elif not low and op in ("<", "<=", "==", "==="):
            found.append((f"{op if op in ('<', '<=') else '<='}{text}", Version(text)))
    if not found:
        return None
    return (max if low else min)(found, key=lambda bound: bound[1])


def _minor_allowed(alternatives: tuple[SpecifierSet, ...], minor: tuple[int, int]) -> bool:
    """Whether some release of a Python minor (its first or a late patch) is allowed by an alternative."""
    major, number = minor
    return any(a.contains(f"{major}.{number}.{patch}", prereleases=True) for a in alternatives for patch in (0, 99))


def requires_python(text: str, path: str) -> tuple[SpecifierSet, Location] | None:
    """The lock's ``[metadata] python-versions`` (Poetry's syntax), with its line: the Pythons
    ``poetry install`` accepts (it refuses others: "Current Python version ... is not allowed")."""
    metadata = parse_toml(text, path).get("metadata")
    value = metadata.get("python-versions") if isinstance(metadata, dict) else None
    if value is None:
        return None
    line = _metadata_line(text, "python-versions")
    if not isinstance(value, str):
        raise InputError(path, "[metadata] python-versions must be a string", line)
    try:
        specifier = python_specifier(value)
    except (ValueError, InvalidVersion):
        raise InputError(path, f"[metadata] python-versions {quote(value)} is not a Poetry constraint", line) from None
    return check_specifier(specifier, path, line), Location(path, line)


def _metadata_line(text: str, key: str) -> int | None:
    """The line of ``key`` in the lock's [metadata] table."""
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == "[metadata]"
        elif inside and stripped.split("=", 1)[0].strip() == key:
            return number
    return None


def _source_of(package: _Package) -> dict[str, Any]:
    source = package.table.get("source")
    return source if isinstance(source, dict) else {}


def _lock_version(written: Any) -> Version | None:
    """The lock-version, where it is one Poetry reads (>=1,<3)."""
    try:
        version = Version(written) if isinstance(written, str) else None
    except InvalidVersion:
        return None
    return version if version is not None and Version("1") <= version < Version("3") else None


def _file_version(file: Any) -> str | None:
    """The version a wheel or sdist file name carries, normalized; None where it names none."""
    name = file.get("file") if isinstance(file, dict) else None
    if not isinstance(name, str):
        return None
    try:
        version = parse_wheel_filename(name)[1] if name.endswith(".whl") else parse_sdist_filename(name)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return str(version)


def _constraints(name: Any, value: Any, path: str, package: _Package) -> list[_Edge]:
    """A ``[package.dependencies]`` entry (a constraint string, a table, or a list of tables) as edges."""
    where = f"{package.name}: dependencies"
    if not isinstance(name, str):
        raise InputError(path, f"{where}: a dependency's name must be a string", package.location.line)
    canonical = canonicalize_name(name)
    edges = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            edges.append(_Edge(canonical, None, False, frozenset(), item.strip()))
            continue
        if not isinstance(item, dict):
            raise InputError(path, f"{where}.{snippet(name)}: a constraint or a table", package.location.line)
        marker, optional, extras, version, source = (
            item.get(k) for k in ("markers", "optional", "extras", "version", "source")
        )
        if not isinstance(marker, (str, type(None))) or not isinstance(optional, (bool, type(None))):
            raise InputError(
                path, f"{where}.{snippet(name)}: markers is a string, optional true or false", package.location.line
            )
        if not isinstance(extras, (list, type(None))) or not all(isinstance(e, str) for e in extras or []):
            raise InputError(path, f"{where}.{snippet(name)}: extras is a list of names", package.location.line)
        edges.append(
            _Edge(
                canonical,
                marker,
                bool(optional),
                frozenset(canonicalize_name(e) for e in extras or []),
                version.strip() if isinstance(version, str) else None,
                source if isinstance(source, str) else None,
            )
        )
    return edges


def _entry_names(value: Any, path: str, where: str) -> list[NormalizedName]:
    """The package names a list of extra entries (``"torch (>=1.9)"``) names."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(path, f"{where} must be a list of strings")
    return [canonicalize_name(m.group(1)) for item in value if (m := _EXTRA_ENTRY.match(item))]


def _project_beside(path: str) -> PoetryProject | None:
    """The [tool.poetry] (and PEP 621 / PEP 735) selection of the pyproject.toml beside the lock."""
    from envdoctor.fsio import read_text_input

    beside = Path(path).parent / "pyproject.toml"
    if path == "-" or not beside.is_file():
        return None
    where = str(beside)
    return poetry_project(parse_toml(read_text_input(where), where), where)


def poetry_project(data: dict[str, Any], path: str) -> PoetryProject:
    """A pyproject's Poetry selection: ``[tool.poetry.dependencies]`` (main), ``[tool.poetry.group.G]``
    (with ``optional``), the legacy ``dev-dependencies``, ``[tool.poetry.extras]``; Poetry 2's
    ``[project]`` dependencies and optional dependencies and ``[dependency-groups]`` too."""
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry = poetry if isinstance(poetry, dict) else {}
    table = data.get("project")
    project: dict[str, Any] = table if isinstance(table, dict) else {}
    edges: dict[str, list[_Edge]] = {MAIN: []}
    edges[MAIN] += _table_edges(poetry.get("dependencies"), path, "tool.poetry.dependencies")
    edges[MAIN] += _pep508_edges(project.get("dependencies"), path, "project.dependencies")
    if "dev-dependencies" in poetry:
        edges.setdefault("dev", []).extend(
            _table_edges(poetry["dev-dependencies"], path, "tool.poetry.dev-dependencies")
        )
    optional: set[NormalizedName] = set()
    declared = poetry.get("group", {})
    for group, table in (declared if isinstance(declared, dict) else {}).items():
        if not isinstance(table, dict):
            raise InputError(path, f"tool.poetry.group.{snippet(group)} must be a table")
        name = canonicalize_name(group)
        edges.setdefault(name, []).extend(
            _table_edges(table.get("dependencies"), path, f"tool.poetry.group.{snippet(group)}")
        )
        if table.get("optional") is True:
            optional.add(name)
    pep735 = data.get("dependency-groups")
    for group, entries in (pep735 if isinstance(pep735, dict) else {}).items():
        strings = [e for e in entries if isinstance(e, str)] if isinstance(entries, list) else []
        edges.setdefault(canonicalize_name(group), []).extend(_pep508_edges(strings, path, "dependency-groups"))
    extras: dict[NormalizedName, frozenset[NormalizedName]] = {}
    legacy = poetry.get("extras", {})
    for extra, names in (legacy if isinstance(legacy, dict) else {}).items():
        extras[canonicalize_name(extra)] = frozenset(_entry_names(names, path, "tool.poetry.extras"))
    optional_deps = project.get("optional-dependencies", {})
    for extra, entries in (optional_deps if isinstance(optional_deps, dict) else {}).items():
        found = _pep508_edges(entries, path, "project.optional-dependencies")
        extras[canonicalize_name(extra)] = frozenset(e.name for e in found)
        edges[MAIN] += [e._replace(optional=True) for e in found]
    return PoetryProject(edges, frozenset(optional), extras)


def _table_edges(table: Any, path: str, where: str) -> list[_Edge]:
    if table is None:
        return []
    if not isinstance(table, dict):
        raise InputError(path, f"{where} must be a table")
    own = _Package(canonicalize_name("project"), "0", {}, Location(path))
    return [edge for name, value in table.items() if name != "python" for edge in _constraints(name, value, path, own)]


def _pep508_edges(entries: Any, path: str, where: str) -> list[_Edge]:
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508

    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise InputError(path, f"{where} must be a list of strings")
    edges = []
    for entry in entries:
        try:
            parsed = Pep508(entry)
        except InvalidRequirement:
            raise InputError(path, f"{where}: {quote(entry)} is not a requirement") from None
        marker = str(parsed.marker) if parsed.marker is not None else None
        edges.append(
            _Edge(canonicalize_name(parsed.name), marker, False, frozenset(map(canonicalize_name, parsed.extras)), None)
        )
    return edges
