"""The dialect a fix is written in: pip's, or conda's for a requirement read from a conda spec.

A fix a rule offers ("torch==2.5.1+cu118 from https://download.pytorch.org/whl/cu118", "numpy<2")
is pip's. For a package an environment.yml (outside its ``pip:`` section), a ``conda list`` or a
``conda install`` asks for, the user writes conda specs instead: conda's package names (pytorch,
not torch), ``=`` versions, and the CUDA build selected the way the package's channel selects it,
never a pip index. What the channels do is data (``conda_names.toml``, each row cited).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.requirements.model import Requirement
from envdoctor.tomlcompat import tomllib


class Dialect(NamedTuple):
    """How a fix for one requirement is written: pip's (the default), or conda's, with the channel
    its package comes from where the reader could tell (pytorch, conda-forge)."""

    conda: bool = False
    channel: str | None = None


PIP = Dialect()

# What conda.py writes as a conda requirement's source: "conda", "conda (why)", "conda channel X (why)".
_SOURCE = re.compile(r"^conda(?: channel (?P<channel>\S+))?(?: \((?P<why>.*)\))?$")
# conda-forge's torch builds are named cuda118_..., cpu_mkl_...; the pytorch channel's py3.10_cuda11.8_...
_FORGE_BUILD = re.compile(r"\bbuild (?:cuda\d{2,3}_|cpu_)")
_PYTORCH_BUILD = re.compile(r"\bbuild py\d\.\d+_(?:cuda\d|cpu)")


def dialect_of(requirement: Requirement | None) -> Dialect:
    """The dialect of a fix for ``requirement``: conda's for one read from a conda spec (its
    source, as the conda reader writes it), pip's for everything else, a conda environment's
    ``pip:`` section and the packages ``conda list`` says pip installed included."""
    found = _SOURCE.match(requirement.source or "") if requirement is not None else None
    if found is None:
        return PIP
    channel = found.group("channel")
    why = found.group("why") or ""
    if channel is None and _PYTORCH_BUILD.search(why):
        channel = "pytorch"
    elif channel is None and _FORGE_BUILD.search(why):
        channel = "conda-forge"
    return Dialect(conda=True, channel=channel.split("/", 1)[0] if channel else None)


# --- names and versions -------------------------------------------------------------------------


@functools.cache
def _data() -> dict[str, Any]:
    with (Path(__file__).parent / "conda_names.toml").open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data


@functools.cache
def _conda_names() -> dict[str, str]:
    """PyPI name -> the conda name a fix uses, from conda_names.toml's ``fix`` fields."""
    return {canonicalize_name(row["pypi"]): row["fix"] for row in _data()["python"] if "fix" in row}


def conda_name(pypi: str) -> str:
    """The conda package a fix names for PyPI's ``pypi``: pytorch for torch; most keep their name."""
    return _conda_names().get(canonicalize_name(pypi), pypi)


def conda_spec(pin: str) -> str:
    """A pip pin or requirement ("torch==2.5.1+cu118", "numpy<2") as a conda match spec
    ("pytorch=2.5.1", "numpy<2"): conda's name, '=' for an exact version (without pip's local
    label, which conda builds do not carry), the other operators as they are."""
    text = pin.split(" from ", 1)[0].strip()  # a pin's pip index has no conda meaning
    try:
        wanted = Pep508(text)
    except InvalidRequirement:
        return text
    clauses = sorted(wanted.specifier, key=str)
    name = conda_name(wanted.name)
    if len(clauses) == 1 and clauses[0].operator in ("==", "==="):
        return f"{name}={_bare(clauses[0].version)}"  # conda's =2.5.1 (and =2.1 for ==2.1.*)
    return name + ",".join(_conda_clause(clause.operator, clause.version) for clause in clauses)


def _bare(version: str) -> str:
    """A version without pip's local label (+cu118) or a trailing wildcard."""
    version = version.split("+", 1)[0]
    return version[:-2] if version.endswith(".*") else version


def _conda_clause(operator: str, version: str) -> str:
    if operator in ("==", "==="):
        return f"{version[:-2]}.*" if version.endswith(".*") else f"=={_bare(version)}"
    return f"{operator}{_bare(version)}"


def speak(fix: str, requirement: Requirement | None) -> str:
    """A requirement-style fix ("numpy<2", "torch>=2.4") in the dialect of ``requirement``: a
    conda match spec for a conda requirement (conda's name), unchanged for pip."""
    return conda_spec(fix) if dialect_of(requirement).conda else fix


# --- the channels' CUDA selection (conda_names.toml) ---------------------------------------------


