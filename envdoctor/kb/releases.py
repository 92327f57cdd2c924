"""The releases the knowledge base knows of a tracked package, and where their wheels install.

Rows of the ``releases`` and ``dependencies`` topics, generated from the package index by
``ci/kb-releases``, as typed values. Each package's rows are parsed on first use only: the
audit asks about a handful of the thousands of releases the base holds. They are read as the
compiled ``Table`` (each distinct value once), so that a Requires-Python or a platform list shared
by a hundred releases is parsed once, not a hundred times.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, NamedTuple

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.kb import Table, package_table, topic_packages
from envdoctor.kb.facts import normalized

# A Python minor is judged against Requires-Python at its first and at a late patch release:
# ">=3.8.1" holds for most 3.8 hosts and not for 3.8.0, so a minor alone cannot tell.
_LATE_PATCH = 99


class Release(NamedTuple):
    """One final release of a package, as its files on the index show it."""

    package: NormalizedName
    version: Version
    requires_python: SpecifierSet | None
    # The CPython minors with binary wheels; None when a wheel serves any Python (py3-none-*).
    pythons: frozenset[str] | None
    # The lowest minor of its abi3 wheels (cp38-abi3 serves 3.8 and later); None without them.
    abi3: str | None
    platforms: frozenset[str]
    # The lowest glibc its manylinux x86_64 wheels need (and its aarch64 ones, where they differ).
    glibc: Version | None
    sdist: bool
    source: str
    glibc_aarch64: Version | None = None
    # "3.13 macos-arm64": a minor of ``pythons`` that platform has no wheel for.
    missing: frozenset[str] = frozenset()


class Dependency(NamedTuple):
    """A parent package's releases ``versions`` declare ``requirement``: on a GPU package, or on
    a package a known conflict breaks with (numpy, protobuf, huggingface-hub)."""

    parent: NormalizedName
    # Which releases declare it, as the specifier text of the row (">=2.0.0,<=2.3.1").
    within: str
    # The requirement as declared; parsed on first use (a parent has hundreds, an audit reads few).
    requires: str
    source: str

    @property
    def versions(self) -> SpecifierSet:
        """``within``, parsed on first use: ``declared_by`` needs no parse of the usual range."""
        return _specifier(self.within)

    @property
    def requirement(self) -> Requirement:
        return _requirement(self.requires)

    @property
    def name(self) -> NormalizedName:
        """The required package's name, read without parsing the whole requirement."""
        return _required_name(self.requires)


@functools.cache
def _requirement(text: str) -> Requirement:
    return Requirement(text)


@functools.cache
def _required_name(text: str) -> NormalizedName:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    return canonicalize_name(match.group(1) if match else text)


@functools.cache
def _specifier(text: str) -> SpecifierSet:
    return SpecifierSet(text)


@functools.cache
def _version(text: str) -> Version:
    """A version string of the base parsed once (glibc floors repeat across thousands of rows)."""
    return Version(text)


def _column(table: Table, field: str, convert: Callable[[Any], Any], default: Any = None) -> list[Any]:
    """The field's value in each row of the table, each distinct value converted once."""
    index = table.column(field)
    if index is None:
        return [default] * len(table.rows)
    converted = [convert(value) for value in table.values[index]]
    return [default if (at := row[index]) is None else converted[at] for row in table.rows]


def _releases_of(table: Table, package: NormalizedName) -> list[Release]:
    """The table's rows as releases, in its order."""
    count = len(table.rows)
    return list(
        map(
            Release,
            [package] * count,
            _column(table, "version", Version),
            _column(table, "requires_python", _specifier),
            _column(table, "pythons", frozenset),
            _column(table, "abi3", str),
            _column(table, "platforms", frozenset, frozenset()),
            _column(table, "glibc", _version),
            _column(table, "sdist", bool, False),
            _column(table, "source", str, ""),
            _column(table, "glibc_aarch64", _version),
            _column(table, "missing", frozenset, frozenset()),
        )
    )


def releases(name: str) -> tuple[Release, ...]:
    """The package's final releases the base knows, oldest first; () for a package it does not track."""
    package = normalized(name)
    # Most packages of a large set are not tracked: answered without a cache entry for each.
    return _releases(package) if package in topic_packages("releases") else ()


@functools.cache
def _releases(package: NormalizedName) -> tuple[Release, ...]:
    table = package_table("releases", "release", package)
    if not table.rows:
        return ()
    return tuple(sorted(_releases_of(table, package), key=attrgetter("version")))


def release(name: str, version: Version) -> Release | None:
    """One release of the package (its public version: a local label names a build of it)."""
    return _by_version(normalized(name)).get(Version(version.public))


@functools.cache
def _by_version(name: NormalizedName) -> dict[Version, Release]:
    return {found.version: found for found in releases(name)}


