"""Colour on terminals, and only there; progress and -v detail on stderr."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # typing.TextIO only for the checker
    from typing import TextIO

COLOR_CHOICES = ("auto", "always", "never")

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


def use_color(choice: str, stream: TextIO) -> bool:
    """``--color`` wins; in ``auto``, NO_COLOR (any non-empty value) or a non-terminal turns colour off."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


class Style:
    """Wraps text in ANSI codes when enabled, else returns it unchanged."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[name] for name in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


# --- progress and detail on stderr ---------------------------------------------------------------
#
# stdout is the report (or the diff, or the profile): what envdoctor is doing goes to stderr alone.
# The command line sets ``Feedback`` once (-q, -v, whether stderr is a terminal); a command used as
# a library (the Action, tests) says nothing unless it is set.

# A step that takes longer than this shows what it is doing.
PROGRESS_AFTER_S = 1.0


class Feedback(NamedTuple):
    """Where progress and detail go: ``stream`` (stderr), None for none (-q); ``verbose``: -v's count."""

    stream: TextIO | None = None
    terminal: bool = False
    verbose: int = 0


_feedback = Feedback()
# A terminal line "Doing…" that a step has written and not yet finished: anything else written to
# the stream first ends it with a line break, and the step then finishes on a line of its own.
_open_line: list[str] = []
_line_lock = threading.Lock()


def set_feedback(feedback: Feedback) -> Feedback:
    """Make ``feedback`` the current one; returns the one it replaces (for the caller to put back)."""
    global _feedback
    previous, _feedback = _feedback, feedback
    return previous


def feedback() -> Feedback:
    return _feedback


def progress() -> Progress:
    """A Progress for the current feedback."""
    current = _feedback
    return Progress(current.stream, current.terminal)


def step(doing: str) -> AbstractContextManager[None]:
    """``with step("Resolving …"):`` shows the work on stderr if it takes more than PROGRESS_AFTER_S."""
    return progress().step(doing)


def detail(text: str) -> None:
    """A line for -v (a command line run, the sources a finding rests on): stderr, printable, never with -q."""
    current = _feedback
    if current.stream is None or current.verbose < 1:
        return
    from envdoctor.safety import printable

    with _line_lock:
        _end_open_line(current.stream)
        current.stream.write(f"{printable(text)}\n")
        current.stream.flush()


def command_line(argv: Sequence[str]) -> str:
    """``argv`` as a shell would take it, for -v, with a URL's credentials (an index token) masked."""
    import re
    import shlex

    return re.sub(r"://[^/@\s]*@", "://***@", shlex.join(argv))


def _end_open_line(stream: TextIO) -> None:
    """Break a step's unfinished terminal line, so that what follows starts a line of its own."""
    if _open_line:
        _open_line.clear()
        stream.write("\n")


class Progress(NamedTuple):
    """Where a step's progress goes: ``stream`` (stderr, never the report's stdout), None for none (-q).

    On a terminal one line appears once the step has taken ``after`` seconds and is finished in
    place; elsewhere (a CI log) one plain line follows a step that took that long."""

    stream: TextIO | None
    terminal: bool = False
    after: float | None = None  # seconds; None: the step's own, else PROGRESS_AFTER_S

    @contextmanager
    def step(self, doing: str, after: float | None = None) -> Iterator[None]:
        if self.stream is None:
            yield
            return
        stream = self.stream
        wait = self.after if self.after is not None else after if after is not None else PROGRESS_AFTER_S
        shown = False

        ellipsis = _ellipsis(stream)

        def show() -> None:
            nonlocal shown
            with _line_lock:
                _end_open_line(stream)
                shown = True
                stream.write(f"{doing}{ellipsis}")
                stream.flush()
                _open_line.append(doing)

        timer = threading.Timer(wait, show) if self.terminal else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        started = time.monotonic()
        outcome = "failed after"
        try:
            yield
            outcome = "done in"
        finally:
            elapsed = time.monotonic() - started
            if timer is not None:
                timer.cancel()
                timer.join()  # a line being written is finished before the outcome follows it
            with _line_lock:
                if shown and _open_line == [doing]:
                    _open_line.clear()
                    stream.write(f" {outcome} {elapsed:.1f} s\n")
                elif shown or (not self.terminal and elapsed >= wait):
                    _end_open_line(stream)
                    stream.write(f"{doing}: {outcome} {elapsed:.1f} s\n")
                stream.flush()


def _ellipsis(stream: TextIO) -> str:
    """ "…" where the stream can write it (a terminal set to ASCII cannot)."""
    try:
        "…".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "…"
