"""``nvidia-smi --query-gpu=... --format=csv`` output, with its header line."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from envdoctor.host.importers.common import checked_capability, checked_name, checked_version, lines_of, whole_number

_NOT_A_VALUE = frozenset({"", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]"})
_HEADER_CELL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(?:\s*\[[^\]]*\])?")
_MIB = re.compile(r"(?P<number>[0-9]+)\s*(?:MiB)?", re.IGNORECASE)

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
    return any(_is_header(line) for line in lines_of(text)[:20])


def _is_header(line: str) -> bool:
    """A header names query fields only ("name, memory.total [MiB]"), at least one we read."""
    cells = [cell.strip() for cell in line.split(",")]
    if not all(_HEADER_CELL.fullmatch(cell) for cell in cells):
        return False
    return bool({_field_name(cell) for cell in cells} & KNOWN_FIELDS)


def parse_query_csv(text: str) -> list[SmiRow]:
    """Every GPU row under the header; unknown columns are ignored."""
    header: list[str] = []
    rows = []
    for line in lines_of(text):
        cells = _cells(line)
        if not cells:
            continue
        if _is_header(", ".join(cells)):
            # Several queries pasted one after another each start with their own header.
            header = [_field_name(cell) for cell in cells]
            continue
        if len(cells) != len(header):
            continue
        values = {name: _value(cell) for name, cell in zip(header, cells, strict=True)}
        rows.append(
            SmiRow(
                index=whole_number(values.get("index")),
                name=checked_name(values.get("name")),
                driver=checked_version(values.get("driver_version")),
                memory_mib=_mib(values.get("memory.total")),
                compute_capability=checked_capability(values.get("compute_cap")),
                mig=_mig(values.get("mig.mode.current")),
            )
        )
    return rows


def _cells(line: str) -> list[str]:
    """The cells of one CSV line; none for a blank line or one the csv module cannot read."""
    if not line.strip():
        return []
    try:
        return next(csv.reader([line], skipinitialspace=True), [])
    except csv.Error:  # a NUL byte, a field past the csv module's size limit
        return []


def _field_name(cell: str) -> str:
    """The query field a header cell names, without its unit ("memory.total [MiB]")."""
    return cell.split("[", 1)[0].strip().lower()


def _value(cell: str) -> str | None:
    cell = cell.strip()
    return None if cell.lower() in _NOT_A_VALUE else cell


def _mib(value: str | None) -> int | None:
    match = _MIB.fullmatch(value or "")
    return whole_number(match.group("number")) if match else None


def _mig(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    return True if lowered == "enabled" else False if lowered == "disabled" else None
