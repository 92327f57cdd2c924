"""One model of a GPU package's build, answered from the knowledge base for every package it covers.

A build is a release of package P, from the index that serves it, for a platform: the CUDA it
needs (brought as wheels, or loaded from the system), its cuDNN, the GPUs it has kernels and PTX
for, the torch it is compiled against. The audit's rules, the lock's steering and the image
planner ask ``build_of`` the same question and get the same answer; adding a GPU package is adding
rows to the tables this module reads, not code to the rules.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import NamedTuple

from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from envdoctor.kb import facts
from envdoctor.kb import releases as kb_releases
from envdoctor.kb.check import cuda_of_variant, major_minor

# The naming conventions of CUDA builds on the index: NVIDIA's nvidia-*-cuNN wheels, cupy's
# cupy-cudaNNx, JAX's jax-cudaNN-plugin/-pjrt, tensorrt-cuNN. The CUDA major is in the name.
_CUDA_MAJOR_IN_NAME = re.compile(
    r"^(?:nvidia-.*-cu|cupy-cuda|jax-cuda|tensorrt-cu)(?P<major>\d+)(?:x|-plugin|-pjrt|-libs|-bindings)?$"
)
# NVIDIA's CUDA runtime wheels carry the toolkit's version: nvidia-cuda-runtime-cu12==12.1.105 is
# CUDA 12.1 (from CUDA 13 the name has no -cuNN).
# Its NVRTC wheel likewise.
_CUDA_VERSIONED = re.compile(r"^nvidia-cuda-(?:runtime|nvrtc)(?:-cu(?P<major>\d+))?$")
_CUDA_RUNTIME = re.compile(r"^nvidia-cuda-runtime(?:-cu\d+)?$")
_LOCAL_VARIANT = re.compile(r"^(?P<variant>cpu|cu\d{2,3}|rocm[\d.]+)$")
_CUDA_EXTRA = re.compile(r"^cuda(?P<major>\d+)")


class Where(NamedTuple):
    """How and where a release is installed: the host's OS and arch, the PyTorch variant index in
    use (if any), and the extras asked for."""

    os: str | None
    arch: str | None
    index_variant: str | None = None
    extras: frozenset[str] = frozenset()
    # The variant is the build for certain: the line's own source fixes it (a conda build, a uv
    # source on one index), rather than an index that may or may not serve the release.
    variant_certain: bool = False
    # The line's own source, where the base cannot tell which build it serves (NVIDIA's cosmos
    # index, a base image's own torch, a conda channel's): how messages name it.
    unknown_source: str | None = None


class Build(NamedTuple):
    package: NormalizedName
    # None for a package whose release is not known (unpinned, not tracked): only its name speaks.
    version: Version | None
    # Where the build was learnt from, for messages: "PyPI's default Linux wheel", "the +cu121 label".
    how: str
    # A PyTorch-style build variant (cpu, cu121) where the package has several builds of a release.
    variant: str | None = None
    # The CUDA it needs: major.minor, or a major alone when any minor of it will do. None: no CUDA.
    cuda: str | None = None
    # True when it loads CUDA from the system (or a base image) rather than bringing it as wheels.
    loads_system_cuda: bool = False
    # True when the build links its CUDA runtime in rather than loading shared libraries (the
    # gpu_packages rows that say loads_system_cuda = false, or do not say, such as XGBoost's).
    static_cuda: bool = False
    # True when the package still runs, on the CPU, where that CUDA is missing (TensorFlow without [and-cuda]).
    gpu_optional: bool = False
    cudnn_major: int | None = None
    # Compute capabilities it carries machine code and PTX for; None where the base does not know.
    kernels: tuple[str, ...] | None = None
    ptx: tuple[str, ...] | None = None
    # The oldest GPU it supports, where that alone is known (FlashAttention 2: Ampere, 8.0).
    min_capability: str | None = None
    # The index that serves this build when it is not PyPI (a PyTorch variant index).
    index_url: str | None = None
    # The release of torch (or another host package) its binaries are compiled against.
    built_against: Pep508 | None = None
    # The build PyPI serves when no index or label of the set chooses another.
    from_pypi: bool = False
    # A CPU-only build on this platform: what its requirements pull in brings no usable CUDA.
    cpu_only: bool = False
    # Which build is installed cannot be told (a variant index the base has no release row for).
    unknown: bool = False
    # Where this platform's build is CPU-only though the package has GPU builds elsewhere: the
    # way to a GPU build, for a host that has a GPU (None: no such way known here).
    gpu_elsewhere: str | None = None
    sources: tuple[str, ...] = ()


def build_of(name: str, version: Version | None, where: Where) -> Build | None:
    """The build of ``name`` ``version`` installed ``where``; None when the base knows nothing
    of the package's builds. Without a version, only what the name says (a CUDA major) is known."""
    package = facts.normalized(name)
    if version is None:
        return _from_name(package, None)
    if package == "torch":
        return _torch(package, version, where)
    return _with_kernels(package, version, _build_of(package, version, where))


