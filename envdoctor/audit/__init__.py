"""Run the rules over a requirement set against one or more hosts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from packaging.utils import NormalizedName
from packaging.version import Version

from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import HostProfile
from envdoctor.report import AuditReport
from envdoctor.requirements.model import RequirementSet

# What a resolver returns for one host: the versions it chose, or its explanation of failure.
Resolution = tuple[Mapping[NormalizedName, Version], str | None]
Resolver = Callable[[RequirementSet, HostProfile], Resolution]


class AuditOptions(NamedTuple):
    ignore: frozenset[str] = frozenset()
    resolver: Resolver | None = None


def run_audit(requirements: RequirementSet, hosts: list[tuple[str, HostProfile]], options: AuditOptions) -> AuditReport:
    from envdoctor.rules import HOST_RULES, SET_RULES

    findings: list[Finding] = []
    for name, host in hosts:
        resolved, error = options.resolver(requirements, host) if options.resolver else ({}, None)
        context = AuditContext(requirements, host, name, resolved, error)
        for rule in HOST_RULES:
            findings += rule(context)
    if hosts:
        once = AuditContext(requirements, hosts[0][1], hosts[0][0])
        for rule in SET_RULES:
            findings += [_without_host(finding) for finding in rule(once)]
    kept = _kept(findings, requirements, options.ignore)
    if len(hosts) == 1:
        kept = [_without_host(finding) for finding in kept]
    return AuditReport(tuple(hosts), requirements.inputs, tuple(sorted(set(kept), key=Finding.sort_key)))


def _without_host(finding: Finding) -> Finding:
    return finding._replace(host=None)


def _kept(findings: list[Finding], requirements: RequirementSet, ignore: frozenset[str]) -> list[Finding]:
    """Findings not silenced by configuration or by ``# envdoctor: ignore[CODE]`` on their line."""
    silenced = {(r.location.path, r.location.line): r.ignored for r in requirements.requirements if r.ignored}
    kept = []
    for finding in findings:
        if finding.code in ignore or finding.category in ignore:
            continue
        location = finding.location
        if location is not None and finding.code in silenced.get((location.path, location.line), frozenset()):
            continue
        kept.append(finding)
    return kept


def exit_code(report: AuditReport, fail_on: Severity) -> int:
    return 1 if any(finding.severity >= fail_on for finding in report.findings) else 0
