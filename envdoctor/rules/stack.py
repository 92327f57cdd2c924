"""The build of each GPU package of a requirement set on a host, as the knowledge base's one build
model (``kb/builds.py``) tells it, with the line that asked for it and what was considered."""

from __future__ import annotations

import re
from typing import NamedTuple

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from envdoctor.kb import builds, facts
from envdoctor.kb import releases as kb_releases
from envdoctor.kb.builds import Build
from envdoctor.requirements.conda_fix import PIP, Dialect, conda_install, conda_spec, dialect_of
from envdoctor.requirements.model import Requirement
from envdoctor.rules.candidates import candidates, nearest
from envdoctor.rules.context import AuditContext
from envdoctor.rules.edits import runnable_edits


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
        # Where it comes from: the line's own source (a base image, a uv index) over the build's index.
        how = self.requirement.source or self.how
        return f"{subject} ({variant}from {how})" if self.variant or self.cuda or self.build.cpu_only else subject


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
    if not builds.has_builds(name):
        return None  # nearly every package of a large set: nothing to remember
    key = ("build", name, str(version))
    if key not in ctx.memo:
        ctx.memo[key] = _package_build(ctx, name, version)
    found = ctx.memo[key]
    assert found is None or isinstance(found, PackageBuild)
    return found


def _package_build(ctx: AuditContext, name: str, version: Version | None) -> PackageBuild | None:
    requirement = ctx.find(name)
    version = version or ctx.version_of(name)
    if requirement is None or (requirement.required_by is not None and ctx.image_may_carry()):
        return None  # an unknown base image may carry it already: which build pip keeps is unknown
    build = builds.build_of(name, version, ctx.where_of(requirement))
    if build is None:
        return None
    considered = None if ctx.candidates(name).exact or version is None else ctx.subject(name, version)
    return PackageBuild(requirement, build, considered)


def builds_over_candidates(ctx: AuditContext, name: str) -> list[PackageBuild]:
    """The build of every release of ``name`` the requirement can become on the host, newest first."""
    return [build for version in ctx.candidates(name).versions if (build := package_build(ctx, name, version))]


class Runnable(NamedTuple):
    """A build of a package that runs on the host, and what moves with it: the one fix the
    driver, kernel and no-GPU rules agree on."""

    build: Build
    # The set's companions, moved to the releases that go with it: "torchvision==0.16.0+cu118".
    companions: tuple[str, ...] = ()
    # Other packages pinned in the set that ask another release of it, moved to ones that fit.
    moved: tuple[str, ...] = ()
    # Pins of the set that no release the base knows reconciles with it: the fix still clashes.
    clashes: tuple[str, ...] = ()
    # The dialect each package's fix is written in (conda_fix.dialect_of its requirement): the
    # package's own, and the names among its companions and moved pins that came from conda specs.
    dialect: Dialect = PIP
    conda_names: frozenset[str] = frozenset()

    @property
    def version(self) -> Version:
        assert self.build.version is not None
        return self.build.version

    def install(self, *, cuda_note: bool = False) -> str:
        """The fix as a user writes it: the pins, what moves with them, and where the build comes
        from: pip's index, or, for a package read from a conda spec, the conda specs that select
        it on its channel (pytorch-cuda=11.8 -c pytorch -c nvidia)."""
        if self.dialect.conda or self.conda_names:
            return self._install_conda(cuda_note=cuda_note)
        label = f"+{self.build.variant}" if self.build.index_url and self.build.variant else ""
        pins = [f"{self.build.package}=={self.version.public}{label}", *self.companions]
        index = f" from {self.build.index_url}" if self.build.index_url else ""
        cuda = f" (a CUDA {self.build.cuda} build)" if cuda_note and self.build.cuda else ""
        moved = f", with {' '.join(self.moved)}" if self.moved else ""
        return f"{' '.join(pins)}{index}{cuda}{moved}{self._clash()}"

    def _install_conda(self, *, cuda_note: bool) -> str:
        """The fix where conda installs the package or some of what moves with it: the conda
        specs first, then, in the environment's pip section, the pins pip installs."""
        companions = [pin for pin in self.companions if _pin_name(pin) in self.conda_names]
        pip_companions = [pin for pin in self.companions if _pin_name(pin) not in self.conda_names]
        moved = [pin for pin in self.moved if _pin_name(pin) in self.conda_names]
        pip_moved = [pin for pin in self.moved if _pin_name(pin) not in self.conda_names]
        if self.dialect.conda:
            specs, selected = self._conda_specs()
            # Where the specs select no build (a channel whose way is not known), say which is meant.
            cuda = f" (a CUDA {self.build.cuda} build)" if not selected and self.build.cuda else ""
            text = f"{specs}{cuda}"
            labelled = self.build.index_url and any("+" in pin for pin in pip_companions)
            pip = [*pip_companions, *([f"from {self.build.index_url}"] if labelled else []), *pip_moved]
        else:
            # The package is pip's; only some of what moves with it is conda's.
            text = _pip_only(self.build, self.version, pip_companions, cuda_note)
            specs = " ".join(conda_spec(pin) for pin in [*companions, *moved])
            text = f"{text}{f', with {specs} (conda)' if specs else ''}"
            pip = pip_moved
        in_pip = f"; in the pip section: {' '.join(pip)}" if pip else ""
        return f"{text}{in_pip}{self._clash()}"

    def _conda_specs(self) -> tuple[str, str]:
        """The conda specs of the package and what conda moves with it, and the build they select."""
        companions = [pin for pin in self.companions if _pin_name(pin) in self.conda_names]
        moved = [pin for pin in self.moved if _pin_name(pin) in self.conda_names]
        main = f"{self.build.package}=={self.version.public}"
        build = self.build
        return conda_install(
            [main, *companions, *moved],
            package=str(build.package),
            version=self.version.public,
            variant=build.variant,
            cuda=build.cuda,
            channel=self.dialect.channel,
        )

    def _clash(self) -> str:
        if not self.clashes:
            return ""
        return (
            f" (but {', '.join(self.clashes)} does not go with it, and the base knows no release of it that both "
            "does and runs here)"
        )

    def offer(self) -> str:
        """The fix in a sentence: "the cu118 build (torch==2.1.0+cu118 ... from <index>)", or for a
        conda package "the CUDA 11.8 build (pytorch=2.1.0 ... pytorch-cuda=11.8 -c pytorch -c nvidia)"."""
        if self.dialect.conda and self.build.variant:
            _, what = self._conda_specs()
            if what:
                return f"the {what} build ({self.install()})"
            return self.install(cuda_note=True)
        if self.build.index_url and self.build.variant:
            return f"the {self.build.variant} build ({self.install()})"
        return self.install(cuda_note=True)


