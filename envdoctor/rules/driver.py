"""ED101 driver-too-old: a CUDA build needs a newer NVIDIA driver than the host has."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from envdoctor.audit.context import AuditContext
from envdoctor.audit.stack import CudaClaim, TorchBuild, cuda_claims, runnable_torch, system_cuda_claims, torch_build
from envdoctor.findings import Finding, Severity
from envdoctor.kb import facts

CODE = "ED101"


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if nvidia is None:
        return
    torch = torch_build(ctx)
    wheel_claims = cuda_claims(ctx)
    for claim in [*wheel_claims, *system_cuda_claims(ctx)]:
        cuda = claim.cuda if "." in claim.cuda else f"{claim.cuda}.0"
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


def _fix(ctx: AuditContext, claim: CudaClaim, torch: TorchBuild | None, minimum: str) -> str:
    upgrade = f"upgrade the NVIDIA driver to >= {minimum}"
    if torch is None or claim.requirement is not torch.requirement:
        return f"{upgrade}, or install a build of {claim.requirement.name} for a CUDA the driver runs"
    runnable = runnable_torch(ctx)
    if runnable is None:
        return upgrade
    return f"install the {runnable.variant} build ({runnable.install()}) or {upgrade}"
