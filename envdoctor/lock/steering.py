"""What the knowledge base adds to a resolution: constraints the metadata lacks, and which CUDA
build of torch a target gets, from which index: PyPI's own build wherever it runs on the target,
a PyTorch variant index only where the target needs a build PyPI does not serve."""

from __future__ import annotations

import functools
from typing import NamedTuple

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.errors import EnvdoctorError
from envdoctor.host.profile import HostProfile, NoNvidia
from envdoctor.kb import builds, facts
from envdoctor.kb import releases as kb_releases
from envdoctor.requirements.model import RequirementSet

PYTORCH_INDEX = "https://download.pytorch.org/whl"
TORCH_FAMILY = ("torch", *facts.TORCH_COMPANIONS)
_OS_NAMES = {"linux": "Linux", "windows": "Windows", "macos": "macOS"}


class Constraint(NamedTuple):
    requirement: str
    reason: str


class TorchIndex(NamedTuple):
    """The PyTorch wheel index of one build variant, serving the torch family and nothing else."""

    variant: str
    url: str
    packages: tuple[str, ...]
    reason: str
    # The torch release the build was chosen for ("2.7.0"), and why PyPI's build will not do
    # ("PyPI's cu121 build needs driver >= 525.60.13"), for messages; "" where not known.
    release: str = ""
    needed: str = ""
    # For a torch the set does not pin: the newest older release whose PyPI build runs on the
    # target ("2.8.0"), which a pin would lock from PyPI alone; "" where none is known.
    pypi_instead: str = ""


class Steering(NamedTuple):
    constraints: tuple[Constraint, ...] = ()
    torch_index: TorchIndex | None = None
    notes: tuple[str, ...] = ()
    # Requirements written anew for the target: (as written, as locked, why).
    rewrites: tuple[tuple[str, str, str], ...] = ()
    # The torch release whose build was chosen for the target (named in the inputs or brought by
    # one of their packages); None where no choice was made.
    torch: str | None = None
    # Requirements the steering adds to the set's own: a torch that one of the set's packages
    # brings, named so that its index binding applies (uv binds sources to named packages only).
    added: tuple[str, ...] = ()


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
    chosen: str | None = None
    added: list[str] = []
    brought = None if "torch" in wanted else _brought_torch(requirements, host, target_python)
    if "torch" in wanted or brought is not None:
        specifier = requirements.specifier_of("torch") & (brought[0] if brought else SpecifierSet())
        packages = tuple(name for name in TORCH_FAMILY if name in wanted or name == "torch")
        pin = pinned.get("torch")
        judged = _judged(host, pin, specifier, target_python, base=pytorch_base, packages=packages)
        if judged is not None:
            torch, choice = judged
            torch_index = choice.torch_index
            notes += [choice.note] if choice.note else []
            chosen = torch.public if choice.decided else None
            if chosen and pin is None:
                # The release judged is the release locked: a newer one may be another build.
                why = f"brought by {brought[1]}, not named in the inputs" if brought else "not pinned"
                reason = f"torch is {why}: the newest release the set admits whose build runs on the target"
                constraints.append(Constraint(f"torch=={chosen}", reason))
            if brought is not None and torch_index is not None:
                added.append(f"torch=={torch.public}")
            constraints += _torch_constraints(torch, pinned, wanted)
            rewrites += _relabel(requirements, torch_index)
        else:
            notes.append(f"no torch release in the knowledge base supports Python {target_python}")
    if "jax" in pinned:
        constraints += _jax_constraints(pinned["jax"])
    constraints += _known_conflicts(pinned, wanted)
    unique = tuple(dict((c.requirement, c) for c in constraints).values())
    return Steering(unique, torch_index, tuple(notes), tuple(rewrites), chosen, tuple(added))


# How many levels of what a package pulls in are followed (sentence-transformers -> torch), as the audit does.
_DEPTH = 3
# A package to read: its name, what asks for it, the extras asked, and the set's package it came through.
_Step = tuple[str, SpecifierSet, frozenset[str], str | None]
# PEP 508's platform values for the target's OS (and its arch, where Windows spells it otherwise).
_SYS_PLATFORM = {"linux": "linux", "windows": "win32", "macos": "darwin"}
_PLATFORM_SYSTEM = {"linux": "Linux", "windows": "Windows", "macos": "Darwin"}
_WINDOWS_MACHINE = {"x86_64": "AMD64", "aarch64": "ARM64", "arm64": "ARM64"}


def _judged(
    host: HostProfile,
    pin: Version | None,
    specifier: SpecifierSet,
    python: str,
    *,
    base: str,
    packages: tuple[str, ...],
) -> tuple[Version, Choice] | None:
    """The torch release to lock and its build: the pin's, else the newest release the set admits
    (and the target's Python) that has a build the target runs; None where the base knows none."""
    if pin is not None:
        return pin, _choose(host, pin, pin, base, packages)
    newest = facts.newest_torch(specifier, python)
    candidate = newest
    while candidate is not None:
        try:
            choice = _choose(host, candidate, None, base, packages)
        except SteeringError:
            candidate = facts.newest_torch(specifier & SpecifierSet(f"<{candidate}"), python)
            continue
        if choice.torch_index is not None:
            instead = _newest_on_pypi(host, specifier & SpecifierSet(f"<{candidate}"), python)
            choice = choice._replace(torch_index=choice.torch_index._replace(pypi_instead=instead))
        return candidate, choice
    # No release runs here: the newest one's refusal says why.
    return None if newest is None else (newest, _choose(host, newest, None, base, packages))


