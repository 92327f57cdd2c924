"""The resolver as a subprocess, with one timeout (``TIMEOUT_S``); the backends of
``envdoctor.lock.backends`` build its command line.

``resolver_answer`` is the one place a resolver (uv, or pip-compile for the pip-tools backend) is
run and its failure classified, for ``audit --resolve``, ``lock`` and ``lock --check --resolve``
alike: only a resolver that ran to the end and found no set of versions says something about the
requirements (an ``unsatisfiable`` finding); one that is missing, killed, out of time or cut off
from its index says nothing about them, and is a one-line error (exit 2).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from envdoctor.errors import EnvdoctorError
from envdoctor.safety import UnsafeValue, one_line, printable, quote, snippet

# How long a resolution may take: a cold one of a large set with torch takes minutes.
TIMEOUT_S = 600.0
# What uv (hyper/reqwest) and pip say when an index or a file host cannot be reached.
_NETWORK_ERRORS = (
    "Failed to fetch", "error sending request", "dns error", "tcp connect error", "Could not fetch URL",
    "Connection", "connection closed", "Failed to establish a new connection", "timed out",
    "Temporary failure in name resolution", "Network connectivity is disabled",
)  # fmt: skip
# How much of the resolver's words a one-line error quotes.
_QUOTED = 200


class ResolverFailed(EnvdoctorError):
    """The resolver gave no answer about the requirements (not installed, killed, out of time,
    no index): an error, never an ``unsatisfiable`` finding, which would tell the user to relax pins."""


class ResolverUnavailable(ResolverFailed):
    """The resolver could not be run at all."""


class IndexUnreachable(ResolverFailed):
    """The resolver could not reach a package index: not an unsatisfiable set."""


class Answer(NamedTuple):
    """What a resolver that ran to the end said: its output, or why no set of versions fits."""

    output: str
    unsatisfiable: str | None


def uv_binary() -> str:
    """The uv binary envdoctor runs: the one the ``uv`` package installed beside it."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, OSError):  # uv's UvNotFound is a FileNotFoundError
        raise ResolverUnavailable(
            "cannot find the uv binary: install uv into envdoctor's environment (pip install uv)"
        ) from None


def resolver_answer(
    argv: Sequence[str],
    name: str,
    *,
    timeout: float,
    cwd: Path | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Answer:
    """Run a resolver to the end: its output, or its explanation of an unsatisfiable set.
    ``meanwhile``: work that does not need the answer, done while the resolver runs.

    Raises ResolverFailed when it gave no answer (see ``classify_failure``)."""
    environment = {**os.environ, "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
    try:
        process = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
    except OSError as exc:
        raise ResolverUnavailable(f"cannot run {name}: {printable(exc.strerror or str(exc))}") from None
    with process:
        try:
            if meanwhile is not None:
                meanwhile()
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()  # not communicate(): a child the resolver left may hold the pipes open
            raise ResolverFailed(
                f"{name} did not finish within {timeout:g} s: is the package index reachable and answering?"
            ) from None
        except BaseException:
            process.kill()  # as subprocess.run does: no resolver left running behind an error or ^C
            raise
    # Output that is not UTF-8 is the resolver's business, not a traceback of ours.
    stdout = out.decode("utf-8", errors="replace")
    if process.returncode == 0:
        return Answer(stdout, None)
    stderr = err.decode("utf-8", errors="replace")
    return Answer("", classify_failure(process.returncode, stderr or stdout, name))


def classify_failure(returncode: int, text: str, name: str) -> str:
    """Why a resolver that exited with ``returncode`` (non-zero) failed, from its own words ``text``.

    Returns its explanation of an unsatisfiable set (printable, one line per line of it); raises
    ResolverFailed when it was killed by a signal, and IndexUnreachable when it could not reach
    an index, which is no verdict on the requirements either."""
    if returncode < 0:
        number = -returncode
        try:
            signame = f" ({signal.Signals(number).name})"
        except ValueError:
            signame = ""
        raise ResolverFailed(f"the resolver was killed by signal {number}{signame} before it answered ({name})")
    lines = [printable(line.strip()) for line in text.splitlines() if line.strip()]
    if any(marker in line for line in lines for marker in _NETWORK_ERRORS):
        raise IndexUnreachable(f"cannot reach the package index: {_network_reason(lines)}")
    return "\n".join(lines) or f"{name} exited with {returncode} without saying why"


def _network_reason(lines: list[str]) -> str:
    """The URL that failed and the innermost cause: uv prints a chain of ``cause:`` lines."""
    causes = [line.removeprefix("cause:").removeprefix("error:").strip() for line in lines]
    where = next((line for line in causes if "http" in line), causes[0])
    root = causes[-1]
    return snippet(where if root == where else f"{where} ({root})", _QUOTED)


def input_file(lines: Sequence[str], what: str) -> str:
    """Requirement lines as the text of a resolver's input file: each must be one line that is not
    an option, or it would be read as more requirements or as an option (an index, a -r)."""
    for line in lines:
        if one_line(line, what).lstrip().startswith("-") and not line.startswith("-e "):
            raise UnsafeValue(f"{what} {quote(line)} reads as an option, not a requirement")
    return "\n".join(lines) + "\n"
