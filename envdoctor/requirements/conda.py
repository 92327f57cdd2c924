"""Conda environments: ``environment.yml``, and ``conda list --explicit`` / ``--export`` output.

A conda package is read as what it means for the audit: its PyPI name (conda's pytorch is torch),
its version spec as a PEP 440 specifier, the build of torch that pytorch-cuda, cpuonly or a build
string fixes, and the CUDA and cuDNN that cudatoolkit, cuda-version or cudnn put into the
environment, which are the system's for what the ``pip:`` section installs. What conda names
mean is data (``conda_names.toml``, each row cited); the match-spec grammar follows conda's own
parser (conda/models/match_spec.py: ``_parse_spec_str``, ``_parse_version_plus_build``,
``_sanitize_version_str``).
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlsplit

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.errors import InputError
from envdoctor.requirements.model import MAX_REQUIREMENTS, Form, IndexOptions, Input, Location, Requirement
from envdoctor.requirements.versions import check_requirement, check_version
from envdoctor.safety import has_control, quote
from envdoctor.structured import read_yaml
from envdoctor.tomlcompat import tomllib

if TYPE_CHECKING:
    from envdoctor.requirements.requirements_txt import RequirementsFile

# An environment file is a few kilobytes, a full `conda env export` tens; past this it is not one,
# and PyYAML's pure-Python reader would take seconds over it.
MAX_YAML_BYTES = 1024 * 1024
# How many package names a not-judged note lists before "...".
_NAMES_SHOWN = 5
# Real match specs are tens of characters; conda's grammar (regular expressions with backtracking)
# is only cheap on short ones.
MAX_SPEC_LENGTH = 512
# A pip line with its hashes is a few hundred characters; the requirements-file parser's comment
# pattern takes quadratic time on long runs of spaces, so longer lines are left unread.
MAX_PIP_LINE = 8192


class CondaEnvironment(NamedTuple):
    """What a conda environment file or package list asks for, read for the audit."""

    requirements: tuple[Requirement, ...]
    # The file itself, and the requirement files its pip section includes (-r).
    inputs: tuple[Input, ...] = ()
    # Index options of the pip section (--extra-index-url and the like).
    indexes: IndexOptions = IndexOptions()
    # The environment's Python: the version a python spec fixes ("3.10"), and its spec as PEP 440.
    python: str | None = None
    python_specifier: SpecifierSet | None = None
    python_at: Location | None = None
    # The CUDA release (major.minor) and cuDNN version conda puts into the environment.
    system_cuda: str | None = None
    system_cuda_at: Location | None = None
    system_cudnn: str | None = None
    system_cudnn_at: Location | None = None
    channels: tuple[str, ...] = ()
    # Conda packages built for some platforms only (pytorch-cuda: linux-64 and win-64): each spec as
    # written, the conda platforms (subdirs) the versions it admits have files for, the page that
    # says so, and where it was written. A host on another platform cannot create the environment.
    platforms: tuple[tuple[str, tuple[str, ...], str, Location], ...] = ()
    # What could not be read, each with why: one not-judged note each.
    unread: tuple[tuple[str, Location], ...] = ()
    name: str | None = None


class CondaSpec(NamedTuple):
    """One conda match spec, split as conda splits it."""

    name: str  # lower case, as conda matches names
    version: str | None  # conda's version spec, after its '=' rules ("1.2*" fuzzy, "1.2" exact)
    build: str | None
    channel: str | None
    text: str


class _Unmapped(ValueError):
    """A spec that is valid conda but has no PEP 440 form: reported as not judged."""


# --- conda's match-spec grammar -------------------------------------------------------------------

_BRACKETS = re.compile(r".*(\[.*\])")
_BRACKET_ITEM = re.compile(r"([a-zA-Z0-9_-]+?)=([\"']?)([^'\"]*?)(\2)(?:[, ]|$)")
_NAME_AND_REST = re.compile(r"([^ =<>!~]+)?([><!=~ ].+)?")
_VERSION_PLUS_BUILD = re.compile(r"((?:.+?)[^><!,|]?)(?:(?<![=!|,<>~])(?:[ =])([^-=,|<>~]+?))?$")
_PACKAGE_NAME = re.compile(r"[a-z0-9_][a-z0-9_.+-]*")
_TERM = re.compile(r"(==|!=|>=|<=|~=|>|<|=)?(.*)")
_PLAIN_VERSION = re.compile(r"\d+(\.\d+)*")


def parse_match_spec(text: str) -> CondaSpec:
    """``text`` split into name, version, build and channel as conda does; ValueError if it names
    no package."""
    spec = text.split("#", 1)[0].split(" if ", 1)[0].strip()
    brackets: dict[str, str] = {}
    bracket = _BRACKETS.match(spec)
    if bracket:
        spec = spec.replace(bracket.group(1), "")
        for item in _BRACKET_ITEM.finditer(bracket.group(1)[1:-1]):
            brackets[item.group(1)] = item.group(3)
    parts = spec.rsplit(":", 2)
    channel = parts[0] or None if len(parts) == 3 else None
    found = _NAME_AND_REST.match(parts[-1].strip())
    name, rest = (found.group(1), found.group(2)) if found else (None, None)
    if not name or not _PACKAGE_NAME.fullmatch(name.lower()):
        raise ValueError(f"{quote(text)} names no conda package")
    version, build = _version_plus_build(rest.strip()) if rest and rest.strip() else (None, None)
    if "version" in brackets:
        version = _sanitize_version(brackets["version"].replace(" ", ""), None)
    return CondaSpec(
        name=name.lower(),
        version=version,
        build=brackets.get("build", build),
        channel=brackets.get("channel", channel),
        text=text.strip(),
    )


def _version_plus_build(text: str) -> tuple[str | None, str | None]:
    """conda's ``_parse_version_plus_build`` and ``_sanitize_version_str``: '=1.2' is fuzzy
    (1.2*), '==1.2' exact, and a version followed by a build is exact."""
    found = _VERSION_PLUS_BUILD.search(text)
    version, build = (found.group(1), found.group(2)) if found else (text, None)
    build = build.strip() if build else None
    version = version.replace(" ", "") if version else None
    return (_sanitize_version(version, build) if version else None), build


def _sanitize_version(version: str, build: str | None) -> str:
    if version in ("=", "==") or not version.startswith("="):
        return version
    bare = version.lstrip("=")
    if version.startswith("==") and build is None:
        return bare
    if not any(char in bare for char in "=,|"):
        return bare + "*" if build is None and not bare.endswith("*") else bare
    return version


def conda_specifier(version: str | None) -> SpecifierSet:
    """The PEP 440 specifier of a conda version spec: '1.2*' is ==1.2.*, '1.2' is ==1.2, ranges
    as they are. _Unmapped for what PEP 440 cannot say ('|', parentheses, non-PEP 440 versions)."""
    if version is None:
        return SpecifierSet()
    if "|" in version or "(" in version or ")" in version:
        raise _Unmapped(f"its version {quote(version)} is a choice ('|'), which a PEP 440 specifier cannot say")
    clauses = [_clause(term.strip()) for term in version.split(",")]
    return SpecifierSet(",".join(clause for clause in clauses if clause))


def _clause(term: str) -> str:
    found = _TERM.fullmatch(term)
    operator, value = (found.group(1) or "", found.group(2)) if found else ("", term)
    if value in ("", "*"):
        return ""
    stem = value.rstrip("*").rstrip(".")
    if operator == "=" or (operator in ("", "==") and value.endswith("*")):
        clause = f"=={stem}.*" if stem else ""  # conda's fuzzy match: 1.2* is 1.2 and 1.2.x, not 1.20
    elif operator == "!=" and value.endswith("*"):
        clause = f"!={stem}.*"
    elif operator in ("", "=="):
        clause = f"=={value}"
    else:
        clause = f"{operator}{stem}"  # conda drops a '*' after an ordering operator (>=1.8* is >=1.8)
    try:
        Specifier(clause)
    except InvalidSpecifier:
        raise _Unmapped(f"its version {quote(term)} has no PEP 440 form") from None
    return clause


def fixed_version(spec: CondaSpec) -> str | None:
    """The one version a spec fixes ('=11.8', '11.8.*', '==12.1', '11.3.1=h2bc3f7f_2'), else None;
    a version-less spec from an NVIDIA label channel (nvidia/label/cuda-12.0.1) takes the label's."""
    if spec.version is None:
        label = re.search(r"/label/cuda-(\d+(?:\.\d+)*)", spec.channel or "")
        return label.group(1) if label else None
    value = spec.version.lstrip("=").rstrip("*").rstrip(".")
    return value if _PLAIN_VERSION.fullmatch(value) else None


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