def has_builds(name: str) -> bool:
    """Whether ``build_of`` can answer anything but None for some release of ``name``, from the
    name alone: rules ask it first, so that the packages the base knows no build of (nearly all
    of a large set) cost no version work."""
    return not _known_by_name(name).isdisjoint(_BUILDS_KNOWN)


@functools.cache
def _known_by_name(name: str) -> frozenset[str]:
    """What the base knows of a package from its name alone, worked out once a name (the rules
    ask it of every package of a set): the per-package tables with rows for it, whether a topic
    of its own builds it or lists it, whether its name carries a CUDA major."""
    package = facts.normalized(name)
    known = set(facts.gpu_rows(package))
    if package in _BUILD_TOPICS:
        known.add("build topic")
    if package in _TOPIC_PACKAGES:
        known.add("topic")
    if _CUDA_VERSIONED.match(package) or _CUDA_MAJOR_IN_NAME.match(package):
        known.add("cuda name")
    return frozenset(known) if known else _NOTHING_KNOWN


def _build_of(package: NormalizedName, version: Version, where: Where) -> Build | None:
    if package == "tensorflow":
        return _tensorflow(package, version, where)
    if package == "jax":
        return _jax(package, version, where)
    runtime = _CUDA_VERSIONED.match(package)
    if runtime:
        return Build(package, version, "its version", cuda=major_minor(str(version.public)))
    row_build = _from_rows(package, version) or _from_label(package, version)
    if row_build is not None:
        return row_build
    return _from_name(package, version)


def _from_label(package: NormalizedName, version: Version) -> Build | None:
    """A wheel whose local label names the torch minor and CUDA it was built for (PyG's
    +pt23cu121), by its package's prebuilt rows: that CUDA, compiled against that torch minor."""
    label = facts.labelled(package, version)
    if label is None:
        return None
    against = Pep508(f"{label.against}=={label.minor}.*")
    variant = label.variant
    return Build(
        package,
        version,
        f"the +{version.local} label",
        variant=variant,
        cuda=cuda_of_variant(variant) if variant else None,
        built_against=against,
        cpu_only=variant == "cpu",
        sources=(label.source,),
    )


def _with_kernels(package: NormalizedName, version: Version, build: Build | None) -> Build | None:
    """The build with the GPUs its wheels run on, from the kernels rows (torch's are its own
    topic's); a package known only by those rows (bitsandbytes) is a PyPI build with them."""
    row = facts.package_kernels(package, version)
    if row is None:
        return build
    if build is None:
        build = Build(package, version, "PyPI", from_pypi=True)
    sources = (*build.sources, row.source)
    if row.sm is not None:
        return build._replace(kernels=row.sm, ptx=row.ptx, sources=sources)
    return build._replace(min_capability=row.min_capability, sources=sources)


