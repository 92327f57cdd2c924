"""The releases the knowledge base knows of a tracked package, and where their wheels install.

Rows of the ``releases`` and ``dependencies`` topics, generated from the package index by
``ci/kb-releases``, as typed values. Each package's rows are parsed on first use only: the
audit asks about a handful of the thousands of releases the base holds.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import NamedTuple

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from envdoctor.kb import Row, package_rows, topic_packages

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
    versions: SpecifierSet
    # The requirement as declared; parsed on first use (a parent has hundreds, an audit reads few).
    requires: str
    source: str

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


def _release(row: Row, package: NormalizedName | None = None) -> Release:
    pythons = row.get("pythons")
    return Release(
        package=package or canonicalize_name(row["package"]),
        version=_version(row["version"]),
        requires_python=_specifier(row["requires_python"]) if "requires_python" in row else None,
        pythons=frozenset(pythons) if pythons is not None else None,
        abi3=row.get("abi3"),
        platforms=frozenset(row["platforms"]),
        glibc=_version(row["glibc"]) if "glibc" in row else None,
        sdist=bool(row["sdist"]),
        source=row["source"],
        glibc_aarch64=_version(row["glibc_aarch64"]) if "glibc_aarch64" in row else None,
        missing=frozenset(row.get("missing", ())),
    )


@functools.cache
def _version(text: str) -> Version:
    """A version string of the base parsed once (glibc floors repeat across thousands of rows)."""
    return Version(text)


@functools.cache
def releases(name: str) -> tuple[Release, ...]:
    """The package's final releases the base knows, oldest first; () for a package it does not track."""
    package = canonicalize_name(name)
    rows = package_rows("releases", "release", package)
    return tuple(sorted((_release(row, package) for row in rows), key=lambda release: release.version))


def release(name: str, version: Version) -> Release | None:
    """One release of the package, parsing only its row (a pin needs no other)."""
    wanted = Version(version.public)
    rows = _rows_by_version(canonicalize_name(name))
    row = rows.get(str(wanted))
    if row is not None:
        return _release(row)
    return next((r for r in releases(name) if r.version == wanted), None)


@functools.cache
def _rows_by_version(name: NormalizedName) -> dict[str, Row]:
    return {str(row["version"]): row for row in package_rows("releases", "release", name)}


def tracked(name: str) -> bool:
    return canonicalize_name(name) in topic_packages("releases")


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


def _platform(os: str, arch: str) -> str:
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
    platform = _platform(os, arch)
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
    try:
        return Version(version) >= floor
    except ValueError:
        return True  # a libc version the probe could not read says nothing against the wheel


def has_wheel(
    release: Release, python_minor: str, os: str, arch: str, libc: tuple[str | None, str | None] | None
) -> bool | None:
    """Whether one wheel of the release serves both the Python and the platform (torch 2.5.0 has
    cp313 wheels and macOS arm64 wheels, but no cp313 one for macOS)."""
    on_python = has_wheel_for_python(release, python_minor)
    if on_python is False or not has_wheel_for_platform(release, os, arch, libc):
        return False
    if "any" not in release.platforms:
        musl = libc is not None and libc[0] == "musl" and os == "linux"
        platform = _platform(os, arch) + ("-musl" if musl else "")
        if f"{python_minor} {platform}" in release.missing:
            return False  # an abi3 wheel on that platform would have kept it off the list
    return on_python


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


def _dependency(row: Row) -> Dependency:
    return Dependency(
        parent=canonicalize_name(row["package"]),
        versions=_specifier(row["versions"]),
        requires=row["requires"],
        source=row["source"],
    )


@functools.cache
def declared_requirements(parent: str) -> tuple[Dependency, ...]:
    """What the parent's releases declare, as the base records it, oldest releases first: their
    requirements on GPU packages, and on the packages of known conflicts (scipy 1.12.0:
    numpy<1.29.0,>=1.22.4); () for a package whose requirements it does not record."""
    rows = package_rows("dependencies", "requires", canonicalize_name(parent))
    return tuple(_dependency(row) for row in rows)


@functools.cache
def declared_by(parent: str, version: Version) -> tuple[Dependency, ...]:
    """What release ``version`` of the parent declares (the rows whose range holds it)."""
    ranges: dict[str, bool] = {}
    found = []
    for row in declared_requirements(parent):
        key = str(row.versions)
        if key not in ranges:
            ranges[key] = row.versions.contains(version, prereleases=True)
        if ranges[key]:
            found.append(row)
    return tuple(found)


@functools.cache
def _by_required() -> Mapping[NormalizedName, tuple[Dependency, ...]]:
    grouped: dict[NormalizedName, list[Dependency]] = defaultdict(list)
    for parent in sorted(topic_packages("dependencies")):
        for dependency in declared_requirements(parent):
            grouped[dependency.name].append(dependency)
    return {name: tuple(found) for name, found in grouped.items()}


def dependents_of(package: str) -> tuple[Dependency, ...]:
    """The parents that require ``package``, and in which releases (for messages)."""
    return _by_required().get(canonicalize_name(package), ())


def clear_caches() -> None:
    """Forget parsed rows (tests point the base elsewhere)."""
    caches = (_specifier, _requirement, _required_name, declared_by, releases, declared_requirements, _by_required)
    _rows_by_version.cache_clear()
    _version.cache_clear()
    _admits.cache_clear()
    for cached in caches:
        cached.cache_clear()