# --- what conda names mean (conda_names.toml) -----------------------------------------------------


class _Names(NamedTuple):
    python: dict[str, tuple[str, str | None]]  # conda name -> (PyPI name, variant it fixes)
    system: dict[str, tuple[str, int]]  # conda name -> (fact, rank: lower is more telling)
    torch_cuda: frozenset[str]
    torch_cpu: frozenset[str]
    torch_family: frozenset[str]
    tools: frozenset[str]
    native: frozenset[str]
    native_patterns: tuple[str, ...]
    python_names: frozenset[str]
    # conda name -> the rows of [[platforms]] about it
    platforms: dict[str, tuple[dict[str, Any], ...]]


@functools.cache
def _names() -> _Names:
    with (Path(__file__).parent / "conda_names.toml").open("rb") as handle:
        data = tomllib.load(handle)
    python = {conda: (row["pypi"], row.get("variant")) for row in data["python"] for conda in row["conda"]}
    system = {conda: (row["fact"], rank) for row in data["system"] for rank, conda in enumerate(row["conda"])}
    build, native = data["torch_build"], data["native"]
    platforms: dict[str, tuple[dict[str, Any], ...]] = {}
    for row in data["platforms"]:
        platforms[row["conda"]] = (*platforms.get(row["conda"], ()), row)
    return _Names(
        python=python,
        system=system,
        torch_cuda=frozenset(build["cuda"]),
        torch_cpu=frozenset(build["cpu"]),
        torch_family=frozenset(build["family"]),
        tools=frozenset(native["tools"]),
        native=frozenset(native["names"]),
        native_patterns=tuple(native["patterns"]),
        python_names=frozenset(native["python_names"]),
        platforms=platforms,
    )


