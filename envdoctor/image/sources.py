"""Locked packages that have no wheel: the image builds them from their source archives.

What such a build needs follows from the sdist itself, read before anything is written: the build
requirements it declares (PEP 518), which the lock must pin so that the builder installs them
hash-checked, and whether it compiles code (CUDA code needs nvcc from a devel image; C, C++,
Cython, Fortran or Rust need a compiler).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.errors import EnvdoctorError, InputError

if TYPE_CHECKING:
    from packaging.pylock import Package, PackageSdist

PURE = "no code to compile"
NATIVE = "native code"
CUDA = "CUDA code"
# What pip and PEP 518 assume for an sdist that declares no [build-system].
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")
_CUDA_SUFFIXES = (".cu", ".cuh")
_NATIVE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".f", ".f90", ".rs")
_CUDA_MARKERS = (b"CUDAExtension", b"CUDA_HOME", b"nvcc")
_NATIVE_MARKERS = (b"ext_modules", b"Extension(")
_NATIVE_BACKENDS = ("mesonpy", "scikit_build_core", "maturin", "setuptools_rust", "pybind11")
DOWNLOAD_TIMEOUT_S = 60


class SourceBuild(NamedTuple):
    name: str
    version: str
    archive: str  # the sdist's file name
    build_requires: tuple[str, ...]
    compiles: str  # PURE, NATIVE or CUDA


class SourceProblem(EnvdoctorError):
    """A source-only package the image cannot build as locked."""


def without_wheels(packages: Sequence[Package]) -> list[Package]:
    return [package for package in packages if not package.wheels]


def source_builds(packages: Sequence[Package], wheelhouse: Path | None) -> list[SourceBuild]:
    """What building each wheel-less package needs; one that has no sdist either (a VCS checkout,
    a folder, an archive URL) cannot be hash-checked by pip and is refused."""
    builds = []
    for package in without_wheels(packages):
        pinned = f"{package.name} {package.version or ''}".strip()
        if package.sdist is None or package.version is None:
            raise SourceProblem(
                f"{pinned} is locked as a VCS checkout, folder or archive URL, which pip cannot install "
                "with --require-hashes: lock a released version, or build its wheel and lock with --find-links"
            )
        archive = _archive_name(package.sdist)
        data = _sdist_bytes(package.sdist, archive, wheelhouse)
        requires, compiles = inspect_sdist(data, archive)
        name = str(canonicalize_name(package.name))
        builds.append(SourceBuild(name, str(package.version), archive, requires, compiles))
    return builds


def _archive_name(sdist: PackageSdist) -> str:
    name = sdist.name or (sdist.url or str(sdist.path or "")).rsplit("/", 1)[-1]
    if not name.endswith((".tar.gz", ".zip")) or "/" in name or name.startswith("."):
        raise SourceProblem(f"{name!r} is not an sdist file name (.tar.gz or .zip)")
    return name


def _sdist_bytes(sdist: PackageSdist, archive: str, wheelhouse: Path | None) -> bytes:
    """The sdist, from the wheelhouse or its locked URL, checked against the lock's hash."""
    expected = sdist.hashes.get("sha256")
    if expected is None:
        raise SourceProblem(f"{archive}: the lock records no sha256 for it")
    if wheelhouse is not None:
        local = wheelhouse / archive
        if not local.is_file():
            raise InputError(str(wheelhouse), f"no {archive}: the build installs from this folder alone")
        data = local.read_bytes()
    else:
        data = _download(sdist.url or "", archive)
    if hashlib.sha256(data).hexdigest() != expected:
        raise SourceProblem(f"{archive}: its sha256 does not match the lock")
    return data


def _download(url: str, archive: str) -> bytes:
    if not url.startswith("https://"):
        raise SourceProblem(f"{archive}: no https URL in the lock to read it from; pass --wheelhouse with it")
    from urllib.error import URLError
    from urllib.request import urlopen

    try:
        with urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            return bytes(response.read())
    except (URLError, OSError) as exc:
        raise SourceProblem(
            f"cannot fetch {archive} to read its build requirements ({exc}); pass --wheelhouse"
        ) from None


def inspect_sdist(data: bytes, archive: str) -> tuple[tuple[str, ...], str]:
    """The sdist's declared build requirements and what its build compiles."""
    try:
        names, files = _read_sdist(data, archive)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise SourceProblem(f"{archive}: not a readable sdist ({exc})") from None
    top = {name.split("/", 1)[0] for name in names}
    if len(top) != 1:
        raise SourceProblem(f"{archive}: an sdist holds one top-level folder")
    (root,) = top
    setup = files.get(f"{root}/setup.py", b"")
    requires, backend = _build_system(files.get(f"{root}/pyproject.toml"), archive)
    suffixes = {Path(name).suffix.lower() for name in names}
    if suffixes & set(_CUDA_SUFFIXES) or any(marker in setup for marker in _CUDA_MARKERS):
        compiles = CUDA
    elif (
        suffixes & set(_NATIVE_SUFFIXES)
        or any(marker in setup for marker in _NATIVE_MARKERS)
        or backend.startswith(_NATIVE_BACKENDS)
    ):
        compiles = NATIVE
    else:
        compiles = PURE
    return requires, compiles


def _read_sdist(data: bytes, archive: str) -> tuple[list[str], dict[str, bytes]]:
    """The archive's member names, and the text of its top-level pyproject.toml and setup.py."""

    def wanted(name: str) -> bool:
        return name.count("/") == 1 and name.endswith(("/pyproject.toml", "/setup.py"))

    if archive.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            names = [name.rstrip("/") for name in zipped.namelist() if name.rstrip("/")]
            return names, {name: zipped.read(name) for name in names if wanted(name)}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {member.name.removeprefix("./"): member for member in tar.getmembers()}
        files = {}
        for name, member in members.items():
            extracted = tar.extractfile(member) if member.isfile() and wanted(name) else None
            if extracted is not None:
                files[name] = extracted.read()
        return [name for name in members if name], files


def _build_system(pyproject: bytes | None, archive: str) -> tuple[tuple[str, ...], str]:
    if pyproject is None:
        return DEFAULT_BUILD_REQUIRES, ""
    from envdoctor.tomlcompat import tomllib

    try:
        table = tomllib.loads(pyproject.decode("utf-8")).get("build-system")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SourceProblem(f"{archive}: its pyproject.toml is not valid TOML ({exc})") from None
    if not isinstance(table, dict) or "requires" not in table:
        return DEFAULT_BUILD_REQUIRES, ""
    requires = table["requires"]
    if not isinstance(requires, list) or not all(isinstance(item, str) for item in requires):
        raise SourceProblem(f"{archive}: [build-system] requires must be a list of strings")
    backend = table.get("build-backend", "")
    return tuple(requires), backend if isinstance(backend, str) else ""


def unmet_build_requirements(build: SourceBuild, locked: dict[str, str], python: str) -> list[str]:
    """The build requirements the lock does not pin a matching version of."""
    environment = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython"}  # fmt: skip
    unmet = []
    for text in build.build_requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            raise SourceProblem(f"{build.archive}: build requirement {text!r} is not valid") from None
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(Version(version), prereleases=True):
            unmet.append(text)
    return unmet