def _from_name(package: NormalizedName, version: Version | None) -> Build | None:
    """What a CUDA-in-name package's name says of its build: the CUDA major."""
    named = _CUDA_MAJOR_IN_NAME.match(package)
    if named is None:
        return None
    return Build(package, version, f"its name: a CUDA {named.group('major')} build", cuda=named.group("major"))


def _torch(package: NormalizedName, version: Version, where: Where) -> Build:
    local = _LOCAL_VARIANT.match(version.local or "")
    release = facts.torch_release(version)
    sources: tuple[str, ...]
    index: str | None = None
    if local:
        variant, how, sources, from_pypi = local.group("variant"), f"the +{version.local} label", (), False
        index = facts.pytorch_index_url(variant)
    elif where.unknown_source:
        how = f"{where.unknown_source}, whose build of it the knowledge base does not record"
        return Build(package, version, how, unknown=True)
    elif where.index_variant and where.variant_certain:
        variant, how, sources, from_pypi = where.index_variant, f"its source, a {where.index_variant} build", (), False
    elif where.index_variant and release is None:
        # The variant index may serve this release (its build then wins over PyPI's) or not: the
        # base has no row saying which.
        how = f"the {where.index_variant} index or PyPI, and the base has no row saying which serves it"
        return Build(package, version, how, unknown=True)
    elif (
        where.index_variant
        and release is not None
        and where.index_variant in release["variants"]
        # A CUDA index serves no wheel for an OS that has no CUDA build (macOS): pip takes PyPI's.
        and not (where.index_variant.startswith("cu") and facts.no_cuda_builds(package, where.os or "", version))
    ):
        # pip and uv prefer the index build: its local label sorts above the plain release.
        variant, how = where.index_variant, facts.pytorch_index_url(where.index_variant)
        sources, from_pypi, index = (), False, how
    else:
        platform = facts.torch_pypi_platform(where.os or "", version)
        pypi = facts.torch_pypi_build(version) if where.os == "linux" and where.arch in (None, "x86_64") else None
        if platform is not None:
            variant, how = platform["variant"], f"PyPI, whose {where.os} wheels are {platform['variant']} builds"
            sources, from_pypi = (platform["source"],), True
            if variant == "cpu":
                return Build(
                    package,
                    version,
                    how,
                    variant=variant,
                    from_pypi=True,
                    sources=sources,
                    cpu_only=True,
                    gpu_elsewhere=f"install a CUDA build from the PyTorch index ({facts.PYTORCH_INDEX}/<variant>)",
                )
        elif pypi is not None:
            variant, how = facts.variant_of_pypi_cuda(pypi["cuda"]), "PyPI's default Linux wheel"
            sources, from_pypi = (pypi["source"],), True
        else:
            return Build(package, version, "an unknown index")
    cuda = facts.cuda_of_torch_variant(variant)
    arch = facts.torch_arch(version, variant) if cuda else None
    return Build(
        package,
        version,
        how,
        variant=variant,
        cuda=cuda,
        kernels=tuple(arch["sm"]) if arch else None,
        ptx=tuple(arch["ptx"]) if arch else None,
        from_pypi=from_pypi,
        index_url=index,
        sources=sources,
    )


