"""The lock of one target, as every part of envdoctor reads it: what the resolver chose (a PEP 751
pylock, validated with ``packaging.pylock``) under envdoctor's header. The resolver backends
produce a ``Lock``; the writers, ``lock --check --resolve``, ``audit --resolve`` and the image
planner read one. The requirements lockfile, which pip installs, is read back here too."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlparse

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from envdoctor.errors import InputError
from envdoctor.lock import toml
from envdoctor.safety import UnsafeValue, one_line, one_token, quote

if TYPE_CHECKING:
    from packaging.pylock import Pylock

# The options a requirements lockfile holds, each with one value (and --no-index alone).
LOCK_OPTIONS = ("--index-url", "--extra-index-url", "--find-links")
# What a requirements lockfile line may hold, in full: PEP 503 names, PEP 440 versions, sha256 digests.
NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
VERSION = re.compile(r"[A-Za-z0-9.+!_-]{1,128}")
HASH = re.compile(r"sha256:[0-9a-f]{64}")
# The tables of a package that name a file: a local one is written as a path, never this machine's URL.
_FILE_TABLES = ("sdist", "archive", "vcs")


def prepare_reading() -> None:
    """Import what reading a resolver's pylock needs (packaging.pylock, about 10 ms): called while
    the resolver runs, so that the import is not added to the time the user waits."""
    from envdoctor.requirements import pylock  # noqa: F401


class LockedPackage(NamedTuple):
    """One pinned distribution: its (normalised) name, version, and the sha256 of each of its files."""

    name: str
    version: str
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class Lock:
    """One target's lock: the pylock (``pylock``, validated), the TOML table it is written as
    (``table``: the resolver's own spelling of each marker and range, which ``Pylock.to_dict()``
    would respell), and envdoctor's header lines (comments)."""

    pylock: Pylock
    table: Mapping[str, Any]
    header: tuple[str, ...] = ()

    @classmethod
    def of(cls, pylock: Pylock, header: tuple[str, ...] = ()) -> Lock:
        """A lock made in code (not read): written as ``Pylock.to_dict()`` spells it."""
        return cls(pylock, pylock.to_dict(), header)

    @classmethod
    def read(cls, text: str, path: str) -> Lock:
        """A pylock's text (envdoctor's lockfile, or the resolver's answer), validated; its header
        is the comment lines it starts with. Bad input is an InputError naming ``path``."""
        from envdoctor.requirements.pylock import read_pylock

        read = read_pylock(text, path)
        header = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            header.append(line)
        return cls(read.pylock, read.table, tuple(header))

    @functools.cached_property
    def packages(self) -> tuple[LockedPackage, ...]:
        """The locked distributions by name, each with the sha256 of every file it may install from."""
        found = []
        for package in self.table.get("packages", []):
            files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
            hashes = {f"sha256:{file['hashes']['sha256']}" for file in files if "sha256" in file.get("hashes", {})}
            found.append(LockedPackage(package["name"], str(package.get("version", "")), tuple(sorted(hashes))))
        return tuple(sorted(found, key=lambda p: p.name))

    def versions(self) -> dict[NormalizedName, Version]:
        """The version of each package that has one (a directory or VCS checkout may not)."""
        return {package.name: package.version for package in self.pylock.packages if package.version is not None}

    def with_header(self, header: list[str]) -> Lock:
        return Lock(self.pylock, self.table, tuple(header))

    def with_local_paths(self, lock_folder: Path, locations: list[str]) -> Lock:
        """Local files as paths, never this machine's file:// URLs: absolute where their folder was
        given as an absolute path (one of ``locations``), else relative to the lockfile (PEP 751)."""
        packages = [_local_paths(package, lock_folder, locations) for package in self.table.get("packages", [])]
        if packages == self.table.get("packages", []):
            return self  # no local file: validated once already
        table = {**self.table, "packages": packages}
        from packaging.pylock import Pylock

        return Lock(Pylock.from_dict(table), table, self.header)

    def text(self) -> str:
        """The lockfile: the header, then the pylock written by the TOML writer."""
        return "".join(line + "\n" for line in self.header) + toml.dumps(self.table)


