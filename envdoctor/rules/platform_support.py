"""ED301 platform-unsupported: no release the requirement admits has a distribution for the host's
OS, architecture or libc."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.findings import Finding
from envdoctor.kb import facts
from envdoctor.requirements.model import Requirement
from envdoctor.rules import installable
from envdoctor.rules.candidates import Why
from envdoctor.rules.context import AuditContext

CODE = "ED301"


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from _lock_environments(ctx)
    yield from _conda_platforms(ctx)
    yield from _locked_files(ctx)
    yield from installable.check(ctx, CODE, Why.PLATFORM, _untracked(ctx))


def no_platform(ctx: AuditContext, name: str) -> facts.Platforms | None:
    """For a package whose releases the base does not track: its platforms row, where that row
    says it has no wheel for the host's platform (nvidia-cufft-cu11 on a Mac); else None."""
    if ctx.host.os is None or ctx.host.arch is None:
        return None
    row = facts.platforms_of(name)  # first: few packages have a row, and every package is asked
    if row is None or f"{ctx.host.os}-{ctx.host.arch}" in row.platforms or "any" in row.platforms:
        return None
    if ctx.candidates(name).tracked:
        return None
    version = ctx.version_of(name)
    if version is not None and not row.versions.contains(version, prereleases=True):
        return None
    return row


def _untracked(ctx: AuditContext) -> Iterator[tuple[Requirement, Finding]]:
    """Packages whose releases the base does not track, judged by the platforms their wheels cover."""
    platform = f"{ctx.host.os}-{ctx.host.arch}"
    for requirement in ctx.wanted():
        row = no_platform(ctx, requirement.name or "")
        if row is None:
            continue
        yield (
            requirement,
            ctx.finding(
                CODE,
                f"{requirement.describe()} has no distribution for {platform}: its wheels exist for "
                f"{', '.join(row.platforms)} only",
                requirement=requirement,
                fix=f"mark the line for the platforms it exists on (; sys_platform == 'linux'), or keep one lockfile "
                f"per platform (envdoctor lock --os {ctx.host.os})",
                references=(row.source,),
            ),
        )


def _conda_platforms(ctx: AuditContext) -> Iterator[Finding]:
    """A conda spec with no build for the host's platform (pytorch-cuda on a Mac): conda cannot
    create the environment there at all."""
    if not ctx.requirements.conda_platforms:
        return  # no conda spec: the conda reader is not loaded for nothing
    from envdoctor.requirements.conda import cannot_create

    for limit in ctx.requirements.conda_platforms:
        found = cannot_create(limit, ctx.facts.os, ctx.facts.arch)
        if found is not None:
            message, fix = found
            yield ctx.finding(CODE, message, location=limit[3], fix=fix, references=(limit[2],))


def _lock_environments(ctx: AuditContext) -> Iterator[Finding]:
    """A lockfile resolved for some environments only (uv.lock's supported-markers), none of
    which is this host: nothing in it installs here."""
    supported = ctx.requirements.supported
    if not supported or any(ctx.markers.holds(marker, frozenset()) for marker, _ in supported):
        return
    markers = "; ".join(str(marker) for marker, _ in supported)
    yield ctx.finding(
        CODE,
        f"the lock holds a resolution only for {markers}, and {ctx.facts.describe()} is none of them: nothing in it "
        "installs here",
        location=supported[0][1],
        fix="add this platform to [tool.uv] environments in pyproject.toml and re-lock (uv lock)",
    )


def _locked_files(ctx: AuditContext) -> Iterator[Finding]:
    """A locked package whose files, as the lock lists them, include no wheel for this platform
    and no sdist (fish-speech's cu126 torch: Linux and Windows wheels only): the install fails."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    from envdoctor.kb.releases import platform_name, platform_of

    if ctx.facts.os is None or ctx.facts.arch is None:
        return
    here = platform_name(ctx.facts.os, ctx.facts.arch)
    for requirement in ctx.wanted():
        if not requirement.wheels or requirement.sdist or requirement.required_by is not None:
            continue
        offered: set[str] = set()
        for wheel in requirement.wheels:
            try:
                offered |= {p for tag in parse_wheel_filename(wheel)[3] for p in platform_of(tag.platform)}
            except InvalidWheelFilename:
                offered.add("any")  # a name it cannot read: not judged against it
        if "any" in offered or here in offered or not offered:
            continue
        yield ctx.finding(
            CODE,
            f"the lock offers {requirement.describe()} as wheels for {', '.join(sorted(offered))} only, and no sdist: "
            f"it cannot be installed on {ctx.facts.describe()}",
            requirement=requirement,
            fix="keep what asks for it off this platform (a marker, or an extra this platform does not take), or "
            "re-lock for this platform",
        )
