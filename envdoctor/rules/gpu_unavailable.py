"""ED103 gpu-unavailable: GPU builds where no GPU can be used; ED900 where the host's GPU is unknown."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.findings import Finding
from envdoctor.host.profile import WSL1_NO_GPU, NoNvidia
from envdoctor.kb import builds
from envdoctor.requirements.conda_fix import conda_install, dialect_of
from envdoctor.requirements.model import Requirement
from envdoctor.rules.candidates import Why, no_such_build
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import cuda_claims, package_build, runnable

CODE = "ED103"


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from _cpu_build_beside_a_gpu(ctx)
    claims = cuda_claims(ctx)
    if not claims:
        return
    # WSL 1 reaches no GPU whatever its driver: a profile given with --wsl 1 is judged as the probe's.
    absent = isinstance(ctx.host.nvidia, NoNvidia) or ctx.host.os == "macos" or ctx.host.wsl == 1
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
    default = "macOS has no NVIDIA driver" if ctx.host.os == "macos" else "no usable NVIDIA driver"
    reason = ctx.host.reasons.get("nvidia", WSL1_NO_GPU if ctx.host.wsl == 1 else default)
    remedy = "move to WSL 2" if ctx.host.wsl == 1 else "give the host a GPU"
    # What does not install here at all is ED301's or ED302's finding, not this one.
    claims = [claim for claim in claims if not _does_not_install(ctx, claim.requirement.name or "")]
    # The set's own nvidia-* lines (a frozen torch environment's dozen) are one finding, at the first.
    libraries = [c for c in claims if c.requirement.required_by is None and builds.is_cuda_library(c.what.split()[0])]
    for claim in [c for c in claims if c not in libraries] + libraries[:1]:
        what = claim.what
        if claim in libraries and len(libraries) > 1:
            names = ", ".join(c.requirement.name or "" for c in libraries)
            what = f"the set's {len(libraries)} NVIDIA CUDA library wheels ({names})"
        yield ctx.finding(
            CODE,
            f"{what} {'are CUDA builds' if what != claim.what else 'is a CUDA build'}, but the host has no NVIDIA "
            f"GPU it can use ({reason}): {'their' if what != claim.what else 'its'} GPU code cannot run here",
            requirement=claim.requirement,
            packages=tuple(c.requirement.describe() for c in (libraries if what != claim.what else [claim])),
            fix=_fix(ctx, claim.requirement, remedy)
            if what == claim.what
            else f"leave them out of this host's requirements (an environment marker), or {remedy}",
        )


def _does_not_install(ctx: AuditContext, name: str) -> bool:
    """Whether the package's candidates are all excluded on the host for want of a distribution
    (not merely built from source): it does not install here at all."""
    from envdoctor.rules.platform_support import no_platform

    found = ctx.candidates(name)
    if found.exact and found.versions and no_such_build(name, found.versions[0], ctx.facts.os):
        return True
    if no_platform(ctx, name) is not None:
        return True
    return bool(found.tracked and found.excluded and not found.versions) or bool(
        found.exact and found.excluded and found.excluded[0].why is not Why.FROM_SOURCE
    )


def _cpu_build_beside_a_gpu(ctx: AuditContext) -> Iterator[Finding]:
    """A package whose build for this platform is CPU-only though it has GPU builds elsewhere
    (PyPI's torch for Windows; TensorFlow after 2.10 on native Windows): on a host with an NVIDIA
    GPU, the GPU goes unused."""
    if ctx.host.driver is None or ctx.host.os == "macos":
        return
    for requirement in ctx.wanted():
        build = package_build(ctx, requirement.name or "")
        if build is None or build.requirement is not requirement or build.build.gpu_elsewhere is None:
            continue
        found = runnable(ctx, requirement.name or "")
        fix = f"install {found.offer()}" if found else build.build.gpu_elsewhere
        yield ctx.finding(
            CODE,
            f"{build.describe()}: the host's NVIDIA GPU goes unused",
            requirement=requirement,
            fix=fix,
            references=build.references,
        )


def _fix(ctx: AuditContext, requirement: Requirement, remedy: str) -> str:
    """The CPU build of the package, where the base knows one: without the extra that brings CUDA,
    or from the PyTorch CPU index; else a marker that leaves it out of this host's set."""
    name = requirement.name or ""
    version = ctx.version_of(name)
    if requirement.extras and version is not None:
        plain = builds.build_of(name, version, ctx.where())
        if plain is None or plain.cuda is None or plain.gpu_optional:
            extras = ",".join(sorted(requirement.extras))
            return f"install {name} without [{extras}], its CPU build, or {remedy}"
    dialect = dialect_of(requirement)
    if dialect.conda and version is not None:
        # A conda environment selects the CPU build with conda specs, not from pip's CPU index.
        specs, what = conda_install(
            [f"{name}=={version.public}"], package=name, version=version.public, variant="cpu", cuda=None,
            channel=dialect.channel,
        )  # fmt: skip
        if what:
            return f"install the CPU build ({specs}), or {remedy}"
    cpu_index = builds.cpu_index(name)
    if cpu_index is not None:
        return f"install the CPU build ({name} from {cpu_index}), or {remedy}"
    return f"leave {name} out of this host's requirements (an environment marker), or {remedy}"