def _tensorflow(package: NormalizedName, version: Version, where: Where) -> Build | None:
    if where.os == "windows":
        last = facts.tensorflow_platform_fact("windows-native-gpu-last")
        if last is not None and version.release[:2] > Version(last["tensorflow"]).release[:2]:
            how = f"PyPI; TensorFlow {last['tensorflow']} is the last release with GPU support on native Windows"
            advice = f"run it in WSL 2, or tensorflow<{_next_minor(last['tensorflow'])} on native Windows"
            return Build(package, version, how, cpu_only=True, gpu_elsewhere=advice, sources=(last["source"],))
    if where.os not in (None, "linux"):
        return Build(package, version, "PyPI", cpu_only=True)  # CUDA builds of TensorFlow are for Linux only
    if "and-cuda" in where.extras:
        wheel = facts.tensorflow_wheel(version)
        for name, pin in (wheel or {}).get("and_cuda", {}).items():
            runtime = _CUDA_VERSIONED.match(name)
            if runtime and wheel is not None:
                asked = pin if pin[:1] in "<>=!~" else f"=={pin}"
                cuda = major_minor(pin) if pin[:1].isdigit() else runtime.group("major") or _lowest_major(pin)
                how = f"[and-cuda], which asks {name}{asked}"
                return Build(package, version, how, cuda=cuda, sources=(wheel["source"],))
        return None
    tested = facts.tensorflow_tested(version)
    if tested is None or "cuda" not in tested:
        return None
    cudnn = int(str(tested["cudnn"]).split(".")[0]) if "cudnn" in tested else None
    return Build(
        package,
        version,
        f"PyPI, built and tested with CUDA {tested['cuda']}, which it loads from the system to use the GPU",
        cuda=major_minor(tested["cuda"]),
        loads_system_cuda=True,
        gpu_optional=True,
        cudnn_major=cudnn,
        sources=(tested["source"],),
    )


def _next_minor(version: str) -> str:
    major, minor = Version(version).release[:2]
    return f"{major}.{minor + 1}"


def _lowest_major(specifier: str) -> str:
    """The CUDA major a specifier's lower bound names (">=12.5.82,<13" is 12)."""
    bounds = [spec.version for spec in SpecifierSet(specifier) if spec.operator in (">=", ">", "==", "~=")]
    return bounds[0].split(".")[0] if bounds else ""


def is_cuda_library(name: str) -> bool:
    """Whether a package is one of NVIDIA's CUDA library wheels (nvidia-cublas-cu12, nvidia-cuda-runtime)."""
    package = facts.normalized(name)
    return package.startswith("nvidia-") and bool(_CUDA_MAJOR_IN_NAME.match(package) or _CUDA_VERSIONED.match(package))


def is_cuda_runtime(name: str) -> bool:
    """Whether a package is NVIDIA's CUDA runtime wheel, whose version is the CUDA it brings."""
    return _CUDA_RUNTIME.match(facts.normalized(name)) is not None


def _jax(package: NormalizedName, version: Version, where: Where) -> Build | None:
    """jax[cudaNN] installs the CUDA NN plugin (its release row pins it); plain jax is a CPU build."""
    majors = [m.group("major") for extra in where.extras if (m := _CUDA_EXTRA.match(extra))]
    if not majors or where.os not in (None, "linux"):
        return None
    release = facts.jax_release(version)
    sources = (release["source"],) if release else ()
    return Build(package, version, f"the [{'/'.join(sorted(where.extras))}] extra", cuda=majors[0], sources=sources)


def _from_rows(package: NormalizedName, version: Version) -> Build | None:
    """A package of the gpu_packages table: its CUDA major, cuDNN, system CUDA and torch, per range."""
    for row in facts.package_builds(package):
        if not SpecifierSet(row["versions"]).contains(version, prereleases=True):
            continue
        major = row.get("cuda_major")
        built = Pep508(row["built_against"]) if "built_against" in row else None
        return Build(
            package,
            version,
            "PyPI",
            cuda=str(major) if major else None,
            loads_system_cuda=bool(row.get("loads_system_cuda", False)),
            static_cuda=not row.get("loads_system_cuda", False) and built is None,
            cudnn_major=row.get("cudnn_major"),
            built_against=built,
            from_pypi=True,
            sources=(row["source"],),
        )
    return None


# The packages whose builds the torch, tensorflow and jax topics describe.
_TOPIC_PACKAGES = frozenset({"torch", *facts.TORCH_COMPANIONS, "tensorflow", "jax", "jaxlib"})
# The packages build_of answers from a topic of their own.
_BUILD_TOPICS = frozenset({"torch", "tensorflow", "jax"})
# What of _known_by_name tells a package's builds, and what marks a package as a GPU package.
_BUILDS_KNOWN = frozenset({"build topic", "build", "kernels", "prebuilt", "cuda name"})
_GPU_KNOWN = frozenset({"topic", "build", "kernels", "platforms", "cuda name"})
_NOTHING_KNOWN: frozenset[str] = frozenset()  # shared: most packages of a large set