# A build string of a Python package: py39h..., py3.9_cuda..., pyhd8ed1ab_0 (noarch), py_0,
# cuda111py37h... (conda-forge), and pypi_0 (what pip installed, as conda lists it).
_PYTHON_BUILD = re.compile(r"py(\d|h[0-9a-f]|_\d)")
_CUDA_DOTTED = re.compile(r"cuda(\d+)\.(\d+)")  # the pytorch channel: py3.10_cuda11.8_cudnn8.7.0_0
_CUDA_PACKED = re.compile(r"(?:cuda|cu)(\d{2,3})(?!\d)")  # conda-forge cuda118_..., torchvision py39_cu113
_CPU_BUILD = re.compile(r"(?:^|_)cpu(?:_|$)")


def _is_python_build(build: str) -> bool:
    return build == "pypi_0" or bool(_PYTHON_BUILD.search(build))


def _is_glob(build: str | None) -> bool:
    return build is not None and any(char in build for char in "*?[")


def build_variant(build: str | None) -> str | None:
    """The torch build variant a conda build string names: py3.9_cuda11.3_cudnn8.2.0_0 -> cu113,
    cuda118_py310h... -> cu118, cpu_mkl_py310h... -> cpu; None when it names none."""
    if build is None:
        return None
    if dotted := _CUDA_DOTTED.search(build):
        return f"cu{dotted.group(1)}{dotted.group(2)}"
    if packed := _CUDA_PACKED.search(build):
        return f"cu{packed.group(1)}"
    return "cpu" if _CPU_BUILD.search(build) or build.startswith("cpu") else None


def _variant_of_cuda(cuda: str) -> str | None:
    parts = cuda.split(".")
    return f"cu{parts[0]}{parts[1]}" if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else None


def _is_native(name: str) -> bool:
    names = _names()
    if name in names.python_names:
        return False
    return name in names.native or any(fnmatch.fnmatchcase(name, pattern) for pattern in names.native_patterns)


# --- reading specs ---------------------------------------------------------------------------------


