"""ED101 driver-too-old: a CUDA build needs a newer NVIDIA driver than the host has."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from envdoctor.findings import Finding, Severity
from envdoctor.kb import facts
from envdoctor.kb.check import major_minor
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import CudaClaim, cuda_claims, runnable, system_cuda_claims

CODE = "ED101"


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if nvidia is None or ctx.host.wsl == 1:
        return  # WSL 1 reaches no GPU whatever its driver (ED103 says so): no driver to upgrade
    yield from _base_image(ctx, nvidia.driver)
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
            fix=_fix(ctx, claim, need.minimum),
            references=(*need.sources, *claim.references),
            # Without [and-cuda], TensorFlow still runs on the CPU: a warning, not an error.
            severity=None if claim in wheel_claims else Severity.WARNING,
        )


def _base_image(ctx: AuditContext, driver: str | None) -> Iterator[Finding]:
    """A CUDA base image whose NVIDIA_REQUIRE_CUDA the host's driver does not meet: the NVIDIA
    container runtime refuses to start it ("unsatisfied condition: cuda>=13.2")."""
    images = ctx.requirements.images
    final = images[-1] if images else None
    image = facts.cuda_image(final.repository, final.tag) if driver is not None and final is not None else None
    driver_cuda = facts.cuda_of_driver(driver) if driver is not None else None
    if image is None or image.require_cuda is None or image.cuda is None or driver is None or driver_cuda is None:
        return
    assert final is not None
    if facts.container_admits(image.require_cuda, driver, driver_cuda) is not False:
        return
    required = image.require_cuda.split()[0]
    need = facts.driver_need(major_minor(image.cuda))
    upgrade = f"upgrade the NVIDIA driver to >= {need.full}" if need else "upgrade the NVIDIA driver"
    yield ctx.finding(
        CODE,
        f"the base image {final.reference} requires {required} (NVIDIA_REQUIRE_CUDA), and the host's driver "
        f"{driver} supports CUDA {driver_cuda}: the NVIDIA container runtime refuses to start it",
        location=final.location,
        fix=f"use an nvidia/cuda image for CUDA {driver_cuda} or older, or {upgrade}",
        references=(*filter(None, [image.source]), facts.CONTAINER_REQUIREMENTS_URL, *(need.sources if need else ())),
    )


def _fix(ctx: AuditContext, claim: CudaClaim, minimum: str) -> str:
    upgrade = f"upgrade the NVIDIA driver to >= {minimum}"
    name = claim.requirement.name or ""
    found = runnable(ctx, name)
    if found is not None:
        return f"install {found.offer()} or {upgrade}"
    elsewhere = runnable(ctx, name, within_set=False)
    if elsewhere is not None:
        return f"{upgrade}, or move to a {name} with a build this driver runs: {elsewhere.install()}"
    return f"{upgrade}: no release of {name} the base knows is built for a CUDA this driver runs"


def _dotted(cuda: str) -> str:
    return cuda if "." in cuda else f"{cuda}.0"
