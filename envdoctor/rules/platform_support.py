"""ED301 platform-unsupported: no distribution for the host's OS or architecture."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import SpecifierSet

from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding
from envdoctor.kb import facts

CODE = "ED301"


def check(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.host.os is None or ctx.host.arch is None:
        return
    platform = f"{ctx.host.os}-{ctx.host.arch}"
    for requirement in ctx.wanted():
        row = facts.platforms_of(requirement.name or "")
        if row is None or platform in row["platforms"] or "any" in row["platforms"]:
            continue
        version = ctx.version_of(requirement.name or "")
        if version is not None and not SpecifierSet(row["versions"]).contains(version, prereleases=True):
            continue
        yield ctx.finding(
            CODE,
            f"{requirement.describe()} has no distribution for {platform}: its wheels exist for "
            f"{', '.join(row['platforms'])} only",
            requirement=requirement,
            fix=f"mark the line for the platforms it exists on (; sys_platform == 'linux'), or keep one lockfile "
            f"per platform (envdoctor lock --os {ctx.host.os})",
            references=(row["source"],),
        )