class _Read:
    """What the specs of one file say, gathered in file order."""

    def __init__(self, path: str, channels: tuple[str, ...]) -> None:
        self.path = path
        self.channels = channels
        self.requirements: dict[str, Requirement] = {}
        self.pypi: list[Requirement] = []  # what a conda list says pip installed (=pypi_0)
        self.extra: list[Requirement] = []  # the pip section, never merged with conda's
        self.python: tuple[CondaSpec, Location] | None = None
        self.cuda: list[tuple[int, str, CondaSpec, Location]] = []
        self.cudnn: tuple[str, Location] | None = None
        self.torch_cuda: tuple[str, CondaSpec, Location] | None = None
        self.torch_cpu: tuple[CondaSpec, Location] | None = None
        self.native: list[str] = []
        self.unread: list[tuple[str, Location]] = []
        self.seen_channels: list[str] = []
        # System packages whose version the file leaves to the solver, reported where nothing else fixes it.
        self.unfixed: list[tuple[str, CondaSpec, Location]] = []
        # Specs of packages built for some platforms only, judged once the torch build is known.
        self.limited: list[tuple[CondaSpec, Location]] = []

    def add(self, spec: CondaSpec, location: Location, hashes: tuple[str, ...] = ()) -> None:
        names = _names()
        if spec.channel:
            self.seen_channels.append(spec.channel)
        if spec.name in names.platforms:
            self.limited.append((spec, location))
        if spec.name == "python":
            self.python = self.python or (spec, location)
        elif spec.name in names.system:
            self._system(spec, location)
        elif spec.name in names.torch_cuda:
            self._torch_cuda(spec, location)
        elif spec.name in names.torch_cpu:
            self.torch_cpu = self.torch_cpu or (spec, location)
        elif spec.name in names.tools:
            return
        elif spec.build == "pypi_0" or spec.channel == "pypi":
            self._python_package(spec, spec.name, None, location, hashes, from_pip=True)
        elif spec.name in names.python:
            pypi, variant = names.python[spec.name]
            self._python_package(spec, pypi, variant, location, hashes)
        elif spec.build is not None and not _is_glob(spec.build):
            # A build string tells a Python package (py39h..., pyh...) from a library (h06a4308_0).
            if _is_python_build(spec.build) and not _is_native(spec.name):
                self._python_package(spec, spec.name, None, location, hashes)
            else:
                self.native.append(spec.name)
        elif _is_native(spec.name):
            self.native.append(spec.name)
        else:
            self._python_package(spec, spec.name, None, location, hashes)

    def _system(self, spec: CondaSpec, location: Location) -> None:
        fact, rank = _names().system[spec.name]
        version = fixed_version(spec)
        if version is not None:
            check_version(version, location.path, location.line)
        if version is None:
            self.unfixed.append((fact, spec, location))
        elif fact == "cuda":
            self.cuda.append((rank, _major_minor(version), spec, location))
        elif self.cudnn is None:
            self.cudnn = (version, location)

    def _torch_cuda(self, spec: CondaSpec, location: Location) -> None:
        version = fixed_version(spec)
        if version is not None:
            check_version(version, location.path, location.line)
        if version is None:
            self.unread.append((f"{quote(spec.text)} does not fix one CUDA release for torch", location))
        elif self.torch_cuda is None:
            self.torch_cuda = (_major_minor(version), spec, location)

    def _python_package(
        self,
        spec: CondaSpec,
        pypi: str,
        variant: str | None,
        location: Location,
        hashes: tuple[str, ...],
        *,
        from_pip: bool = False,
    ) -> None:
        try:
            specifier = conda_specifier(spec.version)
        except _Unmapped as exc:
            self.unread.append((f"conda package {quote(spec.text)}: {exc}", location))
            return
        name = canonicalize_name(pypi)
        why = spec.name if variant or name != canonicalize_name(spec.name) else None
        if name in _names().torch_family and variant is None and not _is_glob(spec.build):
            variant = build_variant(spec.build)
            why = f"build {spec.build}" if variant else None
        requirement = check_requirement(
            Requirement(
                name=name,
                form=Form.NAMED,
                location=location,
                text=spec.text,
                specifier=specifier,
                hashes=hashes,
                variant=variant,
                source=None if from_pip else _source(spec.channel, why),
            )
        )
        if from_pip:
            self.pypi.append(requirement)
            return
        first = self.requirements.get(name)
        if first is None:
            self.requirements[name] = requirement
        elif first.variant is None and requirement.variant is not None:
            # A metapackage and its package (pytorch-gpu, pytorch) name one install: one requirement.
            self.requirements[name] = first._replace(variant=requirement.variant, source=requirement.source)

    def result(self) -> tuple[list[Requirement], dict[str, Any]]:
        """The requirements, the torch build applied, and the environment's facts."""
        facts: dict[str, Any] = {}
        self._torch_build()
        self._cuda_facts(facts)
        if self.cudnn is not None:
            facts["system_cudnn"], facts["system_cudnn_at"] = self.cudnn
        for fact, spec, location in self.unfixed:
            if f"system_{fact}" not in facts:
                why = "its version is a range" if spec.version else "it names no version"
                what = f"conda package {quote(spec.text)} installs {_FACT_WORDS[fact]}"
                self.unread.append((f"{what}, but {why}", location))
        if self.python is not None:
            self._python_facts(*self.python, facts)
        if self.native:
            native = sorted(set(self.native))
            shown = ", ".join(native[:_NAMES_SHOWN])
            more = ", ..." if len(native) > _NAMES_SHOWN else ""
            count = len(native)
            self.unread.append(
                (
                    f"{count} conda package{'s' if count != 1 else ''} that {'are' if count != 1 else 'is'} "
                    f"not Python ({shown}{more})",
                    Location(self.path),
                )
            )
        facts["platforms"] = tuple(self._platforms())
        # A package list in its own order (what conda and what pip installed), then the pip section.
        listed = sorted([*self.requirements.values(), *self.pypi], key=lambda r: r.location.line or 0)
        return [*listed, *self.extra], facts

    def _torch_build(self) -> None:
        """The build of the torch family that pytorch-cuda, cpuonly or cudatoolkit fixes."""
        names = _names()
        family = [r for r in self.requirements.values() if r.name in names.torch_family]
        if not family:
            return
        chosen: tuple[str, str] | None = None
        if self.torch_cuda is not None:
            cuda, spec, _ = self.torch_cuda
            variant = _variant_of_cuda(cuda)
            chosen = (variant, spec.text) if variant else None
        elif self.torch_cpu is not None:
            chosen = ("cpu", self.torch_cpu[0].text)
        elif self.cuda and self._from_pytorch_channel(family):
            # Before pytorch-cuda (torch < 1.13) the pytorch channel picked its CUDA build by cudatoolkit.
            _, cuda, spec, _ = min(self.cuda, key=lambda item: item[0])
            variant = _variant_of_cuda(cuda)
            chosen = (variant, spec.text) if variant else None
        for requirement in family:
            if requirement.variant is None and chosen is not None:
                variant, why = chosen
                # pytorch-cuda, cpuonly and cudatoolkit pick the build of the pytorch channel's torch.
                source = _source((requirement.source and _channel_of(requirement.source)) or "pytorch", why)
                self.requirements[str(requirement.name)] = requirement._replace(variant=variant, source=source)
        torch = self.requirements.get("torch")
        if torch is not None and torch.variant is None:
            self.unread.append(
                (
                    f"which build of torch conda installs for {quote(torch.text)} (CPU, or CUDA and which) is not "
                    "fixed: add pytorch-cuda=X.Y or cpuonly (pytorch channel), or cuda-version=X.Y with a build "
                    "string (conda-forge)",
                    torch.location,
                )
            )

    def _platforms(self) -> Iterator[tuple[str, tuple[str, ...], str, Location]]:
        """The platform-limited specs, each with the conda platforms the versions it admits have
        files for. A row about one channel's package (the pytorch channel's pytorch) applies to a
        spec from that channel: named on it, or, for torch, picked by pytorch-cuda or cpuonly."""
        torch = self.requirements.get("torch")
        torch_channel = _channel_of(torch.source) if torch is not None else None
        for spec, location in self.limited:
            channel = spec.channel or (torch_channel if spec.name in _names().python else None)
            for row in _names().platforms[spec.name]:
                if "channels" in row and channel not in row["channels"]:
                    continue
                subdirs = _subdirs_for(spec, row["subdirs"])
                if subdirs is not None:
                    yield spec.text, subdirs, row["source"], location

    def _from_pytorch_channel(self, family: list[Requirement]) -> bool:
        explicit = [_channel_of(r.source) for r in family if r.source and _channel_of(r.source)]
        if explicit:
            return any(channel == "pytorch" for channel in explicit)
        return "pytorch" in self.channels

    def _cuda_facts(self, facts: dict[str, Any]) -> None:
        if not self.cuda and self.torch_cuda is not None:
            cuda, _, location = self.torch_cuda
            facts["system_cuda"], facts["system_cuda_at"] = cuda, location
            return
        if not self.cuda:
            return
        _, cuda, spec, location = min(self.cuda, key=lambda item: item[0])
        facts["system_cuda"], facts["system_cuda_at"] = cuda, location
        others = sorted({(other, item.name) for _, other, item, _ in self.cuda if other != cuda})
        if others:
            named = ", ".join(f"{version} ({name})" for version, name in others)
            self.unread.append(
                (f"conda packages name two CUDA releases: {cuda} ({spec.name}) and {named}; {cuda} is used", location)
            )

    def _python_facts(self, spec: CondaSpec, location: Location, facts: dict[str, Any]) -> None:
        facts["python_at"] = location
        version = fixed_version(spec) if spec.version is not None else None
        if version is not None:
            check_version(version, location.path, location.line)
        facts["python"] = version
        try:
            facts["python_specifier"] = conda_specifier(spec.version) if spec.version is not None else None
        except _Unmapped as exc:
            self.unread.append((f"conda package {quote(spec.text)}: {exc}", location))


