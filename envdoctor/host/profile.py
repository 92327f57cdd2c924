"""The host profile: what envdoctor knows about the machine a requirements set must run on.

The JSON form (schema ``envdoctor.host/1``) is a public contract, described in DESIGN.md.
A field that is missing is unknown; ``"nvidia": null`` means "known to have no usable NVIDIA
driver", and ``reasons`` says why a fact is unknown or absent.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from envdoctor.errors import InputError
from envdoctor.safety import UnsafeValue, quote, snippet
from envdoctor.structured import parse_json

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

# The grammar of every text field, matched in full (re.fullmatch: "$" would let a final newline
# through) with ASCII digits only ("²".isdigit() is true and \d matches it, but int("²") fails).
# Numbers are at most nine digits, so that int() of any part is cheap and within its limits.
_NUMBER = "[0-9]{1,9}"
_VERSION = rf"{_NUMBER}(?:\.{_NUMBER}){{0,3}}"
# A line of text: no C0/C1 control character, nor a character str.splitlines() breaks a line at.
_LINE = "[^\x00-\x1f\x7f-\x9f\u2028\u2029]"


class Grammar(NamedTuple):
    pattern: re.Pattern[str]
    expected: str

    def matches(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None


VERSION = Grammar(re.compile(_VERSION), "a version of dotted numbers (2.35, 12.2, 535.104.05)")
# What platform.python_version() says, pre-releases ("3.13.0rc1") and development builds ("+") included.
PYTHON_VERSION = Grammar(re.compile(rf"{_VERSION}(?:(?:a|b|rc){_NUMBER})?\+?"), "a Python version like 3.11.9")
COMPUTE_CAPABILITY = Grammar(re.compile(r"[0-9]{1,2}\.[0-9]{1,2}"), "a compute capability like 8.6")
GPU_NAME = Grammar(re.compile(f"{_LINE}{{1,200}}"), "a GPU name on one line, at most 200 characters")
# libc and library names, where a fact came from, the import format.
TOKEN = Grammar(re.compile("[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,99}"), "a word of letters, digits and _.:/+-")
PATH = Grammar(re.compile(f"{_LINE}{{0,4096}}"), "a path on one line")
ENV_NAME = Grammar(re.compile("[A-Za-z_][A-Za-z0-9_]{0,127}"), "an environment variable name")
ENV_VALUE = Grammar(re.compile(f"{_LINE}{{0,32768}}"), "a value on one line")
# Keys of ``sources`` and ``reasons``: a field's path, such as nvidia.gpus[0].compute_capability.
# A Kubernetes node's name: a DNS subdomain (RFC 1123), as the API server accepts it.
NODE_NAME = Grammar(re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?"), "a Kubernetes node name")
MAX_NODES = 100_000
FIELD_PATH = Grammar(re.compile(r"[A-Za-z0-9_.\[\]-]{1,100}"), "a field path like nvidia.gpus[0].name")
REASON = Grammar(re.compile(f"{_LINE}{{0,2000}}"), "text on one line, at most 2000 characters")
PACKAGE_NAME = Grammar(re.compile("[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"), "a package name")
PACKAGE_VERSION = Grammar(re.compile("[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}"), "a package version")

# Why a WSL 1 host has no usable GPU, whether probed or described.
WSL1_NO_GPU = "WSL 1 cannot reach the GPU: CUDA on Windows Subsystem for Linux needs WSL 2"
# More GPUs than any one machine has; a profile or paste that claims more is capped or refused.
MAX_GPUS = 256
MAX_MEMORY_MIB = 2**31


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

    @property
    def capabilities(self) -> list[str]:
        """The compute capabilities of its GPUs that are known."""
        return [gpu.compute_capability for gpu in self.gpus or () if gpu.compute_capability]


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
    # The Kubernetes nodes this profile stands for, when it is a node class of a cluster.
    nodes: tuple[str, ...] = ()

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
    # --no-gpu: known to have no usable NVIDIA driver ("nvidia": null).
    no_gpu: bool = False
    # ``cuda`` is what the knowledge base says ``driver`` supports (--driver without --cuda); None there: unknown.
    cuda_from_kb: bool = False

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
    return VERSION.matches(value)


def is_compute_capability(value: str) -> bool:
    return COMPUTE_CAPABILITY.matches(value)


def apply_overrides(profile: HostProfile, overrides: HostOverrides) -> HostProfile:
    """Return the profile with every given override in place, each sourced as ``override``."""
    changes: dict[str, Any] = {}
    sources = dict(profile.sources)
    for name in ("os", "arch", "python", "wsl"):
        value = getattr(overrides, name)
        if value is not None:
            changes[name] = value
            sources[name] = SOURCE_OVERRIDE
    if overrides.no_gpu:
        sources = {k: v for k, v in sources.items() if not k.startswith("nvidia")} | {"nvidia": SOURCE_OVERRIDE}
        reasons = {k: v for k, v in profile.reasons.items() if not k.startswith("nvidia")}
        changes["nvidia"] = NoNvidia.NONE
        changes["reasons"] = reasons | {"nvidia": "given as --no-gpu: no usable NVIDIA driver"}
    elif overrides.driver is not None or overrides.cuda is not None or overrides.gpus is not None:
        sources.pop("nvidia", None)
        nvidia = profile.driver or Nvidia()
        reasons = {k: v for k, v in profile.reasons.items() if not k.startswith("nvidia")}
        if overrides.driver is not None:
            nvidia = nvidia._replace(driver=overrides.driver, kernel_module=None)
            sources["nvidia.driver"] = SOURCE_OVERRIDE
        if overrides.cuda is not None or overrides.cuda_from_kb:
            # A CUDA the profile had belonged to its own driver: with another driver, the base's or none.
            nvidia = nvidia._replace(cuda=overrides.cuda)
            sources.pop("nvidia.cuda", None)
            if overrides.cuda is not None:
                sources["nvidia.cuda"] = SOURCE_KB if overrides.cuda_from_kb else SOURCE_OVERRIDE
            else:
                driver = overrides.driver
                reasons["nvidia.cuda"] = f"the knowledge base knows no CUDA release that driver {driver} supports"
        if overrides.gpus is not None:
            nvidia = nvidia._replace(gpus=overrides.gpus)
            sources = {k: v for k, v in sources.items() if not k.startswith("nvidia.gpus[")}
            sources["nvidia.gpus"] = SOURCE_OVERRIDE
            for index, gpu in enumerate(overrides.gpus):
                if gpu.name is not None and gpu.compute_capability is not None:  # a model's, from the base
                    sources[f"nvidia.gpus[{index}].compute_capability"] = SOURCE_KB
        changes["nvidia"] = nvidia
        changes["reasons"] = reasons
    changes["sources"] = sources
    return profile._replace(**changes)


# --- the check every profile passes ----------------------------------------------------------


def checked_profile(profile: HostProfile, path: str) -> HostProfile:
    """``profile`` if ``profile_problem`` finds nothing wrong with it, else InputError naming ``path``."""
    problem = profile_problem(profile)
    if problem is not None:
        raise InputError(path, problem)
    return profile


def profile_problem(profile: HostProfile) -> str | None:
    """What is wrong with the profile, whichever way it was made (a file, flags, a paste, NVML,
    nvidia-smi): the first field of a wrong value or grammar, or None if every field is valid.

    Profiles are checked where they are read and again where they are written, so that a value
    that could forge a line in a lockfile, a log or a terminal never passes through one."""
    for where, value, grammar in _text_fields(profile):
        if value is not None and not grammar.matches(value):
            return f"{where}: {quote(value)} is not {grammar.expected}"
    if profile.os is not None and profile.os not in OS_NAMES:
        return f"os: expected one of {', '.join(OS_NAMES)}"
    if profile.arch is not None and profile.arch not in ARCH_NAMES:
        return f"arch: expected one of {', '.join(ARCH_NAMES)}"
    if profile.wsl is not None and (type(profile.wsl) is not int or profile.wsl not in (0, 1, 2)):
        return "wsl: expected 0, 1 or 2"
    if len(profile.nodes) > MAX_NODES:
        return f"nodes: {len(profile.nodes):,} nodes; a class has at most {MAX_NODES:,}"
    gpus = profile.driver.gpus if profile.driver is not None else None
    if gpus is not None and len(gpus) > MAX_GPUS:
        return f"nvidia.gpus: {len(gpus)} GPUs; a host has at most {MAX_GPUS}"
    for index, gpu in enumerate(gpus or ()):
        memory = gpu.memory_mib
        if memory is not None and (type(memory) is not int or not 0 <= memory <= MAX_MEMORY_MIB):
            return f"nvidia.gpus[{index}].memory_mib: expected a whole number of MiB"
    return None


def _text_fields(profile: HostProfile) -> Iterator[tuple[str, str | None, Grammar]]:
    """Every text field of the profile, where it is, and the grammar it must match in full."""
    if profile.libc is not None:
        yield "libc.name", profile.libc.name, TOKEN
        yield "libc.version", profile.libc.version, VERSION
    yield "python", profile.python, PYTHON_VERSION
    nvidia = profile.driver
    if nvidia is not None:
        yield "nvidia.driver", nvidia.driver, VERSION
        yield "nvidia.cuda", nvidia.cuda, VERSION
        yield "nvidia.kernel_module", nvidia.kernel_module, VERSION
        for index, gpu in enumerate((nvidia.gpus or ())[:MAX_GPUS]):
            yield f"nvidia.gpus[{index}].name", gpu.name, GPU_NAME
            yield f"nvidia.gpus[{index}].compute_capability", gpu.compute_capability, COMPUTE_CAPABILITY
    if profile.cuda_toolkit is not None:
        yield "cuda_toolkit.nvcc", profile.cuda_toolkit.nvcc, VERSION
        for index, library in enumerate(profile.cuda_toolkit.libraries):
            where = f"cuda_toolkit.libraries[{index}]"
            yield f"{where}.name", library.name, TOKEN
            yield f"{where}.version", library.version, VERSION
            yield f"{where}.path", library.path, PATH
    for name, keys, values in (
        ("env", ENV_NAME, ENV_VALUE),
        ("sources", FIELD_PATH, TOKEN),
        ("reasons", FIELD_PATH, REASON),
        ("python_packages", PACKAGE_NAME, PACKAGE_VERSION),
    ):
        for key, value in getattr(profile, name).items():
            yield f"a key of {name}", key, keys
            yield f"{name}.{key}", value, values
    yield "import_format", profile.import_format, TOKEN
    for index, node in enumerate(profile.nodes[:MAX_NODES]):
        yield f"nodes[{index}]", node, NODE_NAME


# --- JSON ------------------------------------------------------------------------------------


def profile_to_dict(profile: HostProfile) -> dict[str, Any]:
    """The contract's JSON object; unknown fields are left out, keys in a fixed order.

    Checked first: what is written here (``probe -o``, a report) is what ``--host`` reads back."""
    problem = profile_problem(profile)
    if problem is not None:
        raise UnsafeValue(f"the host profile cannot be written: {problem}")
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
    if profile.nodes:
        out["nodes"] = list(profile.nodes)
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
    return profile_from_dict(parse_json(text, path), path)


def profile_from_dict(data: object, path: str) -> HostProfile:
    """The profile a parsed JSON value describes; InputError naming the file and the field whose
    type or grammar is wrong (``profile_problem``, the same check every other profile passes)."""
    reader = _FieldReader(path)
    obj = reader.mapping(data, "profile")
    schema = obj.get("schema", SCHEMA)
    if schema != SCHEMA:
        shown = snippet(schema) if isinstance(schema, str) else type(schema).__name__
        raise InputError(path, f"schema is {shown!r}; this envdoctor reads {SCHEMA!r}")
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
    profile = HostProfile(
        os=os_name,
        arch=arch,
        libc=libc,
        python=reader.optional_str(obj, "python"),
        wsl=obj.get("wsl"),  # its value is checked with every other field's, by checked_profile
        container=container,
        nvidia=nvidia,
        cuda_toolkit=toolkit,
        env=reader.str_mapping(obj, "env"),
        sources=reader.str_mapping(obj, "sources"),
        reasons=reader.str_mapping(obj, "reasons"),
        python_packages=reader.str_mapping(obj, "python_packages"),
        import_format=reader.optional_str(obj, "import_format"),
        nodes=tuple(reader.str_sequence(obj, "nodes")),
    )
    return checked_profile(profile, path)


def _nvidia_from_dict(reader: _FieldReader, data: object) -> Nvidia:
    obj = reader.mapping(data, "nvidia")
    gpus = None
    if obj.get("gpus") is not None:
        items = reader.sequence(obj["gpus"], "nvidia.gpus")
        if len(items) > MAX_GPUS:
            raise InputError(reader.path, f"nvidia.gpus: {len(items)} GPUs; a host has at most {MAX_GPUS}")
        gpu_list = []
        for index, item in enumerate(items):
            where = f"nvidia.gpus[{index}]."
            gpu = reader.mapping(item, where[:-1])
            mig = gpu.get("mig")
            if mig is not None and not isinstance(mig, bool):
                raise InputError(reader.path, f"{where}mig: expected true or false")
            gpu_list.append(
                Gpu(
                    reader.optional_str(gpu, "name", where),
                    reader.optional_str(gpu, "compute_capability", where),
                    gpu.get("memory_mib"),  # checked by checked_profile, as wsl is
                    mig,
                )
            )
        gpus = tuple(gpu_list)
    return Nvidia(
        reader.optional_str(obj, "driver", "nvidia."),
        reader.optional_str(obj, "cuda", "nvidia."),
        gpus,
        reader.optional_str(obj, "kernel_module", "nvidia."),
    )


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
                raise InputError(self.path, f"{key}[{quote(item_key)}]: expected a string")
        return dict(mapping)

    def str_sequence(self, obj: Mapping[str, Any], key: str) -> list[str]:
        value = obj.get(key)
        if value is None:
            return []
        items = self.sequence(value, key)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise InputError(self.path, f"{key}[{index}]: expected a string")
        return list(items)

    def check(self, value: str | None, key: str, expected: str) -> str:
        if value is None:
            raise InputError(self.path, f"{key}: expected {expected}")
        return value