def _pin_name(pin: str) -> str:
    """The package a pin names: "torchvision==0.16.0+cu118" -> torchvision."""
    return str(canonicalize_name(re.split(r"[\s=<>!~;\[(@]", pin.strip(), maxsplit=1)[0]))


def _pip_only(build: Build, version: Version, companions: list[str], cuda_note: bool) -> str:
    label = f"+{build.variant}" if build.index_url and build.variant else ""
    pins = [f"{build.package}=={version.public}{label}", *companions]
    index = f" from {build.index_url}" if build.index_url else ""
    cuda = f" (a CUDA {build.cuda} build)" if cuda_note and build.cuda else ""
    return f"{' '.join(pins)}{index}{cuda}"


def _spoken(ctx: AuditContext, offer: Runnable, requirement: Requirement) -> Runnable:
    """The offer with the dialect of each package it names: conda's for those read from conda specs."""
    names = {_pin_name(pin) for pin in (*offer.companions, *offer.moved)}
    conda = frozenset(name for name in names if dialect_of(ctx.find(name)).conda)
    return offer._replace(dialect=dialect_of(requirement), conda_names=conda)


def runnable(ctx: AuditContext, name: str, *, within_set: bool = True) -> Runnable | None:
    """The newest release of ``name`` the requirement can become (or, ``within_set`` False, any
    release that installs here) with a build the host's driver runs and kernels for each of its
    GPUs, its companions moved with it, re-judged against the set's other pins."""
    nvidia = ctx.host.driver
    requirement = ctx.find(name)
    if nvidia is None or nvidia.driver is None or requirement is None:
        return None
    capabilities = nvidia.capabilities
    companions = _companion_names(ctx, name)
    found = (
        ctx.candidates(name, moving=companions)
        if within_set
        else candidates(canonicalize_name(name), SpecifierSet(), ctx.facts)
    )
    where = ctx.where(requirement.extras)
    for version in found.versions:
        build = builds.best_build(name, version, where, nvidia.driver, capabilities)
        if build is None:
            continue
        moved_companions = _companions(name, version, build, companions)
        if moved_companions is None:
            continue  # the set names a companion the base cannot match to this release
        offer = _spoken(ctx, _reconciled(ctx, Runnable(build, moved_companions), {name, *companions}), requirement)
        runnable_edits(ctx, offer)  # what --fix writes for the fix text install() gives
        return offer
    return None