_FACT_WORDS = {"cuda": "CUDA libraries", "cudnn": "cuDNN"}


def _subdirs_for(spec: CondaSpec, subdirs: dict[str, str]) -> tuple[str, ...] | None:
    """The conda platforms some version ``spec`` admits has files for; a spec whose versions
    cannot be read is left unjudged (None)."""
    version = fixed_version(spec)
    if version is None and spec.version is not None:
        try:
            admitted = conda_specifier(spec.version)
        except _Unmapped:
            return None
        # A range: any platform with a version the range admits, or whose versions are not bounded.
        return tuple(
            subdir
            for subdir, versions in subdirs.items()
            if not versions or _overlaps(admitted, SpecifierSet(versions))
        )
    return tuple(
        subdir
        for subdir, versions in subdirs.items()
        if not versions or version is None or SpecifierSet(versions).contains(version, prereleases=True)
    )


def _overlaps(admitted: SpecifierSet, versions: SpecifierSet) -> bool:
    """Whether a range admits a version of a platform's, judged on the bound that platform's
    versions name (<=9.0: does the range admit 9.0 or below?)."""
    bounds = [Version(clause.version) for clause in versions if clause.operator in ("<=", "<", "==")]
    return not bounds or any(
        admitted.contains(bound, prereleases=True) or not any(c.operator in (">", ">=") for c in admitted)
        for bound in bounds
    )


