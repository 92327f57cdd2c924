"""The build of each GPU package of a requirement set on a host, as the knowledge base's one build
model (``kb/builds.py``) tells it, with the line that asked for it and what was considered."""

from __future__ import annotations

from typing import NamedTuple

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.kb import builds, facts
from envdoctor.kb.builds import Build
from envdoctor.requirements.model import Requirement
from envdoctor.rules.candidates import candidates
from envdoctor.rules.context import AuditContext


class PackageBuild(NamedTuple):
    """The build a requirement installs on the host."""

    requirement: Requirement
    build: Build
    # For a version that is not pinned, what was considered ("torch>=2.0 on Linux x86_64, Python
    # 3.12 resolves today to 2.15.0"); None for a pin or the resolver's pick.
    considered: str | None = None

    @property
    def version(self) -> Version:
        # Builds of packages the rules judge by version (torch) always have one.
        assert self.build.version is not None
        return self.build.version

    @property
    def variant(self) -> str | None:
        return self.build.variant

    @property
    def cuda(self) -> str | None:
        return self.build.cuda

    @property
    def how(self) -> str:
        return self.build.how

    @property
    def references(self) -> tuple[str, ...]:
        return self.build.sources

    @property
    def from_pypi(self) -> bool:
        return self.build.from_pypi

    def describe(self) -> str:
        subject = self.considered or f"{self.build.package}{f' {self.build.version}' if self.build.version else ''}"
        variant = f"{self.variant} build, " if self.variant else ""
        return f"{subject} ({variant}from {self.how})" if self.variant or self.cuda or self.build.cpu_only else subject


class CudaClaim(NamedTuple):
    """A package build that needs the CUDA ``cuda`` (major.minor, or a major alone)."""

    requirement: Requirement
    cuda: str
    what: str
    references: tuple[str, ...] = ()
    # Whether it loads shared CUDA libraries (wheels' or the system's) into the process, where
    # another CUDA major's can clash; False for a build that links its CUDA runtime in.
    shared: bool = True
    # Whether it brings its CUDA libraries as wheels (nvidia-* wheels, torch's own): what a CUDA
    # base image or a system CUDA on LD_LIBRARY_PATH duplicates or shadows.
    brings_wheels: bool = False


def package_build(ctx: AuditContext, name: str, version: Version | None = None) -> PackageBuild | None:
    """The build of ``name`` installed on the host: of ``version`` if given, else of the version
    the audit judges (a pin, the resolver's pick, or the newest candidate)."""
    key = ("build", name, str(version))
    if key not in ctx.memo:
        ctx.memo[key] = _package_build(ctx, name, version)
    found = ctx.memo[key]
    assert found is None or isinstance(found, PackageBuild)
    return found


def _package_build(ctx: AuditContext, name: str, version: Version | None) -> PackageBuild | None:
    requirement = ctx.find(name)
    version = version or ctx.version_of(name)
    if requirement is None:
        return None
    build = builds.build_of(name, version, ctx.where(requirement.extras))
    if build is None:
        return None
    considered = None if ctx.candidates(name).exact or version is None else ctx.subject(name, version)
    return PackageBuild(requirement, build, considered)


def torch_build(ctx: AuditContext, version: Version | None = None) -> PackageBuild | None:
    return package_build(ctx, "torch", version)


def torch_builds(ctx: AuditContext) -> list[PackageBuild]:
    """The build of every torch release the requirement can become on the host, newest first."""
    return [build for version in ctx.candidates("torch").versions if (build := torch_build(ctx, version))]


class RunnableTorch(NamedTuple):
    version: Version
    variant: str
    # The companions the set asks for, at the release that goes with this torch: (name, version).
    companions: tuple[tuple[str, str], ...] = ()

    def install(self) -> str:
        """The fix as a user writes it: the pins, companions moved with torch, and the index that
        serves that build."""
        pins = [f"torch=={self.version.public}+{self.variant}"]
        pins += [f"{name}=={version}+{self.variant}" for name, version in self.companions]
        return f"{' '.join(pins)} from {facts.pytorch_index_url(self.variant)}"