def is_variant_label(local: str | None) -> bool:
    """Whether a local version label is a PyTorch-style build variant (cpu, cu121, rocm6.2)."""
    return bool(_LOCAL_VARIANT.match(local or ""))


def is_gpu_package(name: str) -> bool:
    """Whether the base knows the package as one with CUDA builds: a topic of its own, rows in
    gpu_packages or platforms, or a CUDA major in its name."""
    return not _known_by_name(name).isdisjoint(_GPU_KNOWN)


def _kernels(build: Build) -> facts.Kernels:
    return facts.Kernels(build.kernels, build.ptx or (), build.min_capability, "")


def runs_on(build: Build, capability: str) -> bool | None:
    """Whether the build has kernels (or PTX) for a GPU of ``capability``; None if unknown."""
    return _kernels(build).runs_on(capability)


def lacks_kernels(build: Build, capability: str) -> bool:
    """Whether the build is known not to run on a GPU of ``capability``: its kernels and PTX do
    not cover it, or, where they are not recorded, its CUDA is too old to compile for it at all."""
    runs = runs_on(build, capability)
    if runs is not None:
        return not runs
    # Only for variant builds (PyTorch's), which carry no PTX (torch.toml cuda_arch): another
    # build may carry PTX the driver compiles for any newer GPU. A CUDA major alone (a cu12
    # wheel) says nothing of the toolkit minor it was built with.
    if build.variant is None or build.cuda is None or "." not in build.cuda:
        return False
    if facts.toolkit_targets(build.cuda, capability) is not False:
        return False
    # Machine code for an older GPU of the same major runs on this one (sm_86 on 8.8): a toolkit
    # that can target one of those may have built it in.
    major, _, minor = capability.partition(".")
    older = (f"{major}.{m}" for m in range(int(minor or 0)))
    return not any(facts.toolkit_targets(build.cuda, other) for other in older)


def release_builds(name: str, version: Version, where: Where) -> tuple[Build, ...]:
    """Every build of this release an index serves: one per variant index for a package whose
    releases have several (torch on the PyTorch index), else the one ``build_of`` gives."""
    variants = facts.release_variants(name, version)
    if variants:
        found = [build_of(name, Version(f"{version.public}+{variant}"), where) for variant in variants]
        return tuple(build for build in found if build is not None)
    build = build_of(name, version, where)
    return (build,) if build is not None else ()


def best_build(name: str, version: Version, where: Where, driver: str, capabilities: Sequence[str]) -> Build | None:
    """The build of this release, among those the indexes serve, with the newest CUDA the driver
    runs and kernels for every capability: the one answer for the audit's fixes and the lock's
    steering. None when no build of it runs here."""
    runnable = [
        build
        for build in release_builds(name, version, where)
        if _gpu_code(build)
        and not build.unknown
        # A build compiled against another package's (vllm's against torch's) has no CUDA of its own to check.
        and (build.cuda is None or facts.driver_runs(driver, dotted(build.cuda)))
        and not any(lacks_kernels(build, capability) for capability in capabilities)
    ]
    return max(runnable, key=lambda build: Version(dotted(build.cuda or "0"))) if runnable else None


def _gpu_code(build: Build) -> bool:
    return build.cuda is not None or build.kernels is not None or build.min_capability is not None


def supports(build: Build, capability: str) -> bool:
    """Whether the base knows the build runs on a GPU of ``capability``."""
    return _kernels(build).supports(capability)


def cpu_index(name: str) -> str | None:
    """The index that serves CPU builds of the package, where it has one of its own (the PyTorch
    CPU index serves every torch release's CPU build)."""
    return facts.pytorch_index_url("cpu") if facts.has_variant_builds(name, "cpu") else None