# conda's platform (subdir) for a host's OS and architecture, as host profiles write them.
_SUBDIRS = {
    ("linux", "x86_64"): "linux-64",
    ("linux", "aarch64"): "linux-aarch64",
    ("linux", "arm64"): "linux-aarch64",
    ("linux", "ppc64le"): "linux-ppc64le",
    ("macos", "x86_64"): "osx-64",
    ("macos", "arm64"): "osx-arm64",
    ("macos", "aarch64"): "osx-arm64",
    ("windows", "x86_64"): "win-64",
    ("windows", "amd64"): "win-64",
    ("windows", "arm64"): "win-arm64",
}


def conda_subdir(os: str | None, arch: str | None) -> str | None:
    """conda's name for a host's platform (osx-arm64 for macOS arm64); None when not known."""
    return _SUBDIRS.get((os or "", arch or ""))


def cannot_create(
    limit: tuple[str, tuple[str, ...], str, Location], os: str | None, arch: str | None
) -> tuple[str, str] | None:
    """The ED301 message and fix for a platform-limited conda spec on a host whose platform has
    no file of it: conda cannot create the environment there. None where it can, or where the
    host's platform is not known."""
    spec, subdirs, _, _ = limit
    here = conda_subdir(os, arch)
    if here is None or here in subdirs:
        return None
    elsewhere = ", ".join(subdirs) if subdirs else "no platform"
    message = (
        f"conda package {quote(spec)} has no build for {here} (its builds: {elsewhere}): conda cannot create "
        "this environment on this host"
    )
    fix = (
        f"create the environment on {' or '.join(subdirs) if subdirs else 'another platform'}, or keep a separate "
        f"environment file for {here} without {quote(spec)}"
    )
    return message, fix


def _source(channel: str | None, why: str | None) -> str:
    """Where a conda package comes from, for messages: "conda channel pytorch (pytorch-cuda=11.8)"."""
    where = f"conda channel {channel}" if channel else "conda"
    return f"{where} ({why})" if why else where


def _channel_of(source: str | None) -> str | None:
    found = re.match(r"conda channel (\S+)", source or "")
    return found.group(1) if found else None


def _environment(read: _Read, inputs: list[Input], indexes: IndexOptions, name: str | None = None) -> CondaEnvironment:
    requirements, facts = read.result()
    if len(requirements) > MAX_REQUIREMENTS:
        raise InputError(read.path, f"more than {MAX_REQUIREMENTS:,} requirements: not judged")
    return CondaEnvironment(
        requirements=tuple(requirements),
        inputs=tuple(inputs),
        indexes=indexes,
        channels=read.channels,
        unread=tuple(read.unread),
        name=name,
        **facts,
    )


def read_conda_specs(specs: list[tuple[str, Location]], channels: tuple[str, ...], path: str) -> CondaEnvironment:
    """Conda match specs as a ``conda install`` or an environment file lists them, each where it
    was written: a spec that names no package is an InputError at its line."""
    read = _Read(path, channels)
    for text, location in specs:
        read.add(_spec_at(text, location), location)
    return _environment(read, [], IndexOptions())


def conda_requirements(specs: list[str], location: Location, channels: tuple[str, ...] = ()) -> list[Requirement]:
    """The requirements conda specs written at one place mean (a Dockerfile's ``conda install
    pytorch pytorch-cuda=11.8 -c pytorch -c nvidia``)."""
    return list(read_conda_specs([(spec, location) for spec in specs], channels, location.path).requirements)


def _spec_at(text: str, location: Location) -> CondaSpec:
    if len(text) > MAX_SPEC_LENGTH:
        raise InputError(location.path, f"a conda spec of {len(text):,} characters: not a spec", location.line)
    if has_control(text):
        raise InputError(location.path, f"conda spec {quote(text)} holds a control character", location.line)
    try:
        return parse_match_spec(text)
    except ValueError as exc:
        raise InputError(location.path, str(exc), location.line) from None


