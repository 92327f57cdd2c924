"""Locked packages that have no wheel: the image builds them from their source archives.

What such a build needs follows from the sdist itself, read before anything is written: the build
requirements it declares (PEP 518), which the lock must pin so that the builder installs them
hash-checked, and whether it compiles code (CUDA code needs nvcc from a devel image; C, C++,
Cython, Fortran or Rust need a compiler).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import struct
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.errors import EnvdoctorError, InputError
from envdoctor.safety import has_control, quote, snippet
from envdoctor.structured import parse_toml

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
# urllib's timeout is per read (a server sending a byte a minute never trips it): every download
# also has a deadline for the whole of it, and a size cap.
DOWNLOAD_TIMEOUT_S = 60.0
DOWNLOAD_DEADLINE_S = 300.0
MAX_SDIST_BYTES = 512 * 1024 * 1024
# An sdist is unpacked (in memory, as a stream) only to read two small files; these bound the work
# a hostile archive can ask for, far above any real sdist.
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 256 * 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
# A zip's central directory entry: 46 bytes and the name (a real one is seldom past 200).
_CENTRAL_ENTRY_BYTES = 320
# The zip methods sdists use; others (and encryption) would fail half-way through a read.
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ARCHIVE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*\.(?:tar\.gz|zip)", re.ASCII)


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
    if not _ARCHIVE.fullmatch(name):
        raise SourceProblem(f"{quote(name, 80)} is not an sdist file name (.tar.gz or .zip)")
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
        if local.stat().st_size > MAX_SDIST_BYTES:
            raise SourceProblem(f"{archive}: larger than {MAX_SDIST_BYTES} bytes, not read")
        data = local.read_bytes()
    else:
        data = _download(sdist.url or "", archive)
    if hashlib.sha256(data).hexdigest() != expected:
        raise SourceProblem(f"{archive}: its sha256 does not match the lock")
    return data


def _download(url: str, archive: str) -> bytes:
    if not url.startswith("https://"):
        raise SourceProblem(f"{archive}: no https URL in the lock to read it from; pass --wheelhouse with it")
    return fetch(url, archive)


def fetch(url: str, archive: str, *, deadline_s: float | None = None, limit: int | None = None) -> bytes:
    """The body at ``url``, whole, within a deadline for the whole download and a size cap
    (defaults: DOWNLOAD_DEADLINE_S, MAX_SDIST_BYTES); SourceProblem otherwise.

    The download runs in a daemon thread that the caller stops waiting for at the deadline: a
    server that trickles the headers or the body can hold a read, never the run."""
    deadline = DOWNLOAD_DEADLINE_S if deadline_s is None else deadline_s
    cap = MAX_SDIST_BYTES if limit is None else limit
    outcome: list[bytes | SourceProblem] = []
    stop = threading.Event()

    def download() -> None:
        try:
            # A socket timeout past the deadline: the deadline, not a read racing it, ends a slow download.
            outcome.append(_read_url(url, archive, min(DOWNLOAD_TIMEOUT_S, deadline * 2), cap, stop))
        except SourceProblem as exc:
            outcome.append(exc)

    worker = threading.Thread(target=download, name="envdoctor-fetch", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive() or not outcome:
        stop.set()  # it gives up at its next chunk
        raise SourceProblem(f"cannot fetch {archive}: the download took longer than {deadline:g} s; pass --wheelhouse")
    if isinstance(outcome[0], SourceProblem):
        raise outcome[0]
    return outcome[0]


def _read_url(url: str, archive: str, timeout: float, limit: int, stop: threading.Event) -> bytes:
    from urllib.error import URLError
    from urllib.request import urlopen

    too_large = SourceProblem(f"cannot fetch {archive}: larger than {limit} bytes; pass --wheelhouse")
    try:
        with urlopen(url, timeout=timeout) as response:
            declared = getattr(response, "length", None)  # http.client's parsed Content-Length
            if isinstance(declared, int) and declared > limit:
                raise too_large
            chunks, size = [], 0
            # read1: at most one read of the socket, so that the deadline is seen between reads.
            while (chunk := response.read1(64 * 1024)) and not stop.is_set():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
            return b"".join(chunks)
    except (URLError, OSError, HTTPException, ValueError) as exc:
        reason = snippet(str(exc), 120)
        raise SourceProblem(
            f"cannot fetch {archive} to read its build requirements ({reason}); pass --wheelhouse"
        ) from None


def inspect_sdist(data: bytes, archive: str) -> tuple[tuple[str, ...], str]:
    """The sdist's declared build requirements and what its build compiles."""
    try:
        names, files = _read_sdist(data, archive)
    # NotImplementedError and RuntimeError: zipfile on a method, version or encryption it does not read.
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        EOFError,
        OSError,
        zlib.error,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise SourceProblem(f"{archive}: not a readable sdist ({snippet(str(exc), 120)})") from None
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

    names: list[str] = []
    files: dict[str, bytes] = {}
    if archive.endswith(".zip"):
        _check_zip_directory(data, archive)
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            infos = zipped.infolist()
            _check_sizes(archive, len(infos), (info.file_size for info in infos))
            for info in infos:
                _check_zip_member(archive, info)
            names = [info.filename.rstrip("/") for info in infos if info.filename.rstrip("/")]
            return names, {name: zipped.read(name) for name in names if wanted(name)}
    # A stream, read once: the unpacked bytes (headers included) are counted as they come.
    unpacked = _Capped(gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb"), archive)
    with tarfile.open(fileobj=unpacked, mode="r|") as tar:
        sizes: list[int] = []
        for member in tar:
            sizes.append(member.size)
            _check_sizes(archive, len(sizes), sizes[-1:], total=unpacked.count)
            name = member.name.removeprefix("./")
            if name:
                names.append(name)
            extracted = tar.extractfile(member) if member.isfile() and wanted(name) else None
            if extracted is not None:
                files[name] = extracted.read()
    return names, files


def _check_sizes(archive: str, members: int, sizes: Iterator[int] | list[int], total: int = 0) -> None:
    """Refuse an archive past MAX_MEMBERS members, or with a member or a whole too large to unpack."""
    if members > MAX_MEMBERS:
        raise SourceProblem(f"{archive}: more than {MAX_MEMBERS} members, not read")
    for size in sizes:
        if size > MAX_MEMBER_BYTES:
            raise SourceProblem(f"{archive}: a member of {size} bytes (more than {MAX_MEMBER_BYTES}), not read")
        total += size
    if total > MAX_UNPACKED_BYTES:
        raise SourceProblem(f"{archive}: more than {MAX_UNPACKED_BYTES} bytes unpacked, not read")


def _check_zip_directory(data: bytes, archive: str) -> None:
    """Refuse a zip whose end record declares more than MAX_MEMBERS members or a central directory
    too large to hold that many, before zipfile builds an object for each entry of it."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return  # not a zip: zipfile says so
    count, size = struct.unpack_from("<HL", data, end + 10)
    # zipfile takes a zip64 end record (just before its locator, just before the end record) over it.
    if end >= 76 and data[end - 20 : end - 16] == b"PK\x06\x07" and data[end - 76 : end - 72] == b"PK\x06\x06":
        count, size = struct.unpack_from("<QQ", data, end - 76 + 32)
    if count > MAX_MEMBERS or size > MAX_MEMBERS * _CENTRAL_ENTRY_BYTES:
        raise SourceProblem(f"{archive}: more than {MAX_MEMBERS} members, not read")


def _check_zip_member(archive: str, info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise SourceProblem(f"{archive}: holds an encrypted member, not read")
    if info.compress_type not in _ZIP_METHODS:
        raise SourceProblem(f"{archive}: compression method {info.compress_type} is not one sdists use, not read")


class _Capped(io.BufferedIOBase):
    """A stream that refuses to give more than MAX_UNPACKED_BYTES: a small .tar.gz can unpack to
    gigabytes (of headers, too, which no declared size counts)."""

    def __init__(self, stream: gzip.GzipFile, archive: str) -> None:
        super().__init__()
        self._stream = stream
        self._archive = archive
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        if self.count > MAX_UNPACKED_BYTES:
            raise SourceProblem(f"{self._archive}: more than {MAX_UNPACKED_BYTES} bytes unpacked, not read")
        return data


def _build_system(pyproject: bytes | None, archive: str) -> tuple[tuple[str, ...], str]:
    if pyproject is None:
        return DEFAULT_BUILD_REQUIRES, ""
    try:
        table = parse_toml(pyproject.decode("utf-8"), f"{archive}: pyproject.toml").get("build-system")
    except UnicodeDecodeError:
        raise SourceProblem(f"{archive}: its pyproject.toml is not UTF-8") from None
    except InputError as exc:
        raise SourceProblem(f"{archive}: its pyproject.toml is not usable ({exc.message})") from None
    if not isinstance(table, dict) or "requires" not in table:
        return DEFAULT_BUILD_REQUIRES, ""
    requires = table["requires"]
    if not isinstance(requires, list) or not all(isinstance(item, str) for item in requires):
        raise SourceProblem(f"{archive}: [build-system] requires must be a list of strings")
    for item in requires:  # each is quoted in messages, and can reach a terminal
        if has_control(item):
            raise SourceProblem(f"{archive}: build requirement {quote(item)} holds a control character")
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
            raise SourceProblem(f"{build.archive}: build requirement {quote(text)} is not valid") from None
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(Version(version), prereleases=True):
            unmet.append(text)
    return unmet
