"""ED102 gpu-arch-unsupported: the build has no kernels, nor PTX to compile, for a host GPU."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import Version

from envdoctor.audit.context import AuditContext
from envdoctor.audit.stack import TorchBuild, torch_build
from envdoctor.findings import Finding
from envdoctor.kb import facts

CODE = "ED102"


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    torch = torch_build(ctx)
    if nvidia is None or not nvidia.gpus or torch is None or torch.variant is None or torch.cuda is None:
        return
    arch = facts.torch_arch(torch.version, torch.variant)
    if arch is None:
        return
    for gpu in nvidia.gpus:
        capability = gpu.compute_capability
        if capability is None or facts.kernels_run_on(capability, arch["sm"], arch["ptx"]):
            continue
        name = f"{gpu.name} ({capability})" if gpu.name else f"a GPU of compute capability {capability}"
        kernels = ", ".join(arch["sm"])
        ptx = f"; PTX for {', '.join(arch['ptx'])}" if arch["ptx"] else "; no PTX"
        yield ctx.finding(
            CODE,
            f"{torch.describe()} carries kernels for compute capability {kernels}{ptx}: none runs on {name}",
            requirement=torch.requirement,
            fix=_fix(ctx, torch, capability),
            references=(arch["source"], facts.BINARY_COMPATIBILITY_URL),
        )


def _fix(ctx: AuditContext, torch: TorchBuild, capability: str) -> str:
    release = facts.torch_release(torch.version)
    nvidia = ctx.host.driver
    covering = []
    for variant in release["variants"] if release else []:
        arch = facts.torch_arch(torch.version, variant)
        cuda = facts.cuda_of_torch_variant(variant)
        if arch is None or cuda is None or not facts.kernels_run_on(capability, arch["sm"], arch["ptx"]):
            continue
        if nvidia is not None and nvidia.driver is not None and facts.driver_runs(nvidia.driver, cuda) is False:
            continue
        covering.append((Version(cuda), variant))
    if not covering:
        return f"no build of torch {torch.version.public} supports compute capability {capability}; use another release"
    variant = max(covering)[1]
    return (
        f"install the {variant} build: torch=={torch.version.public}+{variant} from "
        f"https://download.pytorch.org/whl/{variant}"
    )
