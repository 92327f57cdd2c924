"""The NVIDIA kernel module's files under /proc and /sys."""

from __future__ import annotations

import re
from dataclasses import dataclass

from envdoctor.host.importers.common import checked_name, checked_version, lines_of

# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023"
# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  (...)"
_NVRM = re.compile(
    r"NVRM version:\s+NVIDIA UNIX\s+(?P<open>Open\s+)?(?:(?P<arch1>\S+)\s+)?Kernel Module"
    r"(?:\s+for\s+(?P<arch2>\S+))?\s+(?P<version>[0-9]+\.[0-9]+(?:\.[0-9]+)?)"
)


@dataclass(frozen=True)
class KernelModule:
    # None where the file's version is not one (too long, say).
    version: str | None
    open_source: bool
    arch: str | None


def parse_driver_version_file(text: str) -> KernelModule | None:
    """Parse /proc/driver/nvidia/version; None if the text is not that file."""
    match = _NVRM.search(text)
    if not match:
        return None
    arch = match.group("arch1") or match.group("arch2")
    return KernelModule(checked_version(match.group("version")), bool(match.group("open")), arch)


def parse_gpu_information(text: str) -> str | None:
    """The GPU model from /proc/driver/nvidia/gpus/BUS_ID/information, if it is a GPU name."""
    for line in lines_of(text):
        key, colon, value = line.partition(":")
        if colon and key == "Model":
            return checked_name(value)
    return None
