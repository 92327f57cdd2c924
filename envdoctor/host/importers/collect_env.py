"""``python -m torch.utils.collect_env``: PyTorch's bug-report environment summary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envdoctor.host.importers.common import clean_value, lines_of
from envdoctor.host.profile import PACKAGE_NAME, PACKAGE_VERSION, PATH, PYTHON_VERSION, VERSION

_FIELD = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9_ ]*?):\s*(?P<value>.*)")
_GPU_LINE = re.compile(r"GPU [0-9]+:(?P<rest>.*)")
_OS_ARCH = re.compile(r"\((?P<arch>x86_64|aarch64|arm64|AMD64)\)\s*\Z")
_PLATFORM_ARCH = re.compile(r"-(?P<arch>x86_64|aarch64|arm64)(?:-|\Z)")
_LIBC = re.compile(r"(?P<name>glibc|musl)-(?P<version>[0-9.]+)")
_PYTHON = re.compile(r"(?P<version>[0-9]+\.[0-9]+\.[0-9]+)")
_RELEASE = re.compile(r"(?P<version>[0-9]+\.[0-9]+)")
_CUDNN_FILE = re.compile(r"libcudnn\.so\.(?P<version>[0-9]+(?:\.[0-9]+)*)\Z")


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
        match = _LIBC.fullmatch(self.value("Libc version") or "")
        return (match.group("name"), match.group("version")) if match and VERSION.matches(match["version"]) else None

    @property
    def python(self) -> str | None:
        match = _PYTHON.match(self.fields.get("Python version", ""))
        return match.group("version") if match and PYTHON_VERSION.matches(match["version"]) else None

    @property
    def wsl(self) -> int | None:
        platform = self.fields.get("Python platform", "").lower()
        if "microsoft" not in platform:
            return 0 if self.os == "linux" else None
        return 2 if "standard" in platform or "wsl2" in platform else 1

    @property
    def nvcc(self) -> str | None:
        match = _RELEASE.match(self.value("CUDA runtime version") or "")
        return match.group("version") if match and VERSION.matches(match["version"]) else None


def looks_like_collect_env(text: str) -> bool:
    return "PyTorch version:" in text and ("Is CUDA available:" in text or "CUDA used to build PyTorch:" in text)


def parse_collect_env(text: str) -> CollectEnvReport:
    report = CollectEnvReport()
    section: str | None = None
    for raw in lines_of(text):
        line = raw.strip()
        if not line:
            section = None
            continue
        if section == "gpus":
            gpu = _gpu_name(line)
            if gpu:
                report.gpus.append(gpu)
                continue
            section = None
        if section == "cudnn":
            cudnn = _cudnn(line)
            if cudnn:
                report.cudnn.append(cudnn)
                continue
            section = None
        if line.startswith("[pip") and "]" in line and "==" in line:
            name, _, version = line.split("]", 1)[1].strip().partition("==")
            name, version = name.strip().lower(), version.strip()
            if PACKAGE_NAME.matches(name) and PACKAGE_VERSION.matches(version):
                report.packages.setdefault(name, version)
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            continue
        key, value = match.group("key"), match.group("value").strip()
        report.fields.setdefault(key, value)
        if key == "GPU models and configuration":
            section = "gpus"
            _read_inline_gpu(report, value)
        elif key == "cuDNN version":
            section = "cudnn"
            cudnn = _cudnn(value)
            if cudnn:
                report.cudnn.append(cudnn)
    return report


def _gpu_name(line: str) -> str | None:
    """The name in "GPU 0: NVIDIA H200 (UUID: GPU-...)", or None if the line is not one."""
    match = _GPU_LINE.fullmatch(line)
    if match is None:
        return None
    return match.group("rest").split("(UUID:", 1)[0].strip() or None


def _cudnn(line: str) -> tuple[str, str] | None:
    """(version, path) of a line naming a cuDNN library file, such as /usr/lib/libcudnn.so.8.4.0."""
    words = line.split()
    file = _CUDNN_FILE.search(words[-1]) if words else None
    if file is None or not VERSION.matches(file.group("version")) or not PATH.matches(words[-1]):
        return None
    return file.group("version"), words[-1]


def _read_inline_gpu(report: CollectEnvReport, value: str) -> None:
    if clean_value(value) is None:
        return
    report.gpus.append(_gpu_name(value) or value)
