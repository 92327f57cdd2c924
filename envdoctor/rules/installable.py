"""What ED301 and ED302 share: a requirement none of whose candidates installs on the host from a
wheel, told by the reason (its Python, or its platform)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.kb import builds, facts
from envdoctor.kb import releases as kb_releases
from envdoctor.requirements.conda_fix import dialect_of
from envdoctor.requirements.model import Requirement
from envdoctor.rules.candidates import Candidates, Exclusion, Why, candidates, no_such_build, os_title, span
from envdoctor.rules.context import AuditContext


def check(
    ctx: AuditContext, code: str, why: Why, more: Iterable[tuple[Requirement, Finding]] = ()
) -> Iterator[Finding]:
    """A finding for each requirement whose candidates all fail on the host for ``why`` (or only
    build from source for it); ``more`` (the same verdict from other facts) is merged with them."""
    yield from merged(itertools.chain(_each(ctx, code, why), more))
    if why is Why.PLATFORM:
        yield from _without_prebuilt(ctx, code)


def _without_prebuilt(ctx: AuditContext, code: str) -> Iterator[Finding]:
    """A pinned extension whose prebuilt binaries exist per torch release (flash-attn's GitHub
    wheels, PyG's find-links pages), where the set's torch, CUDA, Python or pages reach none: pip
    builds its sdist (the knowledge base's prebuilt rows say which)."""
    for requirement in ctx.wanted():
        if requirement.required_by is not None or "prebuilt" not in facts.gpu_rows(requirement.name or ""):
            continue
        version = ctx.exact_version(requirement.name or "")
        if version is None:
            continue
        rows = facts.prebuilt(requirement.name or "", version)
        host = ctx.find(rows[0].against.name) if rows else None
        host_version = ctx.version_of(host.name or "") if host is not None else None
        if host is None or host_version is None:
            continue
        build = builds.build_of(host.name or "", host_version, ctx.where_of(host))
        against = builds.Against(host_version, build.cuda if build else None, build.variant if build else None)
        find_links = ctx.requirements.indexes.find_links
        missing = builds.from_source(requirement.name or "", version, against, ctx.facts.python, find_links)
        if missing is None:
            continue
        yield ctx.finding(
            code,
            f"{requirement.name} {version} {missing.reason}: pip builds it from source (its sdist), which needs a "
            f"compiler, the CUDA toolkit (nvcc) and {host.name} at build time, and can take hours",
            requirement=requirement,
            fix=missing.fix,
            references=(missing.source,),
            severity=Severity.WARNING,
        )


def merged(found: Iterator[tuple[Requirement, Finding]]) -> Iterator[Finding]:
    """Findings about packages one line pulls in (the dozen nvidia-* wheels of
    tensorflow[and-cuda] on a Mac) as one finding on that line, naming them all."""
    groups: dict[tuple[str | None, object, str], list[tuple[Requirement, Finding]]] = {}
    for requirement, finding in found:
        if requirement.required_by is None and builds.is_cuda_library(requirement.name or ""):
            # The set's own nvidia-* lines (a frozen torch environment's dozen) share one cause.
            key: tuple[str | None, object, str] = (CUDA_LIBRARIES, None, finding.code)
        else:
            where = requirement.location if requirement.required_by else requirement
            key = (requirement.required_by, where, finding.code)
        groups.setdefault(key, []).append((requirement, finding))
    for (required_by, _where, _code), members in groups.items():
        # The most severe first: it speaks for the group.
        members.sort(key=lambda member: -member[1].severity)
        first = members[0][1]
        if len(members) == 1 or required_by is None:
            yield from (finding for _, finding in members)
            continue
        names = [str(requirement.name) for requirement, _ in members]
        whose = (
            f"the set names {len(names)} {required_by}"
            if required_by == CUDA_LIBRARIES
            else (f"{required_by} pulls in {len(names)} packages")
        )
        yield first._replace(
            message=f"{whose} that share this problem ({', '.join(names)}); the first: {first.message}",
            packages=tuple(dict.fromkeys(p for _, finding in members for p in finding.packages)),
        )


CUDA_LIBRARIES = "NVIDIA CUDA library wheels"


def _each(ctx: AuditContext, code: str, why: Why) -> Iterator[tuple[Requirement, Finding]]:
    for requirement, found, blocking in _blocked(ctx):
        # pip takes the newest release it can install: if that builds from source, so be it.
        decisive = blocking[0]
        if _kind(decisive) is why:
            from_source = decisive.why is Why.FROM_SOURCE
            yield requirement, _finding(ctx, code, requirement, found, blocking, from_source=from_source)


_Blocked = tuple[Requirement, Candidates, tuple[Exclusion, ...]]


def _blocked(ctx: AuditContext) -> list[_Blocked]:
    """Each requirement none of whose candidates installs from a wheel, with its candidates and
    what blocks them: worked out once for both rules, as it visits every package of the set."""
    if ("blocked",) not in ctx.memo:
        ctx.memo[("blocked",)] = list(_blocked_requirements(ctx))
    found = ctx.memo[("blocked",)]
    assert isinstance(found, list)
    return found


def _blocked_requirements(ctx: AuditContext) -> Iterator[_Blocked]:
    # A line whose own package does not install: what it would pull in is moot.
    blocked_lines = set()
    # What conda installs (a conda spec, and what it pulls in) comes from a channel's builds, not
    # PyPI's files: PyPI's wheels say nothing of it (conda's own platforms are ED301's conda rows).
    conda_lines = {r.location for r in ctx.requirements.requirements if r.source and dialect_of(r).conda}
    for requirement in ctx.wanted():
        if requirement.location in conda_lines or not kb_releases.tracked(requirement.name or ""):
            continue  # of an untracked package no release is known to fail: nearly all of a large set
        found = ctx.candidates(requirement.name or "")
        blocking = _blocking(found)
        if requirement.required_by is None and blocking and blocking[0].why is not Why.FROM_SOURCE:
            blocked_lines.add(requirement.location)
        if not blocking or (requirement.required_by and requirement.location in blocked_lines):
            continue
        if found.exact and requirement.pinned_version is None and _pinned_elsewhere(ctx, requirement):
            continue  # the pin's own line carries it (invokeai: the cuda extra's +cu128, not the range)
        yield requirement, found, blocking


def _pinned_elsewhere(ctx: AuditContext, requirement: Requirement) -> bool:
    return any(
        other.name == requirement.name and other.pinned_version is not None and other.required_by is None
        for other in ctx.wanted()
    )


def _blocking(found: Candidates) -> tuple[Exclusion, ...]:
    """The exclusions that leave nothing to install: the pin's own, or every candidate's."""
    if not found.tracked:
        return ()
    if found.exact:
        return found.excluded
    if not found.versions:
        return tuple(e for e in found.excluded if e.why is not Why.INDEX)
    failing = [e for e in found.excluded if e.version == found.versions[0] and e.failing_sdist]
    if failing:
        return tuple(failing)  # pip picks that release's sdist and the build fails: nothing installs
    # The newest candidate builds from source: so do the releases just below it, down to one with a wheel.
    run = []
    for version in found.versions:
        if not found.builds_from_source(version):
            break
        run.append(version)
    return tuple(e for e in found.excluded if e.version in run and e.why is Why.FROM_SOURCE)


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
    build = "which needs a compiler and the package's build dependencies" + (
        ", and old releases often fail to build on newer Pythons"
        if _kind(newest) is Why.PYTHON
        else " (for a GPU package, the CUDA toolkit too)"
    )
    if found.exact and from_source:
        message = f"{found.name} {newest.version} has no wheel for {where}: pip would build it from its sdist, {build}"
    elif found.exact:
        message = f"{found.name} {newest.version} does not install on {where}: it has {newest.text}"
    elif newest.failing_sdist:
        message = (
            f"{requirement.describe()} admits {found.name} {newest.version} as the newest release pip takes on "
            f"{where}, and it does not install: it has {newest.text}"
        )
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
        fix=_fix(ctx, found, max(versions), _kind(newest), _line_of(ctx, requirement)),
        references=_references(ctx, found),
        severity=Severity.WARNING if from_source else None,
    )


def _line_of(ctx: AuditContext, requirement: Requirement) -> str:
    """The line a marker goes on: the requirement's own, or for a package pulled in, the line of
    the set's package that pulls it in (tensorflow[and-cuda], not its nvidia-cublas-cu12)."""
    if requirement.required_by is None:
        return str(requirement.name)
    line = next(
        (r for r in ctx.requirements.requirements if r.location == requirement.location and r.required_by is None),
        None,
    )
    return line.text.split(";")[0].strip() if line is not None else str(requirement.name)


def _fix(ctx: AuditContext, found: Candidates, newest_blocked: Version, why: Why, line: str) -> str:
    """A release of the package that installs here, checked with the same facts: a newer one
    first; for a platform, a marker that keeps the line off this host's platform, and the newest
    older release that has a wheel for it."""
    where = ctx.facts.describe()
    if no_such_build(found.name, newest_blocked, ctx.facts.os):
        # A CUDA build pinned for an OS that has none (torch 2.7.1+cu128 on a Mac): the same release
        # without the label is the build this OS gets.
        system, title = _SYS_PLATFORM.get(ctx.facts.os or "", ctx.facts.os), os_title(ctx.facts.os)
        return (
            f"on {title}, {found.name}=={newest_blocked.public} without the +{newest_blocked.local} label (the build "
            f"{title} gets): keep the labelled line off {title} ({line}; sys_platform != '{system}')"
        )
    every = candidates(found.name, SpecifierSet(), ctx.facts)
    # Neither built from source nor a failing sdist that pip picks all the same.
    anywhere = [v for v in every.versions if v not in {e.version for e in every.excluded} and _has_wheels(found, v)]
    newer = [v for v in anywhere if v > newest_blocked]
    offered = gpu_fix(ctx, found.name, min(newer)) if newer else None
    if offered is not None:
        return offered
    if newer:
        return ctx.rejudged_fix(f"{found.name}>={min(newer)}", f" (the first newer release with a wheel for {where})")
    older = (
        ctx.rejudged_fix(f"{found.name}=={anywhere[0]}", f" (the newest release with a wheel for {where})")
        if anywhere
        else None
    )
    if why is Why.PLATFORM:
        marker = _marker_off(ctx, kb_releases.release(found.name, newest_blocked))
        keep_off = f"keep the line off this platform ({line}{marker})" if marker else None
        return (
            ", or ".join(part for part in (keep_off, older) if part)
            or f"no release of {found.name} installs on {where}"
        )
    if older:
        return older
    advice = _pythons_of(found, newest_blocked)
    python = ctx.facts.python
    return (
        f"no release of {found.name} has a wheel for Python {python} yet: {advice}, or keep the line off this "
        f"Python ({line}; python_version < '{python}')"
    )


def gpu_fix(ctx: AuditContext, name: str, first_with_wheel: Version) -> str | None:
    """Where the first release with a wheel would trade this finding for one about the GPU (torch
    2.2.0 has a cp312 wheel but no sm_120 kernels), the release and build the driver and
    GPU-architecture rules offer; for a package that fix moves too (torchvision, torchtext), that
    same fix, when the package it moves with does not run here either. None where the plain move
    is the fix."""
    from envdoctor.rules.stack import runnable

    if not _runs_on_the_gpus(ctx, name, first_with_wheel):
        moved = runnable(ctx, name, within_set=False)
        if moved is not None:
            where = ctx.facts.describe()
            return f"{moved.install()} (a release with a wheel for {where} and a build that runs on its GPUs)"
    for parent in ctx.wanted():
        version = ctx.version_of(parent.name or "")
        if parent.name in (None, name) or parent.required_by is not None or version is None:
            continue
        if _runs_on_the_gpus(ctx, parent.name, version):
            continue
        moved = runnable(ctx, parent.name, within_set=False)
        if moved is None:
            continue
        if any(c.split("=")[0] == name for c in (*moved.companions, *moved.moved)):
            return f"move with {parent.name}: {moved.install()}"
        declared = ctx.declared_on(parent.name, Version(moved.version.public), name)
        if str(declared):
            # What the offered release itself requires (torch 2.11.0 pins its triton): pip installs that.
            return f"move with {parent.name}: {moved.install()}, which installs {name}{declared}"
    return None


def _runs_on_the_gpus(ctx: AuditContext, name: str, version: Version) -> bool:
    """Whether some build of the release runs on the host's driver and GPUs; True where the host
    has no NVIDIA GPU known or the base has no build model of the package."""
    nvidia = ctx.host.driver
    if nvidia is None or nvidia.driver is None or not nvidia.capabilities:
        return True
    where = ctx.where_of(ctx.find(name))
    if builds.build_of(name, version, where) is None:
        return True
    return builds.best_build(name, version, where, nvidia.driver, nvidia.capabilities) is not None


def _pythons_of(found: Candidates, version: Version) -> str:
    """Which Pythons the release does have wheels for, as advice."""
    release = kb_releases.release(found.name, version)
    if release is None or not release.pythons:
        return "use a Python it supports"
    newest = max(release.pythons, key=Version)
    return f"use Python {newest} (the newest {found.name} {version} has wheels for)"


_SYS_PLATFORM = {"linux": "linux", "macos": "darwin", "windows": "win32"}
_MACHINE = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "arm64"}


