"""``nvidia-smi -q``: the indented "NVSMI LOG" report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envdoctor.host.importers.common import (
    checked_name,
    checked_version,
    clean_value,
    lines_of,
    mig_from_text,
    whole_number,
)

# "    Product Name                          : NVIDIA H200": the key is what comes before the first
# " :" (a colon after whitespace), read without a pattern that could backtrack over a long line.
_SEPARATOR = re.compile(r"\s:")
_GPU_HEADING = re.compile(r"GPU [0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]")
_MIB = re.compile(r"(?P<number>[0-9]+)\s*MiB")


@dataclass
class QueryGpu:
    name: str | None = None
    memory_mib: int | None = None
    mig: bool | None = None


@dataclass
class QueryReport:
    driver: str | None = None
    cuda: str | None = None
    gpus: list[QueryGpu] = field(default_factory=list)


def looks_like_smi_query(text: str) -> bool:
    return "NVSMI LOG" in text or (
        re.search(r"^(Driver|KMD) Version\s+:", text, re.MULTILINE) is not None
        and re.search(r"^Attached GPUs\s+:", text, re.MULTILINE) is not None
    )


def parse_smi_query_header(text: str) -> QueryReport:
    """Only the top lines: driver and CUDA version (enough for ``nvidia-smi -q -d COMPUTE``)."""
    return parse_smi_query(text)


def parse_smi_query(text: str) -> QueryReport:
    report = QueryReport()
    gpu: QueryGpu | None = None
    # Section headings by indentation, e.g. ["FB Memory Usage"] or ["MIG Device", "Shared FB ..."].
    sections: list[tuple[int, str]] = []
    for raw in lines_of(text):
        line = raw.expandtabs(4).rstrip()
        if not line.strip():
            continue
        if _GPU_HEADING.fullmatch(line):
            gpu = QueryGpu()
            report.gpus.append(gpu)
            sections = []
            continue
        indent = len(line) - len(line.lstrip())
        while sections and sections[-1][0] >= indent:
            sections.pop()
        key_value = _key_value(line)
        if key_value is None:
            sections.append((indent, line.strip()))
            continue
        key, value = key_value
        path = [name for _, name in sections]
        if gpu is None:
            _read_header(report, key, value)
        else:
            _read_gpu(gpu, path, key, value)
    return report


def _key_value(line: str) -> tuple[str, str | None] | None:
    """The key and value of a "Key : value" line, or None for a section heading."""
    separator = _SEPARATOR.search(line)
    key = line[: separator.start()].strip() if separator else ""
    if separator is None or not key or ":" in key:
        return None
    return key, clean_value(line[separator.end() :])


def _read_header(report: QueryReport, key: str, value: str | None) -> None:
    if key in ("Driver Version", "KMD Version") and report.driver is None:
        report.driver = checked_version(value)
    elif key in ("CUDA Version", "CUDA UMD Version") and report.cuda is None:
        report.cuda = checked_version(value)


def _read_gpu(gpu: QueryGpu, path: list[str], key: str, value: str | None) -> None:
    if not path and key == "Product Name":
        gpu.name = checked_name(value)
    elif path == ["FB Memory Usage"] and key == "Total":
        match = _MIB.fullmatch(value or "")
        gpu.memory_mib = whole_number(match.group("number")) if match else None
    elif path == ["MIG Mode"] and key == "Current":
        gpu.mig = mig_from_text(value)
