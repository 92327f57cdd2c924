"""ED102 gpu-arch-unsupported: the build has no kernels, nor PTX to compile, for a host GPU."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import Gpu
from envdoctor.kb import builds, facts
from envdoctor.kb.builds import Build
from envdoctor.rules.candidates import candidates, span
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import PackageBuild, builds_over_candidates, package_build, runnable

CODE = "ED102"


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if nvidia is None or not nvidia.gpus:
        return
    gpus = [(gpu, gpu.compute_capability) for gpu in nvidia.gpus if gpu.compute_capability]
    yield from _base_image(ctx, gpus)
    for newest in _gpu_package_builds(ctx):
        yield from _judge(ctx, newest, gpus)


def _base_image(ctx: AuditContext, gpus: list[tuple[Gpu, str]]) -> Iterator[Finding]:
    """A base image whose release notes name an oldest GPU newer than one of the host's."""
    final, image = ctx.requirements.final_base(), ctx.base_facts
    if final is None or image is None or image.min_capability is None:
        return
    for gpu, capability in gpus:
        if facts.capability_below(capability, image.min_capability):
            yield ctx.finding(
                CODE,
                f"the base image {final.reference} supports GPUs of compute capability {image.min_capability} and "
                f"newer (its release notes), not {_gpu_name(gpu, capability)}",
                location=final.location,
                fix="use an older release of the image that still supports this GPU",
                references=tuple(filter(None, [image.source])),
            )
            return


def _gpu_package_builds(ctx: AuditContext) -> list[PackageBuild]:
    """The build of each package of the set that runs GPU code. What a GPU package pulls in (the
    nvidia-* wheels of torch) is judged through it, not on its own."""
    found = []
    judged_lines = set()
    for requirement in ctx.wanted():
        build = package_build(ctx, requirement.name or "")
        known = build is not None and (build.cuda or build.build.kernels or build.build.min_capability)
        if build is None or build.requirement is not requirement or not known:
            continue
        if requirement.required_by is not None and requirement.location in judged_lines:
            continue
        found.append(build)
        judged_lines.add(requirement.location)
    return found


def _judge(ctx: AuditContext, newest: PackageBuild, gpus: list[tuple[Gpu, str]]) -> Iterator[Finding]:
    name = str(newest.build.package)
    for gpu, capability in gpus:
        if builds.lacks_kernels(newest.build, capability):
            yield _newest_fails(ctx, newest, gpu, capability)
            return
        if newest.build.variant is not None and builds.runs_on(newest.build, capability) is None:
            yield _kernels_unknown(ctx, newest)
            return
        # A fresh install runs here; older releases the range admits may not (a resolver can pick them).
        found = ctx.candidates(name)
        if found.exact or not found.bounded:
            continue
        failing = [b.version for b in builds_over_candidates(ctx, name) if builds.lacks_kernels(b.build, capability)]
        if failing:
            partial = _range_fails(ctx, newest, gpu, capability, failing)
            if partial is not None:
                yield partial
            return


def _kernels_unknown(ctx: AuditContext, build: PackageBuild) -> Finding:
    """A variant build whose arch list the base does not record: whether it runs on the host's
    GPUs is not judged, and says so rather than pass in silence."""
    return ctx.finding(
        "ED900",
        f"which GPUs {build.describe()} carries kernels for is not recorded in the knowledge base: its GPU support "
        "is not judged",
        requirement=build.requirement,
        fix="pin a build the knowledge base records (envdoctor kb show), or check the architectures the installed "
        "build lists on the host",
    )


def _gpu_name(gpu: Gpu, capability: str) -> str:
    return f"{gpu.name} ({capability})" if gpu.name else f"a GPU of compute capability {capability}"


def _what_it_carries(build: Build, gpu: Gpu, capability: str) -> str:
    """What the build runs on, against the GPU: its kernels and PTX, its oldest GPU, or its CUDA."""
    if build.kernels is not None:
        kernels = ", ".join(build.kernels)
        ptx = f"; PTX for {', '.join(build.ptx)}" if build.ptx else "; no PTX"
        return f"carries kernels for compute capability {kernels}{ptx}: none runs on {_gpu_name(gpu, capability)}"
    if build.min_capability is not None:
        return f"supports GPUs of compute capability {build.min_capability} and newer, not {_gpu_name(gpu, capability)}"
    return (
        f"is built with CUDA {build.cuda}, which cannot compile for compute capability {capability} "
        f"({_gpu_name(gpu, capability)})"
    )


