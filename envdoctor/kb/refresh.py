"""Find releases newer than the knowledge base knows and draft their rows from wheel METADATA.

Run by ``ci/kb-refresh`` (needs the package index). It prints TOML for a person to review and
paste: rows whose every value was read from a wheel's METADATA, cited to that wheel. Facts the
metadata does not carry (the PyTorch index's build variants, tested CUDA versions) are left for
the reviewer and named in a comment.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from envdoctor.kb import load_topic
from envdoctor.kb.pypi import IndexFile, list_files, read_member, wheel_metadata, zip_members

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


REFRESHERS: dict[str, Callable[[str], Iterator[Draft]]] = {
    "torch": torch_rows,
    "torch-arch": torch_arch_rows,
    "tensorflow": tensorflow_rows,
    "jax": jax_rows,
}


def refresh(topics: list[str], today: datetime.date) -> Iterator[Draft]:
    for topic in topics:
        yield from REFRESHERS[topic](today.isoformat())