def _newest_on_pypi(host: HostProfile, specifier: SpecifierSet, python: str) -> str:
    """The newest torch release the set admits whose PyPI build runs on the target, or ""."""
    candidate = facts.newest_torch(specifier, python)
    while candidate is not None:
        try:
            choice = _choose(host, candidate, None, "", ())
        except SteeringError:
            choice = Choice(TorchIndex("", "", (), ""))
        if choice.torch_index is None and choice.decided:
            return candidate.public
        candidate = facts.newest_torch(specifier & SpecifierSet(f"<{candidate}"), python)
    return ""


def _brought_torch(requirements: RequirementSet, host: HostProfile, python: str) -> tuple[SpecifierSet, str] | None:
    """What one of the set's packages asks of torch when the set does not name it (torch>=2.0.0),
    and who asks it ("accelerate 1.15.0"), from the requirements the knowledge base records for
    the release of each package the set would install (its pin, else the newest it admits)."""
    named = [r for r in requirements.named() if r.name]
    if not any(kb_releases.declared_requirements(str(r.name)) for r in named):
        return None  # the base records what none of them requires: nothing to follow
    environment = _marker_environment(host, python)
    frontier: list[_Step] = [
        (str(r.name), requirements.specifier_of(str(r.name)), r.extras, None)
        for r in named
        if r.marker is None or _holds(r.marker, environment, frozenset())
    ]
    seen: set[str] = set()
    for _depth in range(_DEPTH):
        following: list[_Step] = []
        for name, specifier, extras, via in frontier:
            if name in seen:
                continue
            seen.add(name)
            version = _release_of(name, specifier, python)
            if version is None:
                continue
            by = f"{name} {version}" + (f" via {via}" if via else "")
            for row in kb_releases.declared_by(name, version):
                dependency = row.requirement
                if dependency.marker is not None and not _holds(dependency.marker, environment, extras):
                    continue
                required = canonicalize_name(dependency.name)
                if required == "torch":
                    return dependency.specifier, by
                following.append((str(required), dependency.specifier, frozenset(dependency.extras), via or by))
        frontier = following
    return None


def _release_of(name: str, specifier: SpecifierSet, python: str) -> Version | None:
    """The release of a package the set would install: its pin, else the newest the base knows
    that the set admits and whose Requires-Python admits the target's."""
    for spec in specifier:
        if spec.operator == "==" and "*" not in spec.version:
            return Version(spec.version)
    fitting = [
        release.version
        for release in kb_releases.releases(name)
        if specifier.contains(release.version) and kb_releases.python_allowed(release, python) is not False
    ]
    return max(fitting, default=None)


def _marker_environment(host: HostProfile, python: str) -> dict[str, str]:
    """The PEP 508 values the target fixes (the rest are the running interpreter's)."""
    minor = ".".join(python.split(".")[:2])
    environment = {"python_version": minor, "python_full_version": f"{minor}.0", "implementation_name": "cpython"}
    if host.os in _SYS_PLATFORM:
        environment |= {"sys_platform": _SYS_PLATFORM[host.os], "platform_system": _PLATFORM_SYSTEM[host.os]}
        environment["os_name"] = "nt" if host.os == "windows" else "posix"
    if host.arch:
        environment["platform_machine"] = (
            _WINDOWS_MACHINE.get(host.arch, host.arch) if host.os == "windows" else host.arch
        )
    return environment


def _holds(marker: Marker, environment: dict[str, str], extras: frozenset[str]) -> bool:
    """Whether a requirement's marker holds on the target, for the extras asked (or none);
    one that cannot be evaluated is taken to hold: torch may well come in."""
    try:
        return any(marker.evaluate({**environment, "extra": extra}) for extra in ("", *sorted(extras)))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return True


class Choice(NamedTuple):
    """Where a target's torch comes from: a variant index, or PyPI (index None), and why."""

    torch_index: TorchIndex | None
    # The header's line for a choice of PyPI's build; the index's reason says why otherwise.
    note: str | None = None
    # Whether the target's facts chose the build (a GPU, or none), rather than nothing being known.
    decided: bool = False


def steer_resolved(steering: Steering, host: HostProfile, locked: Version, pytorch_base: str) -> Steering:
    """A torch the resolution brought that the steering did not see coming (a package whose
    requirements the base does not record pulled it in): judged as any torch, after the fact.
    PyPI's build that runs on the target is said in the header; one that does not is refused,
    since only a torch the steering sees can be bound to the index of a build that runs."""
    if steering.torch is not None or steering.torch_index is not None or locked.local:
        return steering
    choice = _choose(host, locked, None, pytorch_base, ("torch",))
    if choice.torch_index is not None:
        raise SteeringError(
            f"the resolution brings torch {locked.public} through a package whose requirements the knowledge base "
            f"does not record, and {choice.torch_index.needed}: name torch in the requirements "
            f"(torch=={locked.public}) so that its build can be chosen for the target"
        )
    if not choice.decided or choice.note is None:
        return steering
    note = f"{choice.note} (torch came in through a package whose requirements the knowledge base does not record)"
    return steering._replace(notes=(*steering.notes, note))


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


