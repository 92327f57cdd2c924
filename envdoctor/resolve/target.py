"""A resolution target: the Python and platform a host profile stands for, as resolvers name them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from envdoctor.errors import UsageError
from envdoctor.host.profile import HostProfile
from envdoctor.safety import printable, quote, snippet

# The manylinux glibc levels uv accepts after "x86_64-manylinux_2_" (uv pip compile --help).
_MANYLINUX_LEVELS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
_UV_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
# The Python of a target names lockfiles and goes to the resolver: ASCII digits only ("²" is a digit
# to str.isdigit), few of them (int() refuses thousands).
# Major.minor is what a target needs; a pre-release or a development build (3.14.0a1+, as
# platform.python_version() prints it and a profile may hold) resolves as its minor.
_PYTHON = re.compile(r"([0-9]{1,2})(?:\.([0-9]{1,3}))?(?:\.[0-9]{1,4}){0,2}(?:(?:a|b|rc)[0-9]{1,9})?\+?", re.ASCII)
_GLIBC = re.compile(r"([0-9]{1,3})(?:\.([0-9]{1,4}))?(?:\.[0-9]{1,4})?", re.ASCII)


@dataclass(frozen=True)
class Target:
    python: str  # major.minor
    platform: str  # uv's --python-platform value
    os: str
    arch: str

    @property
    def slug(self) -> str:
        """A file-name-safe name: linux-x86_64-py3.11."""
        return f"{self.os}-{self.arch}-py{self.python}"


def target_of(host: HostProfile, name: str) -> Target:
    """The resolution target for a host; every fact it needs must be known."""
    name = printable(name)
    missing = [field for field in ("os", "arch", "python") if getattr(host, field) is None]
    if missing:
        raise UsageError(f"host {name}: cannot resolve without its {', '.join(missing)} (give --os, --arch, --python)")
    assert host.os is not None and host.arch is not None and host.python is not None
    version = _PYTHON.fullmatch(host.python)
    if version is None:
        raise UsageError(f"host {name}: python {quote(host.python)} is not a version like 3.11")
    python = ".".join(part for part in version.groups() if part is not None)
    arch = _UV_ARCH.get(host.arch)
    if arch is None:
        raise UsageError(f"host {name}: no resolver platform for architecture {snippet(host.arch)}")
    return Target(python, _platform(host, arch, name), host.os, host.arch)


def _platform(host: HostProfile, arch: str, name: str) -> str:
    if host.os == "macos":
        return f"{arch}-apple-darwin"
    if host.os == "windows":
        return f"{arch}-pc-windows-msvc"
    libc = host.libc
    if libc is not None and libc.name == "musl":
        return f"{arch}-unknown-linux-musl"
    if libc is not None and libc.name == "glibc" and libc.version:
        glibc = _GLIBC.fullmatch(libc.version)
        if glibc is None:
            raise UsageError(f"host {name}: glibc version {quote(libc.version)} is not a version like 2.35")
        minor = int(glibc.group(2) or 0) if glibc.group(1) == "2" else 0
        levels = [level for level in _MANYLINUX_LEVELS if level <= minor]
        if levels:
            return f"{arch}-manylinux_2_{levels[-1]}"
    return f"{arch}-unknown-linux-gnu"
