"""``pylock.toml`` (PEP 751), read and validated with ``packaging.pylock``: the one reader of a
pylock, for the audit's input and for envdoctor's own lockfiles (``envdoctor.lock.model``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError
from packaging.specifiers import SpecifierSet

from envdoctor.errors import InputError
from envdoctor.requirements.model import Form, Location, Requirement
from envdoctor.requirements.versions import check_marker, check_specifier, check_version
from envdoctor.safety import snippet
from envdoctor.structured import parse_toml


class PylockFile(NamedTuple):
    """A pylock read from text: validated, as the TOML table it was written as, and where each package starts."""

    pylock: Pylock
    table: dict[str, Any]
    # The line of each package's [[packages]] header, in order (None past those written that way).
    lines: tuple[int, ...]

    def line_of(self, index: int) -> int | None:
        return self.lines[index] if index < len(self.lines) else None


def read_pylock(text: str, path: str) -> PylockFile:
    """A pylock.toml, validated; bad input is an InputError naming the file (and the package's line)."""
    table = parse_toml(text, path)
    try:
        lock = Pylock.from_dict(table)
    except (PylockValidationError, PylockUnsupportedVersionError) as exc:
        raise InputError(path, f"not a valid pylock.toml: {snippet(str(exc), 160)}") from None
    read = PylockFile(lock, table, _package_lines(text))
    _check_versions(read, path)
    return read


def load_pylock(text: str, path: str) -> Pylock:
    """A pylock.toml, validated; bad input is an InputError naming the file."""
    return read_pylock(text, path).pylock


def _check_versions(read: PylockFile, path: str) -> None:
    """Every version, range and marker of the lock of a sane size (packaging parses a version's
    numbers with int(), past whose digit limit any later comparison raises)."""
    lock = read.pylock
    if lock.requires_python is not None:
        check_specifier(lock.requires_python, path)
    for marker in lock.environments or ():
        check_marker(marker, path)
    for index, package in enumerate(lock.packages):
        line = read.line_of(index)
        if package.version is not None:
            check_version(str(package.version), path, line)
        if package.requires_python is not None:
            check_specifier(package.requires_python, path, line)
        check_marker(package.marker, path, line)


def parse_pylock(text: str, path: str) -> list[Requirement]:
    read = read_pylock(text, path)
    requirements = []
    for index, package in enumerate(read.pylock.packages):
        hashes = tuple(
            f"{algorithm}:{digest}"
            for wheel in package.wheels or ()
            for algorithm, digest in sorted(wheel.hashes.items())
        )
        if package.sdist is not None:
            hashes += tuple(f"{a}:{d}" for a, d in sorted(package.sdist.hashes.items()))
        form = Form.VCS if package.vcs else Form.PATH if package.directory else Form.NAMED
        version = f"=={package.version}" if package.version is not None else ""
        requirements.append(
            Requirement(
                name=package.name,
                form=form,
                location=Location(path, read.line_of(index)),
                text=f"{package.name}{version}",
                specifier=SpecifierSet(version),
                marker=package.marker,
                url=package.vcs.url if package.vcs else None,
                hashes=hashes,
            )
        )
    return requirements


def _package_lines(text: str) -> tuple[int, ...]:
    return tuple(number for number, line in enumerate(text.split("\n"), start=1) if line.strip() == "[[packages]]")
