"""The host profile: what envdoctor knows about the machine a requirements set must run on.

The JSON form (schema ``envdoctor.host/1``) is a public contract, described in DESIGN.md.
A field that is missing is unknown; ``"nvidia": null`` means "known to have no usable NVIDIA
driver", and ``reasons`` says why a fact is unknown or absent.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from envdoctor.errors import InputError

SCHEMA = "envdoctor.host/1"

OS_NAMES = ("linux", "macos", "windows")
ARCH_NAMES = ("x86_64", "aarch64", "arm64")
_OS_ALIASES = {"darwin": "macos", "mac": "macos", "osx": "macos", "win32": "windows", "win": "windows"}
_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "x86-64": "x86_64"}

# Where a fact came from, as recorded in ``sources``.
SOURCE_NVML = "nvml"
SOURCE_PROCFS = "procfs"
SOURCE_NVIDIA_SMI = "nvidia-smi"
SOURCE_OVERRIDE = "override"
SOURCE_FILE = "file"
SOURCE_KB = "kb"
SOURCE_SYSTEM = "system"

_DOTTED_VERSION = re.compile(r"^\d+(\.\d+){0,3}$")
_COMPUTE_CAPABILITY = re.compile(r"^\d{1,2}\.\d{1,2}$")


class NoNvidia(enum.Enum):
    """Marks a host known to have no usable NVIDIA driver (JSON ``null``)."""

    NONE = "none"


class Libc(NamedTuple):
    name: str | None = None
    version: str | None = None


class Gpu(NamedTuple):
    """One GPU. ``mig`` is whether MIG mode is currently enabled."""

    name: str | None = None
    compute_capability: str | None = None
    memory_mib: int | None = None
    mig: bool | None = None


class Nvidia(NamedTuple):
    """The NVIDIA driver stack. ``gpus`` is None when the GPUs could not be listed."""

    driver: str | None = None
    cuda: str | None = None
    gpus: tuple[Gpu, ...] | None = None
    # Version of the loaded kernel module, recorded only where it differs from ``driver``.
    kernel_module: str | None = None


class CudaLibrary(NamedTuple):
    """A CUDA or cuDNN shared library found on LD_LIBRARY_PATH."""

    name: str
    version: str | None
    path: str


class CudaToolkit(NamedTuple):
    nvcc: str | None = None
    libraries: tuple[CudaLibrary, ...] = ()


class HostProfile(NamedTuple):
    """A host, probed or described. None means unknown for every field."""

    os: str | None = None
    arch: str | None = None
    libc: Libc | None = None
    python: str | None = None
    wsl: int | None = None
    container: bool | None = None
    nvidia: Nvidia | NoNvidia | None = None
    cuda_toolkit: CudaToolkit | None = None
    env: Mapping[str, str] = MappingProxyType({})
    sources: Mapping[str, str] = MappingProxyType({})
    reasons: Mapping[str, str] = MappingProxyType({})
    python_packages: Mapping[str, str] = MappingProxyType({})
    import_format: str | None = None

    @property
    def driver(self) -> Nvidia | None:
        """The NVIDIA stack if the host has one, else None (absent or unknown)."""
        return self.nvidia if isinstance(self.nvidia, Nvidia) else None


class HostOverrides(NamedTuple):
    """One-off host facts given as command-line flags; each replaces the profile's field."""

    os: str | None = None
    arch: str | None = None
    python: str | None = None
    wsl: int | None = None
    driver: str | None = None
    cuda: str | None = None
    gpus: tuple[Gpu, ...] | None = None

    def is_empty(self) -> bool:
        return self == HostOverrides()


def normalize_os(value: str) -> str | None:
    lowered = value.strip().lower()
    lowered = _OS_ALIASES.get(lowered, lowered)
    return lowered if lowered in OS_NAMES else None


def normalize_arch(value: str) -> str | None:
    lowered = value.strip().lower()
    lowered = _ARCH_ALIASES.get(lowered, lowered)
    return lowered if lowered in ARCH_NAMES else None


def is_dotted_version(value: str) -> bool:
    return bool(_DOTTED_VERSION.match(value))


def is_compute_capability(value: str) -> bool:
    return bool(_COMPUTE_CAPABILITY.match(value))