# --- environment.yml ------------------------------------------------------------------------------


def parse_environment_yml(text: str, path: str) -> CondaEnvironment:
    """An ``environment.yml`` (name, channels, dependencies with a ``pip:`` section) read into
    requirements and the environment's facts; bad YAML or structure is an InputError naming the
    file and, where YAML gives it, the line."""
    data = _load_yaml(text, path)
    channels = _channels(data.get("channels"), path)
    dependencies = data.get("dependencies")
    if dependencies is None:
        dependencies = []
    if not isinstance(dependencies, list):
        raise InputError(path, "'dependencies' is not a list")
    if len(dependencies) > MAX_REQUIREMENTS:
        raise InputError(path, f"more than {MAX_REQUIREMENTS:,} dependencies: not judged")
    lines = _ItemLines(text)
    read = _Read(path, channels)
    pip_lines: list[tuple[int, str]] = []
    for item in dependencies:
        if isinstance(item, dict):
            pip_lines += _pip_section(item, lines, path)
            continue
        if not isinstance(item, str):
            raise InputError(path, f"a dependency is not a conda spec: {quote(str(item))}", lines.last)
        location = Location(path, lines.find(item))
        read.add(_spec_at(item, location), location)
    pip = _pip_requirements(pip_lines, path)
    read.extra += pip.requirements
    read.unread += pip.unread
    name = data.get("name")
    return _environment(read, [Input(path, "conda"), *pip.inputs], pip.indexes, name if isinstance(name, str) else None)


