"""What every rule reads: the requirement set, one host, the versions that would be installed."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.markers import Marker
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import HostProfile
from envdoctor.requirements.model import Location, Requirement, RequirementSet

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


@dataclass(frozen=True)
class AuditContext:
    requirements: RequirementSet
    host: HostProfile
    host_name: str
    # Versions a resolver chose for this host (--resolve); empty when auditing offline.
    resolved: Mapping[NormalizedName, Version] = field(default_factory=dict)
    resolver_error: str | None = None

    def marker_environment(self) -> dict[str, str] | None:
        """The PEP 508 environment of the host, or None if its OS is unknown."""
        if self.host.os is None:
            return None
        environment = {
            "sys_platform": _SYS_PLATFORM[self.host.os],
            "platform_system": _PLATFORM_SYSTEM[self.host.os],
            "os_name": "nt" if self.host.os == "windows" else "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
        }
        machine = _MACHINE.get((self.host.os, self.host.arch or ""))
        if machine:
            environment["platform_machine"] = machine
        if self.host.python:
            parts = self.host.python.split(".")
            environment["python_version"] = ".".join(parts[:2])
            environment["python_full_version"] = self.host.python if len(parts) >= 3 else f"{self.host.python}.0"
        return environment

    def applies(self, requirement: Requirement) -> bool:
        """Whether the requirement's marker can hold on this host. A fact the host leaves unknown
        (its Python, its machine) takes each value it could have: a line for Windows is not judged
        on Linux even when the host's Python is not given."""
        marker: Marker | None = requirement.marker
        if marker is None:
            return True
        environment = self.marker_environment()
        if environment is None:
            return True
        for candidate in _completions(environment, self.host.os or ""):
            try:
                if marker.evaluate({**candidate, "extra": ""}):
                    return True
            except Exception:
                return True  # a marker packaging cannot evaluate: judged, as before
        return False

    def wanted(self) -> list[Requirement]:
        """Named requirements (not constraints) that apply to this host."""
        return list(self._wanted)

    @functools.cached_property
    def _wanted(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements.named() if self.applies(r))

    @functools.cached_property
    def _by_name(self) -> dict[NormalizedName, Requirement]:
        found: dict[NormalizedName, Requirement] = {}
        for requirement in self._wanted:
            if requirement.name is not None:
                found.setdefault(requirement.name, requirement)
        return found

    @functools.cached_property
    def _constraint_pins(self) -> dict[NormalizedName, Version]:
        return {
            r.name: r.pinned_version
            for r in self.requirements.requirements
            if r.constraint and r.name is not None and r.pinned_version is not None
        }

    def find(self, name: str) -> Requirement | None:
        return self._by_name.get(canonicalize_name(name))

    def version_of(self, name: str) -> Version | None:
        """The version that would be installed: the resolver's choice, else an exact pin."""
        wanted = canonicalize_name(name)
        if wanted in self.resolved:
            return self.resolved[wanted]
        requirement = self.find(wanted)
        if requirement is not None and requirement.pinned_version is not None:
            return requirement.pinned_version
        return self._constraint_pins.get(wanted)

    def anchor(self) -> Location | None:
        """Where findings about the host alone are shown: the first line of the first input."""
        first = next((item for item in self.requirements.inputs if not item.path.startswith("<")), None)
        return Location(first.path, 1) if first else None

    def finding(
        self,
        code: str,
        message: str,
        *,
        requirement: Requirement | None = None,
        location: Location | None = None,
        packages: tuple[str, ...] = (),
        fix: str | None = None,
        references: tuple[str, ...] = (),
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of ``code`` about this host; category and default severity from the catalogue."""
        from envdoctor.codes import doc

        entry = doc(code)
        if requirement is not None and not packages:
            packages = (requirement.describe(),)
        return Finding(
            code=code,
            category=entry.category,
            severity=severity if severity is not None else entry.severity,
            message=message,
            packages=packages,
            location=location or (requirement.location if requirement else None) or self.anchor(),
            fix=fix,
            references=tuple(dict.fromkeys(references)),
            host=self.host_name,
        )


# The values an unknown fact of a host can take, for evaluating markers.
_PYTHONS = tuple(f"3.{minor}" for minor in range(8, 15))
_MACHINES = {"linux": ("x86_64", "aarch64"), "macos": ("arm64", "x86_64"), "windows": ("AMD64", "ARM64")}


def _completions(environment: dict[str, str], os_name: str) -> list[dict[str, str]]:
    """The host's marker environment with each unknown fact filled in every way it could be."""
    pythons = (environment["python_version"],) if "python_version" in environment else _PYTHONS
    machines = (environment["platform_machine"],) if "platform_machine" in environment else _MACHINES[os_name]
    completions = []
    for python in pythons:
        for machine in machines:
            full = environment.get("python_full_version", f"{python}.0")
            completions.append(
                {**environment, "python_version": python, "python_full_version": full, "platform_machine": machine}
            )
    return completions