def _companion_names(ctx: AuditContext, name: str) -> frozenset[str]:
    """The packages of the set that move in lockstep with ``name`` (torchvision with torch)."""
    # Over every release that installs here: a release's rows may leave a companion out
    # (torchaudio stopped moving in lockstep), and a release newer than the rows has none.
    steps = [step for v in candidates(canonicalize_name(name), SpecifierSet(), ctx.facts).versions
             for step in facts.lockstep(name, v)]  # fmt: skip
    # A companion the set only pulls in moves by itself, but for the build label it must share.
    return frozenset(
        step.companion
        for step in steps
        if not step.on_own_line
        and (found := ctx.find(step.companion)) is not None
        and (found.required_by is None or step.same_build)
    )


def _companions(name: str, version: Version, build: Build, names: frozenset[str]) -> tuple[str, ...] | None:
    """The set's companions (``names``) at the releases that go with ``version``; None when the
    set names one the base cannot match to it."""
    steps = {step.companion: step for step in facts.lockstep(name, version) if not step.on_own_line}
    pins = []
    for companion in sorted(names):
        step = steps.get(companion)
        if step is None:
            return None
        pins.append(step.pin(build.variant if build.index_url else None))
    return tuple(pins)


def _reconciled(ctx: AuditContext, offer: Runnable, moving: set[str]) -> Runnable:
    """The offer re-judged against the rest of the set, both ways: a package of the set whose
    candidates all ask another release of it (vllm==0.6.3 asks torch==2.4.0), and one the offered
    release asks another release of (xformers 0.0.22 is built against torch 2.0.1), each moved to
    a release that fits and runs here, or named as a clash."""
    package = str(offer.build.package)
    moved, clashes = [], []
    for other in ctx.wanted():
        name = other.name or ""
        if name in moving or other.required_by is not None:
            continue
        if _brought_by(offer.build, name):
            continue  # its own dependency (a lockfile's nvidia-* pins): it moves with it on a re-lock
        own = ctx.candidates(name).versions
        if own and not any(_fits(ctx, name, version, offer.build) for version in own):
            fitting = _fitting_release(ctx, name, offer.build)
            if fitting is None:
                clashes.append(other.describe())
                continue
            moved.append(f"{name}=={fitting}")
        asked = ctx.declared_on(package, Version(offer.version.public), name)
        if str(asked):
            # What the set admits of it, but for what the offered package's other releases ask.
            move = _asked_release(ctx, name, asked, ctx.candidates(name, moving=(package,)).versions, offer.build)
            if move is None:
                clashes.append(other.describe())
            elif move:
                moved.append(move)
    return offer._replace(moved=tuple(moved), clashes=tuple(clashes))


def _brought_by(offered: Build, name: str) -> bool:
    """Whether the offered release declares ``name`` as a dependency that moves with it on a
    re-lock (torch's nvidia-* wheels), not the package it is compiled against (xformers' torch),
    which the fix must choose."""
    wanted = canonicalize_name(name)
    if offered.built_against is not None and canonicalize_name(offered.built_against.name) == wanted:
        return False
    return wanted in _dependencies(offered)


def _dependencies(build: Build) -> frozenset[NormalizedName]:
    """What the build's release declares (as PyPI's METADATA of that release says)."""
    if build.version is None:
        return frozenset()
    public = Version(build.version.public)
    return frozenset(d.name for d in kb_releases.declared_by(str(build.package), public))


def _asked_release(
    ctx: AuditContext, name: str, asked: SpecifierSet, own: tuple[Version, ...], offered: Build
) -> str | None:
    """What the set must install of ``name`` to meet what the offered build asks of it: "" when
    the resolver's pick (the newest candidate that fits) runs as it is, a pin of the build that
    runs (torch==2.1.0+cu118 from its index), or None when none does. An extension compiled
    against a PyPI build (xformers 0.0.22 against torch 2.0.1) goes with that build alone."""
    fitting = [v for v in own if asked.contains(v, True)]
    nvidia = ctx.host.driver
    if not fitting:
        return None
    newest = fitting[0]
    build = builds.build_of(name, newest, ctx.where())
    if build is None or build.cuda is None or nvidia is None or nvidia.driver is None:
        return ""
    if _compiled_against_pypi(offered, name):
        return f"{name}=={newest}" if build.from_pypi and _runs_here(ctx, name, newest) else None
    capabilities = nvidia.capabilities
    best = builds.best_build(name, newest, ctx.where(), nvidia.driver, capabilities)
    if best is None:
        return None
    if best.index_url is None:
        return ""
    return f"{name}=={newest.public}+{best.variant} from {best.index_url}"


