"""``pylock.toml`` (PEP 751), read and validated with ``packaging.pylock``."""

from __future__ import annotations

from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError
from packaging.specifiers import SpecifierSet

from envdoctor.errors import InputError
from envdoctor.requirements.model import Form, Location, Requirement
from envdoctor.requirements.versions import check_marker, check_specifier, check_version
from envdoctor.safety import snippet
from envdoctor.structured import parse_toml


def load_pylock(text: str, path: str) -> Pylock:
    """A pylock.toml, validated; bad input is an InputError naming the file."""
    data = parse_toml(text, path)
    try:
        lock = Pylock.from_dict(data)
    except (PylockValidationError, PylockUnsupportedVersionError) as exc:
        raise InputError(path, f"not a valid pylock.toml: {snippet(str(exc), 160)}") from None
    _check_versions(lock, path, _package_lines(text))
    return lock


def _check_versions(lock: Pylock, path: str, lines: list[int]) -> None:
    """Every version, range and marker of the lock of a sane size (packaging parses a version's
    numbers with int(), past whose digit limit any later comparison raises)."""
    if lock.requires_python is not None:
        check_specifier(lock.requires_python, path)
    for marker in lock.environments or ():
        check_marker(marker, path)
    for index, package in enumerate(lock.packages):
        line = lines[index] if index < len(lines) else None
        if package.version is not None:
            check_version(str(package.version), path, line)
        if package.requires_python is not None:
            check_specifier(package.requires_python, path, line)
        check_marker(package.marker, path, line)


def parse_pylock(text: str, path: str) -> list[Requirement]:
    lock = load_pylock(text, path)
    lines = _package_lines(text)
    requirements = []
    for index, package in enumerate(lock.packages):
        location = Location(path, lines[index] if index < len(lines) else None)
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
                location=location,
                text=f"{package.name}{version}",
                specifier=SpecifierSet(version),
                marker=package.marker,
                url=package.vcs.url if package.vcs else None,
                hashes=hashes,
            )
        )
    return requirements


def _package_lines(text: str) -> list[int]:
    return [number for number, line in enumerate(text.split("\n"), start=1) if line.strip() == "[[packages]]"]
