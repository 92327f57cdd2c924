"""ED202 companion-mismatch: packages released in lockstep are out of step.

Judged on versions known exactly (pins, the resolver's picks): a range of a companion resolves to
the release that matches, since each companion's metadata pins its torch or jaxlib. Which
packages move in lockstep, and how, is the knowledge base's (``facts.lockstep``)."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.kb import facts
from envdoctor.requirements.model import Requirement
from envdoctor.rules.context import AuditContext

CODE = "ED202"


def check(ctx: AuditContext) -> Iterator[Finding]:
    for requirement in ctx.wanted():
        if requirement.required_by is not None:
            continue
        name = requirement.name or ""
        version = ctx.exact_version(name)
        if version is None:
            continue
        for step in facts.lockstep(name, version):
            companion = ctx.find(step.companion)
            theirs = ctx.exact_version(step.companion)
            if companion is None or theirs is None or companion.required_by is not None:
                continue
            in_step = step.specifier.contains(Version(theirs.public), prereleases=True)
            if in_step and _same_build(step, version, theirs):
                continue
            yield _finding(ctx, step, (requirement, version), (companion, theirs))


def _finding(
    ctx: AuditContext,
    step: facts.Lockstep,
    mine: tuple[Requirement, Version],
    theirs: tuple[Requirement, Version],
) -> Finding:
    (requirement, version), (companion, their_version) = mine, theirs
    name = requirement.name
    if step.on_own_line:
        return ctx.finding(
            CODE,
            f"{name} {version} {step.relation}, but {step.companion} {their_version} is asked for",
            requirement=requirement,
            packages=(requirement.describe(), f"{step.companion}=={their_version}"),
            fix=f"{step.companion}{step.specifier}, or the {name} release built for {step.companion} "
            f"{their_version.public}",
            references=(step.source,),
        )
    out_of_step = f"{step.companion} {their_version} does not go with {name} {version}"
    if step.same_build:
        message = f"{out_of_step}: {name} {version.public} {step.relation}"
    else:
        message = f"{out_of_step}, which {step.relation}"
    # Where the companion's own METADATA admits this release (torchvision 0.29.1 asks torch>=2.14.0),
    # pip installs the pair and only the release pairing speaks against it: a warning, not an error.
    declared = ctx.declared_on(step.companion, Version(their_version.public), str(name))
    admitted = bool(str(declared)) and declared.contains(Version(version.public), prereleases=True)
    if admitted:
        allows = f"{step.companion} {their_version.public}'s METADATA allows {name}{declared}"
        message += f" ({allows}, so pip installs them together)"
    return ctx.finding(
        CODE,
        message,
        requirement=companion,
        packages=(companion.describe(), f"{name}=={version}"),
        fix=step.pin(version.local),
        references=(step.source,),
        severity=Severity.WARNING if admitted else None,
    )


def _same_build(step: facts.Lockstep, version: Version, theirs: Version) -> bool:
    """A local label (+cu121) must match across torch and its companions when both carry one."""
    return not (step.same_build and version.local and theirs.local and version.local != theirs.local)