def _load_yaml(text: str, path: str) -> dict[str, Any]:
    try:
        # PyYAML's safe loader builds only plain values (no tags, no objects); stubs: types-PyYAML.
        import yaml
    except ImportError:
        raise InputError(path, "reading a conda environment file needs PyYAML (pip install pyyaml)") from None

    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise InputError(path, f"larger than {MAX_YAML_BYTES // 1024} KiB: not a conda environment file")
    data = read_yaml(lambda: yaml.safe_load(text), path, "a conda environment file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(path, "not a conda environment file: expected a mapping with 'dependencies'")
    return data


def _channels(value: object, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(path, "'channels' is not a list of channel names")
    if any(has_control(item) for item in value):
        raise InputError(path, "a channel name holds a control character")
    return tuple(item.strip() for item in value)


def _pip_section(item: dict[Any, Any], lines: _ItemLines, path: str) -> list[tuple[int, str]]:
    """The pip section's lines, each with its line in the file (conda writes them, in order,
    into a requirements file beside environment.yml and runs ``pip install -U -r`` on it)."""
    if set(item) != {"pip"}:
        keys = ", ".join(quote(str(key)) for key in item)
        raise InputError(path, f"a dependency is a mapping other than 'pip:' ({keys})", lines.last)
    entries = item["pip"] or []
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise InputError(path, "the 'pip:' section is not a list of requirement lines", lines.last)
    return [(lines.find(entry) or 0, entry) for entry in entries]


def _pip_requirements(pip_lines: list[tuple[int, str]], path: str) -> RequirementsFile:
    """The pip section read by the requirements-file parser, as the lines of a file at ``path``:
    conda writes them into a requirements file beside environment.yml and runs pip from that
    folder, so relative -r and -e paths resolve there (conda/env/installers/pip.py). A line it
    cannot read (a folder that is a git submodule) is unread, and the audit goes on."""
    from envdoctor.requirements.requirements_txt import RequirementsFile, read_requirement_lines

    lines: list[tuple[int, str]] = []
    too_long: list[tuple[str, Location]] = []
    for number, line in pip_lines:
        for part in line.splitlines() or [""]:
            if len(part) > MAX_PIP_LINE:
                too_long.append((f"a pip line of {len(part):,} characters", Location(path, number or None)))
            else:
                lines.append((number, part))
    read = read_requirement_lines(lines, path, environ=os.environ, keep_going=True)
    # A line not found in the text (a folded scalar) was read as line 0: it has no line.
    requirements = [
        r._replace(location=Location(r.location.path)) if r.location.line == 0 else r for r in read.requirements
    ]
    unread = [(why, Location(at.path) if at.line == 0 else at) for why, at in (*too_long, *read.unread)]
    return RequirementsFile(requirements, read.inputs, read.indexes, unread)


class _ItemLines:
    """The line of each list item (``- spec``) of a YAML file, found in document order: YAML's
    safe loader gives values without places."""

    _ITEM = re.compile(r"\s*-\s+(.*)")

    def __init__(self, text: str) -> None:
        self._lines: dict[str, list[int]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            found = self._ITEM.fullmatch(line)
            if found:
                self._lines.setdefault(_item_value(found.group(1)), []).append(number)
        self.last: int | None = None

    def find(self, value: str) -> int | None:
        """The first line after the last one found that lists ``value``; None if none does."""
        for number in self._lines.get(value.strip(), []):
            if self.last is None or number > self.last:
                self.last = number
                return number
        return None


def _item_value(text: str) -> str:
    """A list item's scalar as YAML reads it, for the plain and quoted forms real files use."""
    if text[:1] in ("'", '"') and text[:1] in text[1:]:
        return text[1 : text.index(text[0], 1)]
    comment = _ITEM_COMMENT.search(text)  # " #" starts a comment; fixed width, so linear
    return (text[: comment.start()] if comment else text).strip()


_ITEM_COMMENT = re.compile(r"\s#")


# --- conda list output ----------------------------------------------------------------------------

_PACKAGE_EXTENSIONS = (".conda", ".tar.bz2")
_MD5 = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


def parse_conda_list(text: str, path: str) -> CondaEnvironment:
    """``conda list --explicit`` (package URLs, conda-lock's .lock files too), ``conda list
    --export`` (name=version=build lines) or ``conda list`` (its table) read into requirements
    and the environment's facts; a line that is none of these is an InputError at its line."""
    lines = text.splitlines()
    if len(lines) > MAX_REQUIREMENTS * 2:
        raise InputError(path, f"more than {MAX_REQUIREMENTS * 2:,} lines: not a conda package list")
    explicit = any(line.strip() == "@EXPLICIT" for line in lines)
    table = any(line.startswith("# packages in environment at") for line in lines)
    read = _Read(path, ())
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line == "@EXPLICIT":
            continue
        location = Location(path, number)
        if has_control(line):
            raise InputError(path, "the line holds a control character", number)
        if explicit:
            spec, hashes = _explicit_line(line, location)
            read.add(spec, location, hashes)
        elif table:
            read.add(_table_line(line, location), location)
        else:
            read.add(_spec_at(line, location), location)
    read.channels = tuple(dict.fromkeys(read.seen_channels))
    return _environment(read, [Input(path, "conda-list")], IndexOptions())


def _explicit_line(line: str, location: Location) -> tuple[CondaSpec, tuple[str, ...]]:
    """One package URL of an explicit list: name-version-build from the file name, the channel
    from the URL, and its md5 or sha256 (after '#') as the requirement's hash."""
    url, _, digest = line.partition("#")
    parts = urlsplit(url)
    file_name = unquote(PurePosixPath(parts.path).name)
    stem = next((file_name[: -len(ext)] for ext in _PACKAGE_EXTENSIONS if file_name.endswith(ext)), None)
    pieces = stem.rsplit("-", 2) if stem else []
    if not parts.scheme or len(pieces) != 3 or not all(pieces):
        raise InputError(location.path, f"not a conda package URL: {quote(line, 60)}", location.line)
    hashes: tuple[str, ...] = ()
    if digest:
        digest = digest.strip().lower()
        if _MD5.fullmatch(digest):
            hashes = (f"md5:{digest}",)
        elif _SHA256.fullmatch(digest):
            hashes = (digest,)
        else:
            raise InputError(location.path, f"{quote(digest)} is not an md5 or sha256 hash", location.line)
    name, version, build = pieces
    spec = CondaSpec(name.lower(), version, build, _url_channel(parts.netloc, parts.path), file_name)
    return spec, hashes


def _url_channel(host: str, path: str) -> str | None:
    """The channel of a package URL: conda.anaconda.org/<channel>/<subdir>/<file>; Anaconda's
    repo.anaconda.com/pkgs/main/... is the defaults channel; a mirror's last folder otherwise."""
    folders = [unquote(part) for part in path.split("/") if part][:-2]
    if not folders:
        return None
    if host == "repo.anaconda.com":
        return "defaults"
    return "/".join(folders) if host == "conda.anaconda.org" else folders[-1]


def _table_line(line: str, location: Location) -> CondaSpec:
    """One row of ``conda list``: name, version, build and, for some, the channel."""
    fields = line.split()
    if len(fields) < 3:
        raise InputError(location.path, f"not a row of conda list: {quote(line, 60)}", location.line)
    name, version, build = fields[0], fields[1], fields[2]
    if not _PACKAGE_NAME.fullmatch(name.lower()):
        raise InputError(location.path, f"{quote(name)} is not a conda package name", location.line)
    channel = fields[3] if len(fields) > 3 else None
    return CondaSpec(name.lower(), version, build, channel, line)


# --- telling the kinds apart ----------------------------------------------------------------------
