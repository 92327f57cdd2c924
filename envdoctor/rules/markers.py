"""Whether a PEP 508 marker holds where a set installs, when the host leaves some facts unknown.

A fact the host does not give (its Python, its machine) takes each value it could have: a marker
holds if it holds for one of them, and is certain if it holds for all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from packaging.markers import Marker

from envdoctor.rules.candidates import HostFacts

# PEP 508 marker values for each (os, arch) of a host profile.
_SYS_PLATFORM = {"linux": "linux", "macos": "darwin", "windows": "win32"}
_PLATFORM_SYSTEM = {"linux": "Linux", "macos": "Darwin", "windows": "Windows"}
_MACHINE = {
    ("linux", "x86_64"): "x86_64",
    ("linux", "aarch64"): "aarch64",
    ("macos", "arm64"): "arm64",
    ("macos", "x86_64"): "x86_64",
    ("windows", "x86_64"): "AMD64",
    ("windows", "arm64"): "ARM64",
}
# The values an unknown fact of a host can take.
_PYTHONS = tuple(f"3.{minor}" for minor in range(8, 15))
_MACHINES = {"linux": ("x86_64", "aarch64"), "macos": ("arm64", "x86_64"), "windows": ("AMD64", "ARM64")}


@dataclass(frozen=True)
class Markers:
    """Markers evaluated where the set installs: the host, or a Dockerfile's image."""

    facts: HostFacts
    # The host's own full Python version (3.11.4), which says more than the facts' minor.
    host_python: str | None = None

    @functools.cached_property
    def environment(self) -> dict[str, str] | None:
        """The PEP 508 environment, or None if the OS is unknown."""
        facts = self.facts
        if facts.os is None:
            return None
        environment = {
            "sys_platform": _SYS_PLATFORM[facts.os],
            "platform_system": _PLATFORM_SYSTEM[facts.os],
            "os_name": "nt" if facts.os == "windows" else "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
        }
        machine = _MACHINE.get((facts.os, facts.arch or ""))
        if machine:
            environment["platform_machine"] = machine
        if facts.python:
            environment.update(_python_values(self._full_python(facts.python)))
        return environment

    def _full_python(self, minor: str) -> str:
        # An image's (or a conda environment's) Python is its own, never the host's.
        host = self.host_python
        same = host is not None and f"{host}.".startswith(f"{minor}.")
        return host if host and same and self.facts.image is None else minor

    def applies(self, marker: Marker | None) -> bool:
        """Whether a line with this marker can apply here: a line for Windows is not judged on
        Linux even when the host's Python is not given."""
        if marker is None or self.environment is None:
            return True
        for candidate in self._completions():
            try:
                if marker.evaluate({**candidate, "extra": ""}):
                    return True
            except Exception:
                return True  # a marker packaging cannot evaluate: judged, as before
        return False

    def holds(self, marker: Marker, extras: frozenset[str]) -> bool:
        """Whether the marker holds for some value of the facts the host leaves unknown."""
        return any(self._values(marker, extras))

    def certain(self, marker: Marker, extras: frozenset[str]) -> bool:
        """Whether the marker holds whatever the facts the host leaves unknown turn out to be."""
        values = self._values(marker, extras)
        return bool(values) and all(values)

    def _values(self, marker: Marker, extras: frozenset[str]) -> list[bool]:
        """The marker's value in each completion of the environment (for the best extra)."""
        if self.environment is None:
            return [] if "extra" in str(marker) else [True]
        values = []
        for candidate in self._completions():
            try:
                values.append(any(marker.evaluate({**candidate, "extra": extra}) for extra in (*extras, "")))
            except Exception:
                return []
        return values

    def _completions(self) -> list[dict[str, str]]:
        """The environment with each unknown fact filled in every way it could be."""
        environment = self.environment or {}
        pythons = (environment["python_version"],) if "python_version" in environment else _PYTHONS
        machines = (
            (environment["platform_machine"],) if "platform_machine" in environment else _MACHINES[self.facts.os or ""]
        )
        completions = []
        for python in pythons:
            full = environment.get("python_full_version", f"{python}.0")
            for machine in machines:
                completions.append(
                    {**environment, "python_version": python, "python_full_version": full, "platform_machine": machine}
                )
        return completions


def _python_values(full: str) -> dict[str, str]:
    """python_version and python_full_version of a version as given (3.11 is 3.11.0)."""
    parts = full.split(".")
    return {"python_version": ".".join(parts[:2]), "python_full_version": full if len(parts) >= 3 else f"{full}.0"}
