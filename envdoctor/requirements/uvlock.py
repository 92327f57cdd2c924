"""``uv.lock``: the set ``uv sync`` installs, read from uv's universal lockfile.

``uv.lock`` is TOML with a versioned schema (``version``; uv reads only the schema it writes:
https://docs.astral.sh/uv/concepts/resolution/#lockfile-versioning), a ``requires-python``, the
``resolution-markers`` of its forks, the ``conflicts`` it was resolved under, and one
``[[package]]`` table per locked distribution: ``name``, ``version``, ``source`` (registry, git,
url, path, directory, editable or virtual), ``dependencies``, ``optional-dependencies``,
``dev-dependencies``, ``sdist`` and ``wheels`` with their hashes. The lockfile is universal
(https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile): one package can be locked
several times, for different markers, and each dependency edge carries the marker under which it
holds. So the installed set is found as uv sync finds it: from the project's own package, its
dependencies and the selected extras and groups, along the edges; each package is installed where
the markers along some path to it all hold, and it keeps that marker for the audit to evaluate per
host.

Conflicting extras and groups are written into those markers as ``extra == 'extra-8-nanochat-gpu'``
(``extra-{len(package)}-{package}-{extra}``, ``group-...`` for groups); they are settled here,
with the selected extras and groups, as uv does: an item not selected is false
(``encode_package_extra`` and ``resolve_conflicts`` in
https://github.com/astral-sh/uv/blob/main/crates/uv-resolver/src/universal_marker.rs).
"""

from __future__ import annotations

import functools
import operator
import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

# The nodes of Marker's parsed tree: packaging has no public partial evaluation of a marker, and
# the tree (Marker._markers) is the only way to settle the ``extra`` comparisons and keep the rest.
from packaging._parser import Value, Variable
from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.errors import InputError
from envdoctor.kb.facts import pytorch_index_variant
from envdoctor.requirements.model import MAX_REQUIREMENTS, Form, Location, Requirement
from envdoctor.requirements.versions import check_marker, check_specifier, check_version
from envdoctor.safety import quote, snippet
from envdoctor.structured import parse_toml

SCHEMA_VERSION = 1
_PYPI = ("https://pypi.org/simple", "https://pypi.org/simple/")
_SOURCE_KINDS = ("registry", "git", "url", "path", "directory", "editable", "virtual")
# Far more dependency edges than any real lock holds (a large ML lock has a few thousand).
MAX_EDGES = 200_000
# The ways into a package kept apart (each the comparisons along one path); past this many its own
# resolution-markers stand for them, which say no less than the paths do.
_MAX_CLAUSES = 16
# Clauses merged in all while following paths: real locks need a few thousand; past this many the
# paths are not kept and each package is placed by its own forks.
_MAX_WORK = 20_000


class _TooManyPaths(Exception):
    pass


Decide = Callable[[Any, Any, Any], "bool | None"]
_Clause = frozenset[str]


def parse_uv_lock(
    text: str,
    path: str,
    extras: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    *,
    default_groups: bool = False,
    without: tuple[str, ...] = (),
) -> list[Requirement]:
    """Every package ``uv sync`` installs from this lock with these extras and groups, pinned
    exactly, with its hashes, its index and the marker under which it is installed. With
    ``default_groups``, uv's default groups come first (sync_groups); without, exactly those given
    (a Dockerfile's ``uv sync`` has settled them from its own options)."""
    lock = _Lock(parse_toml(text, path), text, path)
    roots = lock.roots()
    if default_groups:
        groups = lock.sync_groups(roots, groups)
    # uv's --no-group (and --no-dev) win over the defaults and --group alike.
    groups = tuple(g for g in groups if canonicalize_name(g) not in {canonicalize_name(w) for w in without})
    wanted_extras = tuple(canonicalize_name(extra) for extra in extras)
    wanted_groups = tuple(canonicalize_name(group) for group in groups)
    lock.check_selection(roots, wanted_extras, wanted_groups)
    lock.activate(roots, wanted_extras, wanted_groups)
    if not roots:
        # A lock of bare requirements (a script's): every package, where its forks say.
        return [r for i in range(len(lock.packages)) if (r := lock.requirement(i, None)) is not None]
    reached = lock.walk(roots, wanted_extras, wanted_groups)
    found = [lock.requirement(index, clauses) for index, clauses in sorted(reached.items()) if index not in roots]
    return [requirement for requirement in found if requirement is not None]


