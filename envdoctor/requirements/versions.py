"""Versions from files anyone can write, checked where they are read.

packaging parses a version's numbers with ``int()``, which raises ValueError past Python's
4,300-digit limit; a specifier or marker stores the version as text and parses it only when it
is first compared, deep in a rule. So an absurd version is refused by the reader, with the file
and line, and nothing later has to guard against it.
"""

from __future__ import annotations

import re

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

from envdoctor.errors import InputError
from envdoctor.requirements.model import Requirement
from envdoctor.safety import quote

# Far past any version published (dates with a time of day are 14 digits), far below the limit.
MAX_DIGITS = 64
# PEP 440 sets no length; real ones, local labels included, are well under 100 characters.
MAX_LENGTH = 256
_NUMBER = re.compile(r"\d+")


def check_version(version: str, path: str, line: int | None = None) -> str:
    """``version`` if it is of a sane size (its grammar is packaging's business), else InputError."""
    longest = max((len(number) for number in _NUMBER.findall(version)), default=0)
    if longest > MAX_DIGITS:
        raise InputError(path, f"version {quote(version)} holds a number of {longest} digits: not a version", line)
    if len(version) > MAX_LENGTH:
        raise InputError(path, f"version {quote(version)} is {len(version)} characters long: not a version", line)
    return version


def check_specifier(specifier: SpecifierSet, path: str, line: int | None = None) -> SpecifierSet:
    """``specifier`` if each version it names passes check_version (``===`` ones too: they are
    still parsed as versions where a pin is read), else InputError."""
    for spec in specifier:
        check_version(spec.version, path, line)
    return specifier


def check_marker(marker: Marker | None, path: str, line: int | None = None) -> Marker | None:
    """``marker`` if no value in it holds an absurd number: values that look like versions are
    compared as versions when the marker is evaluated."""
    if marker is not None:
        text = str(marker)
        longest = max((len(number) for number in _NUMBER.findall(text)), default=0)
        if longest > MAX_DIGITS:
            raise InputError(path, f"marker {quote(text)} holds a number of {longest} digits", line)
    return marker


def check_requirement(requirement: Requirement) -> Requirement:
    """``requirement`` if its specifier and marker pass the checks above, else InputError at its location."""
    path, line = requirement.location
    check_specifier(requirement.specifier, path, line)
    check_marker(requirement.marker, path, line)
    return requirement
