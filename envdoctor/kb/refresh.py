"""Find releases newer than the knowledge base knows and draft their rows from wheel METADATA.

Run by ``ci/kb-refresh`` (needs the package index). It lists, for every tracked GPU package (or
every tracked package), the newest final release on the index, the newest the generated releases
table knows and whether the hand-curated topic rows know it; then it prints TOML for a person to
review and paste: rows whose every value was read from a wheel's METADATA, cited to that wheel.
Facts the metadata does not carry (the PyTorch index's build variants, tested CUDA versions, the
kernels a build carries) are left for the reviewer and named in a comment.
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from envdoctor.kb import load_topic, package_rows, topic_packages
from envdoctor.kb.pypi import INDEX, IndexFile, list_files, read_member, wheel_metadata, zip_members

LINUX_X86_64 = re.compile(r"(manylinux|linux)[^-]*x86_64")
_CUDA_RUNTIME = re.compile(r"^nvidia-cuda-runtime-cu(\d+)$")


@dataclass(frozen=True)
class Draft:
    """One drafted row: the table it belongs to and its fields, in order."""

    topic: str
    table: str
    fields: dict[str, object]
    note: str = ""

    def to_toml(self) -> str:
        lines = [f"# {self.note}"] if self.note else []
        lines.append(f"[[{self.table}]]")
        lines += [f"{name} = {_toml_value(value)}" for name, value in self.fields.items()]
        return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = "{v}"' for k, v in value.items()) + " }"
    if isinstance(value, int):
        return str(value)
    return f'"{value}"'


def _newest_wheels(project: str) -> dict[Version, IndexFile]:
    """For each final release, the newest-Python Linux x86_64 wheel (or any wheel, for pure ones)."""
    chosen: dict[Version, IndexFile] = {}
    for file in list_files(project):
        if not file.filename.endswith(".whl") or file.yanked:
            continue
        try:
            version = parse_wheel_filename(file.filename)[1]
        except InvalidWheelFilename:
            continue
        if version.is_prerelease or version.is_devrelease:
            continue
        platform_ok = bool(LINUX_X86_64.search(file.filename)) or file.filename.endswith("-any.whl")
        current = chosen.get(version)
        if platform_ok and (current is None or file.filename > current.filename):
            chosen[version] = file
    return chosen


def _requirements(file: IndexFile) -> list[Requirement]:
    parsed = []
    for line in wheel_metadata(file).get_all("Requires-Dist") or []:
        try:
            parsed.append(Requirement(line))
        except InvalidRequirement:
            continue
    return parsed


def _pins(requirements: list[Requirement], accept: Callable[[Requirement], bool]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        if accept(requirement):
            spec = str(requirement.specifier)
            pins[requirement.name] = spec[2:] if spec.startswith("==") and "," not in spec else spec
    return dict(sorted(pins.items()))


def _extra(requirement: Requirement, extra: str) -> bool:
    return requirement.marker is not None and f'extra == "{extra}"' in str(requirement.marker)


def _known(topic: str, table: str, field: str) -> set[Version]:
    return {Version(row[field]) for row in load_topic(topic, table)}


def _citation(file: IndexFile, today: str) -> dict[str, object]:
    return {"source": file.url.split("#", 1)[0], "checked": today}


def torch_rows(today: str) -> Iterator[Draft]:
    known = _known("torch", "pypi_build", "torch")
    for version, file in sorted(_newest_wheels("torch").items()):
        if version in known or version < min(known, default=Version("0")):
            continue
        requirements = _requirements(file)
        pins = _pins(requirements, lambda r: r.name.startswith("nvidia-") and not _is_extra(r))
        runtime = next((name for name in pins if _CUDA_RUNTIME.match(name)), None)
        if runtime is None:
            continue
        cuda = ".".join(pins[runtime].split(".")[:2])
        fields: dict[str, object] = {"torch": str(version), "cuda": cuda}
        cudnn = next((pin for name, pin in pins.items() if name.startswith("nvidia-cudnn")), None)
        if cudnn:
            fields["cudnn"] = cudnn
        fields["nvidia_pins"] = pins
        yield Draft("torch", "pypi_build", {**fields, **_citation(file, today)})
    yield from _companion_rows("torchvision", today)
    yield from _companion_rows("torchaudio", today)


def _is_extra(requirement: Requirement) -> bool:
    return requirement.marker is not None and "extra" in str(requirement.marker)


def _companion_rows(project: str, today: str) -> Iterator[Draft]:
    """torchvision and torchaudio pin the torch they were built with: that pin is the pairing."""
    known = {Version(row[project]) for row in load_topic("torch", "release") if project in row}
    for version, file in sorted(_newest_wheels(project).items()):
        if version in known or version < min(known, default=Version("0")):
            continue
        torch = next((r for r in _requirements(file) if r.name == "torch"), None)
        if torch is None:
            continue
        fields = {project: str(version), "torch": str(torch.specifier)}
        note = f"{project} {version} pins torch{torch.specifier}: merge into that torch release row"
        yield Draft("torch", "release", {**fields, **_citation(file, today)}, note)


def tensorflow_rows(today: str) -> Iterator[Draft]:
    known = _known("tensorflow", "wheel", "tensorflow")
    for version, file in sorted(_newest_wheels("tensorflow").items()):
        if version in known or version < min(known, default=Version("0")):
            continue
        requirements = _requirements(file)
        fields: dict[str, object] = {"tensorflow": str(version)}
        fields["requires_python"] = wheel_metadata(file)["Requires-Python"] or ""
        for name in ("protobuf", "numpy", "tensorboard"):
            requirement = next((r for r in requirements if r.name == name and not _is_extra(r)), None)
            if requirement is not None:
                fields[name] = str(requirement.specifier)
        and_cuda = _pins(requirements, lambda r: _extra(r, "and-cuda") and r.name.startswith("nvidia-"))
        if and_cuda:
            fields["and_cuda"] = and_cuda
        yield Draft("tensorflow", "wheel", {**fields, **_citation(file, today)})


def jax_rows(today: str) -> Iterator[Draft]:
    known = _known("jax", "release", "jax")
    for version, file in sorted(_newest_wheels("jax").items()):
        if version in known or version < min(known, default=Version("0")):
            continue
        requirements = _requirements(file)
        jaxlib = next((r for r in requirements if r.name == "jaxlib" and not _is_extra(r)), None)
        if jaxlib is None:
            continue
        fields: dict[str, object] = {"jax": str(version), "jaxlib": str(jaxlib.specifier)}
        plugins = _pins(requirements, lambda r: r.name.startswith("jax-cuda") and _extra(r, "cuda12"))
        if plugins:
            fields["cuda_plugin"] = plugins
        fields["requires_python"] = wheel_metadata(file)["Requires-Python"] or ""
        yield Draft("jax", "release", {**fields, **_citation(file, today)})


_ARCH_FLAGS = re.compile(rb"(?:(?:sm|compute)_\d{2,3}[af]? ?)+(?:sm|compute)_\d{2,3}[af]?")


def torch_arch_flags(file: IndexFile) -> tuple[list[str], list[str]] | None:
    """The architectures a torch wheel was built for, read from the CUDA_ARCH_FLAGS string compiled
    into its libtorch_python.so (what torch.cuda.get_arch_list() returns): kernels and PTX."""
    members = zip_members(file.url.split("#", 1)[0])
    entry = members.get("torch/lib/libtorch_python.so")
    if entry is None:
        return None
    match = _ARCH_FLAGS.search(read_member(file.url.split("#", 1)[0], entry))
    if match is None:
        return None
    flags = match.group(0).decode().split()

    def capability(flag: str) -> str:
        digits = flag.split("_")[1].rstrip("af")
        return f"{digits[:-1]}.{digits[-1]}"

    return (
        [capability(f) for f in flags if f.startswith("sm_")],
        [capability(f) for f in flags if f.startswith("compute_")],
    )


def torch_arch_rows(today: str) -> Iterator[Draft]:
    """cuda_arch rows for PyPI's default torch builds the base lacks, from the wheels themselves."""
    wheels = _newest_wheels("torch")
    for row in load_topic("torch", "pypi_build"):
        version = Version(row["torch"])
        variant = "cu" + "".join(row["cuda"].split(".")[:2])
        if any(
            r["variant"] == variant and SpecifierSet(r["torch"]).contains(version)
            for r in load_topic("torch", "cuda_arch")
        ):
            continue
        file = wheels.get(version)
        found = torch_arch_flags(file) if file else None
        if file is None or found is None:
            continue
        sm, ptx = found
        fields: dict[str, object] = {"torch": f"=={version}", "variant": variant, "sm": sm, "ptx": ptx}
        yield Draft("torch", "cuda_arch", {**fields, **_citation(file, today)})


