"""``python -m torch.utils.collect_env``: PyTorch's bug-report environment summary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envdoctor.importers.common import clean_value

_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_ ]*?):\s*(?P<value>.*)$")
_GPU_LINE = re.compile(r"^GPU \d+:\s*(?P<name>.+?)\s*(?:\(UUID:.*\))?$")
_OS_ARCH = re.compile(r"\((?P<arch>x86_64|aarch64|arm64|AMD64)\)\s*$")
_PLATFORM_ARCH = re.compile(r"-(?P<arch>x86_64|aarch64|arm64)(?:-|$)")
_LIBC = re.compile(r"^(?P<name>glibc|musl)-(?P<version>[\d.]+)$")
_PYTHON = re.compile(r"^(?P<version>\d+\.\d+\.\d+)")
_RELEASE = re.compile(r"^(?P<version>\d+\.\d+)")
_CUDNN_PATH = re.compile(r"(?P<path>\S*libcudnn\.so\.(?P<version>\d+(?:\.\d+)*))\s*$")


@dataclass
class CollectEnvReport:
    fields: dict[str, str] = field(default_factory=dict)
    gpus: list[str] = field(default_factory=list)
    cudnn: list[tuple[str, str]] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)

    def value(self, key: str) -> str | None:
        return clean_value(self.fields.get(key))

    @property
    def os(self) -> str | None:
        text = self.fields.get("OS", "") + " " + self.fields.get("Python platform", "")
        if "macOS" in text or "Darwin" in text:
            return "macos"
        if "Windows" in text:
            return "windows"
        if "Linux" in text or self.value("Libc version"):
            return "linux"
        return None

    @property
    def arch(self) -> str | None:
        for text, pattern in (
            (self.fields.get("OS", ""), _OS_ARCH),
            (self.fields.get("Python platform", ""), _PLATFORM_ARCH),
        ):
            match = pattern.search(text)
            if match:
                return match.group("arch")
        if "(AMD64)" in self.fields.get("Python version", ""):
            return "x86_64"
        return None

    @property
    def libc(self) -> tuple[str, str] | None:
        match = _LIBC.match(self.value("Libc version") or "")
        return (match.group("name"), match.group("version")) if match else None

    @property
    def python(self) -> str | None:
        match = _PYTHON.match(self.fields.get("Python version", ""))
        return match.group("version") if match else None

    @property
    def wsl(self) -> int | None:
        platform = self.fields.get("Python platform", "").lower()
        if "microsoft" not in platform:
            return 0 if self.os == "linux" else None
        return 2 if "standard" in platform or "wsl2" in platform else 1

    @property
    def nvcc(self) -> str | None:
        match = _RELEASE.match(self.value("CUDA runtime version") or "")
        return match.group("version") if match else None


def looks_like_collect_env(text: str) -> bool:
    return "PyTorch version:" in text and ("Is CUDA available:" in text or "CUDA used to build PyTorch:" in text)


def parse_collect_env(text: str) -> CollectEnvReport:
    report = CollectEnvReport()
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            section = None
            continue
        if section == "gpus":
            gpu = _GPU_LINE.match(line)
            if gpu:
                report.gpus.append(gpu.group("name"))
                continue
            section = None
        if section == "cudnn":
            path = _CUDNN_PATH.search(line)
            if path:
                report.cudnn.append((path.group("version"), path.group("path")))
                continue
            section = None
        if line.startswith("[pip") and "]" in line and "==" in line:
            name, _, version = line.split("]", 1)[1].strip().partition("==")
            report.packages.setdefault(name.strip().lower(), version.strip())
            continue
        match = _FIELD.match(line)
        if match is None:
            continue
        key, value = match.group("key"), match.group("value").strip()
        report.fields.setdefault(key, value)
        if key == "GPU models and configuration":
            section = "gpus"
            _read_inline_gpu(report, value)
        elif key == "cuDNN version":
            section = "cudnn"
            path = _CUDNN_PATH.search(value)
            if path:
                report.cudnn.append((path.group("version"), path.group("path")))
    return report


def _read_inline_gpu(report: CollectEnvReport, value: str) -> None:
    if clean_value(value) is None:
        return
    gpu = _GPU_LINE.match(value)
    report.gpus.append(gpu.group("name") if gpu else value)
