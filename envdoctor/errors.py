"""The errors envdoctor reports to its user as one line and exit code 2."""

from __future__ import annotations


class EnvdoctorError(Exception):
    """A problem with the user's input or usage; the CLI prints it as one line, exit 2."""


class InputError(EnvdoctorError):
    """Unreadable or invalid input, located at a file and, where known, a line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class UsageError(EnvdoctorError):
    """A bad command-line argument."""