def apply_overrides(profile: HostProfile, overrides: HostOverrides) -> HostProfile:
    """Return the profile with every given override in place, each sourced as ``override``."""
    changes: dict[str, Any] = {}
    sources = dict(profile.sources)
    for name in ("os", "arch", "python", "wsl"):
        value = getattr(overrides, name)
        if value is not None:
            changes[name] = value
            sources[name] = SOURCE_OVERRIDE
    if overrides.driver is not None or overrides.cuda is not None or overrides.gpus is not None:
        nvidia = profile.driver or Nvidia()
        if overrides.driver is not None:
            nvidia = nvidia._replace(driver=overrides.driver, kernel_module=None)
            sources["nvidia.driver"] = SOURCE_OVERRIDE
        if overrides.cuda is not None:
            nvidia = nvidia._replace(cuda=overrides.cuda)
            sources["nvidia.cuda"] = SOURCE_OVERRIDE
        if overrides.gpus is not None:
            nvidia = nvidia._replace(gpus=overrides.gpus)
            sources["nvidia.gpus"] = SOURCE_OVERRIDE
        changes["nvidia"] = nvidia
        reasons = {k: v for k, v in profile.reasons.items() if not k.startswith("nvidia")}
        changes["reasons"] = reasons
    changes["sources"] = sources
    return profile._replace(**changes)


# --- JSON ------------------------------------------------------------------------------------


def profile_to_dict(profile: HostProfile) -> dict[str, Any]:
    """The contract's JSON object; unknown fields are left out, keys in a fixed order."""
    out: dict[str, Any] = {"schema": SCHEMA}
    for name in ("os", "arch"):
        if getattr(profile, name) is not None:
            out[name] = getattr(profile, name)
    if profile.libc is not None:
        out["libc"] = _drop_none({"name": profile.libc.name, "version": profile.libc.version})
    for name in ("python", "wsl", "container"):
        if getattr(profile, name) is not None:
            out[name] = getattr(profile, name)
    if isinstance(profile.nvidia, NoNvidia):
        out["nvidia"] = None
    elif profile.nvidia is not None:
        out["nvidia"] = _nvidia_to_dict(profile.nvidia)
    if profile.cuda_toolkit is not None:
        toolkit: dict[str, Any] = {"nvcc": profile.cuda_toolkit.nvcc}
        if profile.cuda_toolkit.libraries:
            toolkit["libraries"] = [
                _drop_none({"name": lib.name, "version": lib.version, "path": lib.path})
                for lib in profile.cuda_toolkit.libraries
            ]
        out["cuda_toolkit"] = toolkit
    for name in ("env", "sources", "reasons", "python_packages"):
        mapping = getattr(profile, name)
        if mapping:
            out[name] = dict(sorted(mapping.items()))
    if profile.import_format is not None:
        out["import_format"] = profile.import_format
    return out


def profile_to_json(profile: HostProfile) -> str:
    return json.dumps(profile_to_dict(profile), indent=2, ensure_ascii=False) + "\n"


def _nvidia_to_dict(nvidia: Nvidia) -> dict[str, Any]:
    out: dict[str, Any] = _drop_none({"driver": nvidia.driver, "cuda": nvidia.cuda})
    if nvidia.gpus is not None:
        out["gpus"] = [
            _drop_none(
                {
                    "name": gpu.name,
                    "compute_capability": gpu.compute_capability,
                    "memory_mib": gpu.memory_mib,
                    "mig": gpu.mig,
                }
            )
            for gpu in nvidia.gpus
        ]
    if nvidia.kernel_module is not None:
        out["kernel_module"] = nvidia.kernel_module
    return out


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