def tracked(name: str) -> bool:
    return normalized(name) in topic_packages("releases")


@functools.cache
def _minor_key(minor: str) -> tuple[int, ...] | None:
    parts = minor.split(".")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return (int(parts[0]), int(parts[1]))


def python_allowed(release: Release, python_minor: str) -> bool | None:
    """Whether the release's Requires-Python admits the minor; None where it depends on the
    patch release (">=3.8.1" and a 3.8 host) or the minor is not one ("3", "three")."""
    if _minor_key(python_minor) is None:
        return None
    if release.requires_python is None:
        return True
    return _admits(release.requires_python, python_minor)


@functools.cache
def _admits(requires_python: SpecifierSet, python_minor: str) -> bool | None:
    """Requires-Python against a minor, once per distinct pair (thousands of releases share a few)."""
    first = requires_python.contains(f"{python_minor}.0", prereleases=True)
    late = requires_python.contains(f"{python_minor}.{_LATE_PATCH}", prereleases=True)
    return first if first == late else None


def has_wheel_for_python(release: Release, python_minor: str) -> bool | None:
    """Whether a wheel of the release, on some platform, serves CPython ``python_minor``: its
    cpXY wheels, an abi3 wheel for that minor or older, or a wheel for any Python; each within
    Requires-Python. None: cannot tell (the answer depends on the patch release)."""
    key = _minor_key(python_minor)
    if key is None:
        return None
    if not release.platforms and not release.pythons and release.abi3 is None:
        return False  # no wheel at all: an sdist only
    abi3_key = _minor_key(release.abi3) if release.abi3 else None
    has_wheel = (
        release.pythons is None
        or python_minor in release.pythons
        or (abi3_key is not None and abi3_key[0] == key[0] and abi3_key <= key)
    )
    if not has_wheel:
        return False
    return python_allowed(release, python_minor)


_MUSL = "musllinux_"


def platform_of(platform: str) -> list[str]:
    """A wheel tag's platform as the base names it; [] for one the base does not track (win32, ppc64le)."""
    if platform == "any":
        return ["any"]
    if platform.startswith(("manylinux", _MUSL, "linux_")):
        arch = "x86_64" if platform.endswith("_x86_64") else "aarch64" if platform.endswith("_aarch64") else None
        if arch is None:
            return []
        return [f"linux-{arch}-musl" if platform.startswith(_MUSL) else f"linux-{arch}"]
    if platform.startswith("macosx_"):
        if platform.endswith("_universal2"):
            return ["macos-arm64", "macos-x86_64"]
        if platform.endswith(("_x86_64", "_intel")):
            return ["macos-x86_64"]
        return ["macos-arm64"] if platform.endswith("_arm64") else []
    return {"win_amd64": ["windows-x86_64"], "win_arm64": ["windows-arm64"]}.get(platform, [])


def platform_name(os: str, arch: str) -> str:
    """The base's platform name for an OS and arch as host profiles write them (Linux's
    aarch64 is macOS's and Windows's arm64)."""
    if arch in ("aarch64", "arm64"):
        arch = "aarch64" if os == "linux" else "arm64"
    elif arch in ("amd64", "x64"):
        arch = "x86_64"
    return f"{os}-{arch}"


def has_wheel_for_platform(release: Release, os: str, arch: str, libc: tuple[str | None, str | None] | None) -> bool:
    """Whether a wheel of the release installs on the platform. ``libc`` is (name, version) as
    probed, None when unknown (then glibc, with no floor checked). A pure wheel counts; a
    musllinux wheel serves musl only and a manylinux one glibc only, at or above its floor."""
    if "any" in release.platforms:
        return True
    platform = platform_name(os, arch)
    if os != "linux":
        return platform in release.platforms
    name, version = libc if libc is not None else (None, None)
    if name == "musl":
        return f"{platform}-musl" in release.platforms
    if platform not in release.platforms:
        return False
    floor = release.glibc_aarch64 if platform.endswith("aarch64") and release.glibc_aarch64 else release.glibc
    if floor is None or not version:
        return True
    probed = _libc_version(version)
    # A libc version the probe could not read says nothing against the wheel.
    return probed is None or probed >= floor


@functools.cache
def _libc_version(text: str) -> Version | None:
    try:
        return Version(text)
    except ValueError:
        return None


def has_wheel(
    release: Release, python_minor: str, os: str, arch: str, libc: tuple[str | None, str | None] | None
) -> bool | None:
    """Whether one wheel of the release serves both the Python and the platform (torch 2.5.0 has
    cp313 wheels and macOS arm64 wheels, but no cp313 one for macOS)."""
    on_python = has_wheel_for_python(release, python_minor)
    if on_python is False or not has_wheel_for_platform(release, os, arch, libc):
        return False
    return False if lacks_wheel_for(release, python_minor, os, arch, libc) else on_python


