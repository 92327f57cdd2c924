"""``nvidia-smi --query-gpu=... --format=csv`` output, with its header line."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from envdoctor.importers.common import checked_capability, checked_version

_UNIT = re.compile(r"\s*\[[^\]]*\]\s*$")
_NOT_A_VALUE = frozenset({"", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]"})
_HEADER_CELL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(\s*\[[^\]]*\])?$")
_MIB = re.compile(r"^(\d+)\s*(MiB)?$", re.IGNORECASE)

KNOWN_FIELDS = frozenset(
    {"index", "name", "driver_version", "memory.total", "compute_cap", "mig.mode.current", "pci.bus_id", "uuid"}
)


@dataclass(frozen=True)
class SmiRow:
    index: int | None
    name: str | None
    driver: str | None
    memory_mib: int | None
    compute_capability: str | None
    mig: bool | None


def looks_like_query_csv(text: str) -> bool:
    return any(_is_header(line) for line in text.splitlines()[:20])


def _is_header(line: str) -> bool:
    """A header names query fields only ("name, memory.total [MiB]"), at least one we read."""
    cells = [cell.strip() for cell in line.split(",")]
    if not all(_HEADER_CELL.match(cell) for cell in cells):
        return False
    return bool({_field_name(cell) for cell in cells} & KNOWN_FIELDS)


def parse_query_csv(text: str) -> list[SmiRow]:
    """Every GPU row under the header; unknown columns are ignored."""
    lines = [line for line in text.splitlines() if line.strip()]
    header: list[str] = []
    rows = []
    for cells in csv.reader(lines, skipinitialspace=True):
        line = ", ".join(cells)
        if _is_header(line):
            # Several queries pasted one after another each start with their own header.
            header = [_field_name(cell) for cell in cells]
            continue
        if len(cells) != len(header):
            continue
        values = {name: _value(cell) for name, cell in zip(header, cells, strict=True)}
        index = values.get("index") or ""
        rows.append(
            SmiRow(
                index=int(index) if index.isdigit() else None,
                name=values.get("name"),
                driver=checked_version(values.get("driver_version")),
                memory_mib=_mib(values.get("memory.total")),
                compute_capability=checked_capability(values.get("compute_cap")),
                mig=_mig(values.get("mig.mode.current")),
            )
        )
    return rows


def _field_name(cell: str) -> str:
    return _UNIT.sub("", cell.strip()).strip().lower()


def _value(cell: str) -> str | None:
    cell = cell.strip()
    return None if cell.lower() in _NOT_A_VALUE else cell


def _mib(value: str | None) -> int | None:
    match = _MIB.match(value or "")
    return int(match.group(1)) if match else None


def _mig(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    return True if lowered == "enabled" else False if lowered == "disabled" else None