def _choose(host: HostProfile, torch: Version, pin: Version | None, base: str, packages: tuple[str, ...]) -> Choice:
    """PyPI's build of ``torch`` where it runs on the target (the driver runs its CUDA, it has
    kernels for every GPU, or the target has no GPU, where its CPU runs it), else the variant
    index of the build that does; a pin's own build label keeps its variant index."""
    release = facts.torch_release(torch)
    if host.os not in ("linux", "windows") or release is None:
        return Choice(None)
    index = functools.partial(_index, base=base, packages=packages, release=torch.public)
    if pin is not None and pin.local and _runnable(host, pin.local) is not False:
        return Choice(index(pin.local, f"torch is pinned to the {pin.local} build"), decided=True)
    pypi = _pypi_build(host, torch)
    nvidia = host.driver
    if isinstance(host.nvidia, NoNvidia):
        if pypi is None:
            why = f"the target has no usable NVIDIA GPU, and PyPI's build for {host.os} {host.arch} is not known"
            return Choice(index("cpu", "the target has no usable NVIDIA GPU", why), decided=True)
        smaller = f" (torch=={torch.public}+cpu asks the smaller CPU-only build)" if pypi.cuda else ""
        note = f"torch {torch.public}: PyPI's build ({_what(pypi)}) runs on a target without an NVIDIA GPU{smaller}"
        return Choice(None, note, decided=True)
    if nvidia is None or nvidia.driver is None:
        if pypi is None:
            return Choice(None)
        return Choice(None, f"torch {torch.public}: PyPI's build ({_what(pypi)}); the target names no NVIDIA driver")
    capabilities = sorted({g.compute_capability for g in nvidia.gpus or () if g.compute_capability})
    against = _against_pypi(pypi, nvidia.driver, capabilities, host)
    if pin is not None and pin.local:
        # A build label asks the PyTorch index; the one it names cannot run here (see _relabel).
        against = f"the pinned {pin.local} build cannot run on driver {nvidia.driver}"
    if against is None and pypi is not None:
        gpus = f" and {', '.join(map(_sm, capabilities))}" if capabilities else ""
        return Choice(
            None, f"torch {torch.public}: PyPI's build ({_what(pypi)}) runs on driver {nvidia.driver}{gpus}", True
        )
    variant = _best_variant(host, torch, release["variants"])
    gpus = f" and carries kernels for {', '.join(map(_sm, capabilities))}" if capabilities else ""
    reason = (
        f"torch {torch.public}: {against}; the {variant} build is the newest whose CUDA "
        f"({facts.cuda_of_torch_variant(variant)}) driver {nvidia.driver} runs{gpus}"
    )
    return Choice(index(variant, reason, str(against)), decided=True)


def _index(
    variant: str, reason: str, needed: str = "", *, base: str, packages: tuple[str, ...], release: str
) -> TorchIndex:
    return TorchIndex(variant, f"{base.rstrip('/')}/{variant}", packages, reason, release, needed or reason)


def _pypi_build(host: HostProfile, torch: Version) -> builds.Build | None:
    """The build PyPI serves of this torch release for the target's platform, where the base knows it."""
    build = builds.build_of("torch", Version(torch.public), builds.Where(host.os, host.arch))
    return build if build is not None and build.from_pypi and not build.unknown else None


def _against_pypi(pypi: builds.Build | None, driver: str, capabilities: list[str], host: HostProfile) -> str | None:
    """Why PyPI's build does not run on the target; None where it does (the test ``best_build``
    applies to each variant: the driver runs its CUDA, it has kernels for every GPU)."""
    if pypi is None:
        return f"the knowledge base does not know which build PyPI serves for {host.os} {host.arch}"
    if pypi.cpu_only or pypi.cuda is None:
        return f"PyPI's {_OS_NAMES.get(host.os or '', host.os)} wheels are CPU builds"
    runs = facts.driver_runs(driver, builds.dotted(pypi.cuda))
    if runs is None:
        return f"whether driver {driver} runs PyPI's {pypi.variant} build (CUDA {pypi.cuda}) is not known"
    if not runs:
        need = facts.driver_need(builds.dotted(pypi.cuda))
        floor = f" >= {need.minimum}" if need is not None else f" that runs CUDA {pypi.cuda}"
        return f"PyPI's {pypi.variant} build needs driver{floor}"
    missing = [c for c in capabilities if builds.lacks_kernels(pypi, c)]
    if missing:
        return f"PyPI's {pypi.variant} build has no kernels for {', '.join(map(_sm, missing))}"
    return None


def _what(build: builds.Build) -> str:
    return f"CUDA {build.cuda}" if build.cuda else "CPU"


def _sm(capability: str) -> str:
    return "sm_" + capability.replace(".", "")


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
