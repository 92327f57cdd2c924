"""What ED301 and ED302 share: a requirement none of whose candidates installs on the host from a
wheel, told by the reason (its Python, or its platform)."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.audit.candidates import Candidates, Exclusion, Why, candidates, span
from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding, Severity
from envdoctor.requirements.model import Requirement


def check(ctx: AuditContext, code: str, why: Why) -> Iterator[Finding]:
    """A finding for each requirement whose candidates all fail on the host for ``why`` (or only
    build from source for it)."""
    for requirement in ctx.wanted():
        found = ctx.candidates(requirement.name or "")
        blocking = _blocking(found)
        if not blocking:
            continue
        # pip takes the newest release it can install: if that builds from source, so be it.
        decisive = blocking[0]
        if _kind(decisive) is not why:
            continue
        yield _finding(ctx, code, requirement, found, blocking, from_source=decisive.why is Why.FROM_SOURCE)


def _blocking(found: Candidates) -> tuple[Exclusion, ...]:
    """The exclusions that leave nothing to install: the pin's own, or every candidate's."""
    if not found.tracked:
        return ()
    if found.exact:
        return found.excluded
    if found.versions:
        return ()
    return tuple(e for e in found.excluded if e.why is not Why.INDEX)


def _kind(exclusion: Exclusion) -> Why:
    if exclusion.why is Why.FROM_SOURCE:
        return Why.PYTHON if exclusion.text.startswith("no wheel for Python") else Why.PLATFORM
    return exclusion.why


def _finding(
    ctx: AuditContext,
    code: str,
    requirement: Requirement,
    found: Candidates,
    blocking: tuple[Exclusion, ...],
    *,
    from_source: bool,
) -> Finding:
    where = ctx.facts.describe()
    versions = [e.version for e in blocking]
    newest = blocking[0]
    build = (
        "which needs a compiler and the package's build dependencies, and old releases often fail to build on "
        "newer Pythons"
    )
    if found.exact and from_source:
        message = f"{found.name} {newest.version} has no wheel for {where}: pip would build it from its sdist, {build}"
    elif found.exact:
        message = f"{found.name} {newest.version} does not install on {where}: it has {newest.text}"
    elif from_source:
        message = (
            f"{requirement.describe()} admits {found.name} {span(versions)}, none with a wheel for {where}: pip "
            f"would build {newest.version} from its sdist, {build}"
        )
    else:
        message = (
            f"{requirement.describe()} admits {found.name} {span(versions)}, and none installs on {where}: the "
            f"newest, {newest.version}, has {newest.text}"
        )
    return ctx.finding(
        code,
        message,
        requirement=requirement,
        fix=_fix(ctx, found, max(versions), _kind(newest)),
        references=_references(found),
        severity=Severity.WARNING if from_source else None,
    )


def _fix(ctx: AuditContext, found: Candidates, newest_blocked: Version, why: Why) -> str:
    """A release of the package that installs here, checked with the same facts; else (or rather
    than an old release, for a platform) a marker that keeps the line to where its wheels are."""
    anywhere = candidates(found.name, SpecifierSet(), ctx.facts).versions
    if not anywhere or (why is Why.PLATFORM and anywhere[0] < newest_blocked):
        marker = _marker_for(found, newest_blocked)
        where = ctx.facts.describe()
        if marker:
            return f"no release of {found.name} has a wheel for {where}: keep the line to where it has ({marker})"
        return f"no release of {found.name} the knowledge base knows installs on {where}"
    newer = [v for v in anywhere if v > newest_blocked]
    if newer:
        return f"{found.name}>={min(newer)} (the first newer release with a wheel for {ctx.facts.describe()})"
    return f"{found.name}=={anywhere[0]} (the newest release with a wheel for {ctx.facts.describe()})"


_SYS_PLATFORM = {"linux": "linux", "macos": "darwin", "windows": "win32"}


def _marker_for(found: Candidates, version: Version) -> str | None:
    """An environment marker naming the operating systems a release has wheels for."""
    from envdoctor.kb import releases as kb_releases

    release = next((r for r in kb_releases.releases(found.name) if r.version == Version(version.public)), None)
    if release is None or not release.platforms or "any" in release.platforms:
        return None
    systems = sorted({_SYS_PLATFORM[p.split("-")[0]] for p in release.platforms if p.split("-")[0] in _SYS_PLATFORM})
    return "; " + " or ".join(f"sys_platform == '{system}'" for system in systems) if systems else None


def _references(found: Candidates) -> tuple[str, ...]:
    from envdoctor.kb import releases as kb_releases

    known = kb_releases.releases(found.name)
    return (known[-1].source,) if known else ()
