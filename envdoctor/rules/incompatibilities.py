"""ED203 known-incompatibility: conflicts the packages' metadata does not declare."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding, Severity
from envdoctor.kb import Row, facts, load_topic

CODE = "ED203"


class Conflict(NamedTuple):
    package: str
    versions: SpecifierSet
    breaks_with: Pep508
    fix: str
    upgrade: str | None
    message: str
    source: str


def _known_conflicts() -> list[Conflict]:
    conflicts = [
        Conflict(
            row["package"],
            SpecifierSet(row["versions"]),
            Pep508(row["breaks_with"]),
            row["fix"],
            row.get("upgrade"),
            row["message"],
            row["source"],
        )
        for row in facts.conflicts()
    ]
    # torch releases built against NumPy 1.x break under NumPy 2 like any other such extension.
    conflicts += [
        Conflict(
            "torch",
            SpecifierSet(row["torch"]),
            Pep508("numpy>=2"),
            "numpy<2",
            None,
            f"torch was built against NumPy {row['numpy_major']}.x and its C extensions fail under NumPy 2",
            row["source"],
        )
        for row in _torch_numpy_rows()
        if row["numpy_major"] == 1
    ]
    return conflicts


def _torch_numpy_rows() -> tuple[Row, ...]:
    return load_topic("torch", "numpy_build")


def check(ctx: AuditContext) -> Iterator[Finding]:
    seen: set[tuple[str, str]] = set()
    for conflict in _known_conflicts():
        requirement = ctx.find(conflict.package)
        version = ctx.version_of(conflict.package)
        if requirement is None or version is None:
            continue
        if not conflict.versions.contains(Version(version.public), prereleases=True):
            continue
        other = conflict.breaks_with
        other_requirement = ctx.find(other.name)
        if other_requirement is None or not set(other.extras) <= set(other_requirement.extras):
            continue
        if (conflict.package, other.name) in seen:
            continue
        other_version = ctx.version_of(other.name)
        if other_version is not None and not other.specifier.contains(other_version, prereleases=True):
            continue
        if other_version is None and not _may_meet(ctx.requirements.specifier_of(other.name), other.specifier):
            continue  # the set already keeps it out of the breaking range (numpy<2 beside torch 2.2)
        seen.add((conflict.package, other.name))
        if other_version is None:
            # Offline and unpinned: the installer may pick the breaking release.
            message = (
                f"{conflict.package} {version} breaks with {other}, and {other.name} is not pinned: {conflict.message}"
            )
            severity = Severity.WARNING
        else:
            message = f"{conflict.package} {version} breaks with {other.name} {other_version}: {conflict.message}"
            severity = Severity.ERROR
        fix = conflict.fix + (f" (or upgrade: {conflict.package}{conflict.upgrade})" if conflict.upgrade else "")
        yield ctx.finding(
            CODE,
            message,
            requirement=other_requirement if other_version is not None else requirement,
            packages=(f"{conflict.package}=={version}", other_requirement.describe()),
            fix=fix,
            references=(conflict.source,),
            severity=severity,
        )


def _may_meet(asked: SpecifierSet, breaking: SpecifierSet) -> bool:
    """Whether some release may satisfy both specifiers. Each admits an interval around the
    versions it names, so trying those versions and the releases just past them answers it."""
    if not asked:
        return True
    named = [Version(spec.version.removesuffix(".*")) for spec in (*asked, *breaking) if _is_version(spec.version)]
    probes = {Version("0")}
    for version in named:
        major, minor, micro = (*version.release, 0, 0)[:3]
        probes |= {
            version,
            Version(f"{major}.{minor}.{micro + 1}"),
            Version(f"{major}.{minor + 1}"),
            Version(f"{major + 1}"),
        }
    return any(asked.contains(probe) and breaking.contains(probe) for probe in probes)


def _is_version(text: str) -> bool:
    try:
        Version(text.removesuffix(".*"))
    except ValueError:
        return False
    return True