def profile_from_json(text: str, path: str) -> HostProfile:
    """Parse a saved host profile; raises InputError naming the file, line or field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", exc.lineno) from None
    return profile_from_dict(data, path)


def profile_from_dict(data: object, path: str) -> HostProfile:
    reader = _FieldReader(path)
    obj = reader.mapping(data, "profile")
    schema = obj.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise InputError(path, f"schema is {schema!r}; this envdoctor reads {SCHEMA!r}")
    os_name = reader.optional_str(obj, "os")
    if os_name is not None:
        os_name = reader.check(normalize_os(os_name), "os", f"one of {', '.join(OS_NAMES)}")
    arch = reader.optional_str(obj, "arch")
    if arch is not None:
        arch = reader.check(normalize_arch(arch), "arch", f"one of {', '.join(ARCH_NAMES)}")
    libc = None
    if obj.get("libc") is not None:
        libc_obj = reader.mapping(obj["libc"], "libc")
        libc = Libc(reader.optional_str(libc_obj, "name", "libc."), reader.optional_str(libc_obj, "version", "libc."))
    python = reader.optional_str(obj, "python")
    if python is not None and not is_dotted_version(python):
        raise InputError(path, f"python: {python!r} is not a version like 3.11.9")
    wsl = obj.get("wsl")
    if wsl is not None and (isinstance(wsl, bool) or wsl not in (0, 1, 2)):
        raise InputError(path, "wsl: expected 0, 1 or 2")
    container = obj.get("container")
    if container is not None and not isinstance(container, bool):
        raise InputError(path, "container: expected true or false")
    nvidia: Nvidia | NoNvidia | None = None
    if "nvidia" in obj:
        nvidia = NoNvidia.NONE if obj["nvidia"] is None else _nvidia_from_dict(reader, obj["nvidia"])
    toolkit = None
    if obj.get("cuda_toolkit") is not None:
        toolkit_obj = reader.mapping(obj["cuda_toolkit"], "cuda_toolkit")
        libraries = []
        for index, item in enumerate(reader.sequence(toolkit_obj.get("libraries", []), "cuda_toolkit.libraries")):
            where = f"cuda_toolkit.libraries[{index}]."
            lib = reader.mapping(item, where[:-1])
            libraries.append(
                CudaLibrary(
                    name=reader.required_str(lib, "name", where),
                    version=reader.optional_str(lib, "version", where),
                    path=reader.optional_str(lib, "path", where) or "",
                )
            )
        toolkit = CudaToolkit(reader.optional_str(toolkit_obj, "nvcc", "cuda_toolkit."), tuple(libraries))
    return HostProfile(
        os=os_name,
        arch=arch,
        libc=libc,
        python=python,
        wsl=wsl,
        container=container,
        nvidia=nvidia,
        cuda_toolkit=toolkit,
        env=reader.str_mapping(obj, "env"),
        sources=reader.str_mapping(obj, "sources"),
        reasons=reader.str_mapping(obj, "reasons"),
        python_packages=reader.str_mapping(obj, "python_packages"),
        import_format=reader.optional_str(obj, "import_format"),
    )


def _nvidia_from_dict(reader: _FieldReader, data: object) -> Nvidia:
    obj = reader.mapping(data, "nvidia")
    driver = reader.optional_str(obj, "driver", "nvidia.")
    if driver is not None and not is_dotted_version(driver):
        raise InputError(reader.path, f"nvidia.driver: {driver!r} is not a driver version like 535.104.05")
    cuda = reader.optional_str(obj, "cuda", "nvidia.")
    if cuda is not None and not is_dotted_version(cuda):
        raise InputError(reader.path, f"nvidia.cuda: {cuda!r} is not a CUDA version like 12.2")
    gpus = None
    if obj.get("gpus") is not None:
        gpu_list = []
        for index, item in enumerate(reader.sequence(obj["gpus"], "nvidia.gpus")):
            where = f"nvidia.gpus[{index}]."
            gpu = reader.mapping(item, where[:-1])
            capability = reader.optional_str(gpu, "compute_capability", where)
            if capability is not None and not is_compute_capability(capability):
                raise InputError(reader.path, f"{where}compute_capability: {capability!r} is not like 8.6")
            memory = gpu.get("memory_mib")
            if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory < 0):
                raise InputError(reader.path, f"{where}memory_mib: expected a whole number of MiB")
            mig = gpu.get("mig")
            if mig is not None and not isinstance(mig, bool):
                raise InputError(reader.path, f"{where}mig: expected true or false")
            gpu_list.append(Gpu(reader.optional_str(gpu, "name", where), capability, memory, mig))
        gpus = tuple(gpu_list)
    return Nvidia(driver, cuda, gpus, reader.optional_str(obj, "kernel_module", "nvidia."))


class _FieldReader(NamedTuple):
    """Type checks for a profile's JSON, each failure an InputError naming the field."""

    path: str

    def mapping(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InputError(self.path, f"{where}: expected an object")
        return value

    def sequence(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise InputError(self.path, f"{where}: expected a list")
        return value

    def optional_str(self, obj: Mapping[str, Any], key: str, prefix: str = "") -> str | None:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(self.path, f"{prefix}{key}: expected a string")
        return value

    def required_str(self, obj: Mapping[str, Any], key: str, prefix: str = "") -> str:
        value = self.optional_str(obj, key, prefix)
        if value is None:
            raise InputError(self.path, f"{prefix}{key}: missing")
        return value

    def str_mapping(self, obj: Mapping[str, Any], key: str) -> dict[str, str]:
        value = obj.get(key)
        if value is None:
            return {}
        mapping = self.mapping(value, key)
        for item_key, item in mapping.items():
            if not isinstance(item, str):
                raise InputError(self.path, f"{key}.{item_key}: expected a string")
        return dict(mapping)

    def check(self, value: str | None, key: str, expected: str) -> str:
        if value is None:
            raise InputError(self.path, f"{key}: expected {expected}")
        return value
