"""The errors envdoctor reports to its user as one line and exit code 2."""

from __future__ import annotations


class EnvdoctorError(Exception):
    """A problem with the user's input or usage; the CLI prints it as one line, exit 2."""


class InputError(EnvdoctorError):
    """Unreadable or invalid input, located at a file and, where known, a line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        # Errors are one line: parsers' multi-line messages (a caret under the text) are cut.
        self.message = message.strip().splitlines()[0] if message.strip() else "unreadable"
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {self.message}")


class UsageError(EnvdoctorError):
    """A bad command-line argument."""


class Refused(EnvdoctorError):
    """The input is sound, but what was asked cannot work (an image whose builds do not run on the
    target, a lock no build of which runs there): the reasons, one a line; nothing is written.
    The command line prints each as ``refused: ...`` and exits 1, as for findings."""

    def __init__(self, reasons: list[str] | tuple[str, ...]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("; ".join(self.reasons))