def lacks_wheel_for(
    release: Release, python_minor: str, os: str, arch: str, libc: tuple[str | None, str | None] | None
) -> bool:
    """Whether the release, with wheels for the Python and for the platform, has none for the
    two together (it lists that pair as ``missing``)."""
    if not release.missing or "any" in release.platforms:
        return False
    musl = libc is not None and libc[0] == "musl" and os == "linux"
    platform = platform_name(os, arch) + ("-musl" if musl else "")
    # An abi3 wheel on that platform would have kept the pair off the list.
    return f"{python_minor} {platform}" in release.missing


def installs_on(
    release: Release, python_minor: str, os: str, arch: str, libc: tuple[str | None, str | None] | None
) -> bool | None:
    """Whether an installer can install the release on the host: from a wheel for its Python
    and platform, else by building its sdist (``builds_from_source`` says which). None: cannot
    tell (the Python's patch release decides)."""
    wheel = has_wheel(release, python_minor, os, arch, libc)
    if wheel:
        return True
    if release.sdist:
        return python_allowed(release, python_minor)
    return wheel


def builds_from_source(
    release: Release, python_minor: str, os: str, arch: str, libc: tuple[str | None, str | None] | None
) -> bool:
    """Whether installing the release on the host means building its sdist: no wheel fits,
    and an sdist exists that Requires-Python admits."""
    if has_wheel(release, python_minor, os, arch, libc) is not False:
        return False
    return release.sdist and python_allowed(release, python_minor) is True


def declared_requirements(parent: str) -> tuple[Dependency, ...]:
    """What the parent's releases declare, as the base records it, oldest releases first: their
    requirements on GPU packages, and on the packages of known conflicts (scipy 1.12.0:
    numpy<1.29.0,>=1.22.4); () for a package whose requirements it does not record."""
    package = normalized(parent)
    return _declared_requirements(package) if package in topic_packages("dependencies") else ()


@functools.cache
def _declared_requirements(package: NormalizedName) -> tuple[Dependency, ...]:
    table = package_table("dependencies", "requires", package)
    count = len(table.rows)
    if not count:
        return ()
    return tuple(
        map(
            Dependency,
            [package] * count,
            _column(table, "versions", str, ""),
            _column(table, "requires", str, ""),
            _column(table, "source", str, ""),
        )
    )


@functools.cache
def declared_by(parent: str, version: Version) -> tuple[Dependency, ...]:
    """What release ``version`` of the parent declares (the rows whose range holds it)."""
    holds: dict[str, bool] = {}
    found = []
    for row in declared_requirements(parent):
        held = holds.get(row.within)
        if held is None:
            held = holds[row.within] = _within(row.within, version)
        if held:
            found.append(row)
    return tuple(found)


# The ranges ci/kb-releases writes: the first and last release that declare a requirement, or one.
_RANGE = re.compile(r">=([0-9][0-9a-z.!]*),<=([0-9][0-9a-z.!]*)|==([0-9][0-9a-z.!]*)")


@functools.cache
def _bounds(within: str) -> tuple[Version, Version] | None:
    """The lowest and highest release of a range as ci/kb-releases writes it; None for any other
    specifier (or one naming a local version, which ``==`` compares as written)."""
    match = _RANGE.fullmatch(within)
    if match is None:
        return None
    try:
        low, high = _version(match[1] or match[3]), _version(match[2] or match[3])
    except InvalidVersion:
        return None
    return (low, high) if low.local is None and high.local is None else None


def _within(within: str, version: Version) -> bool:
    """Whether the range holds the version, prereleases included: two comparisons where it is a
    plain range (what SpecifierSet.contains answers, without parsing the set), else the set's answer."""
    bounds = _bounds(within)
    if bounds is None or version.local is not None:
        return _specifier(within).contains(version, prereleases=True)
    return bounds[0] <= version <= bounds[1]


@functools.cache
def _by_required() -> Mapping[NormalizedName, tuple[Dependency, ...]]:
    grouped: dict[NormalizedName, list[Dependency]] = defaultdict(list)
    for parent in sorted(topic_packages("dependencies")):
        for dependency in declared_requirements(parent):
            grouped[dependency.name].append(dependency)
    return {name: tuple(found) for name, found in grouped.items()}


def dependents_of(package: str) -> tuple[Dependency, ...]:
    """The parents that require ``package``, and in which releases (for messages)."""
    return _by_required().get(normalized(package), ())


def clear_caches() -> None:
    """Forget parsed rows (tests point the base elsewhere)."""
    caches = (_specifier, _requirement, _required_name, declared_by, _releases, _declared_requirements, _by_required)
    _by_version.cache_clear()
    _bounds.cache_clear()
    _version.cache_clear()
    _libc_version.cache_clear()
    _minor_key.cache_clear()
    _admits.cache_clear()
    for cached in caches:
        cached.cache_clear()
