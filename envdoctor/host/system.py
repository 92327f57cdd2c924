"""The narrow interface between the probe and the machine it runs on.

Everything the probe learns passes through ``System``: files, commands, environment variables,
the interpreter's platform facts and NVML. ``LocalSystem`` asks the real machine with a timeout
on every call that could block; tests pass a recorded stand-in instead.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from envdoctor.host.nvml import NvmlFailure, NvmlReading, read_nvml
from envdoctor.safety import snippet

_T = TypeVar("_T")


@dataclass(frozen=True)
class Answer(Generic[_T]):
    """What a call cut off by ``within`` returned in time."""

    value: _T


def within(timeout: float, call: Callable[[], _T]) -> Answer[_T] | None:
    """``call()``'s answer if it comes within ``timeout`` seconds, else None.

    The call runs on a daemon thread, so that one blocked for good (a wedged driver holds NVML
    or a read of its /proc file) is left behind rather than waited for. An exception it raises
    is raised here, in the caller's thread, where it can be reported for what it is."""
    answers: list[Answer[_T]] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            answers.append(Answer(call()))
        except Exception as exc:  # handed to the caller, never printed by the thread
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if errors:
        raise errors[0]
    return answers[0] if answers else None


@dataclass(frozen=True)
class CommandResult:
    """What a command did. ``failure`` is set when it could not run or finish at all."""

    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.returncode == 0


@dataclass(frozen=True)
class PlatformFacts:
    """What the interpreter itself says about the machine."""

    sys_platform: str
    machine: str
    python_version: str
    # os.confstr("CS_GNU_LIBC_VERSION"), e.g. "glibc 2.36"; None where not glibc.
    gnu_libc: str | None


class System(Protocol):
    def platform_facts(self) -> PlatformFacts: ...

    def read_text(self, path: str) -> str | None: ...

    def exists(self, path: str) -> bool: ...

    def listdir(self, path: str) -> list[str] | None: ...

    def which(self, name: str) -> str | None: ...

    def run(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> CommandResult: ...

    def environ(self) -> Mapping[str, str]: ...

    def nvml(self, timeout: float) -> NvmlReading | NvmlFailure: ...

    def python_packages(self, names: frozenset[str], prefixes: tuple[str, ...]) -> dict[str, str]: ...


class LocalSystem:
    """The machine envdoctor runs on."""

    def platform_facts(self) -> PlatformFacts:
        try:
            gnu_libc: str | None = os.confstr("CS_GNU_LIBC_VERSION")
        except (AttributeError, ValueError, OSError):
            gnu_libc = None
        return PlatformFacts(sys.platform, platform.machine(), platform.python_version(), gnu_libc)

    def read_text(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read(1024 * 1024)
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str] | None:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return None

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    def run(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> CommandResult:
        try:
            completed = subprocess.run(
                list(argv),
                capture_output=True,
                timeout=timeout,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return CommandResult(None, failure=f"{argv[0]} did not answer within {timeout:g} s")
        except OSError as exc:
            return CommandResult(None, failure=f"{argv[0]}: {exc.strerror or exc}")
        return CommandResult(
            completed.returncode,
            completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"),
        )

    def environ(self) -> Mapping[str, str]:
        return os.environ

    def nvml(self, timeout: float) -> NvmlReading | NvmlFailure:
        # A wedged driver can block NVML forever; ``within`` lets the probe give up.
        try:
            answer = within(timeout, read_nvml)
        except Exception as exc:  # the binding itself failed: say so, not that NVML was slow
            return NvmlFailure(f"NVML failed: {type(exc).__name__}: {snippet(str(exc), 200)}")
        if answer is None:
            return NvmlFailure(f"NVML did not answer within {timeout:g} s")
        return answer.value

    def python_packages(self, names: frozenset[str], prefixes: tuple[str, ...]) -> dict[str, str]:
        # Names and versions come from the metadata folders' names, so that no metadata file is
        # parsed: reading every METADATA costs a second in a large ML environment.
        found: dict[str, str] = {}
        for folder in sys.path:
            for entry in self.listdir(folder or ".") or []:
                if not entry.endswith((".dist-info", ".egg-info")):
                    continue
                name, _, rest = entry.rpartition(".")[0].partition("-")
                version = rest.split("-", 1)[0]
                name = name.lower().replace("_", "-").replace(".", "-")
                if version and (name in names or name.startswith(prefixes)):
                    found.setdefault(name, version)
        return found