def _references(build: Build, capability: str) -> tuple[str, ...]:
    if build.kernels is not None or build.min_capability is not None:
        return (*build.sources, facts.BINARY_COMPATIBILITY_URL)
    return (*filter(None, [facts.architecture_source(capability)]), facts.BINARY_COMPATIBILITY_URL)


def _newest_fails(ctx: AuditContext, newest: PackageBuild, gpu: Gpu, capability: str) -> Finding:
    return ctx.finding(
        CODE,
        f"{newest.describe()} {_what_it_carries(newest.build, gpu, capability)}",
        requirement=newest.requirement,
        fix=_fix(ctx, newest, capability),
        references=_references(newest.build, capability),
    )


def _range_fails(
    ctx: AuditContext, newest: PackageBuild, gpu: Gpu, capability: str, failing: list[Version]
) -> Finding | None:
    name = str(newest.build.package)
    newer = [package_build(ctx, name, v) for v in ctx.candidates(name).versions if v > max(failing)]
    # A newer release counts as working only where the base knows its build has the kernels.
    known = [b for b in newer if b is not None and not b.build.unknown and builds.runs_on(b.build, capability)]
    if len(known) < len(newer):
        return None
    floor = min(b.version for b in known) if known else None
    works = f"; {floor} and newer do" if floor else ""
    fix = f"raise the floor: {name}>={floor}" if floor else _fix(ctx, newest, capability)
    oldest = package_build(ctx, name, max(failing))
    return ctx.finding(
        CODE,
        f"{newest.requirement.describe()} admits {name} {span(failing)}, whose builds for this host carry no "
        f"kernels for {_gpu_name(gpu, capability)}{works}: a fresh install gets {newest.version}, but a resolver "
        "held back by another requirement would not",
        requirement=newest.requirement,
        fix=fix,
        references=_references(oldest.build, capability) if oldest else (facts.BINARY_COMPATIBILITY_URL,),
        severity=Severity.WARNING,
    )


def _fix(ctx: AuditContext, newest: PackageBuild, capability: str) -> str:
    name = str(newest.build.package)
    found = runnable(ctx, name)
    if found is not None:
        return f"install {found.offer()}"
    elsewhere = runnable(ctx, name, within_set=False)
    if elsewhere is not None:
        return (
            f"no {name} release the set admits has kernels for compute capability {capability} "
            f"in a build this driver runs; {name} {elsewhere.version} has: {elsewhere.install()}"
        )
    newest_anywhere = _newest_with_kernels(ctx, name, capability)
    if newest_anywhere is not None:
        return (
            f"{name} {newest_anywhere} has a build with kernels for compute capability {capability}; its CUDA needs "
            "a newer NVIDIA driver than the host has"
        )
    untracked = _range_with_kernels(name, capability) if not ctx.candidates(name).tracked else None
    if untracked is not None:
        return f"{name}{untracked} carries kernels for compute capability {capability}: pin {name}{untracked}"
    floor = f" (its builds need compute capability {newest.build.min_capability} or newer)"
    return (
        f"no build of {name} the knowledge base knows runs on compute capability {capability}"
        f"{floor if newest.build.min_capability else ''}: leave it out of this host's requirements"
    )


def _newest_with_kernels(ctx: AuditContext, name: str, capability: str) -> Version | None:
    """The newest release of ``name`` installable here with some build known to run on ``capability``."""
    where = ctx.where()
    for version in candidates(canonicalize_name(name), SpecifierSet(), ctx.facts).versions:
        if any(builds.supports(b, capability) for b in builds.release_builds(name, version, where)):
            return version
    return None


def _range_with_kernels(name: str, capability: str) -> SpecifierSet | None:
    """For a package whose releases the base does not track: the newest range of releases its
    kernels rows say run on ``capability``."""
    ranges = [spec for spec, kernels in facts.kernels_ranges(name) if kernels.supports(capability)]
    return ranges[0] if ranges else None
