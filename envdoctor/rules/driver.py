"""ED101 driver-too-old: a CUDA build needs a newer NVIDIA driver than the host has."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.findings import Finding, Severity
from envdoctor.kb import builds, facts
from envdoctor.kb.check import major_minor
from envdoctor.rules.candidates import candidates
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import (
    CudaClaim,
    PackageBuild,
    cuda_claims,
    runnable_torch,
    system_cuda_claims,
    torch_build,
)

CODE = "ED101"


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if nvidia is None or ctx.host.wsl == 1:
        return  # WSL 1 reaches no GPU whatever its driver (ED103 says so): no driver to upgrade
    yield from _base_image(ctx, nvidia.driver)
    torch = torch_build(ctx)
    wheel_claims = cuda_claims(ctx)
    for claim in [*wheel_claims, *system_cuda_claims(ctx)]:
        cuda = _dotted(claim.cuda)
        need = facts.driver_need(cuda)
        if need is None:
            continue
        if nvidia.driver is not None:
            try:
                too_old = Version(nvidia.driver) < Version(need.minimum)
            except InvalidVersion:
                continue
            has = f"host has {nvidia.driver}"
        elif nvidia.cuda is not None:
            # Without the driver's version, its CUDA tells: another major cannot run.
            too_old = int(nvidia.cuda.split(".")[0]) < int(cuda.split(".")[0])
            has = f"the host's driver supports CUDA {nvidia.cuda}"
        else:
            continue
        if not too_old:
            continue
        message = (
            f"{claim.what} needs NVIDIA driver >= {need.minimum} (CUDA {need.cuda}; {need.full} for its full "
            f"feature set); {has}"
        )
        yield ctx.finding(
            CODE,
            message,
            requirement=claim.requirement,
            fix=_fix(ctx, claim, torch, need.minimum),
            references=(*need.sources, *claim.references),
            # Without [and-cuda], TensorFlow still runs on the CPU: a warning, not an error.
            severity=None if claim in wheel_claims else Severity.WARNING,
        )


def _base_image(ctx: AuditContext, driver: str | None) -> Iterator[Finding]:
    """A CUDA base image whose NVIDIA_REQUIRE_CUDA the host's driver does not meet: the NVIDIA
    container runtime refuses to start it ("unsatisfied condition: cuda>=13.2")."""
    images = ctx.requirements.images
    final = images[-1] if images else None
    if driver is None or final is None or final.tag is None or final.repository not in _CUDA_IMAGES:
        return
    row = facts.base_image("nvidia/cuda", final.tag)
    driver_cuda = facts.cuda_of_driver(driver)
    if row is None or "require_cuda" not in row or driver_cuda is None:
        return
    if facts.container_admits(row["require_cuda"], driver, driver_cuda) is not False:
        return
    required = row["require_cuda"].split()[0]
    need = facts.driver_need(major_minor(str(row["cuda"])))
    upgrade = f"upgrade the NVIDIA driver to >= {need.full}" if need else "upgrade the NVIDIA driver"
    yield ctx.finding(
        CODE,
        f"the base image {final.reference} requires {required} (NVIDIA_REQUIRE_CUDA), and the host's driver "
        f"{driver} supports CUDA {driver_cuda}: the NVIDIA container runtime refuses to start it",
        location=final.location,
        fix=f"use an nvidia/cuda image for CUDA {driver_cuda} or older, or {upgrade}",
        references=(row["source"], facts.CONTAINER_REQUIREMENTS_URL, *(need.sources if need else ())),
    )


_CUDA_IMAGES = ("nvidia/cuda", "docker.io/nvidia/cuda", "nvcr.io/nvidia/cuda")


def _fix(ctx: AuditContext, claim: CudaClaim, torch: PackageBuild | None, minimum: str) -> str:
    upgrade = f"upgrade the NVIDIA driver to >= {minimum}"
    if torch is None or claim.requirement is not torch.requirement:
        older = _release_the_driver_runs(ctx, claim.requirement.name or "")
        if older:
            return f"{upgrade}, or install {older}"
        return f"{upgrade}: no release of {claim.requirement.name} the base knows is built for a CUDA this driver runs"
    runnable = runnable_torch(ctx)
    if runnable is not None:
        return f"install the {runnable.variant} build ({runnable.install()}) or {upgrade}"
    elsewhere = runnable_torch(ctx, within_set=False)
    if elsewhere is not None:
        return f"{upgrade}, or move to a torch with a build this driver runs: {elsewhere.install()}"
    return upgrade


def _release_the_driver_runs(ctx: AuditContext, name: str) -> str | None:
    """The newest release of ``name`` that installs on the host and whose build the driver runs."""
    nvidia = ctx.host.driver
    if nvidia is None or nvidia.driver is None:
        return None
    requirement = ctx.find(name)
    where = ctx.where(requirement.extras if requirement else frozenset())
    for version in candidates(canonicalize_name(name), SpecifierSet(), ctx.facts).versions:
        build = builds.build_of(name, version, where)
        if build is not None and build.cuda is not None and facts.driver_runs(nvidia.driver, _dotted(build.cuda)):
            return f"{name}=={version} (a CUDA {build.cuda} build)"
    return None


def _dotted(cuda: str) -> str:
    return cuda if "." in cuda else f"{cuda}.0"