def dotted(cuda: str) -> str:
    """A CUDA version as major.minor: a major alone (a cu12 wheel's) is its .0."""
    return cuda if "." in cuda else f"{cuda}.0"


class FromSource(NamedTuple):
    """Why pip builds a release from its sdist on this host, and what gets a prebuilt binary."""

    reason: str
    fix: str
    source: str


class Against(NamedTuple):
    """The release of the package an extension is compiled against, as the set installs it."""

    version: Version
    # Its build: the CUDA (major.minor or a major) and the variant (cu121, cpu); None where unknown.
    cuda: str | None
    variant: str | None


def from_source(
    name: str, version: Version, against: Against, python: str | None, find_links: Sequence[str]
) -> FromSource | None:
    """Whether installing ``name`` ``version`` beside ``against`` means building its sdist: its
    prebuilt binaries (the prebuilt rows) cover another torch, CUDA or Python, or sit on a
    find-links page the set does not give. None where a prebuilt binary is reached, or the base
    has no rows for the release (or the wheel's own label says what it was built for)."""
    rows = facts.prebuilt(name, version)
    if not rows or version.local:
        return None
    first = rows[0]
    if any(_reaches(row, against, python, find_links) for row in rows):
        return None
    minor = major_minor(str(against.version.public))
    page = first.find_links
    if page is not None and first.against.specifier.contains(Version(against.version.public), True):
        variant = against.variant or "<variant>"
        url = facts.prebuilt_page(page, minor, variant)
        label = (
            first.label.replace("{torch}", minor.replace(".", "")).replace("{variant}", variant) if first.label else ""
        )
        pin = f", which has {name}=={version.public}+{label}" if label else ""
        return FromSource(
            f"has only an sdist on PyPI: its wheels are on find-links pages, and the set gives none for "
            f"{first.against.name} {minor}",
            f"add -f {url} (the wheels for {first.against.name} {minor}, {variant}){pin}",
            first.source,
        )
    what = _built_for(first.against.name, minor, against, python)
    fix = _release_with_binary(name, version, against, python, find_links)
    if fix is not None:
        offered = f"{name}=={fix} (the nearest release with a prebuilt wheel for {what})"
    else:
        offered = (
            f"{first.against}, which {name} {version} has prebuilt wheels for, or the CUDA toolkit (nvcc) to build it"
        )
    return FromSource(f"has no prebuilt wheel for {what}", offered, first.source)


def _reaches(row: facts.Prebuilt, against: Against, python: str | None, find_links: Sequence[str]) -> bool:
    """Whether the row's binaries serve this torch (and its CUDA major), this Python and the set's pages."""
    if not row.against.specifier.contains(Version(against.version.public), True):
        return False
    if (
        row.cuda_majors is not None
        and against.cuda is not None
        and int(against.cuda.split(".")[0]) not in row.cuda_majors
    ):
        return False
    if row.python is not None and python is not None and not row.python.contains(python, True):
        return False
    if row.find_links is None:
        return True
    prefix = row.find_links.split("{", 1)[0]
    return any(url.startswith(prefix) for url in find_links)


def _built_for(name: str, minor: str, against: Against, python: str | None) -> str:
    cuda = f", CUDA {against.cuda.split('.')[0]}" if against.cuda else ""
    return f"{name} {minor}{cuda}" + (f" and Python {python}" if python else "")


def _release_with_binary(
    name: str, version: Version, against: Against, python: str | None, find_links: Sequence[str]
) -> Version | None:
    """The release nearest ``version`` (the oldest newer one, else the newest older one) with a
    prebuilt binary for this torch, CUDA and Python."""
    fitting = sorted(
        release.version
        for release in kb_releases.releases(name)
        if any(_reaches(row, against, python, find_links) for row in facts.prebuilt(name, release.version))
    )
    newer = [v for v in fitting if v > version]
    return newer[0] if newer else (fitting[-1] if fitting else None)
