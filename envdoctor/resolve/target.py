"""A resolution target: the Python and platform a host profile stands for, as resolvers name them."""

from __future__ import annotations

from dataclasses import dataclass

from envdoctor.errors import UsageError
from envdoctor.host.profile import HostProfile

# The manylinux glibc levels uv accepts after "x86_64-manylinux_2_" (uv pip compile --help).
_MANYLINUX_LEVELS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
_UV_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


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
    missing = [field for field in ("os", "arch", "python") if getattr(host, field) is None]
    if missing:
        raise UsageError(f"host {name}: cannot resolve without its {', '.join(missing)} (give --os, --arch, --python)")
    assert host.os is not None and host.arch is not None and host.python is not None
    python = ".".join(host.python.split(".")[:2])
    arch = _UV_ARCH.get(host.arch)
    if arch is None:
        raise UsageError(f"host {name}: no resolver platform for architecture {host.arch}")
    return Target(python, _platform(host, arch), host.os, host.arch)


def _platform(host: HostProfile, arch: str) -> str:
    if host.os == "macos":
        return f"{arch}-apple-darwin"
    if host.os == "windows":
        return f"{arch}-pc-windows-msvc"
    libc = host.libc
    if libc is not None and libc.name == "musl":
        return f"{arch}-unknown-linux-musl"
    if libc is not None and libc.name == "glibc" and libc.version:
        minor = int(libc.version.split(".")[1]) if "." in libc.version else 0
        levels = [level for level in _MANYLINUX_LEVELS if level <= minor]
        if levels:
            return f"{arch}-manylinux_2_{levels[-1]}"
    return f"{arch}-unknown-linux-gnu"
