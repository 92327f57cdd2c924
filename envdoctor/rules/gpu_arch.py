"""ED102 gpu-arch-unsupported: the build has no kernels, nor PTX to compile, for a host GPU."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import Gpu
from envdoctor.kb import Row, builds, facts
from envdoctor.rules.candidates import span
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import PackageBuild, runnable_torch, torch_build, torch_builds

CODE = "ED102"


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if nvidia is None or not nvidia.gpus:
        return
    newest = torch_build(ctx)
    if newest is None:
        return
    for gpu in nvidia.gpus:
        if gpu.compute_capability is None:
            continue
        if _lacks_kernels(newest, gpu.compute_capability):
            yield _newest_fails(ctx, newest, gpu, gpu.compute_capability)
            return
        # A fresh install runs here; older releases the range admits may not (a resolver can pick them).
        failing = [b.version for b in torch_builds(ctx) if _lacks_kernels(b, gpu.compute_capability)]
        if failing and not ctx.candidates("torch").exact and ctx.candidates("torch").bounded:
            partial = _range_fails(ctx, newest, gpu, gpu.compute_capability, failing)
            if partial is not None:
                yield partial
            return


def _arch(build: PackageBuild) -> Row | None:
    if build.variant is None or build.cuda is None:
        return None
    return facts.torch_arch(build.version, build.variant)


def _lacks_kernels(build: PackageBuild, capability: str) -> bool:
    """Whether the build cannot run on a GPU of ``capability``: its kernels and PTX do not cover
    it, or, where they are not recorded, its CUDA is too old to compile for it at all."""
    runs = builds.runs_on(build.build, capability)
    if runs is not None:
        return not runs
    return build.cuda is not None and facts.toolkit_targets(build.cuda, capability) is False


def _gpu_name(gpu: Gpu, capability: str) -> str:
    return f"{gpu.name} ({capability})" if gpu.name else f"a GPU of compute capability {capability}"


def _newest_fails(ctx: AuditContext, torch: PackageBuild, gpu: Gpu, capability: str) -> Finding:
    arch = _arch(torch)
    references: tuple[str, ...]
    if arch is not None:
        kernels = ", ".join(arch["sm"])
        ptx = f"; PTX for {', '.join(arch['ptx'])}" if arch["ptx"] else "; no PTX"
        what = f"carries kernels for compute capability {kernels}{ptx}: none runs on {_gpu_name(gpu, capability)}"
        references = (arch["source"], facts.BINARY_COMPATIBILITY_URL)
    else:
        what = (
            f"is built with CUDA {torch.cuda}, which cannot compile for compute capability {capability} "
            f"({_gpu_name(gpu, capability)})"
        )
        references = (*filter(None, [facts.architecture_source(capability)]), facts.BINARY_COMPATIBILITY_URL)
    return ctx.finding(
        CODE,
        f"{torch.describe()} {what}",
        requirement=torch.requirement,
        fix=_fix(ctx, torch, capability),
        references=references,
    )


def _range_fails(
    ctx: AuditContext, newest: PackageBuild, gpu: Gpu, capability: str, failing: list[Version]
) -> Finding | None:
    newer = [torch_build(ctx, v) for v in ctx.candidates("torch").versions if v > max(failing)]
    # A newer release counts as working only where the base knows its build has the kernels.
    known = [b for b in newer if b is not None and not b.build.unknown and builds.runs_on(b.build, capability)]
    if len(known) < len(newer):
        return None
    floor = min(b.version for b in known) if known else None
    works = f"; {floor} and newer do" if floor else ""
    fix = f"raise the floor: torch>={floor}" if floor else _fix(ctx, newest, capability)
    arch = _arch(torch_build(ctx, max(failing)))  # type: ignore[arg-type]
    return ctx.finding(
        CODE,
        f"{newest.requirement.describe()} admits torch {span(failing)}, whose builds for this host carry no kernels "
        f"for {_gpu_name(gpu, capability)}{works}: a fresh install gets {newest.version}, but a resolver held back "
        "by another requirement would not",
        requirement=newest.requirement,
        fix=fix,
        references=(arch["source"], facts.BINARY_COMPATIBILITY_URL) if arch else (facts.BINARY_COMPATIBILITY_URL,),
        severity=Severity.WARNING,
    )


def _fix(ctx: AuditContext, torch: PackageBuild, capability: str) -> str:
    runnable = runnable_torch(ctx)
    if runnable is not None:
        return f"install the {runnable.variant} build: {runnable.install()}"
    elsewhere = runnable_torch(ctx, within_set=False)
    if elsewhere is not None:
        return (
            f"no torch that {torch.requirement.describe()} admits has kernels for compute capability {capability} "
            f"in a build this driver runs; torch {elsewhere.version} has: {elsewhere.install()}"
        )
    newest_anywhere = _newest_with_kernels(capability)
    if newest_anywhere is not None:
        return (
            f"torch {newest_anywhere} has a build with kernels for compute capability {capability}; its CUDA needs a "
            "newer NVIDIA driver than the host has"
        )
    return f"no torch build the knowledge base knows supports compute capability {capability}"


def _newest_with_kernels(capability: str) -> Version | None:
    """The newest torch release with some build whose kernels run on ``capability``."""
    newest = facts.newest_torch()
    while newest is not None:
        release = facts.torch_release(newest)
        for variant in release["variants"] if release else []:
            arch = facts.torch_arch(newest, variant)
            if arch is not None and facts.kernels_run_on(capability, arch["sm"], arch["ptx"]):
                return newest
        newest = facts.newest_torch(SpecifierSet(f"<{newest}"))
    return None
