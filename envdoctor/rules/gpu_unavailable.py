"""ED103 gpu-unavailable: GPU builds where no GPU can be used; ED900 where the host's GPU is unknown."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.audit.context import AuditContext
from envdoctor.audit.stack import cuda_claims
from envdoctor.findings import Finding
from envdoctor.host.profile import NoNvidia

CODE = "ED103"


def check(ctx: AuditContext) -> Iterator[Finding]:
    claims = cuda_claims(ctx)
    if not claims:
        return
    absent = isinstance(ctx.host.nvidia, NoNvidia) or ctx.host.os == "macos"
    if ctx.host.nvidia is None and not absent:
        reason = ctx.host.reasons.get("nvidia", "the host profile does not say")
        yield ctx.finding(
            "ED900",
            f"cannot judge the CUDA builds ({claims[0].what}) against the host: its NVIDIA driver is unknown "
            f"({reason})",
            requirement=claims[0].requirement,
            fix="give the host's driver and GPUs: --host FILE from envdoctor probe, or --driver and --gpu",
        )
        return
    if not absent:
        return
    reason = ctx.host.reasons.get(
        "nvidia", "macOS has no NVIDIA driver" if ctx.host.os == "macos" else "no usable NVIDIA driver"
    )
    for claim in claims:
        yield ctx.finding(
            CODE,
            f"{claim.what} needs an NVIDIA GPU, but the host has none it can use: {reason}",
            requirement=claim.requirement,
            fix=_fix(claim.requirement.name or ""),
        )


def _fix(name: str) -> str:
    if name == "torch":
        return "install the CPU build (torch from https://download.pytorch.org/whl/cpu), or give the host a GPU"
    if name == "tensorflow":
        return "install tensorflow without [and-cuda], or give the host a GPU"
    return f"leave {name} out of this host's requirements (an environment marker), or give the host a GPU"
