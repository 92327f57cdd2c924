"""ED201 cuda-mismatch, the host's own CUDA against the set: the nvcc that packages compiling CUDA
code against torch use (DeepSpeed's ops, Apex), and system CUDA libraries on LD_LIBRARY_PATH that
shadow the ones the nvidia-* wheels bring (cuda.toml nvcc_build and wheel_library)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import CudaLibrary
from envdoctor.kb import Row, facts, load_topic
from envdoctor.kb.check import cuda_of_variant, major_minor
from envdoctor.requirements.model import Requirement
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import PackageBuild, package_build

CODE = "ED201"


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from _nvcc_builds(ctx)
    yield from _shadowed_wheel_libraries(ctx)


# --- nvcc against torch's CUDA ------------------------------------------------------------------


def _nvcc_builds(ctx: AuditContext) -> Iterator[Finding]:
    """A package that compiles CUDA code against the set's torch with the host's nvcc, where its
    check refuses that nvcc's CUDA beside the CUDA torch was built with."""
    toolkit = ctx.host.cuda_toolkit
    nvcc = toolkit.nvcc if toolkit is not None else None
    torch = package_build(ctx, "torch")
    if nvcc is None or torch is None or torch.cuda is None:
        return
    for row in load_topic("cuda", "nvcc_build"):
        requirement = _builder(ctx, row)
        if requirement is None or not _refused(nvcc, torch.cuda, str(row["compares"])):
            continue
        yield _nvcc_finding(ctx, row, requirement, nvcc, torch)


def _builder(ctx: AuditContext, row: Row) -> Requirement | None:
    """The set's requirement of the row's package, if the row's releases (and URL) cover it."""
    name = str(row["package"])
    requirement = ctx.find(name)
    if requirement is None:
        return None
    if "url" in row and str(row["url"]).lower() not in (requirement.url or "").lower():
        return None  # another project of that name (PyPI's "apex" is not NVIDIA's)
    version = ctx.version_of(name)
    try:
        covered = SpecifierSet(str(row["versions"]))
    except InvalidSpecifier:
        return None
    return requirement if version is None or covered.contains(version, prereleases=True) else None


def _refused(nvcc: str, torch_cuda: str, compares: str) -> bool:
    try:
        host, built = Version(nvcc), Version(torch_cuda)
    except InvalidVersion:
        return False
    if host.major != built.major:
        return True
    return compares == "minor" and major_minor(nvcc) != major_minor(torch_cuda)


def _nvcc_finding(ctx: AuditContext, row: Row, requirement: Requirement, nvcc: str, torch: PackageBuild) -> Finding:
    name = str(row["package"])
    version = ctx.version_of(name)
    subject = ctx.subject(name, version) if version is not None and requirement.url is None else requirement.describe()
    error = str(row["error"]).replace("{nvcc}", major_minor(nvcc)).replace("{torch}", torch.cuda or "")
    only_with = f" if it is built with {row['only_with']}" if "only_with" in row else ""
    what = "CUDA major" if row["compares"] == "major" else "CUDA version"
    wanted = major_minor(torch.cuda or "")
    return ctx.finding(
        CODE,
        f"{subject} compiles CUDA code against {torch.describe()}, built with CUDA {torch.cuda}, with the "
        f"host's nvcc (CUDA {nvcc}) {row['when']}; it refuses another {what} than torch's{only_with}: "
        f'"{error}"',
        requirement=requirement,
        packages=(requirement.describe(), torch.requirement.describe()),
        fix=f"install the CUDA {wanted} toolkit and point CUDA_HOME at it (its nvcc), or "
        f"{_torch_for(torch, nvcc, row)}",
        references=(str(row["source"]), *torch.references),
        severity=Severity.WARNING if only_with else None,
    )