# --- every tracked GPU package: what the index has that the base does not --------------------------

# The GPU packages whose newest release the base must know within a week of its upload (issue 14).
GPU_TRACKED = (
    "torch", "torchvision", "torchaudio", "tensorflow", "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt",
    "jax-cuda13-plugin", "jax-cuda13-pjrt", "onnxruntime-gpu", "cupy-cuda12x", "cupy-cuda13x", "xformers",
    "flash-attn", "bitsandbytes", "triton", "vllm", "tensorrt", "tensorrt-cu12", "tensorrt-cu13",
)  # fmt: skip
# The releases table holds releases uploaded since then (ci/kb-releases RELEASES_SINCE).
RELEASES_SINCE = "2020-01-01"
_TIMEOUT_S = 60
_JAX_PLUGIN = re.compile(r"^jax-cuda\d+-(plugin|pjrt)$")
_CUDA_SUFFIX = re.compile(r"-cu(\d+)$")
_CUDA_WHEEL = re.compile(r"^(nvidia-|tensorrt-cu|cuda-toolkit)")


def index_page(project: str) -> dict[str, Any]:
    """The project's page on the simple index, PEP 691 JSON (with PEP 700's upload-time)."""
    request = urllib.request.Request(f"{INDEX}/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        page: dict[str, Any] = json.load(response)
    return page


def _file_version(filename: str, project: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            name, version = parse_wheel_filename(filename)[:2]
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return version if canonicalize_name(name) == canonicalize_name(project) else None


def final_releases(page: Mapping[str, Any], project: str, since: str = RELEASES_SINCE) -> dict[Version, str]:
    """{final release: the date its first file was uploaded} for the releases first uploaded on or
    after ``since`` that have a file not yanked, the rule ci/kb-releases writes the table by."""
    first: dict[Version, str] = {}
    installable: set[Version] = set()
    for item in page.get("files", []):
        version = _file_version(str(item.get("filename", "")), project)
        if version is None or version.is_prerelease or version.is_devrelease:
            continue
        uploaded = str(item.get("upload-time") or "9999")[:10]
        first[version] = min(first.get(version, uploaded), uploaded)
        if not item.get("yanked"):
            installable.add(version)
    return {v: first[v] for v in sorted(installable) if first[v] >= since}


def _specifier(text: str) -> SpecifierSet | None:
    """A curated value as a specifier: a bare version (a pin's) is ``==`` it."""
    try:
        return SpecifierSet(text if text[:1] in "<>=!~" else f"=={text}") if text.strip() else None
    except InvalidSpecifier:
        return None


def _bounded(specifier: SpecifierSet) -> bool:
    return any(spec.operator in ("<", "<=", "==", "===", "~=") for spec in specifier)


def curated_ranges(package: str) -> list[tuple[str, SpecifierSet, str]]:
    """The hand-curated rows about a package's releases: (where, the releases a row covers, the
    date it was checked). Empty for a package only generated tables know (triton)."""
    name = canonicalize_name(package)
    found: list[tuple[str, str, str]] = []

    if name == "torch":
        found += [
            ("torch." + t, r["torch"], r["checked"]) for t in ("pypi_build", "release") for r in load_topic("torch", t)
        ]
    elif name in ("torchvision", "torchaudio"):
        found += [("torch.release", r[name], r["checked"]) for r in load_topic("torch", "release") if name in r]
        found += [("torch.stable_abi", r["versions"], r["checked"]) for r in load_topic("torch", "stable_abi")
                  if r["companion"] == name]  # fmt: skip
    elif name == "tensorflow":
        found += [("tensorflow." + t, r["tensorflow"], r["checked"]) for t in ("wheel", "tested")
                  for r in load_topic("tensorflow", t)]  # fmt: skip
    elif name in ("jax", "jaxlib"):
        found += [("jax.release", r[name], r["checked"]) for r in load_topic("jax", "release")]
    elif _JAX_PLUGIN.match(name):
        found += [("jax.release", r["cuda_plugin"][name], r["checked"]) for r in load_topic("jax", "release")
                  if name in r.get("cuda_plugin", {})]  # fmt: skip
    for table in ("build", "kernels"):
        found += [(f"gpu_packages.{table}", r["versions"], r["checked"]) for r in load_topic("gpu_packages", table)
                  if canonicalize_name(r["package"]) == name]  # fmt: skip
    ranges = [(where, _specifier(str(text)), str(checked)) for where, text, checked in found]
    return [(where, spec, checked) for where, spec, checked in ranges if spec is not None]


def curated_knows(ranges: list[tuple[str, SpecifierSet, str]], version: Version, uploaded: str) -> str | None:
    """Where the curated rows know a release: a bounded range holding it, or an open one
    (``>=1.27``) checked on or after the release's upload (a reviewer saw it); else None."""
    for where, specifier, checked in ranges:
        if specifier.contains(version, prereleases=True) and (_bounded(specifier) or checked >= uploaded):
            return where
    return None


@dataclass(frozen=True)
class Status:
    """What the index has of one tracked package and what the base knows of it."""

    package: str
    newest: Version | None  # the newest final release on the index
    table_newest: Version | None  # the newest release the generated releases table knows
    missing: tuple[Version, ...]  # final releases on the index the releases table lacks
    curated: str | None  # the curated table that knows ``newest``; None: none does
    has_curated: bool  # whether any curated row is about the package

    def line(self) -> str:
        curated = (self.curated or "NO") if self.has_curated else "-"
        missing = ", ".join(map(str, self.missing[-5:])) + (" ..." if len(self.missing) > 5 else "")
        newest, table = str(self.newest or "-"), str(self.table_newest or "-")
        lacks = f" releases table lacks {missing}" if self.missing else ""
        return f"{self.package:<30} {newest:<14} {table:<14} {curated:<24}{lacks}".rstrip()


STATUS_HEADER = f"{'package':<30} {'index newest':<14} {'table newest':<14} {'curated rows':<24}"


def status(package: str, page: Mapping[str, Any]) -> Status:
    on_index = final_releases(page, package)
    known = {Version(str(row["version"])) for row in package_rows("releases", "release", canonicalize_name(package))}
    newest = max(on_index, default=None)
    ranges = curated_ranges(package)
    curated = curated_knows(ranges, newest, on_index[newest]) if newest is not None else None
    missing = tuple(v for v in on_index if v not in known)
    return Status(package, newest, max(known, default=None), missing, curated, bool(ranges))


def statuses(packages: Iterable[str], fetch: Callable[[str], Mapping[str, Any]] = index_page) -> Iterator[Status]:
    for package in packages:
        yield status(package, fetch(package))


def all_tracked() -> tuple[str, ...]:
    """Every package the releases table has rows for, the tracked GPU packages first."""
    return tuple(dict.fromkeys([*GPU_TRACKED, *sorted(topic_packages("releases"))]))


# Drafted by their own topics' refreshers (torch, tensorflow, jax); the rest are gpu_packages rows.
_OWN_TOPIC = frozenset({"torch", "torchvision", "torchaudio", "tensorflow", "jax", "jaxlib"})


def cuda_major_of(package: str, requirements: Iterable[Requirement]) -> int | None:
    """The CUDA major a release's requirements name, where they name exactly one: the -cuNN of
    nvidia-*/tensorrt-cuNN wheels, CUDA 13's unsuffixed nvidia-* pins (nvidia-cuda-runtime~=13.0),
    or the package's own name (cupy-cuda12x)."""
    own = re.search(r"-cuda(\d+)x?$", package) or _CUDA_SUFFIX.search(package)
    if own:
        return int(own.group(1))
    majors = set()
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if not _CUDA_WHEEL.match(name):
            continue
        suffix = _CUDA_SUFFIX.search(name)
        if suffix:
            majors.add(int(suffix.group(1)))
        elif name.startswith("nvidia-cuda-") or name == "cuda-toolkit":
            floors = [
                spec.version.split(".")[0] for spec in requirement.specifier if spec.operator in ("==", "~=", ">=")
            ]
            majors.update(int(major) for major in floors if major.isdigit())
    return majors.pop() if len(majors) == 1 else None


def gpu_package_draft(package: str, version: Version, file: IndexFile, today: str) -> Draft:
    """A gpu_packages build row for one release, from its METADATA: the torch it pins, the CUDA
    its nvidia-* requirements name, and its GPU requirements as the note for the reviewer."""
    requirements = _requirements(file)
    fields: dict[str, object] = {"package": package, "versions": f"=={version}"}
    gpu = sorted(
        str(r) for r in requirements if _CUDA_WHEEL.match(canonicalize_name(r.name)) or r.name in ("torch", "triton")
    )
    fields["note"] = "METADATA requires " + ("; ".join(gpu) if gpu else "no GPU package")
    torch = next((r for r in requirements if r.name == "torch" and not _is_extra(r)), None)
    if torch is not None and len(torch.specifier) == 1 and next(iter(torch.specifier)).operator == "==":
        fields["built_against"] = str(torch).split(";")[0].strip()
    major = cuda_major_of(canonicalize_name(package), requirements)
    if major is not None:
        fields["cuda_major"] = major
    note = f"{package} {version}: no curated row covers it; review cuda_major, cudnn_major, loads_system_cuda"
    return Draft("gpu_packages", "build", {**fields, **_citation(file, today)}, note)


def gpu_package_rows(today: str) -> Iterator[Draft]:
    """gpu_packages build rows for the releases of the other tracked GPU packages that no curated
    row knows, newer than the oldest one a row knows (the base does not reach back further)."""
    for package in GPU_TRACKED:
        if package in _OWN_TOPIC or _JAX_PLUGIN.match(package):
            continue
        ranges = curated_ranges(package)
        if not ranges:
            continue  # generated tables only (triton): ci/kb-releases keeps them
        on_index = final_releases(index_page(package), package)
        covered = [v for v, uploaded in on_index.items() if curated_knows(ranges, v, uploaded)]
        wheels = _newest_wheels(package)
        for version, uploaded in on_index.items():
            if not covered or version < min(covered) or curated_knows(ranges, version, uploaded):
                continue
            file = wheels.get(version)
            if file is None:
                note = f"{package} {version}: no Linux x86_64 or pure wheel (sdist only?): draft it by hand"
                yield Draft("gpu_packages", "build", {"package": package, "versions": f"=={version}"}, note)
                continue
            yield gpu_package_draft(package, version, file, today)


REFRESHERS: dict[str, Callable[[str], Iterator[Draft]]] = {
    "torch": torch_rows,
    "torch-arch": torch_arch_rows,
    "tensorflow": tensorflow_rows,
    "jax": jax_rows,
    "gpu": gpu_package_rows,
}


def refresh(topics: list[str], today: datetime.date) -> Iterator[Draft]:
    for topic in topics:
        yield from REFRESHERS[topic](today.isoformat())
