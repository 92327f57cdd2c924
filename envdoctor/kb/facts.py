"""Questions the rules ask of the knowledge base, answered from its rows with their sources.

Every answer carries the ``source`` URLs of the rows it came from, so that a finding can cite
them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from typing import NamedTuple, Protocol

from packaging.requirements import Requirement as Pep508Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.kb import Row, load_topic
from envdoctor.kb.check import cuda_of_variant, major_minor


class Indexes(Protocol):
    """The index options of a requirement set, as far as the base asks them (the requirement
    model's IndexOptions has them; the knowledge layer does not import it)."""

    @property
    def index_url(self) -> str | None: ...
    @property
    def extra_index_urls(self) -> tuple[str, ...]: ...
    @property
    def find_links(self) -> tuple[str, ...]: ...


_NORMALIZED: dict[str, NormalizedName] = {}


def normalized(name: str) -> NormalizedName:
    """``canonicalize_name``, remembered: the readers and the rules ask it of every package of a
    set many times. A normal form is remembered as its own, so that the name a reader normalised
    is not worked out again when a rule asks of it."""
    found = _NORMALIZED.get(name)
    if found is None:
        found = _NORMALIZED[name] = canonicalize_name(name)
        _NORMALIZED.setdefault(found, found)
    return found


MINOR_COMPAT_FIRST_MAJOR = 11  # minor version compatibility exists from CUDA 11 on (cuda.toml)


class DriverNeed(NamedTuple):
    """The NVIDIA driver a CUDA major.minor needs on Linux."""

    cuda: str
    # Lowest driver that runs it at all (the major's minor-version-compatibility floor),
    # spelled as NVIDIA spells it (530.30.02, not 530.30.2).
    minimum: str
    # The driver the toolkit release itself requires (full feature set).
    full: str
    sources: tuple[str, ...]


def _public(version: Version) -> Version:
    """The release without its local label (2.1.0 of 2.1.0+cu121); the version itself when it has none."""
    return version if version.local is None else Version(version.public)


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@functools.cache
def _cuda_releases() -> tuple[tuple[Version, str, str], ...]:
    """(CUDA release, its Linux driver as NVIDIA writes it, source), oldest first."""
    rows = load_topic("cuda", "release")
    return tuple(sorted((Version(row["cuda"]), row["linux_driver"], row["source"]) for row in rows))


@functools.cache
def driver_need(cuda: str) -> DriverNeed | None:
    """What a build for CUDA ``cuda`` (major.minor) needs of the driver; None if the base lacks it."""
    wanted = major_minor(cuda)
    same_minor = [r for r in _cuda_releases() if major_minor(str(r[0])) == wanted]
    if not same_minor:
        return None
    release, full, source = same_minor[0]
    major = release.major
    minimum, sources = full, [source]
    compat = next((row for row in load_topic("cuda", "minor_compat") if row["cuda_major"] == major), None)
    if compat is not None and major >= MINOR_COMPAT_FIRST_MAJOR:
        floor: str = compat["linux_driver"]
        first_of_major = next((r for r in _cuda_releases() if r[0].major == major), None)
        # A floor given as a bare branch ("525") is made concrete by the first driver of that
        # branch that shipped with the major's first toolkit (12.0: 525.60.13).
        if len(Version(floor).release) < 2 and first_of_major is not None:
            floor = max(floor, first_of_major[1], key=Version)
            sources.append(first_of_major[2])
        minimum = min(floor, full, key=Version)
        sources.append(compat["source"])
    return DriverNeed(wanted, minimum, full, tuple(dict.fromkeys(sources)))


def container_cuda_floor(cuda: str) -> str | None:
    """The CUDA a driver must support to run builds for CUDA ``cuda`` that bring their own CUDA
    libraries (wheels): the CUDA of the oldest driver that runs them, 12.0 for 12.8 by minor-version
    compatibility. An image of such builds asks this of the container runtime (NVIDIA_REQUIRE_CUDA)."""
    need = driver_need(cuda)
    return cuda_of_driver(need.minimum) if need is not None else None


def cuda_of_driver(driver: str) -> str | None:
    """The newest CUDA (major.minor) whose toolkit release the driver meets: the CUDA version
    nvidia-smi reports for it. None if the driver is not a version or older than every release."""
    version = _version(driver)
    if version is None:
        return None
    met = [release for release, linux, _source in _cuda_releases() if Version(linux) <= version]
    return major_minor(str(max(met))) if met else None


# Forward compatibility "is applicable only for systems with NVIDIA Data Center GPUs, select NGC
# Server Ready SKUs of RTX cards, Jetson boards" (its page, read 2026-12-02).
FORWARD_COMPATIBILITY_URL = "https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html"
CONTAINER_REQUIREMENTS_URL = "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/1.11.0/user-guide.html"


def container_admits(
    require_cuda: str, driver: str, driver_cuda: str, brands: frozenset[str] | None = None
) -> bool | None:
    """Whether the NVIDIA container runtime starts an image whose NVIDIA_REQUIRE_CUDA is
    ``require_cuda`` on this driver: its space-separated alternatives, any of which will do
    ("cuda>=12.9" or "brand=tesla,driver>=535,driver<536"). ``brands``: the host GPUs' NVML brands
    where known (geforce); None where only a brand clause could admit it and the brand is unknown."""
    version = _version(driver)
    if version is None:
        return None
    brand_could = False
    for alternative in require_cuda.split():
        conditions = alternative.split(",")
        cuda = [c.removeprefix("cuda>=") for c in conditions if c.startswith("cuda>=")]
        drivers = [c.removeprefix("driver") for c in conditions if c.startswith("driver")]
        brand = [c.removeprefix("brand=") for c in conditions if c.startswith("brand=")]
        if cuda and Version(driver_cuda) >= Version(cuda[0]):
            return True
        if drivers and all(SpecifierSet(d).contains(version) for d in drivers):
            if brands is not None and brand and brand[0] in brands:
                return True
            brand_could = brand_could or brands is None or not brand
    return None if brand_could else False


# NVML's brand names (nvmlBrandType_t: NVML_BRAND_GEFORCE, NVML_BRAND_TITAN, ...), lower-cased as the
# container toolkit matches them in NVIDIA_REQUIRE_CUDA's brand= clauses, for the product lines whose
# name says the brand; other names (A100, RTX A5000) are left unknown.
_BRAND_IN_NAME = (("geforce", "geforce"), ("titan", "titan"))


def gpu_brand(name: str | None) -> str | None:
    """The NVML brand a GPU's product name says (GeForce RTX 5090: geforce), or None."""
    lowered = (name or "").lower()
    return next((brand for word, brand in _BRAND_IN_NAME if word in lowered), None)


def driver_runs(driver: str, cuda: str) -> bool | None:
    """Whether the driver runs builds for CUDA ``cuda``; None if either is unknown."""
    need = driver_need(cuda)
    version = _version(driver)
    if need is None or version is None:
        return None
    return version >= Version(need.minimum)


# --- GPU architectures -----------------------------------------------------------------------


def _capability(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def kernels_run_on(capability: str, sm: list[str], ptx: list[str]) -> bool:
    """Whether a build with kernels for ``sm`` and PTX for ``ptx`` runs on a GPU of ``capability``.

    Machine code for X.Y runs on X.Z for Z >= Y (same major); PTX for X.Y is compiled by the
    driver for any newer GPU (CUDA C Programming Guide, "Binary Compatibility" and "PTX
    Compatibility": https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#binary-compatibility).
    """
    gpu = _capability(capability)
    if any(_capability(s)[0] == gpu[0] and _capability(s)[1] <= gpu[1] for s in sm):
        return True
    return any(_capability(p) <= gpu for p in ptx)


def _architecture(capability: str) -> Row | None:
    return next(
        (r for r in load_topic("gpu_architectures", "architecture") if r["compute_capability"] == capability), None
    )


def known_capabilities() -> tuple[str, ...]:
    """Every compute capability the base has an architecture row for, oldest first."""
    rows = load_topic("gpu_architectures", "architecture")
    return tuple(sorted({str(row["compute_capability"]) for row in rows}, key=_capability))


def architecture_source(capability: str) -> str | None:
    """Where the base read which CUDA releases can target a compute capability."""
    row = _architecture(capability)
    return str(row.get("arch_source", row["source"])) if row is not None else None


def capability_below(capability: str, floor: str) -> bool:
    return _capability(capability) < _capability(floor)


def toolkit_targets(cuda: str, capability: str) -> bool | None:
    """Whether a CUDA toolkit of this version can compile machine code for the capability (its
    architecture row's first and last CUDA); None where the base does not know."""
    row = _architecture(capability)
    if row is None or "first_cuda" not in row:
        return None
    version = Version(cuda)
    return Version(row["first_cuda"]) <= version and ("last_cuda" not in row or version <= Version(row["last_cuda"]))


BINARY_COMPATIBILITY_URL = "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#binary-compatibility"


# --- PyTorch ---------------------------------------------------------------------------------

# The PyTorch wheel index: one folder per build variant, nightly and test builds in their own.
PYTORCH_INDEX = "https://download.pytorch.org/whl"
_PYTORCH_INDEX_URL = re.compile(
    r"https?://download\.pytorch\.org/whl/(?:(?:nightly|test)/)?(?P<variant>cpu|cu\d{2,3}|rocm[\d.]+)/?$"
)


# The packages released in lockstep with torch, whose release rows name their version.
TORCH_COMPANIONS = ("torchvision", "torchaudio")


def pytorch_index_variant(url: str) -> str | None:
    """The build variant a PyTorch index URL serves (cu121 for .../whl/cu121), else None."""
    match = _PYTORCH_INDEX_URL.match(url)
    return match.group("variant") if match else None


def pytorch_index_url(variant: str) -> str:
    return f"{PYTORCH_INDEX}/{variant}"


def index_serves(name: str, indexes: Indexes) -> frozenset[Version] | None:
    """The releases of ``name`` reachable when a PyTorch variant index is the only index (those
    it has a build of), or None when nothing limits them."""
    if indexes.extra_index_urls or indexes.find_links or not indexes.index_url:
        return None
    variant = pytorch_index_variant(indexes.index_url)
    return variant_serves(name, variant) if variant is not None else None


def variant_serves(name: str, variant: str) -> frozenset[Version] | None:
    """The releases of ``name`` the PyTorch index of ``variant`` has a build of (torch and its
    companions, by the release rows), or None for a package the rows do not cover."""
    wanted = normalized(name)
    served = set()
    for row in load_topic("torch", "release"):
        if variant not in row["variants"]:
            continue
        for field in ("torch", *TORCH_COMPANIONS):
            if field == wanted and field in row:
                served.add(Version(row[field]))
    return frozenset(served) if wanted in ("torch", *TORCH_COMPANIONS) else None


@functools.cache
def _by_version(topic: str, table: str, field: str) -> dict[Version, Row]:
    """A table's rows by the version in ``field`` (the first row wins)."""
    rows: dict[Version, Row] = {}
    for row in load_topic(topic, table):
        rows.setdefault(Version(row[field]), row)
    return rows


@functools.cache
def _by_range(topic: str, table: str, field: str) -> tuple[tuple[SpecifierSet, Row], ...]:
    """A table's rows with the version range in ``field`` parsed once."""
    return tuple((SpecifierSet(row[field]), row) for row in load_topic(topic, table))


def release_variants(name: str, version: Version) -> tuple[str, ...]:
    """The build variants the PyTorch index serves of this release of torch or a companion
    (cpu, cu121, ...); none for a package or release the release rows do not name."""
    wanted = normalized(name)
    if wanted not in ("torch", *TORCH_COMPANIONS):
        return ()
    return _variants_of(wanted).get(Version(version.public), ())


def has_variant_builds(name: str, variant: str) -> bool:
    """Whether the PyTorch index serves ``variant`` builds of the package's releases."""
    wanted = normalized(name)
    return wanted in ("torch", *TORCH_COMPANIONS) and any(variant in v for v in _variants_of(wanted).values())


@functools.cache
def _variants_of(package: str) -> dict[Version, tuple[str, ...]]:
    found: dict[Version, tuple[str, ...]] = {}
    for row in load_topic("torch", "release"):
        if package in row:
            found.setdefault(Version(row[package]), tuple(row["variants"]))
    return found


def torch_release(version: Version) -> Row | None:
    return _by_version("torch", "release", "torch").get(Version(version.public))


def torch_pypi_build(version: Version) -> Row | None:
    return _by_version("torch", "pypi_build", "torch").get(Version(version.public))


def torch_pypi_platform(os_name: str, version: Version) -> Row | None:
    """The variant every PyPI torch wheel for ``os_name`` is (macOS, Windows: CPU), if one is."""
    public = Version(version.public)
    return next(
        (
            row
            for specifier, row in _by_range("torch", "pypi_platform", "torch")
            if row["os"] == os_name and specifier.contains(public, prereleases=True)
        ),
        None,
    )


def no_cuda_builds(name: str, os_name: str, version: Version) -> str | None:
    """The source that says no index serves a CUDA build of ``name`` ``version`` for ``os_name``
    (torch on macOS), or None where the base does not say so."""
    if normalized(name) not in ("torch", *TORCH_COMPANIONS):
        return None
    row = torch_pypi_platform(os_name, version)
    return str(row["source"]) if row is not None and row.get("cuda_builds") is False else None


def torch_arch(version: Version, variant: str) -> Row | None:
    public = Version(version.public)
    return next(
        (
            row
            for specifier, row in _by_range("torch", "cuda_arch", "torch")
            if row["variant"] == variant and specifier.contains(public, prereleases=True)
        ),
        None,
    )


def variant_of_pypi_cuda(cuda: str) -> str:
    """The PyTorch index variant name of a CUDA major.minor: 12.1 -> cu121."""
    return "cu" + major_minor(cuda).replace(".", "")


def newest_torch(specifier: SpecifierSet | None = None, python: str | None = None) -> Version | None:
    """The newest torch release the base knows that ``specifier`` admits and that supports
    ``python`` (compared by major.minor: a host's Python can be a build like 3.14.0a1+)."""
    minor = Version(".".join(python.split(".")[:2])) if python else None
    return max(
        (
            version
            for version, row in _by_version("torch", "release", "torch").items()
            if (specifier is None or specifier.contains(version))
            and (minor is None or SpecifierSet(row["python"]).contains(minor))
        ),
        default=None,
    )


# --- TensorFlow, JAX -------------------------------------------------------------------------


def tensorflow_platform_fact(fact: str) -> Row | None:
    """A TensorFlow platform fact by its name (windows-native-gpu-last, macos-x86-last, ...)."""
    return next((row for row in load_topic("tensorflow", "platform") if row["fact"] == fact), None)


def tensorflow_wheel(version: Version) -> Row | None:
    return _by_version("tensorflow", "wheel", "tensorflow").get(version)


def tensorflow_tested(version: Version, platform: str = "linux") -> Row | None:
    """The tested configuration row for a release: exact, else the same major.minor."""
    rows = [row for row in load_topic("tensorflow", "tested") if row["platform"] == platform]
    exact = [row for row in rows if Version(row["tensorflow"]) == version]
    if exact:
        return exact[0]
    same_minor = [row for row in rows if Version(row["tensorflow"]).release[:2] == version.release[:2]]
    return same_minor[0] if same_minor else None


def jax_release(version: Version) -> Row | None:
    return _by_version("jax", "release", "jax").get(version)


# --- packages released in lockstep -------------------------------------------------------------


class Lockstep(NamedTuple):
    """What release V of a package needs of a companion, by the base's rows (not its metadata)."""

    companion: str
    specifier: SpecifierSet
    # How the package's release relates to it, for messages: "was released with torchvision 0.17.0".
    relation: str
    source: str
    # A local build label (+cu121) must match across the two when both carry one.
    same_build: bool = False
    # The finding belongs on the package's own line (it was built against the companion), not the companion's.
    on_own_line: bool = False

    def pin(self, variant: str | None = None) -> str:
        """The companion as a fix writes it: the release the rows name; for a range (a companion
        built against torch's stable ABI) the newest release in it that the variant's index serves,
        else that PyPI has; with the build label where the two share one."""
        from envdoctor.kb import releases

        label = f"+{variant}" if variant and self.same_build else ""
        exact = [spec.version for spec in self.specifier if spec.operator == "=="]
        if not label:
            return f"{self.companion}{self.specifier}"
        if len(exact) == 1 and "*" not in exact[0]:
            return f"{self.companion}=={exact[0]}{label}"
        served = variant_serves(self.companion, variant) if variant and label else None
        known = served if served else {release.version for release in releases.releases(self.companion)}
        inside = sorted(v for v in known if self.specifier.contains(v))
        return (
            f"{self.companion}=={inside[-1]}{label if served else ''}"
            if inside
            else f"{self.companion}{self.specifier}"
        )


# The packages whose companions a topic of their own lists.
_LOCKSTEP_TOPICS = frozenset({"torch", "jax", "tensorflow"})


def lockstep(name: str, version: Version) -> tuple[Lockstep, ...]:
    """The companions release ``version`` of ``name`` moves in lockstep with: torch's torchvision
    and torchaudio, jax's jaxlib and CUDA plugins, TensorFlow's TensorBoard, and the torch a GPU
    extension (xformers, vllm) was built against."""
    wanted = normalized(name)
    rows = gpu_rows(wanted)
    if wanted not in _LOCKSTEP_TOPICS and "build" not in rows and "prebuilt" not in rows:
        return ()  # nearly every package of a large set: no topic, no build or prebuilt rows
    found: list[Lockstep] = []
    if wanted == "torch" and (release := torch_release(version)) is not None:
        stable = {row["companion"]: row for row in load_topic("torch", "stable_abi")
                  if SpecifierSet(row["torch"]).contains(Version(version.public), prereleases=True)}  # fmt: skip
        for companion in TORCH_COMPANIONS:
            if companion in stable:
                # Built against the stable ABI: any of its releases in range serves this torch.
                row = stable[companion]
                relation = f"runs with {companion}{row['versions']} (built against torch's stable ABI)"
                found.append(Lockstep(companion, SpecifierSet(row["versions"]), relation, row["source"], True))
            elif companion in release:
                expected = str(release[companion])
                relation = f"was released with {companion} {expected}"
                found.append(Lockstep(companion, SpecifierSet(f"=={expected}"), relation, release["source"], True))
    if wanted == "jax" and (jax := jax_release(version)) is not None:
        for companion, pin in {"jaxlib": jax["jaxlib"], **jax.get("cuda_plugin", {})}.items():
            specifier = SpecifierSet(pin) if any(op in pin for op in "<>=!~") else SpecifierSet(f"=={pin}")
            found.append(Lockstep(companion, specifier, f"needs {companion}{specifier}", jax["source"]))
    if wanted == "tensorflow" and (wheel := tensorflow_wheel(version)) is not None and "tensorboard" in wheel:
        specifier = SpecifierSet(wheel["tensorboard"])
        found.append(Lockstep("tensorboard", specifier, f"needs tensorboard{specifier}", wheel["source"]))
    label = labelled(wanted, version)
    if label is not None:
        # A labelled extension wheel loads only into the torch minor it was compiled for.
        relation = f"is a wheel built for {label.against} {label.minor} (its +{version.local} label)"
        step = Lockstep(label.against, SpecifierSet(f"=={label.minor}.*"), relation, label.source, on_own_line=True)
        found.append(step)
    for row in package_builds(wanted):
        if "built_against" in row and SpecifierSet(row["versions"]).contains(version, prereleases=True):
            built = Pep508Requirement(row["built_against"])
            relation = f"is built against {built}"
            found.append(Lockstep(built.name, built.specifier, relation, row["source"], on_own_line=True))
    return tuple(found)


# --- other packages --------------------------------------------------------------------------


def conflicts() -> tuple[Row, ...]:
    return load_topic("incompatibilities", "conflict")


class Conflict(NamedTuple):
    """A release range of a package that breaks beside a range of another, which the packages'
    metadata does not prevent."""

    kind: str
    package: str
    versions: SpecifierSet
    breaks_with: Pep508Requirement
    fix: str
    upgrade: str | None
    message: str
    source: str

    @property
    def declared_clash(self) -> bool:
        """Pins the packages' metadata does declare, that clash (two cuDNN or NCCL pins): a
        resolver backtracks out of them rather than install a broken pair."""
        return self.kind in ("cudnn-pin-clash", "nccl-pin-clash")


@functools.cache
def known_conflicts() -> tuple[Conflict, ...]:
    """Every known conflict: the incompatibilities rows, and torch's NumPy 1.x builds, which
    break under NumPy 2 like any other extension built against NumPy 1."""
    found = [
        Conflict(
            row["kind"],
            row["package"],
            SpecifierSet(row["versions"]),
            Pep508Requirement(row["breaks_with"]),
            row["fix"],
            row.get("upgrade"),
            row["message"],
            row["source"],
        )
        for row in conflicts()
    ]
    found += [
        Conflict(
            "numpy2-abi",
            "torch",
            SpecifierSet(row["torch"]),
            Pep508Requirement("numpy>=2"),
            "numpy<2",
            None,
            f"torch was built against NumPy {row['numpy_major']}.x and its C extensions fail under NumPy 2",
            row["source"],
        )
        for row in load_topic("torch", "numpy_build")
        if row["numpy_major"] == 1
    ]
    return tuple(found)


class Kernels(NamedTuple):
    """The GPUs a package's builds of some releases run on: their machine code and PTX, or only
    the oldest GPU they support."""

    sm: tuple[str, ...] | None
    ptx: tuple[str, ...]
    min_capability: str | None
    source: str

    def runs_on(self, capability: str) -> bool | None:
        """Whether they run on a GPU of ``capability``; None if unknown. Known only by its oldest
        GPU, a build is known not to run on an older one, nothing more."""
        if self.sm is not None:
            return kernels_run_on(capability, list(self.sm), list(self.ptx))
        if self.min_capability is not None and capability_below(capability, self.min_capability):
            return False
        return None

    def supports(self, capability: str) -> bool:
        """Whether they are known to run on it: the kernels cover it, or the source names an
        oldest GPU it is not older than."""
        runs = self.runs_on(capability)
        if runs is not None:
            return runs
        return self.min_capability is not None


def breaks_with(name: str, version: Version, other: str, theirs: Version) -> bool:
    """Whether a conflict row (one the metadata does not declare) says release ``version`` of
    ``name`` breaks beside release ``theirs`` of ``other``, either way round."""
    mine, their_name = canonicalize_name(name), canonicalize_name(other)
    for row in known_conflicts():
        if row.declared_clash:
            continue
        pairs = ((row.package, row.versions, row.breaks_with.name, row.breaks_with.specifier),
                 (row.breaks_with.name, row.breaks_with.specifier, row.package, row.versions))  # fmt: skip
        for package, versions, against, specifier in pairs:
            if canonicalize_name(package) != mine or canonicalize_name(against) != their_name:
                continue
            if versions.contains(Version(version.public), True) and specifier.contains(Version(theirs.public), True):
                return True
    return False


def _kernels_rows(package: str) -> tuple[tuple[SpecifierSet, Kernels], ...]:
    return _kernels_by_package().get(package, ())


@functools.cache
def _kernels_by_package() -> dict[str, tuple[tuple[SpecifierSet, Kernels], ...]]:
    """The kernels rows by normalised package name, built once: every package of a set asks."""
    found: dict[str, list[tuple[SpecifierSet, Kernels]]] = {}
    for row in load_topic("gpu_packages", "kernels"):
        kernels = Kernels(
            tuple(row["sm"]) if "sm" in row else None,
            tuple(row.get("ptx", ())),
            row.get("min_capability"),
            row["source"],
        )
        found.setdefault(canonicalize_name(row["package"]), []).append((SpecifierSet(row["versions"]), kernels))
    return {package: tuple(rows) for package, rows in found.items()}


def kernels_ranges(name: str) -> tuple[tuple[SpecifierSet, Kernels], ...]:
    """Each release range of the package the kernels rows cover, with its kernels."""
    return _kernels_rows(normalized(name))


def package_kernels(name: str, version: Version) -> Kernels | None:
    """The kernels row covering this release of a GPU package (torch's are ``torch_arch``)."""
    public = _public(version)
    return next(
        (row for spec, row in _kernels_rows(normalized(name)) if spec.contains(public, prereleases=True)),
        None,
    )


def package_builds(name: str) -> tuple[Row, ...]:
    return _builds_by_package().get(normalized(name), ())


@functools.cache
def _builds_by_package() -> dict[str, tuple[Row, ...]]:
    found: dict[str, list[Row]] = {}
    for row in load_topic("gpu_packages", "build"):
        found.setdefault(canonicalize_name(row["package"]), []).append(row)
    return {package: tuple(rows) for package, rows in found.items()}


_NO_ROWS: frozenset[str] = frozenset()


def gpu_rows(name: str) -> frozenset[str]:
    """Which of the base's per-package GPU tables hold rows for the package ("build", "kernels",
    "prebuilt", "platforms"): one lookup, as the rules ask it of every package of a large set."""
    return _gpu_rows_by_package().get(normalized(name), _NO_ROWS)


@functools.cache
def _gpu_rows_by_package() -> dict[str, frozenset[str]]:
    """For each package with rows in any of the per-package GPU tables, which ones: built once."""
    tables: dict[str, Collection[str]] = {
        "build": _builds_by_package(),
        "kernels": _kernels_by_package(),
        "prebuilt": _prebuilt_by_package(),
        "platforms": _platforms_by_name(),
    }
    found: dict[str, set[str]] = {}
    for table, by_package in tables.items():
        for package in by_package:
            found.setdefault(canonicalize_name(package), set()).add(table)
    return {package: frozenset(names) for package, names in found.items()}


class Platforms(NamedTuple):
    """The platforms a package's wheels cover, for releases the releases topic does not track."""

    versions: SpecifierSet
    platforms: tuple[str, ...]
    source: str


def platforms_of(name: str) -> Platforms | None:
    row = _platforms_by_name().get(normalized(name))
    if row is None:
        return None
    return Platforms(SpecifierSet(row["versions"]), tuple(row["platforms"]), row["source"])


@functools.cache
def _platforms_by_name() -> dict[str, Row]:
    """The platforms rows by name (the first row of a name, as a scan finds it), built once."""
    found: dict[str, Row] = {}
    for row in load_topic("platforms", "package"):
        found.setdefault(row["name"], row)
    return found


class NativeCode(NamedTuple):
    """The platforms a release's bundled libraries run on, where its wheel tags do not say."""

    platforms: tuple[str, ...]
    note: str
    source: str


def native_code(name: str, version: Version) -> NativeCode | None:
    """The native_code row covering this release (bitsandbytes < 0.43: Linux .so files in a pure wheel)."""
    row = _covering("native_code", name, version)
    return NativeCode(tuple(row["platforms"]), row["note"], row["source"]) if row is not None else None


def failing_source_build(name: str, version: Version, python: str) -> Row | None:
    """The source_build row saying this release's sdist does not build on Python ``python``."""
    row = _covering("source_build", name, version)
    return row if row is not None and SpecifierSet(row["python"]).contains(python, prereleases=True) else None


def _covering(table: str, name: str, version: Version) -> Row | None:
    """The first row of a platforms table for the package whose releases cover ``version``."""
    rows = _platform_rows_by_package(table).get(normalized(name), ())
    if not rows:
        return None  # most packages: asked of each release the audit weighs
    public = _public(version)
    return next((row for versions, row in rows if versions.contains(public, prereleases=True)), None)


@functools.cache
def _platform_rows_by_package(table: str) -> dict[str, tuple[tuple[SpecifierSet, Row], ...]]:
    """A platforms table's rows by package, in the table's order, each with its release range read once."""
    found: dict[str, list[tuple[SpecifierSet, Row]]] = {}
    for row in load_topic("platforms", table):
        found.setdefault(row["package"], []).append((SpecifierSet(row["versions"]), row))
    return {package: tuple(rows) for package, rows in found.items()}


class Prebuilt(NamedTuple):
    """Where a release's prebuilt binaries exist: for which releases of the package it is compiled
    against (torch), which CUDA majors and Pythons, and, for wheels off PyPI, on which find-links
    page and under which local label. Elsewhere pip builds the release's sdist."""

    against: Pep508Requirement
    cuda_majors: tuple[int, ...] | None
    python: SpecifierSet | None
    # A find-links page per minor of ``against`` and build variant: {torch} is "2.4", {variant} "cu121".
    find_links: str | None
    # The wheels' local label: {torch} is the minor without its dot (pt23), {variant} the build variant.
    label: str | None
    source: str


def prebuilt(name: str, version: Version) -> tuple[Prebuilt, ...]:
    """The prebuilt rows covering this release of ``name``; empty where it has none."""
    rows = _prebuilt_rows(normalized(name))
    if not rows:
        return ()  # most packages: no prebuilt rows, no version to read
    public = _public(version)
    return tuple(row for spec, row in rows if spec.contains(public, True))


def _prebuilt_rows(package: str) -> tuple[tuple[SpecifierSet, Prebuilt], ...]:
    return _prebuilt_by_package().get(package, ())


@functools.cache
def _prebuilt_by_package() -> dict[str, tuple[tuple[SpecifierSet, Prebuilt], ...]]:
    """The prebuilt rows by their package (as written), built once: every package of a set asks."""
    found: dict[str, list[tuple[SpecifierSet, Prebuilt]]] = {}
    for row in load_topic("gpu_packages", "prebuilt"):
        built = Prebuilt(
            Pep508Requirement(row["against"]),
            tuple(row["cuda_majors"]) if "cuda_majors" in row else None,
            SpecifierSet(row["python"]) if "python" in row else None,
            row.get("find_links"),
            row.get("label"),
            row["source"],
        )
        found.setdefault(row["package"], []).append((SpecifierSet(row["versions"]), built))
    return {package: tuple(rows) for package, rows in found.items()}


class Labelled(NamedTuple):
    """What a wheel's local label says of its build (torch-scatter 2.1.2+pt23cu121)."""

    against: str  # the package it is compiled against: torch
    minor: str  # the release minor of it: "2.3"
    variant: str | None  # the build variant: cu121, cpu; None where the label names none (macOS)
    source: str


def labelled(name: str, version: Version) -> Labelled | None:
    """The build a local label names, by the label scheme of the package's prebuilt rows."""
    if not version.local:
        return None
    for row in prebuilt(name, version):
        found = _label_pattern(row.label).fullmatch(version.local) if row.label else None
        if found:
            minor = f"{found.group('major')}.{found.group('minor')}"
            return Labelled(row.against.name, minor, found.group("variant"), row.source)
    return None


@functools.cache
def _label_pattern(template: str) -> re.Pattern[str]:
    """A label template as a pattern: {torch} is a single-digit major and its minor without the
    dot (pt23 is 2.3, pt113 is 1.13), {variant} an optional build variant (macOS wheels have none)."""
    parts = re.split(r"(\{torch\}|\{variant\})", template)
    fields = {"{torch}": r"(?P<major>\d)(?P<minor>\d{1,2})", "{variant}": r"(?P<variant>cpu|cu\d{2,3})?"}
    return re.compile("".join(fields.get(part, re.escape(part)) for part in parts))


def prebuilt_page(template: str, minor: str, variant: str) -> str:
    """The find-links page of a prebuilt row for a release minor and build variant."""
    return template.replace("{torch}", minor).replace("{variant}", variant)


CUDA_IMAGE_REPOSITORIES = ("nvidia/cuda", "docker.io/nvidia/cuda", "nvcr.io/nvidia/cuda")
# NVIDIA's tag scheme: <cuda>-[cudnn<N>-]<flavor>-<os>, as in 12.4.1-cudnn-runtime-ubuntu22.04.
_CUDA_IMAGE_TAG = re.compile(
    r"^(?P<cuda>\d+\.\d+(?:\.\d+)?)-(?:(?:(?P<cudnn>cudnn)\d*-)?(?P<flavor>base|runtime|devel)\b)?"
)


class ImageFacts(NamedTuple):
    """What a base image carries, as the base knows it: from its base_images row, else what its
    tag says by its publisher's naming scheme. Every field may be unknown."""

    cuda: str | None = None
    cudnn: str | None = None
    python: str | None = None
    glibc: str | None = None
    # The driver the image's release notes ask, and the data-center branches they also allow.
    min_driver: str | None = None
    compat_drivers: tuple[str, ...] = ()
    min_capability: str | None = None
    # Its NVIDIA_REQUIRE_CUDA (nvidia/cuda images and those built on them).
    require_cuda: str | None = None
    # Distributions it installs, "name==version", and the build variant they are (pytorch/pytorch's cu124).
    preinstalled: tuple[str, ...] = ()
    variant: str | None = None
    # pip is held to the preinstalled versions by a constraint file (NGC PyTorch from 25.03).
    pip_constraint: bool = False
    # nvidia/cuda's flavour: base, runtime, devel, cudnn-runtime, cudnn-devel.
    flavor: str | None = None
    source: str | None = None  # None: read from the tag alone


# Docker Hub tags of PyTorch's and TensorFlow's own images, by the schemes their publishers write:
# pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime (docker-release.yml: PYTORCH_DOCKER_TAG =
# "${PYTORCH_VERSION}-cuda${CUDA_VERSION_SHORT}-cudnn${CUDNN_VERSION}-runtime"), and
# tensorflow/tensorflow:2.15.0-gpu (TensorFlow's Docker guide: a release's tag, -gpu for GPU support).
_PYTORCH_IMAGE_TAG = re.compile(
    r"^(?P<torch>\d+\.\d+\.\d+)-cuda(?P<cuda>\d+\.\d+)-cudnn(?P<cudnn>\d+)-(?:runtime|devel)$"
)
_TENSORFLOW_IMAGE_TAG = re.compile(r"^(?P<tf>\d+\.\d+\.\d+)-gpu(?:-jupyter)?$")
PYTORCH_IMAGE_TAGS_URL = "https://github.com/pytorch/pytorch/blob/main/.github/workflows/docker-release.yml"
TENSORFLOW_IMAGE_TAGS_URL = "https://github.com/tensorflow/docs/blob/master/site/en/install/docker.md"
_DOCKER_HUB_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/", "library/")


def hub_name(repository: str) -> str:
    """An image repository as the base records it: Docker Hub's implicit prefixes left out
    (docker.io/library/python is python, docker.io/nvidia/cuda is nvidia/cuda)."""
    return next((repository.removeprefix(p) for p in _DOCKER_HUB_PREFIXES if repository.startswith(p)), repository)


def image_facts(repository: str, tag: str | None) -> ImageFacts | None:
    """What the image ``repository:tag`` carries; None where the base knows nothing of it."""
    if not tag:
        return None
    name = hub_name(repository)
    row = base_image(name, tag)
    if row is not None:
        return _row_facts(row)
    if name == "pytorch/pytorch" and (match := _PYTORCH_IMAGE_TAG.match(tag)):
        cuda = match.group("cuda")
        return ImageFacts(
            cuda=cuda,
            cudnn=match.group("cudnn"),
            preinstalled=(f"torch=={match.group('torch')}",),
            variant=variant_of_pypi_cuda(cuda),
            source=PYTORCH_IMAGE_TAGS_URL,
        )
    if name == "tensorflow/tensorflow" and (match := _TENSORFLOW_IMAGE_TAG.match(tag)):
        tested = tensorflow_tested(Version(match.group("tf")))
        return ImageFacts(
            cuda=str(tested["cuda"]) if tested and "cuda" in tested else None,
            preinstalled=(f"tensorflow=={match.group('tf')}",),
            source=TENSORFLOW_IMAGE_TAGS_URL,
        )
    return cuda_image(repository, tag)


def _row_facts(row: Row) -> ImageFacts:
    return ImageFacts(
        cuda=str(row["cuda"]) if "cuda" in row else None,
        cudnn=str(row["cudnn"]) if "cudnn" in row else None,
        python=row.get("python"),
        glibc=row.get("glibc"),
        min_driver=row.get("min_driver"),
        compat_drivers=tuple(row.get("compat_drivers", ())),
        min_capability=row.get("min_capability"),
        require_cuda=row.get("require_cuda"),
        preinstalled=tuple(row.get("preinstalled", ())),
        pip_constraint=bool(row.get("pip_constraint", False)),
        flavor=row.get("flavor"),
        source=str(row["source"]),
    )


def cuda_image(repository: str, tag: str | None) -> ImageFacts | None:
    """What an nvidia/cuda image carries, from its row or its tag; None for any other image."""
    if repository not in CUDA_IMAGE_REPOSITORIES or not tag:
        return None
    row = base_image("nvidia/cuda", tag)
    if row is not None:
        return _row_facts(row)
    match = _CUDA_IMAGE_TAG.match(tag)
    if match is None:
        return ImageFacts()
    flavor = match.group("flavor")
    return ImageFacts(cuda=match.group("cuda"), flavor=f"cudnn-{flavor}" if flavor and match.group("cudnn") else flavor)


def base_image(repository: str, tag: str) -> Row | None:
    return next(
        (row for row in load_topic("base_images", "image") if row["repository"] == repository and row["tag"] == tag),
        None,
    )


def cuda_of_torch_variant(variant: str) -> str | None:
    """The CUDA major.minor of a PyTorch build variant: cu121 -> 12.1; cpu -> None."""
    return cuda_of_variant(variant)


# --- model artifacts (artifacts.toml) ------------------------------------------------------------


@functools.cache
def artifact_version_keys() -> dict[str, NormalizedName]:
    """The state keys under which libraries record the release that wrote an object, by key."""
    rows = load_topic("artifacts", "version_key")
    return {row["key"]: canonicalize_name(row["package"]) for row in rows if "format" not in row}


# The formats that store their objects' state, where a library's version key is found.
_STATEFUL_FORMATS = ("pickle", "joblib", "torch", "skops")


def artifact_writer(file_format: str, key: str) -> Row | None:
    """The row of a release recorded under ``key`` in a file of ``file_format``: a format's own
    header key, or, for pickles and skops files, a key in their objects' state."""
    in_state = file_format in _STATEFUL_FORMATS
    for row in load_topic("artifacts", "version_key"):
        if row["key"] == key and (row.get("format") == file_format or ("format" not in row and in_state)):
            return row
    return None


def format_version_needs(file_format: str, value: str) -> Row | None:
    """What a format version (LightGBM's v4) needs of the package that reads it."""
    for row in load_topic("artifacts", "format_version"):
        if row["format"] == file_format and row["value"] == value:
            return row
    return None


def onnx_support(package: str, version: Version) -> Row | None:
    """The newest opset and IR version this release of an ONNX runtime loads; None: not known."""
    wanted, public = canonicalize_name(package), _public(version)
    for row in load_topic("artifacts", "onnx_runtime"):
        if row["package"] == wanted and SpecifierSet(row["versions"]).contains(public, prereleases=True):
            return row
    return None


def onnx_runtimes() -> tuple[NormalizedName, ...]:
    """The ONNX runtimes the knowledge base knows what they load, in the order first named."""
    rows = load_topic("artifacts", "onnx_runtime")
    return tuple(dict.fromkeys(canonicalize_name(row["package"]) for row in rows))


def first_onnx_release(package: str, opset: int, ir_version: int, ml_opset: int = 0) -> Row | None:
    """The earliest row of ``package`` whose release loads these operator sets and IR version."""
    wanted = canonicalize_name(package)
    fitting = [
        row
        for row in load_topic("artifacts", "onnx_runtime")
        if row["package"] == wanted
        and row["opset"] >= opset
        and row["ir_version"] >= ir_version
        and row.get("ml_opset", 0) >= ml_opset
    ]
    return min(fitting, key=lambda row: _floor(row["versions"]), default=None)


def _floor(specifier: str) -> Version:
    """The lowest release a ``>=X,<Y`` range names (0 where none)."""
    floors = [Version(spec.version) for spec in SpecifierSet(specifier) if spec.operator in (">=", "==")]
    return min(floors, default=Version("0"))


@functools.cache
def _globals_by_name() -> dict[str, Row]:
    return {row["name"]: row for row in load_topic("artifacts", "global")}


def pickle_global(name: str) -> Row | None:
    """The row of a global a pickle names: the longest module or module.attribute row it starts with."""
    rows = _globals_by_name()
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        row = rows.get(".".join(parts[:end]))
        if row is not None:
            return row
    return None


def weights_only_globals(torch: Version) -> frozenset[str] | None:
    """What torch.load accepts by default in this torch release; None where its default loads anything."""
    public = _public(torch)
    for row in load_topic("artifacts", "weights_only"):
        if SpecifierSet(row["torch"]).contains(public, prereleases=True):
            return frozenset(row["names"])
    return None


def weights_only_source() -> str:
    rows = load_topic("artifacts", "weights_only")
    return str(rows[0]["source"]) if rows else ""
