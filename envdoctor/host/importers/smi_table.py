"""The ``nvidia-smi`` banner table, and the one-line failures people paste instead of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envdoctor.host.importers.common import checked_name, checked_version, lines_of, mig_from_text, whole_number
from envdoctor.safety import snippet

_BANNER = re.compile(
    r"NVIDIA-SMI\s+(?P<smi>[0-9.]+)\s+(?:Driver|KMD) Version:\s*(?P<driver>[0-9.]+)"
    r"(?:\s+CUDA (?:UMD )?Version:\s*(?P<cuda>[0-9.]+|N/A))?"
)
# A GPU row's first two cells: "   0  NVIDIA B200                    On  " and "   00000000:51:00.0 Off ".
_ROW_START = re.compile(r"\s*[0-9]+\s")
_MODES = frozenset({"On", "Off", "WDDM", "TCC", "MCDM", "N/A"})
_BUS_ID = re.compile(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]")
# "0MiB / 183359MiB"; a number is read from its first digit only, so that a long run of digits
# is not tried again from each of its positions.
_MEMORY = re.compile(r"(?<![0-9])(?P<used>[0-9]+)\s*MiB\s*/\s*(?P<total>[0-9]+)\s*MiB")
_SECTION_END = re.compile(r"\|\s*(Processes|MIG devices):")

FAILURES = (
    (re.compile(r"Failed to initialize NVML: Driver/library version mismatch"), "driver/library version mismatch"),
    (
        re.compile(r"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"),
        "couldn't communicate with the NVIDIA driver",
    ),
    (re.compile(r"Failed to initialize NVML: (?P<what>.+)"), None),
)
_NVML_LIBRARY = re.compile(r"NVML library version:\s*(?P<version>[0-9.]+)")


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
            what = problem or snippet(match.group("what").strip(), 200)
            return SmiFailure(what, checked_version(library.group("version")) if library else None)
    return None


def parse_smi_table(text: str) -> SmiTable:
    banner = _BANNER.search(text)
    table = SmiTable()
    if banner is None:
        return table
    table.driver = checked_version(banner.group("driver"))
    table.cuda = checked_version(banner.group("cuda"))
    lines = lines_of(text[banner.end() :])
    has_mig_column = any("MIG M." in line for line in lines[:8])
    for number, line in enumerate(lines):
        if _SECTION_END.match(line):
            break
        name = _gpu_row_name(line)
        if name is None:
            continue
        gpu = TableGpu(name=checked_name(name))
        following = lines[number + 1 : number + 3]
        if following:
            memory = _MEMORY.search(following[0])
            gpu.memory_mib = whole_number(memory.group("total")) if memory else None
        if has_mig_column and len(following) > 1:
            gpu.mig = mig_from_text(_last_cell(following[1]))
        table.gpus.append(gpu)
    return table


def _gpu_row_name(line: str) -> str | None:
    """The GPU name in the first line of a GPU's rows ("|   0  NVIDIA B200   On  |   00000000:51:00.0 Off |"),
    or None if the line is not one. Read by cells and words, so that no pattern backtracks over it."""
    cells = line.split("|")
    if len(cells) < 3 or cells[0].strip() or not _ROW_START.match(cells[1]):
        return None
    bus = cells[2].split()
    if not bus or not _BUS_ID.fullmatch(bus[0]):
        return None
    first = cells[1].strip()
    index, mode = first.split(maxsplit=1)[0], first.rsplit(maxsplit=1)[-1]
    if mode not in _MODES or len(first) <= len(index) + len(mode):
        return None
    return first[len(index) : len(first) - len(mode)].strip() or None


def _last_cell(line: str) -> str | None:
    """The text of a table line's last cell ("|  ...  |   Disabled |" gives "Disabled")."""
    cells = line.rstrip().split("|")
    return cells[-2].strip() if len(cells) >= 3 and cells[-1] == "" else None