def _local_paths(package: Mapping[str, Any], lock_folder: Path, locations: list[str]) -> dict[str, Any]:
    written = dict(package)
    for key in _FILE_TABLES:
        if isinstance(written.get(key), Mapping):
            written[key] = _as_path(written[key], lock_folder, locations)
    if "wheels" in written:
        written["wheels"] = [_as_path(wheel, lock_folder, locations) for wheel in written["wheels"]]
    return written


def _as_path(file: Mapping[str, Any], lock_folder: Path, locations: list[str]) -> dict[str, Any]:
    """The file's table with a file:// ``url`` replaced, in its place, by its ``path``."""
    url = file.get("url")
    if not isinstance(url, str) or not url.startswith("file://"):
        return dict(file)
    target = Path(unquote(urlparse(url).path))
    given_absolute = any(
        Path(location).is_absolute() and target.is_relative_to(Path(location).resolve()) for location in locations
    )
    shown = target if given_absolute else Path(os.path.relpath(target, lock_folder.resolve()))
    path = one_line(str(PurePosixPath(shown)), "a local file path")
    return {("path" if key == "url" else key): (path if key == "url" else value) for key, value in file.items()}


def option_line(option: str, value: str) -> str:
    """``--option value``, the value one token that cannot be read as another option."""
    token = one_token(value, f"{option} value")
    if token.startswith("-"):
        raise UnsafeValue(f"{option} value {quote(token)} would read as an option")
    return f"{option} {token}"


def read_requirements_lock(text: str, path: str) -> tuple[LockedPackage, ...]:
    """The pinned distributions of a hash-pinned requirements lockfile, each checked, so that
    nothing from the file reaches a Dockerfile unless it is a well-formed name or version; an
    error names the line where the requirement starts."""
    found = []
    for number, line in lock_lines(text):
        if line.startswith("-"):
            _check_option_line(line, path, number)
            continue
        if " @ " in line or line.startswith(("git+", "http://", "https://", "file:")):
            raise InputError(
                path,
                f"{line.split(' @ ')[0][:80]} is locked from a URL or VCS checkout, which pip cannot install with "
                "--require-hashes: lock a released version, or build its wheel and lock with --find-links",
                number,
            )
        requirement, *options = line.split()
        name, separator, version = requirement.partition("==")
        if not separator or not NAME.fullmatch(name) or not VERSION.fullmatch(version):
            raise InputError(path, f"not a pinned requirement: {quote(requirement, 80)}", number)
        hashes = tuple(option.removeprefix("--hash=") for option in options if option.startswith("--hash="))
        if not hashes or not all(HASH.fullmatch(value) for value in hashes):
            raise InputError(path, f"{name}: every requirement needs --hash=sha256:<hex>", number)
        found.append(LockedPackage(str(canonicalize_name(name)), version, hashes))
    if not found:
        raise InputError(path, "no pinned requirement in the lockfile")
    return tuple(found)


def _check_option_line(line: str, path: str, number: int) -> None:
    """Only the option lines `envdoctor lock` writes, each with one checked value: anything else
    (-r, --trusted-host, a second option on the line) would be copied into the image's lock."""
    words = line.split(" ")
    if words == ["--no-index"]:
        return
    if len(words) == 2 and words[0] in LOCK_OPTIONS:
        try:
            option_line(words[0], words[1])
            return
        except UnsafeValue as exc:
            raise InputError(path, str(exc), number) from None
    raise InputError(
        path, f"{quote(line)} is not an option line envdoctor writes ({', '.join(LOCK_OPTIONS)}, --no-index)", number
    )


def lock_lines(text: str) -> Iterator[tuple[int, str]]:
    """A requirements lockfile's logical lines (continuations joined), each numbered by the line
    it starts on, without comments or blanks."""
    start, parts = 0, []
    for number, raw in enumerate(text.splitlines(), start=1):
        start = start or number
        if raw.endswith("\\"):
            parts.append(raw[:-1])
            continue
        line = " ".join([*parts, raw]).split("#", 1)[0].strip()
        if line:
            yield start, line
        start, parts = 0, []
    line = " ".join(parts).split("#", 1)[0].strip()
    if line:
        yield start, line
