"""Run the rules over a requirement set against one or more hosts."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.audit.result import AuditReport, Resolution
from envdoctor.findings import HOSTS_SEPARATOR, Finding, Severity
from envdoctor.host.profile import HostProfile
from envdoctor.requirements.model import Form, Requirement, RequirementSet
from envdoctor.rules.context import AuditContext

# A resolver, given the set, one host and the host's name (for progress and messages).
Resolver = Callable[[RequirementSet, HostProfile, str], Resolution]


class AuditOptions(NamedTuple):
    ignore: frozenset[str] = frozenset()
    resolver: Resolver | None = None


def run_audit(requirements: RequirementSet, hosts: list[tuple[str, HostProfile]], options: AuditOptions) -> AuditReport:
    from envdoctor.rules import HOST_RULES, SET_RULES

    findings: list[Finding] = []
    for name, host in hosts:
        resolution = options.resolver(requirements, host, name) if options.resolver else Resolution({}, None)
        for environment in _environments(requirements):
            context = AuditContext(environment, host, name, resolution.pins, resolution.error)
            for rule in HOST_RULES:
                findings += rule(context)
        findings += _assumed(AuditContext(requirements, host, name), resolution)
    if hosts:
        once = AuditContext(requirements, hosts[0][1], hosts[0][0])
        for rule in SET_RULES:
            findings += [_without_host(finding) for finding in rule(once)]
    kept = _grouped(_kept(findings, requirements, options.ignore), [name for name, _ in hosts])
    return AuditReport(tuple(hosts), requirements.inputs, tuple(sorted(kept, key=Finding.sort_key)))


def _grouped(findings: list[Finding], hosts: list[str]) -> list[Finding]:
    """The same finding about several hosts is one finding naming them; about every host, one
    finding naming none (it does not depend on the host)."""
    by_finding: dict[Finding, list[str]] = {}
    for finding in findings:
        named = by_finding.setdefault(_without_host(finding), [])
        if finding.host is not None and finding.host not in named:
            named.append(finding.host)
    grouped = []
    for finding, named in by_finding.items():
        every_host = not named or len(named) == len(hosts)
        grouped.append(finding if every_host else finding._replace(host=HOSTS_SEPARATOR.join(named)))
    return grouped


def _environments(requirements: RequirementSet) -> list[RequirementSet]:
    """Where each requirement is installed: a Dockerfile's lines and the files it installs go into
    its image; the other inputs onto the host. Each is judged as its own environment."""
    if not requirements.images:
        return [requirements]
    in_image = {item.path for item in requirements.inputs if item.kind == "dockerfile" or item.installed_by}
    on_host = tuple(r for r in requirements.requirements if r.location.path not in in_image)
    pythons_on_host = tuple(p for p in requirements.requires_python if p[1].path not in in_image)
    in_the_image = tuple(r for r in requirements.requirements if r not in on_host)
    image = requirements._replace(
        requirements=(*in_the_image, *_preinstalled(requirements, in_the_image)),
        requires_python=tuple(p for p in requirements.requires_python if p not in pythons_on_host),
    )
    if not on_host and not pythons_on_host:
        return [image]
    host = requirements._replace(
        requirements=on_host,
        unread=tuple(u for u in requirements.unread if u[1].path not in in_image),
        requires_python=pythons_on_host,
        interpreters=tuple(i for i in requirements.interpreters if i[1].path not in in_image),
        indexes=requirements.host_indexes or requirements.indexes,
        images=(),
        environment=(),
        system_packages=(),
        commands=(),
    )
    return [image, host]


def _preinstalled(requirements: RequirementSet, installed: tuple[Requirement, ...]) -> list[Requirement]:
    """What the final stage's base image already carries (pytorch/pytorch's torch, an NGC image's),
    as exact pins on its FROM line, but for packages the Dockerfile installs itself."""
    from envdoctor.kb import facts

    base = requirements.final_base()
    carried = facts.image_facts(base.repository, base.tag) if base is not None else None
    if base is None or carried is None:
        return []
    found = []
    for pin in carried.preinstalled:
        try:
            parsed = Pep508(pin)
        except InvalidRequirement:
            continue
        name = canonicalize_name(parsed.name)
        kept = _pip_keeps(parsed, [r for r in installed if r.name == name])
        if not kept and not carried.pip_constraint:
            continue
        found.append(
            Requirement(
                name,
                Form.NAMED,
                base.location,
                pin,
                parsed.specifier,
                variant=carried.variant,
                # Where pip would replace it but the image's constraint file holds pip to it, it is
                # a constraint: what asks another release cannot be installed.
                source=f"the base image {base.reference}" if kept else f"the pip constraint file of {base.reference}",
                constraint=not kept,
            )
        )
    return found


def _pip_keeps(preinstalled: Pep508, lines: list[Requirement]) -> bool:
    """Whether pip keeps the image's own release beside the Dockerfile's lines for the package:
    when each of them admits it (pip takes an installed pre-release as meeting a range)."""
    pins = [spec.version for spec in preinstalled.specifier if spec.operator == "=="]
    if len(pins) != 1:
        return not lines
    version = Version(pins[0])
    return all(line.form is Form.NAMED and line.specifier.contains(version, prereleases=True) for line in lines)


def _assumed(context: AuditContext, resolution: Resolution) -> list[Finding]:
    """ED901: what the resolver assumed for this host, once, so that the verdicts can be read with it."""
    if not resolution.assumptions:
        return []
    fix = "give the host's facts: --host FILE from envdoctor probe, or --os/--arch/--python"
    return [context.finding("ED901", "; ".join(resolution.assumptions), fix=fix)]


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
