"""Reading the NVIDIA driver through NVML (the ``nvidia-ml-py`` binding).

The reading is plain data so that recorded values from real machines can stand in for a GPU
in tests (``reading_from_dict``).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

# NVML return codes that change what the probe concludes (nvml.h).
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18

_LIBRARY_VERSION = re.compile(r"libnvidia-ml\.so\.([0-9]{1,9}\.[0-9]{1,9}(?:\.[0-9]{1,9})?)\s*\Z")


@dataclass(frozen=True)
class NvmlGpu:
    name: str | None
    compute_capability: str | None
    memory_total_bytes: int | None
    # Current MIG mode (1 enabled, 0 disabled); None where the GPU has no MIG support.
    mig_mode: int | None
    error: str | None = None


@dataclass(frozen=True)
class NvmlReading:
    driver: str
    # As nvmlSystemGetCudaDriverVersion_v2 returns it: 1000 * major + 10 * minor.
    cuda_driver_version: int | None
    gpus: tuple[NvmlGpu, ...]


@dataclass(frozen=True)
class NvmlFailure:
    reason: str
    code: int | None = None
    # The user-space library's version, read from its file name when NVML says it does not
    # match the kernel module.
    library_version: str | None = None


def cuda_version_from_int(value: int) -> str:
    """12020 -> "12.2", as NVML and the CUDA driver API encode versions."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def read_nvml() -> NvmlReading | NvmlFailure:
    """Ask the real NVML library. Can block if the driver is wedged: call it with a timeout."""
    try:
        import pynvml
    except ImportError:
        return NvmlFailure("the nvidia-ml-py package is not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        code = getattr(exc, "value", None)
        library_version = _loaded_library_version() if code == NVML_ERROR_LIB_RM_VERSION_MISMATCH else None
        return NvmlFailure(f"NVML: {exc}", code, library_version)
    except OSError as exc:
        return NvmlFailure(f"NVML: {exc}")
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        try:
            cuda: int | None = int(pynvml.nvmlSystemGetCudaDriverVersion_v2())
        except pynvml.NVMLError:
            cuda = None
        gpus = tuple(_read_gpu(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount()))
        return NvmlReading(driver, cuda, gpus)
    except pynvml.NVMLError as exc:
        return NvmlFailure(f"NVML: {exc}", getattr(exc, "value", None))
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _read_gpu(pynvml: Any, index: int) -> NvmlGpu:
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError as exc:
        return NvmlGpu(None, None, None, None, error=f"GPU {index}: {exc}")
    error = None
    try:
        name: str | None = _text(pynvml.nvmlDeviceGetName(handle))
    except pynvml.NVMLError as exc:
        name, error = None, f"GPU {index}: its name: {exc}"
    except UnicodeDecodeError:  # nvidia-ml-py decodes the C string as UTF-8
        name, error = None, f"GPU {index}: NVML gave a name that is not UTF-8 text"
    try:
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        capability: str | None = f"{major}.{minor}"
    except pynvml.NVMLError:
        capability = None
    try:
        memory: int | None = int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)
    except pynvml.NVMLError:
        memory = None
    try:
        mig: int | None = int(pynvml.nvmlDeviceGetMigMode(handle)[0])
    except pynvml.NVMLError:
        mig = None
    return NvmlGpu(name, capability, memory, mig, error)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _loaded_library_version() -> str | None:
    """The version in the file name of the libnvidia-ml this process has loaded."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                match = _LIBRARY_VERSION.search(line)
                if match:
                    return match.group(1)
    except OSError:
        return None
    return None


def reading_to_dict(reading: NvmlReading | NvmlFailure) -> dict[str, Any]:
    """Plain data for a recorded fixture."""
    if isinstance(reading, NvmlFailure):
        return {"failure": {"reason": reading.reason, "code": reading.code, "library_version": reading.library_version}}
    return {
        "driver": reading.driver,
        "cuda_driver_version": reading.cuda_driver_version,
        "gpus": [
            {
                "name": gpu.name,
                "compute_capability": gpu.compute_capability,
                "memory_total_bytes": gpu.memory_total_bytes,
                "mig_mode": gpu.mig_mode,
                "error": gpu.error,
            }
            for gpu in reading.gpus
        ],
    }


def reading_from_dict(data: dict[str, Any]) -> NvmlReading | NvmlFailure:
    if "failure" in data:
        failure = data["failure"]
        return NvmlFailure(failure["reason"], failure.get("code"), failure.get("library_version"))
    gpus = tuple(
        NvmlGpu(
            g.get("name"), g.get("compute_capability"), g.get("memory_total_bytes"), g.get("mig_mode"), g.get("error")
        )
        for g in data["gpus"]
    )
    return NvmlReading(data["driver"], data.get("cuda_driver_version"), gpus)
