"""What the knowledge base adds to a resolution: constraints the metadata lacks, and which CUDA
build of torch a target gets, from which index."""

from __future__ import annotations

from typing import NamedTuple

from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.errors import EnvdoctorError
from envdoctor.host.profile import HostProfile, NoNvidia
from envdoctor.kb import builds, facts
from envdoctor.requirements.model import RequirementSet

PYTORCH_INDEX = "https://download.pytorch.org/whl"
TORCH_FAMILY = ("torch", *facts.TORCH_COMPANIONS)


class Constraint(NamedTuple):
    requirement: str
    reason: str


class TorchIndex(NamedTuple):
    """The PyTorch wheel index of one build variant, serving the torch family and nothing else."""

    variant: str
    url: str
    packages: tuple[str, ...]
    reason: str


class Steering(NamedTuple):
    constraints: tuple[Constraint, ...] = ()
    torch_index: TorchIndex | None = None
    notes: tuple[str, ...] = ()
    # Requirements written anew for the target: (as written, as locked, why).
    rewrites: tuple[tuple[str, str, str], ...] = ()


class SteeringError(EnvdoctorError):
    """The knowledge base says no build can work on the target: the lock is refused."""


def steer(requirements: RequirementSet, host: HostProfile, target_python: str, pytorch_base: str) -> Steering:
    wanted = {str(r.name) for r in requirements.named() if r.name}
    pinned: dict[str, Version] = {}
    for requirement in requirements.requirements:
        if requirement.name and requirement.pinned_version is not None:
            # A pin asked for wins over a constraint's.
            if requirement.constraint:
                pinned.setdefault(str(requirement.name), requirement.pinned_version)
            else:
                pinned[str(requirement.name)] = requirement.pinned_version
    constraints: list[Constraint] = []
    notes: list[str] = []
    torch_index = None
    rewrites: list[tuple[str, str, str]] = []
    if "torch" in wanted:
        torch = pinned.get("torch") or facts.newest_torch(requirements.specifier_of("torch"), target_python)
        if torch is not None:
            torch_index = _torch_index(host, torch, pinned.get("torch"), pytorch_base, wanted)
            constraints += _torch_constraints(torch, pinned, wanted)
            rewrites += _relabel(requirements, torch_index)
        else:
            notes.append(f"no torch release in the knowledge base supports Python {target_python}")
    if "jax" in pinned:
        constraints += _jax_constraints(pinned["jax"])
    constraints += _known_conflicts(pinned, wanted)
    unique = tuple(dict((c.requirement, c) for c in constraints).values())
    return Steering(unique, torch_index, tuple(notes), tuple(rewrites))


def _relabel(requirements: RequirementSet, index: TorchIndex | None) -> list[tuple[str, str, str]]:
    """Pins of the torch family naming another build (+cu121) than the one chosen get its label."""
    if index is None:
        return []
    found = []
    for requirement in requirements.named():
        version = requirement.pinned_version
        if (
            requirement.name in index.packages
            and version is not None
            and version.local
            and version.local != index.variant
        ):
            new = f"{requirement.name}=={version.public}+{index.variant}"
            why = f"the {version.local} build cannot run on the target; the same release's {index.variant} build can"
            found.append((requirement.text, new, why))
    return found


def _torch_index(
    host: HostProfile, torch: Version, pin: Version | None, base: str, wanted: set[str]
) -> TorchIndex | None:
    release = facts.torch_release(torch)
    packages = tuple(name for name in TORCH_FAMILY if name in wanted)
    if host.os not in ("linux", "windows") or release is None:
        return None
    if pin is not None and pin.local and _runnable(host, pin.local) is not False:
        variant = pin.local
        reason = f"torch is pinned to the {variant} build"
    elif isinstance(host.nvidia, NoNvidia):
        variant, reason = "cpu", "the target has no usable NVIDIA GPU"
    elif host.driver is None or host.driver.driver is None:
        return None
    else:
        variant = _best_variant(host, torch, release["variants"])
        nvidia = host.driver
        capabilities = ", ".join(sorted({g.compute_capability for g in nvidia.gpus or () if g.compute_capability}))
        gpus = f" and carries kernels for its GPUs ({capabilities})" if capabilities else ""
        reason = (
            f"torch {torch.public}: the newest build whose CUDA the driver {nvidia.driver} runs{gpus} "
            f"({facts.cuda_of_torch_variant(variant)})"
        )
    return TorchIndex(variant, f"{base.rstrip('/')}/{variant}", packages, reason)


def _best_variant(host: HostProfile, torch: Version, variants: list[str]) -> str:
    nvidia = host.driver
    assert nvidia is not None and nvidia.driver is not None
    capabilities = [g.compute_capability for g in nvidia.gpus or () if g.compute_capability]
    best = builds.best_build("torch", torch, builds.Where(host.os, host.arch), nvidia.driver, capabilities)
    if best is None or best.variant is None:
        raise SteeringError(
            f"no CUDA build of torch {torch.public} ({', '.join(variants)}) runs on driver {nvidia.driver}"
            + (f" with GPUs of compute capability {', '.join(capabilities)}" if capabilities else "")
            + ": upgrade the driver, or pin another torch release"
        )
    return best.variant


def _runnable(host: HostProfile, variant: str) -> bool | None:
    nvidia = host.driver
    cuda = facts.cuda_of_torch_variant(variant)
    if nvidia is None or nvidia.driver is None or cuda is None:
        return None
    return facts.driver_runs(nvidia.driver, cuda)


def _torch_constraints(torch: Version, pinned: dict[str, Version], wanted: set[str]) -> list[Constraint]:
    """What the torch the target gets brings: numpy<2 for a NumPy 1.x build, and, for a pinned
    torch, the companions released with it (the same knowledge the audit's rules read)."""
    found = [
        Constraint(c.fix, f"torch {torch.public} {c.message.removeprefix('torch ')} ({c.source})")
        for c in facts.known_conflicts()
        if c.package == "torch" and c.kind == "numpy2-abi" and c.versions.contains(Version(torch.public), True)
    ]
    if "torch" in pinned:
        for step in facts.lockstep("torch", torch):
            if step.companion in wanted and step.companion not in pinned:
                reason = f"released with torch {torch.public} ({step.source})"
                found.append(Constraint(f"{step.companion}{step.specifier}", reason))
    return found


def _jax_constraints(jax: Version) -> list[Constraint]:
    found = []
    for step in facts.lockstep("jax", jax):
        why = "needs it" if step.companion == "jaxlib" else "moves in lockstep with"
        reason = f"jax {jax} {why} ({step.source})" if why == "needs it" else f"{why} jax {jax} ({step.source})"
        found.append(Constraint(f"{step.companion}{step.specifier}", reason))
    return sorted(found, key=lambda c: (not c.requirement.startswith("jaxlib"), c.requirement))


def _known_conflicts(pinned: dict[str, Version], wanted: set[str]) -> list[Constraint]:
    found = []
    for row in facts.conflicts():
        version = pinned.get(row["package"])
        if version is None or not SpecifierSet(row["versions"]).contains(Version(version.public), prereleases=True):
            continue
        fix = Pep508(row["fix"])
        if fix.name == row["package"] or fix.extras or (fix.name not in wanted and fix.name != "numpy"):
            continue
        found.append(Constraint(f"{fix.name}{fix.specifier}", f"{row['package']} {version}: {row['message']}"))
    return found
