"""Findings: what will break, why, where it was written, and the fix."""

from __future__ import annotations

import enum
from typing import NamedTuple

from envdoctor.requirements.model import Location


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """A severity by name; UsageError for any other word (config files and the Action's inputs
        reach here as well as the command line)."""
        if text.upper() not in cls.__members__:
            from envdoctor.errors import UsageError
            from envdoctor.safety import quote

            raise UsageError(f"{quote(text)} is not a severity: use error, warning or info")
        return cls[text.upper()]


class Edit(NamedTuple):
    """One change a fix makes to the file a requirement was read from, for ``audit --fix``: the
    requirement written on ``line`` (as written) replaced by ``requirement``, or, where ``replaces``
    is None (a package the set only pulls in), ``requirement`` added after ``line``; ``index_url``: the
    package index the new requirement is served from, added where the file does not name it."""

    path: str
    line: int | None
    replaces: str | None
    requirement: str
    index_url: str | None = None


# How a finding about several hosts names them.
HOSTS_SEPARATOR = ", "


class Finding(NamedTuple):
    code: str
    category: str
    severity: Severity
    message: str
    packages: tuple[str, ...] = ()
    location: Location | None = None
    fix: str | None = None
    references: tuple[str, ...] = ()
    # The host profile the finding is about, when an audit runs against several.
    host: str | None = None
    # The fix as edits --fix can write (empty where the fix is advice, not a requirement to write).
    edits: tuple[Edit, ...] = ()

    def is_about(self, host: str) -> bool:
        """Whether the finding is about the host named so: it names no host (every host), or names
        it among those it is about (audit.run groups one finding about several)."""
        return self.host is None or host in self.host.split(HOSTS_SEPARATOR)

    def sort_key(self) -> tuple[int, str, int, str, str]:
        """Errors first, then by file, line and code: the same findings always print the same way."""
        path = self.location.path if self.location else ""
        line = self.location.line or 0 if self.location else 0
        return (-self.severity, path, line, self.code, self.message)
