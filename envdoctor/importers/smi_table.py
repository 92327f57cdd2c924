"""The ``nvidia-smi`` banner table, and the one-line failures people paste instead of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envdoctor.importers.common import clean_value, mig_from_text

_BANNER = re.compile(
    r"NVIDIA-SMI\s+(?P<smi>[\d.]+)\s+(?:Driver|KMD) Version:\s*(?P<driver>[\d.]+)"
    r"(?:\s+CUDA (?:UMD )?Version:\s*(?P<cuda>[\d.]+|N/A))?"
)
_GPU_ROW = re.compile(
    r"^\|\s*(?P<index>\d+)\s+(?P<name>.+?)\s+(?P<mode>On|Off|WDDM|TCC|MCDM|N/A)\s*\|"
    r"\s*(?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])"
)
_MEMORY = re.compile(r"(?P<used>\d+)\s*MiB\s*/\s*(?P<total>\d+)\s*MiB")
_LAST_CELL = re.compile(r"\|\s*(?P<value>[^|]*?)\s*\|\s*$")
_SECTION_END = re.compile(r"^\|\s*(Processes|MIG devices):")

FAILURES = (
    (re.compile(r"Failed to initialize NVML: Driver/library version mismatch"), "driver/library version mismatch"),
    (
        re.compile(r"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"),
        "couldn't communicate with the NVIDIA driver",
    ),
    (re.compile(r"Failed to initialize NVML: (?P<what>.+)"), None),
)
_NVML_LIBRARY = re.compile(r"NVML library version:\s*(?P<version>[\d.]+)")


@dataclass
class TableGpu:
    name: str | None
    memory_mib: int | None = None
    mig: bool | None = None


@dataclass
class SmiTable:
    driver: str | None = None
    cuda: str | None = None
    gpus: list[TableGpu] = field(default_factory=list)


@dataclass(frozen=True)
class SmiFailure:
    """nvidia-smi printed an error instead of its table."""

    problem: str
    nvml_library: str | None


def looks_like_smi_table(text: str) -> bool:
    return _BANNER.search(text) is not None


def find_smi_failure(text: str) -> SmiFailure | None:
    for pattern, problem in FAILURES:
        match = pattern.search(text)
        if match:
            library = _NVML_LIBRARY.search(text)
            return SmiFailure(problem or match.group("what").strip(), library.group("version") if library else None)
    return None


def parse_smi_table(text: str) -> SmiTable:
    banner = _BANNER.search(text)
    table = SmiTable()
    if banner is None:
        return table
    table.driver = banner.group("driver")
    table.cuda = clean_value(banner.group("cuda"))
    lines = text[banner.end() :].splitlines()
    has_mig_column = any("MIG M." in line for line in lines[:8])
    for number, line in enumerate(lines):
        if _SECTION_END.match(line):
            break
        row = _GPU_ROW.match(line)
        if row is None:
            continue
        gpu = TableGpu(name=row.group("name").strip())
        following = lines[number + 1 : number + 3]
        if following:
            memory = _MEMORY.search(following[0])
            gpu.memory_mib = int(memory.group("total")) if memory else None
        if has_mig_column and len(following) > 1:
            cell = _LAST_CELL.search(following[1])
            gpu.mig = mig_from_text(cell.group("value")) if cell else None
        table.gpus.append(gpu)
    return table