def _has_wheels(found: Candidates, version: Version) -> bool:
    """Whether the release has any wheel (an sdist-only release is no fix for a missing wheel)."""
    release = kb_releases.release(found.name, version)
    return release is None or bool(release.platforms)


def _marker_off(ctx: AuditContext, release: kb_releases.Release | None) -> str | None:
    """An environment marker false on this host's OS (and architecture, where the release has
    wheels for another architecture of that OS), true elsewhere."""
    system = _SYS_PLATFORM.get(ctx.facts.os or "")
    if system is None:
        return None
    machine = ctx.marker_environment() or {}
    other_arch = release is not None and any(p.startswith(f"{ctx.facts.os}-") for p in release.platforms)
    if other_arch and ctx.facts.arch and "platform_machine" in machine:
        return f"; sys_platform != '{system}' or platform_machine != '{machine['platform_machine']}'"
    return f"; sys_platform != '{system}'"


def _references(ctx: AuditContext, found: Candidates) -> tuple[str, ...]:
    pinned = found.versions[0] if found.exact and found.versions else None
    if pinned is not None and no_such_build(found.name, pinned, ctx.facts.os):
        return (facts.no_cuda_builds(found.name, ctx.facts.os or "", pinned) or "",)
    known = kb_releases.releases(found.name)
    return (known[-1].source,) if known else ()
