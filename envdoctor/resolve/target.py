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


# What the audit's resolver assumes where a host does not say (a lock never guesses: target_of).
ASSUMED_OS = "linux"
# The architecture most machines of each OS have, as a host profile names it.
ASSUMED_ARCH = {"linux": "x86_64", "macos": "arm64", "windows": "x86_64"}
# The CPython minors an assumed Python is chosen from, newest first.
ASSUMED_PYTHONS = tuple(f"3.{minor}" for minor in range(14, 8, -1))


def assumed_platform(host: HostProfile) -> HostProfile:
    """The host with the OS and architecture the audit's resolver assumes where it gives none."""
    os_name = host.os or ASSUMED_OS
    return host._replace(os=os_name, arch=host.arch or ASSUMED_ARCH.get(os_name, "x86_64"))