def sync_groups(text: str, path: str, groups: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The dependency groups ``uv sync --group ...`` installs from this lock: uv's default groups
    (the ``tool.uv.default-groups`` of the pyproject.toml beside the lock, which uv sync reads; else
    the ``default-groups`` newer uv records on the project's package; else ``dev``), then ``groups``."""
    lock = _Lock(parse_toml(text, path), text, path)
    return lock.sync_groups(lock.roots(), groups)


def supported_markers(text: str, path: str) -> tuple[tuple[Marker, Location], ...]:
    """The lock's ``supported-markers`` (uv's ``tool.uv.environments``): the only environments it
    holds a resolution for; none when the lock covers every platform."""
    value = parse_toml(text, path).get("supported-markers", [])
    line = next((n for n, t in enumerate(text.splitlines(), start=1) if t.startswith("supported-markers")), None)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(path, "supported-markers must be a list of markers", line)
    try:
        return tuple((Marker(item), Location(path, line)) for item in value)
    except InvalidMarker as exc:
        raise InputError(path, f"supported-markers: {exc}", line) from None


def requires_python(text: str, path: str) -> tuple[SpecifierSet, Location] | None:
    """The lock's ``requires-python``, with its line: the Pythons it was resolved for."""
    value = parse_toml(text, path).get("requires-python")
    if value is None:
        return None
    line = next((n for n, t in enumerate(text.splitlines(), start=1) if t.startswith("requires-python")), None)
    if not isinstance(value, str):
        raise InputError(path, "requires-python must be a string", line)
    try:
        return check_specifier(SpecifierSet(value), path, line), Location(path, line)
    except InvalidSpecifier:
        raise InputError(path, f"requires-python: {quote(value)} is not a version specifier", line) from None


class _Package(NamedTuple):
    name: NormalizedName
    version: str | None
    kind: str
    value: str
    table: dict[str, Any]
    location: Location


class _Edge(NamedTuple):
    targets: tuple[int, ...]
    marker: str | None
    extras: tuple[NormalizedName, ...]


class _Lock:
    def __init__(self, data: dict[str, Any], text: str, path: str) -> None:
        self.path = path
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise InputError(path, "not a uv.lock: no integer schema version")
        if version != SCHEMA_VERSION:
            raise InputError(path, f"uv.lock schema version {version}: this reader knows version {SCHEMA_VERSION}")
        tables = package_tables(data, path)
        lines = package_lines(text, len(tables))
        self.packages = [self._package(table, Location(path, line)) for table, line in zip(tables, lines, strict=True)]
        self.by_name: dict[NormalizedName, list[int]] = {}
        for index, package in enumerate(self.packages):
            self.by_name.setdefault(package.name, []).append(index)
        self.manifest = data.get("manifest", {})
        self.conflicts = data.get("conflicts", [])
        self.edge_count = 0
        self._edges: dict[tuple[int, str, str | None], list[_Edge]] = {}
        self._resolved: dict[str, bool | set[_Clause]] = {}
        self._decide: Decide = extra_decider(frozenset())

    def _package(self, table: dict[str, Any], location: Location) -> _Package:
        name = table.get("name")
        if not isinstance(name, str):
            raise InputError(self.path, "[[package]] without a name", location.line)
        try:
            canonical = canonicalize_name(name, validate=True)
        except InvalidName:
            raise InputError(self.path, f"{quote(name)} is not a package name", location.line) from None
        version = table.get("version")
        if version is not None:
            if not isinstance(version, str):
                raise InputError(self.path, f"{canonical}: version must be a string", location.line)
            try:
                Version(check_version(version, self.path, location.line))
            except InvalidVersion:
                raise InputError(self.path, f"{canonical}: {quote(version)} is not a version", location.line) from None
        kind, value = _source(table.get("source"), self.path, f"{canonical}: source", location.line)
        return _Package(canonical, version, kind, value, table, location)

    def roots(self) -> tuple[int, ...]:
        """The project's own package (its source is the lock's folder); in a virtual workspace,
        whose root is no package, the workspace members."""
        found = tuple(
            i for i, p in enumerate(self.packages) if p.kind in ("virtual", "editable", "directory") and p.value == "."
        )
        if found:
            return found
        members = self.manifest.get("members", []) if isinstance(self.manifest, dict) else []
        names = {canonicalize_name(m) for m in members if isinstance(m, str)} if isinstance(members, list) else set()
        return tuple(i for i, p in enumerate(self.packages) if p.name in names)

    def sync_groups(self, roots: tuple[int, ...], groups: tuple[str, ...]) -> tuple[str, ...]:
        """uv's default groups for these roots, then ``groups`` (see the module's sync_groups)."""
        from pathlib import Path

        from envdoctor.fsio import read_text_input
        from envdoctor.requirements.pyproject import default_groups_of

        defined = sorted(self.provided_groups(roots))
        beside = Path(self.path).parent / "pyproject.toml"
        if self.path != "-" and beside.is_file():
            where = str(beside)
            data = parse_toml(read_text_input(where), where)
            tool = data.get("tool")
            uv = tool.get("uv") if isinstance(tool, dict) else None
            value = uv.get("default-groups") if isinstance(uv, dict) else None
        else:
            where = self.path
            recorded = [self.packages[root].table.get("default-groups") for root in roots]
            value = next((item for item in recorded if item is not None), None)
        return tuple(dict.fromkeys([*default_groups_of(value, defined, where, None), *groups]))

    def provided_groups(self, roots: tuple[int, ...]) -> set[str]:
        """The dependency groups the roots (and a virtual workspace's manifest) provide, normalized."""
        provided: set[str] = set()
        for root in roots:
            table = self.packages[root].table
            metadata = table.get("metadata", {}) if isinstance(table.get("metadata"), dict) else {}
            provided |= _names(table.get("dev-dependencies")) | _names(metadata.get("requires-dev"))
        if isinstance(self.manifest, dict):
            provided |= _names(self.manifest.get("dependency-groups"))
        return provided

    def check_selection(self, roots: tuple[int, ...], extras: tuple[str, ...], groups: tuple[str, ...]) -> None:
        """Each extra and group a root provides, and no two that uv resolved as conflicting."""
        provided_extras: set[str] = set()
        for root in roots:
            table = self.packages[root].table
            metadata = table.get("metadata", {}) if isinstance(table.get("metadata"), dict) else {}
            provided_extras |= _names(table.get("optional-dependencies")) | _names(metadata.get("provides-extras"))
        provided_groups = self.provided_groups(roots)
        for extra in extras:
            if extra not in provided_extras:
                raise InputError(self.path, f"no optional dependencies named {quote(extra)} (--extra)")
        for group in groups:
            if group not in provided_groups:
                raise InputError(self.path, f"no dependency group named {quote(group)} (--group)")
        names = {self.packages[root].name for root in roots}
        for conflict in self.conflicts if isinstance(self.conflicts, list) else []:
            chosen = [
                item for item in _conflict_items(conflict) if item[0] in names and item[1:] in _selected(extras, groups)
            ]
            if len(chosen) > 1:
                said = " and ".join(f"--{kind} {value}" for _, kind, value in chosen)
                raise InputError(self.path, f"{said} are declared conflicting: uv installs one of them at a time")

    def activate(self, roots: tuple[int, ...], extras: tuple[str, ...], groups: tuple[str, ...]) -> None:
        """Settle the conflict markers for what is selected: the roots' extras and groups, encoded as uv writes them."""
        active = set()
        for root in roots:
            name = self.packages[root].name
            active |= {f"extra-{len(name)}-{name}-{extra}" for extra in extras}
            active |= {f"group-{len(name)}-{name}-{group}" for group in groups}
        self._decide = extra_decider(frozenset(active))
        self._resolved = {}

    def walk(
        self, roots: tuple[int, ...], extras: tuple[str, ...], groups: tuple[str, ...]
    ) -> dict[int, set[_Clause] | None]:
        """Each package reached from the roots, with the ways in: sets of edge markers that must all
        hold (None: more ways than are kept, its own forks stand for them)."""
        entry = self._entry(roots, extras, groups)
        try:
            return self._paths(entry)
        except _TooManyPaths:
            # A lock whose paths multiply past any real one's: each package where its forks say.
            return dict.fromkeys(self._reachable(entry))

    def _entry(self, roots: tuple[int, ...], extras: tuple[str, ...], groups: tuple[str, ...]) -> list[_Edge]:
        """The roots' own edges: their dependencies and those of the selected extras and groups."""
        entry: list[_Edge] = []
        for root in roots:
            entry += self.edges(root, "dependencies", None)
            entry += [edge for extra in extras for edge in self.edges(root, "optional-dependencies", extra)]
            entry += [edge for group in groups for edge in self.edges(root, "dev-dependencies", group)]
        return entry

    def _paths(self, entry: list[_Edge]) -> dict[int, set[_Clause] | None]:
        conditions: dict[tuple[int, str | None], set[_Clause]] = {}
        overflowed: set[int] = set()
        queue: deque[tuple[int, str | None]] = deque()
        work = 0

        def reach(node: tuple[int, str | None], clauses: set[_Clause]) -> None:
            nonlocal work
            current = conditions.get(node, set())
            work += len(current) + len(clauses)
            if work > _MAX_WORK:
                raise _TooManyPaths
            merged = _simplify(current | clauses)
            if len(merged) > _MAX_CLAUSES:
                merged = {frozenset()}
                overflowed.add(node[0])
            if merged != current:
                conditions[node] = merged
                queue.append(node)

        for edge in entry:
            self._follow(edge, {frozenset()}, reach)
        while queue:
            index, extra = node = queue.popleft()
            table = "dependencies" if extra is None else "optional-dependencies"
            for edge in self.edges(index, table, extra):
                self._follow(edge, conditions[node], reach)
        reached = {index: clauses for (index, extra), clauses in conditions.items() if extra is None}
        return {index: (None if index in overflowed else clauses) for index, clauses in reached.items()}

    def _reachable(self, entry: list[_Edge]) -> list[int]:
        """The packages some edge reaches whose marker can hold, in no particular order."""
        seen: set[tuple[int, str | None]] = set()
        queue = deque(entry)
        while queue:
            edge = queue.popleft()
            if edge.marker is not None and self.resolve(edge.marker) is False:
                continue
            for node in [(t, None) for t in edge.targets] + [(t, e) for t in edge.targets for e in edge.extras]:
                if node not in seen:
                    seen.add(node)
                    table = "dependencies" if node[1] is None else "optional-dependencies"
                    queue.extend(self.edges(node[0], table, node[1]))
        return sorted({index for index, _ in seen})

    def _follow(
        self, edge: _Edge, clauses: set[_Clause], reach: Callable[[tuple[int, str | None], set[_Clause]], None]
    ) -> None:
        resolved = self.resolve(edge.marker) if edge.marker is not None else True
        if resolved is False:
            return
        onward = clauses if resolved is True else _and(clauses, resolved)
        if not onward:
            return
        for target in edge.targets:
            reach((target, None), onward)
            for extra in edge.extras:
                reach((target, extra), onward)

    def edges(self, index: int, table: str, key: str | None) -> list[_Edge]:
        """The dependency edges of a package's ``dependencies``, or of one of its extras or groups."""
        cache_key = (index, table, key)
        if cache_key not in self._edges:
            self._edges[cache_key] = self._read_edges(index, table, key)
        return list(self._edges[cache_key])

    def _read_edges(self, index: int, table: str, key: str | None) -> list[_Edge]:
        package = self.packages[index]
        where = f"{package.name}: {table}" + (f".{snippet(key)}" if key else "")
        entries = package.table.get(table, [] if key is None else {})
        if key is not None:
            if not isinstance(entries, dict):
                raise InputError(self.path, f"{package.name}: {table} must be a table", package.location.line)
            entries = next((v for k, v in entries.items() if isinstance(k, str) and canonicalize_name(k) == key), [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise InputError(self.path, f"{where} must be a list of tables", package.location.line)
        self.edge_count += len(entries)
        if self.edge_count > MAX_EDGES:
            raise InputError(self.path, f"more than {MAX_EDGES:,} dependency edges: not judged")
        return [self._edge(entry, where, package.location.line) for entry in entries]

    def _edge(self, entry: dict[str, Any], where: str, line: int | None) -> _Edge:
        name, marker, extras = entry.get("name"), entry.get("marker"), entry.get("extra", [])
        if not isinstance(name, str) or not isinstance(marker, (str, type(None))):
            raise InputError(self.path, f"{where}: each dependency has a name and may have a marker", line)
        if not isinstance(extras, list) or not all(isinstance(extra, str) for extra in extras):
            raise InputError(self.path, f"{where}: a dependency's extra must be a list of names", line)
        canonical = canonicalize_name(name)
        targets = self.by_name.get(canonical, [])
        if "version" in entry:
            targets = [t for t in targets if self.packages[t].version == entry["version"]]
        if "source" in entry:
            kind, value = _source(entry["source"], self.path, f"{where}: {snippet(name)}'s source", line)
            targets = [t for t in targets if (self.packages[t].kind, self.packages[t].value) == (kind, value)]
        if not targets:
            raise InputError(self.path, f"{where}: {quote(name)} is not locked", line)
        if marker is not None and marker not in self._resolved:
            self.resolve(marker, line)  # checked where it is written, and settled once
        return _Edge(tuple(targets), marker, tuple(canonicalize_name(extra) for extra in extras))

    def _marker(self, text: str, line: int | None) -> Marker:
        try:
            marker = Marker(text)
        except InvalidMarker:
            raise InputError(self.path, f"invalid marker {quote(text)}", line) from None
        check_marker(marker, self.path, line)
        return marker

    def resolve(self, text: str, line: int | None = None) -> bool | set[_Clause]:
        """A marker with its conflict comparisons settled: true, false, or the clauses (any of
        them, each all of its comparisons) left for the host to decide."""
        if text not in self._resolved:
            restricted = restrict_marker(self._marker(text, line), self._decide)
            self._resolved[text] = restricted if isinstance(restricted, bool) else _clauses(restricted)
        return self._resolved[text]

    def requirement(self, index: int, clauses: set[_Clause] | None) -> Requirement | None:
        """The locked package as an exact requirement, installed where ``clauses`` say (None: where its forks say)."""
        package = self.packages[index]
        where = self._fork_marker(package) if clauses is None else _disjunction(clauses)
        if where is False:
            return None
        marker = where if isinstance(where, Marker) else None
        name, location, hashes = package.name, package.location, _hashes(package, self.path)
        if package.kind == "registry":
            pin = f"=={package.version}" if package.version else ""
            return Requirement(
                name=name,
                form=Form.NAMED,
                location=location,
                text=f"{name}{pin}",
                specifier=SpecifierSet(pin),
                marker=marker,
                hashes=hashes,
                wheels=_wheel_names(package),
                sdist=bool(package.table.get("sdist")),
                variant=pytorch_index_variant(package.value),
                source=None if package.value in _PYPI else f"{package.value} (uv.lock)",
            )
        if package.kind == "virtual":
            return None  # a workspace member that is not built: its dependencies are what installs
        if package.kind == "git":
            url = _git_url(package.value)
            return Requirement(name, Form.VCS, location, f"{name} @ {url}", marker=marker, url=url, hashes=hashes)
        form = Form.URL if package.kind == "url" else Form.PATH
        editable = package.kind == "editable"
        text = f"{name} @ {package.value}"
        return Requirement(
            name, form, location, text, marker=marker, url=package.value, editable=editable, hashes=hashes
        )

    def _fork_marker(self, package: _Package) -> bool | Marker:
        """Where a package is installed by its own ``resolution-markers`` (any of them), settled for the selection."""
        forks = package.table.get("resolution-markers", [])
        if not isinstance(forks, list) or not all(isinstance(fork, str) for fork in forks):
            raise InputError(self.path, f"{package.name}: resolution-markers must be a list", package.location.line)
        settled = [self.resolve(fork, package.location.line) for fork in forks]
        if not forks or True in settled:
            return True
        return _disjunction(_simplify({clause for fork in settled if isinstance(fork, set) for clause in fork}))


def _disjunction(clauses: Iterable[_Clause]) -> bool | Marker:
    """Any of the clauses, each all of its comparisons: True when one is empty, False when there are none."""
    kept = list(clauses)
    if not kept:
        return False
    if any(not clause for clause in kept):
        return True
    terms = sorted(" and ".join(sorted(clause)) for clause in kept)
    return functools.reduce(operator.or_, (_parse(term) for term in terms))


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Marker:
    return Marker(text)


def _source(value: Any, path: str, where: str, line: int | None) -> tuple[str, str]:
    """A ``source`` table's kind (registry, git, ...) and its URL or path."""
    if not isinstance(value, dict):
        raise InputError(path, f"{where} must be a table", line)
    kinds = [kind for kind in _SOURCE_KINDS if kind in value]
    if len(kinds) != 1 or not isinstance(value[kinds[0]], str):
        raise InputError(path, f"{where}: one of {', '.join(_SOURCE_KINDS)}, as a string", line)
    return kinds[0], value[kinds[0]]


def _wheel_names(package: _Package) -> tuple[str, ...]:
    """The file names of the wheels the lock offers for the package (from their URLs or paths)."""
    return wheel_file_names(package.table.get("wheels", []))


def _hashes(package: _Package, path: str) -> tuple[str, ...]:
    """The hashes of the package's wheels and sdist, as ``algorithm:digest``."""
    files: list[Any] = []
    wheels, sdist = package.table.get("wheels", []), package.table.get("sdist")
    if not isinstance(wheels, list) or not isinstance(sdist, (dict, type(None))):
        raise InputError(path, f"{package.name}: wheels must be a list and sdist a table", package.location.line)
    files = [*wheels, *([sdist] if sdist else [])]
    hashes = []
    for file in files:
        digest = file.get("hash") if isinstance(file, dict) else None
        if digest is None:
            continue
        if not isinstance(digest, str) or ":" not in digest:
            raise InputError(path, f"{package.name}: a hash is written algorithm:digest", package.location.line)
        hashes.append(digest)
    return tuple(dict.fromkeys(hashes))


def _git_url(value: str) -> str:
    """uv's locked git source (URL, ``?rev=``/``tag=``/``branch=``/``subdirectory=``, ``#commit``) as pip writes it."""
    parts = urlsplit(value)
    query = parse_qs(parts.query)
    ref = parts.fragment or next((query[key][0] for key in ("rev", "tag", "branch") if key in query), "")
    url = f"git+{parts.scheme}://{parts.netloc}{parts.path}" + (f"@{ref}" if ref else "")
    return url + (f"#subdirectory={query['subdirectory'][0]}" if "subdirectory" in query else "")


def package_tables(data: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """A lockfile's [[package]] tables (uv.lock's, poetry.lock's), checked and bounded."""
    tables = data.get("package", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise InputError(path, "[[package]] must be an array of tables")
    if len(tables) > MAX_REQUIREMENTS:
        raise InputError(path, f"more than {MAX_REQUIREMENTS:,} packages: not judged")
    return tables


def package_lines(text: str, count: int) -> list[int | None]:
    """The line of each ``[[package]]`` header, in order; none if they cannot be told apart."""
    lines: list[int | None] = [n for n, line in enumerate(text.split("\n"), start=1) if line.strip() == "[[package]]"]
    return lines if len(lines) == count else [None] * count


def _names(value: Any) -> set[str]:
    """The names a table's keys or a list's strings give, normalized."""
    if isinstance(value, dict):
        return {canonicalize_name(key) for key in value if isinstance(key, str)}
    if isinstance(value, list):
        return {canonicalize_name(item) for item in value if isinstance(item, str)}
    return set()


def _conflict_items(conflict: Any) -> list[tuple[NormalizedName, str, NormalizedName]]:
    """A conflict set's items as (package, "extra" or "group", name)."""
    items = []
    for item in conflict if isinstance(conflict, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("package"), str):
            continue
        for kind in ("extra", "group"):
            if isinstance(item.get(kind), str):
                items.append((canonicalize_name(item["package"]), kind, canonicalize_name(item[kind])))
    return items


def _selected(extras: tuple[str, ...], groups: tuple[str, ...]) -> set[tuple[str, str]]:
    return {("extra", extra) for extra in extras} | {("group", group) for group in groups}


# Marker algebra, on Marker's parsed tree: a list of comparisons (lhs, op, rhs), "and"/"or" and
# nested lists, where "and" binds tighter than "or" (packaging's own _evaluate_markers reads it so).

_INVERSE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">", "in": "not in", "not in": "in"}


def extra_decider(active: frozenset[str]) -> Decide:
    """Settles ``extra == 'x'`` (and ``!=``) by whether x is among ``active``, the other comparisons left
    to the host. uv writes ``extra`` comparisons with the extras of the project being installed: in
    ``tool.uv.sources`` markers, and encoded for conflicts in uv.lock."""

    def decide(lhs: Any, op: Any, rhs: Any) -> bool | None:
        if isinstance(lhs, Variable) and lhs.value == "extra" and isinstance(rhs, Value):
            value = rhs.value
        elif isinstance(rhs, Variable) and rhs.value == "extra" and isinstance(lhs, Value):
            value = lhs.value
        else:
            return None
        if op.serialize() == "==":
            return canonicalize_name(value) in active
        if op.serialize() == "!=":
            return canonicalize_name(value) not in active
        return None

    return decide


def restrict_marker(marker: Marker, decide: Decide) -> bool | Marker:
    """The marker with each comparison ``decide`` settles replaced by its value and the result
    simplified: True or False if nothing is left for the host to decide."""
    tree = getattr(marker, "_markers", None)
    if not isinstance(tree, list):
        return marker  # a packaging without the tree: nothing settled, the marker kept whole
    result = _reduce(tree, decide)
    return result if isinstance(result, bool) else Marker(result)


def _reduce(tree: list[Any], decide: Decide) -> bool | str:
    groups: list[list[bool | str]] = [[]]
    for item in tree:
        if item == "or":
            groups.append([])
        elif isinstance(item, tuple):
            lhs, op, rhs = item
            settled = decide(lhs, op, rhs)
            groups[-1].append(
                settled if settled is not None else f"{lhs.serialize()} {op.serialize()} {rhs.serialize()}"
            )
        elif isinstance(item, list):
            inner = _reduce(item, decide)
            groups[-1].append(inner if isinstance(inner, bool) else f"({inner})")
    terms: list[str] = []
    for group in groups:
        if any(part is False for part in group):
            continue
        parts = list(dict.fromkeys(part for part in group if isinstance(part, str)))
        if not parts:
            return True
        terms.append(" and ".join(parts))
    return " or ".join(dict.fromkeys(terms)) if terms else False


def negate_marker(marker: Marker) -> Marker | None:
    """Where the marker does not hold, as a marker (De Morgan over the comparisons); None where a
    comparison has no opposite (``~=``, ``===``)."""
    tree = getattr(marker, "_markers", None)
    text = _negate(tree) if isinstance(tree, list) else None
    return Marker(text) if text else None


def _negate(tree: list[Any]) -> str | None:
    # not (a and b or c) is (not a or not b) and not c
    groups: list[list[str]] = [[]]
    for item in tree:
        if item == "or":
            groups.append([])
        elif isinstance(item, tuple):
            lhs, op, rhs = item
            inverse = _INVERSE.get(op.serialize())
            if inverse is None:
                return None
            groups[-1].append(f"{lhs.serialize()} {inverse} {rhs.serialize()}")
        elif isinstance(item, list):
            inner = _negate(item)
            if inner is None:
                return None
            groups[-1].append(f"({inner})")
    return " and ".join(f"({' or '.join(group)})" if len(group) > 1 else group[0] for group in groups if group)


# Clauses: the comparisons that must all hold on one path to a package, as serialized by
# packaging (sys_platform == "linux"). Paths are many and their markers repeat and overlap, so the
# clauses of a package are kept simplified: a comparison another one implies is dropped, a clause
# that cannot hold is dropped, a clause that holds only where another does is absorbed, and two
# clauses that differ only in one comparison and its opposite are merged.

_COMPARISON = re.compile(r'^(?P<var>[a-z_]+) (?P<op>==|!=|<=|>=|<|>|~=|===|not in|in) "(?P<value>[^"]*)"$')
# Variables compared as plain strings, where == one value rules out every other value.
_STRING_VARIABLES = frozenset(
    (
        "sys_platform",
        "platform_system",
        "platform_machine",
        "os_name",
        "implementation_name",
        "platform_python_implementation",
    )
)


def conjoin(*markers: Marker | None) -> bool | Marker:
    """All of the markers, simplified: False where they cannot hold together, True where nothing is
    left to decide (None is a marker that always holds)."""
    present = [marker for marker in markers if marker is not None]
    clauses: set[_Clause] = {frozenset()}
    for marker in present:
        clauses = _and(clauses, _clauses(marker))
        if len(clauses) > _MAX_CLAUSES:
            return functools.reduce(operator.and_, present)  # too many ways to spread out: kept as written
    return _disjunction(clauses)


def either(*markers: bool | Marker) -> bool | Marker:
    """Any of the markers, simplified: True where one always holds, False where there are none
    (a lockfile's package reached along several paths is installed where any of them holds)."""
    clauses: set[_Clause] = set()
    for marker in markers:
        if marker is True:
            return True
        if marker is not False:
            clauses = _simplify(clauses | _clauses(marker))
    if len(clauses) > _MAX_CLAUSES:
        return functools.reduce(operator.or_, (m for m in markers if isinstance(m, Marker)))
    return _disjunction(clauses)


def wheel_file_names(files: Any) -> tuple[str, ...]:
    """The wheels among a lockfile's files (tables naming each by ``url``, ``filename``, ``path``
    or, in poetry.lock, ``file``), by file name."""
    names = []
    for file in files if isinstance(files, list) else []:
        where = (
            next((file.get(k) for k in ("url", "filename", "path", "file") if file.get(k)), None)
            if isinstance(file, dict)
            else None
        )
        if isinstance(where, str) and where.endswith(".whl"):
            names.append(unquote(where.rsplit("/", 1)[-1]))
    return tuple(names)


def _clauses(marker: Marker) -> set[_Clause]:
    """The marker as clauses (any of them, each all of its comparisons); a marker too deep to
    spread out is one comparison, whole."""
    tree = getattr(marker, "_markers", None)
    spread = _spread(tree) if isinstance(tree, list) else None
    return spread if spread is not None else {frozenset({f"({marker})"})}


def _spread(tree: list[Any]) -> set[_Clause] | None:
    """A marker tree in disjunctive form, simplified; None past _MAX_CLAUSES."""
    alternatives: set[_Clause] = set()
    term: set[_Clause] = {frozenset()}
    for item in [*tree, "or"]:
        if item == "or":
            alternatives |= term
            if len(alternatives) > _MAX_CLAUSES:
                return None
            term = {frozenset()}
            continue
        if isinstance(item, tuple):
            lhs, op, rhs = item
            part: set[_Clause] | None = {frozenset({f"{lhs.serialize()} {op.serialize()} {rhs.serialize()}"})}
        elif isinstance(item, list):
            part = _spread(item)
        else:
            continue  # "and"
        if part is None:
            return None
        term = _and(term, part)
        if len(term) > _MAX_CLAUSES:
            return None
    simplified = _simplify(alternatives)
    return simplified if len(simplified) <= _MAX_CLAUSES else None


def _and(first: set[_Clause], second: set[_Clause]) -> set[_Clause]:
    """Both: each clause of one with each of the other, those that cannot hold left out."""
    joined = (_normalize(a | b) for a in first for b in second)
    return _simplify({clause for clause in joined if clause is not None})


@functools.lru_cache(maxsize=65536)
def _comparison(text: str) -> tuple[str, str, str] | None:
    match = _COMPARISON.match(text)
    return (match["var"], match["op"], match["value"]) if match else None


@functools.lru_cache(maxsize=65536)
def _implies(first: str, second: str) -> bool:
    """Whether ``first`` holding means ``second`` holds (sys_platform == "linux" means != "win32")."""
    if first == second:
        return True
    a, b = _comparison(first), _comparison(second)
    if a is None or b is None or a[0] != b[0] or a[0] not in _STRING_VARIABLES:
        return False
    return a[1] == "==" and b[1] == "!=" and a[2] != b[2]


@functools.lru_cache(maxsize=65536)
def _contradicts(first: str, second: str) -> bool:
    a, b = _comparison(first), _comparison(second)
    if a is None or b is None or a[0] != b[0]:
        return False
    if a[2] == b[2] and _INVERSE.get(a[1]) == b[1]:
        return True
    return a[0] in _STRING_VARIABLES and a[1] == b[1] == "==" and a[2] != b[2]


def _opposite(text: str) -> str | None:
    parsed = _comparison(text)
    if parsed is None or parsed[1] not in _INVERSE:
        return None
    return f'{parsed[0]} {_INVERSE[parsed[1]]} "{parsed[2]}"'


def _normalize(clause: _Clause) -> _Clause | None:
    """The clause without comparisons another of its comparisons implies; None if it cannot hold."""
    items = sorted(clause)
    for index, first in enumerate(items):
        if any(_contradicts(first, second) for second in items[index + 1 :]):
            return None
    return frozenset(b for b in items if not any(a != b and _implies(a, b) for a in items))


def _covers(general: _Clause, specific: _Clause) -> bool:
    """Whether ``general`` holds wherever ``specific`` does: each of its comparisons implied by one of specific's."""
    return all(any(_implies(a, b) for a in specific) for b in general)


def _simplify(clauses: set[_Clause]) -> set[_Clause]:
    current = _absorb(clauses)
    while True:
        merged = _merge_once(current)
        if merged is None:
            return current
        current = _absorb(merged)


def _absorb(clauses: set[_Clause]) -> set[_Clause]:
    """The clauses with every one that holds only where another already holds left out."""
    kept: list[_Clause] = []
    for clause in sorted(clauses, key=lambda c: (len(c), sorted(c))):
        if not any(_covers(general, clause) for general in kept):
            kept.append(clause)
    return set(kept)


def _merge_once(clauses: set[_Clause]) -> set[_Clause] | None:
    """Two clauses that differ only in one comparison and its opposite, merged into what they share."""
    ordered = sorted(clauses, key=lambda c: (len(c), sorted(c)))
    for index, first in enumerate(ordered):
        for second in ordered[index + 1 :]:
            if len(first) != len(second):
                break
            only_first, only_second = first - second, second - first
            if len(only_first) == 1 and _opposite(next(iter(only_first))) == next(iter(only_second), None):
                return (clauses - {first, second}) | {first & second}
    return None