def _fits(ctx: AuditContext, name: str, version: Version, offered: Build) -> bool:
    """Whether release ``version`` of ``name`` goes with the offered build: what it declares of
    that package admits it, and, if it is tied to it (vllm to its torch), its own build runs
    here and, compiled against a PyPI build, is offered beside a PyPI build."""
    of = str(offered.package)
    declared = ctx.declared_on(name, Version(version.public), of)
    if not declared.contains(offered.version or Version("0"), True):
        return False
    if offered.version is not None and facts.breaks_with(name, version, of, offered.version):
        return False  # the metadata admits it, a known conflict does not (torchtext 0.18.0 beside torch 2.4+)
    if not str(declared):
        return True
    own = builds.build_of(name, version, ctx.where())
    if _compiled_against_pypi(own, of) and offered.index_url is not None:
        return False  # its kernels are compiled against the PyPI build of that release, not an index's
    return _runs_here(ctx, name, version)


def _compiled_against_pypi(build: Build | None, package: str) -> bool:
    """Whether ``build`` is a PyPI wheel compiled against one release of ``package`` (xformers
    against torch): it goes with PyPI's build of that release alone."""
    against = build.built_against if build is not None else None
    return (
        build is not None
        and build.from_pypi
        and against is not None
        and canonicalize_name(against.name) == canonicalize_name(package)
    )


def _fitting_release(ctx: AuditContext, name: str, offered: Build) -> Version | None:
    """The release of ``name`` installable here, nearest the set's pin of it (else the newest),
    that declares a requirement on the offered package admitting the offered build, and runs here."""
    of = str(offered.package)
    fitting = [
        candidate
        for candidate in candidates(canonicalize_name(name), SpecifierSet(), ctx.facts).versions
        if str(ctx.declared_on(name, candidate, of)) and _fits(ctx, name, candidate, offered)
    ]
    pinned = ctx.exact_version(name)
    return nearest(fitting, Version(pinned.public)) if pinned is not None else (fitting[0] if fitting else None)


def _runs_here(ctx: AuditContext, name: str, version: Version) -> bool:
    nvidia = ctx.host.driver
    requirement = ctx.find(name)
    where = ctx.where(requirement.extras if requirement else frozenset())
    build = builds.build_of(name, version, where)
    if build is None:
        return not builds.is_gpu_package(name)  # a GPU package's unknown build is no fix
    if build.cuda is None or nvidia is None or nvidia.driver is None:
        return True
    capabilities = nvidia.capabilities
    return builds.best_build(name, version, where, nvidia.driver, capabilities) is not None


def gpu_builds(ctx: AuditContext) -> list[PackageBuild]:
    """The build of every package of the set that needs a CUDA, in the set's order. A package
    pulled in by one whose own build the base knows (the nvidia-* wheels of tensorflow[and-cuda])
    is judged through that build, not again on its own. Worked out once per context: several
    rules ask it, and it visits every package of the set."""
    if ("gpu_builds",) not in ctx.memo:
        ctx.memo[("gpu_builds",)] = tuple(_gpu_builds(ctx))
    found = ctx.memo[("gpu_builds",)]
    assert isinstance(found, tuple)
    return list(found)


def _gpu_builds(ctx: AuditContext) -> list[PackageBuild]:
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
    return _without_dependencies(found)


def _without_dependencies(found: list[PackageBuild]) -> list[PackageBuild]:
    """The builds but those another build of the set declares as its own dependency (a lockfile
    pins torch's nvidia-* wheels as lines of their own): they are judged through it."""
    declared = frozenset().union(*(_dependencies(build.build) for build in found))
    return [build for build in found if build.build.package not in declared]


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
    if ("cuda_runtime_wheel",) not in ctx.memo:  # asked by two rules; it visits every package
        wanted = ctx.wanted()
        ctx.memo[("cuda_runtime_wheel",)] = any(
            builds.is_cuda_runtime(r.name or "") and r.required_by is None for r in wanted
        )
    wheels = ctx.memo[("cuda_runtime_wheel",)]
    return [b for b in gpu_builds(ctx) if b.build.loads_system_cuda and not (b.build.gpu_optional and wheels)]


def cuda_major(cuda: str) -> int:
    return int(cuda.split(".", maxsplit=1)[0])
