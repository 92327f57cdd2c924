"""``nvidia-smi -q``: the indented "NVSMI LOG" report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envdoctor.importers.common import clean_value, mig_from_text

_KEY_VALUE = re.compile(r"^(?P<indent>\s*)(?P<key>[^:]+?)\s+:\s?(?P<value>.*)$")
_GPU_HEADING = re.compile(r"^GPU [0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]\s*$")


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
    for raw in text.splitlines():
        line = raw.expandtabs(4).rstrip()
        if not line.strip():
            continue
        if _GPU_HEADING.match(line):
            gpu = QueryGpu()
            report.gpus.append(gpu)
            sections = []
            continue
        match = _KEY_VALUE.match(line)
        indent = len(line) - len(line.lstrip())
        while sections and sections[-1][0] >= indent:
            sections.pop()
        if match is None:
            sections.append((indent, line.strip()))
            continue
        key, value = match.group("key").strip(), clean_value(match.group("value"))
        path = [name for _, name in sections]
        if gpu is None:
            _read_header(report, key, value)
        else:
            _read_gpu(gpu, path, key, value)
    return report


def _read_header(report: QueryReport, key: str, value: str | None) -> None:
    if key in ("Driver Version", "KMD Version") and report.driver is None:
        report.driver = value
    elif key in ("CUDA Version", "CUDA UMD Version") and report.cuda is None:
        report.cuda = value


def _read_gpu(gpu: QueryGpu, path: list[str], key: str, value: str | None) -> None:
    if not path and key == "Product Name":
        gpu.name = value
    elif path == ["FB Memory Usage"] and key == "Total":
        match = re.match(r"(\d+)\s*MiB", value or "")
        gpu.memory_mib = int(match.group(1)) if match else None
    elif path == ["MIG Mode"] and key == "Current":
        gpu.mig = mig_from_text(value)
