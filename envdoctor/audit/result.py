"""What an audit returns, and what a resolver returns to it for one host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from packaging.utils import NormalizedName
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import HostProfile
from envdoctor.requirements.model import Input


class AuditReport(NamedTuple):
    hosts: tuple[tuple[str, HostProfile], ...]
    inputs: tuple[Input, ...]
    findings: tuple[Finding, ...]

    def counts(self) -> dict[str, int]:
        return {severity.label: sum(f.severity == severity for f in self.findings) for severity in reversed(Severity)}

    def node_classes(self) -> list[ClassVerdict]:
        """For a cluster's node classes (hosts that stand for Kubernetes nodes): whether each runs
        the set, that is, no error is about it (or about every host)."""
        verdicts = []
        for name, profile in self.hosts:
            if not profile.nodes:
                continue
            errors = tuple(f for f in self.findings if f.severity == Severity.ERROR and f.is_about(name))
            verdicts.append(ClassVerdict(name, len(profile.nodes), errors))
        return verdicts


class ClassVerdict(NamedTuple):
    name: str
    nodes: int
    errors: tuple[Finding, ...]  # none: the class runs the set


class Resolution(NamedTuple):
    """What a resolver returns for one host: the versions it chose, or its explanation of failure."""

    pins: Mapping[NormalizedName, Version]
    error: str | None
    # Sentences saying what the resolver assumed where the host did not say (its OS, arch,
    # Python), for the reader: reported as one ED901 finding per host.
    assumptions: tuple[str, ...] = ()