class _PytorchChannel(NamedTuple):
    last: Version
    pytorch_cuda_from: Version
    pytorch_cuda: frozenset[str]
    companions: dict[str, dict[str, str]]


@functools.cache
def _pytorch_channel() -> _PytorchChannel:
    row = _data()["pytorch_channel"]
    companions = {item["torch"]: {k: v for k, v in item.items() if k != "torch"} for item in row["companions"]}
    return _PytorchChannel(
        last=Version(row["last"]),
        pytorch_cuda_from=Version(row["pytorch_cuda_from"]),
        pytorch_cuda=frozenset(row["pytorch_cuda"]),
        companions=companions,
    )


class Selection(NamedTuple):
    """How a channel installs one build of torch: the build string the torch spec carries, the
    specs that select the build, the channels to name, and a note before the specs."""

    build: str = ""
    specs: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    note: str = ""
    # The build it selects, for messages: "CUDA 11.8", "CUDA 11" (conda-forge picks the minor), "CPU".
    what: str = ""


def torch_selection(version: str, variant: str | None, cuda: str | None, channel: str | None) -> Selection | None:
    """How ``channel`` installs torch ``version`` in the build ``variant`` (cpu, cu118) for CUDA
    ``cuda``: the pytorch channel by pytorch-cuda=X.Y (1.13 to its last release), cudatoolkit=X.Y
    before, cpuonly for the CPU build; conda-forge by its build strings (cuda*, cpu*) and the
    cuda-version metapackage. None where the channel's way is not known (another channel)."""
    if variant is None or (variant != "cpu" and cuda is None):
        return None
    try:
        release = Version(version)
    except InvalidVersion:
        return None
    if channel == "pytorch":
        pytorch = _pytorch_channel()
        if release > pytorch.last:
            return _forge(variant, cuda, f"the pytorch channel's last pytorch is {pytorch.last}; from conda-forge: ")
        if variant == "cpu":
            return Selection(specs=("cpuonly",), channels=("pytorch",), what="CPU")
        assert cuda is not None
        if release < pytorch.pytorch_cuda_from:
            return Selection(specs=(f"cudatoolkit={cuda}",), channels=("pytorch", "conda-forge"), what=f"CUDA {cuda}")
        if cuda in pytorch.pytorch_cuda:
            return Selection(specs=(f"pytorch-cuda={cuda}",), channels=("pytorch", "nvidia"), what=f"CUDA {cuda}")
        return _forge(variant, cuda, f"the pytorch channel has no pytorch-cuda={cuda}; from conda-forge: ")
    if channel == "conda-forge":
        return _forge(variant, cuda, "")
    return None


def _forge(variant: str, cuda: str | None, note: str) -> Selection:
    if variant == "cpu" or cuda is None:
        return Selection(build="cpu*", channels=("conda-forge",), note=note, what="CPU")
    major = cuda.split(".", 1)[0]
    specs = (f"cuda-version={major}",)
    return Selection(build="cuda*", specs=specs, channels=("conda-forge",), note=note, what=f"CUDA {major}")


def pytorch_channel_companion(torch_version: str, companion: str) -> str | None:
    """The release of ``companion`` the pytorch channel pairs with torch ``torch_version`` where
    it differs from PyPI's (2.0.0: torchvision 0.15.0 on conda, 0.15.1 on PyPI); None otherwise."""
    return _pytorch_channel().companions.get(torch_version, {}).get(companion)


def conda_install(
    pins: Sequence[str], *, package: str, version: str, variant: str | None, cuda: str | None, channel: str | None
) -> tuple[str, str]:
    """The pins (``package``'s first, then what moves with it) as conda specs, with the CUDA
    build selected the way ``channel`` selects it for torch; and the build that selection
    picks ("CUDA 11.8"), "" where none was written (the caller then says which build is meant)."""
    specs = [conda_spec(pin) for pin in pins]
    selection = torch_selection(version, variant, cuda, channel) if canonicalize_name(package) == "torch" else None
    if selection is None:
        return " ".join(specs), ""
    if channel == "pytorch" and not selection.note:
        specs = [_paired(spec, version) for spec in specs]
    if specs and selection.build and specs[0].startswith(conda_name(package)):
        specs[0] = f"{specs[0]}={selection.build}"
    flags = "".join(f" -c {name}" for name in selection.channels)
    return f"{selection.note}{' '.join([*specs, *selection.specs])}{flags}", selection.what


def _paired(spec: str, torch_version: str) -> str:
    found = re.fullmatch(r"([a-z0-9_.-]+)=([^=,<>!~]+)", spec)
    if found is None:
        return spec
    paired = pytorch_channel_companion(torch_version, found.group(1))
    return f"{found.group(1)}={paired}" if paired else spec