def _torch_for(torch: PackageBuild, nvcc: str, row: Row) -> str:
    """The build of the same torch release for the nvcc's CUDA, where the PyTorch index has one."""
    host = Version(nvcc)
    fitting = []
    for variant in facts.release_variants("torch", torch.version):
        cuda = cuda_of_variant(variant)
        if cuda is None or Version(cuda).major != host.major:
            continue
        if row["compares"] == "minor" and cuda != major_minor(nvcc):
            continue
        fitting.append((Version(cuda), variant))
    # The newest CUDA the nvcc is not older than, else the oldest of its major.
    older = [found for found in sorted(fitting) if found[0] <= host]
    chosen = older[-1] if older else (sorted(fitting)[0] if fitting else None)
    if chosen is None:
        return f"a torch build for CUDA {major_minor(nvcc) if row['compares'] == 'minor' else host.major}"
    variant = chosen[1]
    return f"torch=={torch.version.public}+{variant} from {facts.pytorch_index_url(variant)} (a CUDA {chosen[0]} build)"


# --- system libraries ahead of the wheels' --------------------------------------------------------


class _Brought(NamedTuple):
    """The version of an nvidia-* wheel the set installs, what brings it, and the line to report."""

    version: Version
    by: str
    requirement: Requirement


def _shadowed_wheel_libraries(ctx: AuditContext) -> Iterator[Finding]:
    """A system CUDA library on LD_LIBRARY_PATH, of the major of an nvidia-* wheel the set installs
    but an older minor: the loader searches LD_LIBRARY_PATH before the wheels' RUNPATH."""
    toolkit = ctx.host.cuda_toolkit
    if toolkit is None or not toolkit.libraries:
        return
    rows = {str(row["library"]): row for row in load_topic("cuda", "wheel_library")}
    for library in toolkit.libraries:
        row = rows.get(library.name)
        system = _version(library.version)
        if row is None or system is None or len(system.release) < 2:
            continue
        brought = _wheel_version(ctx, str(row["wheel"]))
        if brought is None:
            continue
        wheel = brought.version
        if system.major != wheel.major or system.release[:2] >= wheel.release[:2]:
            continue
        if _wheel_folder_first(ctx, library, str(row["folder"])):
            continue
        yield _shadow_finding(ctx, row, library, brought)


def _shadow_finding(ctx: AuditContext, row: Row, library: CudaLibrary, brought: _Brought) -> Finding:
    folder = _folder(library.path)
    return ctx.finding(
        CODE,
        f"LD_LIBRARY_PATH puts the system's {library.name} {library.version} ({library.path}) ahead of the "
        f"{row['wheel']} {brought.version} wheel that {brought.by} brings: the loader takes the older one, which "
        f"lacks the symbols of CUDA {major_minor(str(brought.version))} that the wheels' libraries need, and the "
        f"import fails (as reported: {row['error']})",
        requirement=brought.requirement,
        packages=(brought.requirement.describe(),),
        fix=f"remove {folder} from LD_LIBRARY_PATH for this environment, or put the wheel's folder "
        f"(site-packages/{row['folder']}) ahead of it in LD_LIBRARY_PATH",
        references=(str(row["source"]),),
    )


def _wheel_version(ctx: AuditContext, wheel: str) -> _Brought | None:
    """The version of ``wheel`` the set installs: the set's own pin of it, else the pin of the
    PyPI torch build, else what a package of the set pins."""
    requirement = ctx.find(wheel)
    exact = ctx.exact_version(wheel)
    if requirement is not None and requirement.required_by is None and exact is not None:
        return _Brought(exact, "the set", requirement)
    torch = package_build(ctx, "torch")
    if torch is not None and torch.from_pypi and torch.build.version is not None:
        row = facts.torch_pypi_build(torch.version)
        pins = row.get("nvidia_pins") if row is not None else None
        pinned = _version(pins.get(wheel)) if isinstance(pins, dict) else None
        if pinned is not None:
            return _Brought(pinned, torch.describe(), torch.requirement)
    if requirement is not None and requirement.pinned_version is not None:
        return _Brought(requirement.pinned_version, requirement.required_by or "the set", requirement)
    return None


def _wheel_folder_first(ctx: AuditContext, library: CudaLibrary, wheel_folder: str) -> bool:
    """Whether LD_LIBRARY_PATH names the wheel's own folder before the system library's."""
    folders = [part.rstrip("/") for part in ctx.host.env.get("LD_LIBRARY_PATH", "").split(":") if part]
    system = _folder(library.path)
    ahead = folders[: folders.index(system)] if system in folders else []
    return any(folder.endswith(f"/{wheel_folder}") for folder in ahead)


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else path


def _version(text: object) -> Version | None:
    if not isinstance(text, str):
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