def runnable_torch(ctx: AuditContext, *, within_set: bool = True) -> RunnableTorch | None:
    """The newest torch the requirement can become (or, ``within_set`` False, any release that
    installs here) whose build of some variant the host's driver runs with kernels for each of its
    GPUs, with the companions the set asks for moved with it: the one fix ED101, ED102 and ED103
    agree on."""
    nvidia = ctx.host.driver
    if nvidia is None or nvidia.driver is None:
        return None
    capabilities = [gpu.compute_capability for gpu in nvidia.gpus or () if gpu.compute_capability]
    found = (
        ctx.candidates("torch", moving=facts.TORCH_COMPANIONS)
        if within_set
        else candidates(canonicalize_name("torch"), SpecifierSet(), ctx.facts)
    )
    for version in found.versions:
        release = facts.torch_release(version)
        if release is None:
            continue
        variant = facts.best_torch_variant(version, release["variants"], nvidia.driver, capabilities)
        if variant is None:
            continue
        companions = tuple(
            (name, str(release[name])) for name in facts.TORCH_COMPANIONS if name in release and ctx.find(name)
        )
        return RunnableTorch(version, variant, companions)
    return None


def gpu_builds(ctx: AuditContext) -> list[PackageBuild]:
    """The build of every package of the set that needs a CUDA, in the set's order. A package
    pulled in by one whose own build the base knows (the nvidia-* wheels of tensorflow[and-cuda])
    is judged through that build, not again on its own."""
    found: list[PackageBuild] = []
    known_lines = set()
    for requirement in ctx.wanted():
        build = package_build(ctx, requirement.name or "")
        if build is None or build.requirement is not requirement:
            continue
        against = build.build.built_against
        if against is not None and ctx.find(against.name) is not None:
            continue  # compiled against the set's torch: its CUDA is that torch's, judged there
        if requirement.required_by is None and (build.cuda or build.build.cpu_only):
            known_lines.add(requirement.location)
        elif requirement.required_by and requirement.location in known_lines:
            continue
        if build.cuda is not None:
            found.append(build)
            known_lines.add(requirement.location)  # what it pulls in is judged through it
    return found


def cuda_claims(ctx: AuditContext) -> list[CudaClaim]:
    """Every package whose build brings its CUDA as wheels, or needs one it cannot run without."""
    return [_claim(b) for b in gpu_builds(ctx) if not b.build.gpu_optional]


def system_cuda_claims(ctx: AuditContext) -> list[CudaClaim]:
    """Packages that use the GPU through the system's CUDA if it is there and run on the CPU if
    not (TensorFlow without [and-cuda]): a driver too old for that CUDA loses the GPU, not the program."""
    return [_claim(b) for b in gpu_builds(ctx) if b.build.gpu_optional]


def _claim(build: PackageBuild) -> CudaClaim:
    assert build.cuda is not None
    shared = not build.build.static_cuda
    wheels = shared and not build.build.loads_system_cuda
    return CudaClaim(build.requirement, build.cuda, build.describe(), build.references, shared, wheels)


def system_cuda_users(ctx: AuditContext) -> list[PackageBuild]:
    """Builds that load CUDA from the system (or a base image) rather than bringing it. TensorFlow
    beside NVIDIA's CUDA runtime wheel (a lock of tensorflow[and-cuda]) loads the wheels: not one."""
    wheels = any(builds.is_cuda_runtime(r.name or "") and r.required_by is None for r in ctx.wanted())
    return [b for b in gpu_builds(ctx) if b.build.loads_system_cuda and not (b.build.gpu_optional and wheels)]


def cuda_major(cuda: str) -> int:
    return int(cuda.split(".", maxsplit=1)[0])
