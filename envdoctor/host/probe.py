"""Probe a machine into a HostProfile.

Every fact passes through the ``System`` interface, so the same code runs on the real machine
and on recorded outputs in tests. Every call that could block has a timeout, and the probe
never raises: what it cannot learn, it records as unknown with the reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from envdoctor.host import nvml as nvml_codes
from envdoctor.host.importers.procfs import parse_driver_version_file, parse_gpu_information
from envdoctor.host.importers.smi_csv import SmiRow, parse_query_csv
from envdoctor.host.importers.smi_query import parse_smi_query_header
from envdoctor.host.nvml import NvmlFailure, NvmlReading, cuda_version_from_int
from envdoctor.host.profile import (
    COMPUTE_CAPABILITY,
    ENV_VALUE,
    GPU_NAME,
    MAX_GPUS,
    MAX_MEMORY_MIB,
    PACKAGE_NAME,
    PACKAGE_VERSION,
    PATH,
    PYTHON_VERSION,
    SOURCE_KB,
    SOURCE_NVIDIA_SMI,
    SOURCE_NVML,
    SOURCE_PROCFS,
    SOURCE_SYSTEM,
    TOKEN,
    VERSION,
    WSL1_NO_GPU,
    CudaLibrary,
    CudaToolkit,
    Gpu,
    Grammar,
    HostProfile,
    Libc,
    NoNvidia,
    Nvidia,
)
from envdoctor.host.system import CommandResult, PlatformFacts, System, within
from envdoctor.safety import quote, snippet

PROBE_BUDGET_S = 8.0
NVML_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 4.0
# A file under /proc or /sys answers at once, unless the driver behind it is wedged.
FILE_TIMEOUT_S = 1.0
# Reasons quote what a library or a command said; this much is enough to say what went wrong.
REASON_CHARS = 500

# Variables that change which CUDA libraries load or which GPUs a process sees.
CUDA_ENV_VARS = (
    "CUDA_HOME",
    "CUDA_MODULE_LOADING",
    "CUDA_PATH",
    "CUDA_VISIBLE_DEVICES",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "NVIDIA_DRIVER_CAPABILITIES",
    "NVIDIA_VISIBLE_DEVICES",
)
# Shared libraries whose presence on LD_LIBRARY_PATH can shadow the ones wheels bring.
CUDA_LIBRARY_NAMES = (
    "libcublas",
    "libcudart",
    "libcudnn",
    "libcufft",
    "libcurand",
    "libcusolver",
    "libcusparse",
    "libnccl",
    "libnvinfer",
    # The nvidia-nvjitlink wheel's library, which the wheels' cuSPARSE loads (cuda.toml wheel_library).
    "libnvJitLink",
    "libnvrtc",
)
GPU_PACKAGE_NAMES = frozenset(
    {
        "torch",
        "torchvision",
        "torchaudio",
        "tensorflow",
        "tensorflow-cpu",
        "jax",
        "jaxlib",
        "onnxruntime",
        "onnxruntime-gpu",
        "tensorrt",
        "xgboost",
        "flash-attn",
        "xformers",
        "triton",
        "numpy",
        "nvidia-ml-py",
    }
)
GPU_PACKAGE_PREFIXES = ("nvidia-", "cupy", "jax-cuda", "jax-plugin")

# "Cuda compilation tools, release 12.4, V12.4.131": the pattern torch.utils.cpp_extension reads.
_NVCC_RELEASE = re.compile(r"release ([0-9]{1,9}\.[0-9]{1,9})")
# Library names have capitals (libnvJitLink).
_LIBRARY_FILE = re.compile(r"(?P<name>lib[A-Za-z_]+)\.so(?:\.(?P<version>[0-9]{1,9}(?:\.[0-9]{1,9}){0,3}))?")
_MUSL_VERSION = re.compile(r"^Version ([0-9.]+)", re.MULTILINE)
_CONTAINER_CGROUP = re.compile(r"docker|kubepods|containerd|libpod|lxc|crio")


@dataclass
class _Deadline:
    """One time budget shared by all the probe's steps."""

    budget_s: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def cap(self, timeout: float) -> float:
        return max(0.1, min(timeout, self.left()))


_T = TypeVar("_T")


@dataclass
class _BoundedSystem:
    """``system`` with its file reads inside the probe's budget: a read of /proc/driver/nvidia
    can block for good when the driver is wedged. ``late`` holds each path that gave no answer."""

    system: System
    deadline: _Deadline
    late: list[str] = field(default_factory=list)

    def _bounded(self, path: str, call: Callable[[], _T], fallback: _T) -> _T:
        answer = within(self.deadline.cap(FILE_TIMEOUT_S), call) if self.deadline.left() > 0 else None
        if answer is None:
            self.late.append(path)
            return fallback
        return answer.value

    def read_text(self, path: str) -> str | None:
        return self._bounded(path, lambda: self.system.read_text(path), None)

    def exists(self, path: str) -> bool:
        return self._bounded(path, lambda: self.system.exists(path), False)

    def listdir(self, path: str) -> list[str] | None:
        return self._bounded(path, lambda: self.system.listdir(path), None)

    def platform_facts(self) -> PlatformFacts:
        return self.system.platform_facts()

    def which(self, name: str) -> str | None:
        return self.system.which(name)

    def run(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> CommandResult:
        return self.system.run(argv, timeout, env)

    def environ(self) -> Mapping[str, str]:
        return self.system.environ()

    def nvml(self, timeout: float) -> NvmlReading | NvmlFailure:
        return self.system.nvml(timeout)

    def python_packages(self, names: frozenset[str], prefixes: tuple[str, ...]) -> dict[str, str]:
        return self.system.python_packages(names, prefixes)

    def late_among(self, *paths: str) -> str | None:
        """Why the facts read from ``paths`` are unknown, if one of them gave no answer."""
        late = [path for path in paths if path in self.late]
        return f"no answer from {', '.join(late)} within the probe's time" if late else None


def probe_host(system: System, *, include_packages: bool = True) -> HostProfile:
    """Describe the machine behind ``system``.

    Every value read passes its field's grammar here or is left unknown with the reason, so that
    the profile passes the check every profile passes (``profile_problem``) and ``probe -o``
    never writes what ``--host`` would refuse."""
    deadline = _Deadline(PROBE_BUDGET_S)
    bounded = _BoundedSystem(system, deadline)
    facts = system.platform_facts()
    sources: dict[str, str] = {}
    reasons: dict[str, str] = {}
    os_name = _os_name(facts.sys_platform)
    arch = _arch(facts.machine, os_name)
    python = _valid(facts.python_version, PYTHON_VERSION, "python", "the interpreter", reasons)
    for name in ("os", "arch", "python"):
        sources[name] = SOURCE_SYSTEM
    libc = _libc(bounded, facts.gnu_libc, os_name, deadline, reasons) if os_name == "linux" else None
    if libc is not None:
        sources["libc"] = SOURCE_SYSTEM
    wsl = _wsl(bounded, reasons) if os_name == "linux" else 0
    sources["wsl"] = SOURCE_PROCFS if os_name == "linux" else SOURCE_SYSTEM
    container = _container(bounded, reasons) if os_name == "linux" else None
    if container is not None:
        sources["container"] = SOURCE_SYSTEM
    seen = _Seen(os_name, arch, wsl, container)
    nvidia = _nvidia(bounded, seen, deadline, sources, reasons)
    toolkit = _cuda_toolkit(bounded, deadline, sources, reasons)
    env = _environment(system.environ(), reasons)
    packages = _packages(system, reasons) if include_packages else {}
    return HostProfile(
        os=os_name,
        arch=arch,
        libc=libc,
        python=python,
        wsl=wsl,
        container=container,
        nvidia=nvidia,
        cuda_toolkit=toolkit,
        env=env,
        sources=sources,
        # Reasons quote libraries and commands: one line each, control characters shown as escapes.
        reasons={key: snippet(text, REASON_CHARS) for key, text in reasons.items()},
        python_packages=packages,
    )


def _valid(value: str | None, grammar: Grammar, fact: str, source: str, reasons: dict[str, str]) -> str | None:
    """``value`` if it matches ``grammar`` in full; else None, and ``reasons`` says what was read."""
    if value is None or grammar.matches(value):
        return value
    reasons[fact] = f"{source} gave {quote(value)}, which is not {grammar.expected}"
    return None


# --- platform ---------------------------------------------------------------------------------


def _os_name(sys_platform: str) -> str | None:
    if sys_platform.startswith("linux"):
        return "linux"
    if sys_platform == "darwin":
        return "macos"
    if sys_platform in ("win32", "cygwin"):
        return "windows"
    return None


def _arch(machine: str, os_name: str | None) -> str | None:
    lowered = machine.lower()
    if lowered in ("x86_64", "amd64", "x64"):
        return "x86_64"
    if lowered in ("aarch64", "arm64"):
        # The contract spells 64-bit Arm as macOS does on macOS, as Linux does elsewhere.
        return "arm64" if os_name == "macos" else "aarch64"
    return None


def _libc(
    system: _BoundedSystem, gnu_libc: str | None, os_name: str | None, deadline: _Deadline, reasons: dict[str, str]
) -> Libc | None:
    if gnu_libc:
        name, _, version = gnu_libc.partition(" ")
        if not TOKEN.matches(name):
            reasons["libc"] = f"the interpreter names its libc {quote(gnu_libc)}"
            return None
        return Libc("glibc" if name == "glibc" else name, _valid(version or None, VERSION, "libc", "glibc", reasons))
    # musl's dynamic loader prints its version when run without arguments.
    for folder in ("/lib", "/usr/lib"):
        for entry in system.listdir(folder) or []:
            if entry.startswith("ld-musl-") and entry.endswith(".so.1"):
                result = system.run([f"{folder}/{entry}"], deadline.cap(1.0))
                match = _MUSL_VERSION.search(result.stderr)
                return Libc("musl", _valid(match.group(1), VERSION, "libc", "musl", reasons) if match else None)
    return None


def _wsl(system: _BoundedSystem, reasons: dict[str, str]) -> int | None:
    release = (system.read_text("/proc/sys/kernel/osrelease") or "").lower()
    late = system.late_among("/proc/sys/kernel/osrelease")
    if late:
        reasons["wsl"] = late
        return None
    if "microsoft" not in release:
        return 0
    # WSL 2 runs a real Linux kernel built by Microsoft ("...-microsoft-standard-WSL2");
    # WSL 1 reports a fake 4.4.0 "...-Microsoft" kernel.
    return 2 if "standard" in release or "wsl2" in release else 1


def _container(system: _BoundedSystem, reasons: dict[str, str]) -> bool | None:
    if system.exists("/.dockerenv") or system.exists("/run/.containerenv"):
        return True
    if system.environ().get("container") or system.environ().get("KUBERNETES_SERVICE_HOST"):
        return True
    cgroup = system.read_text("/proc/1/cgroup") or ""
    late = system.late_among("/.dockerenv", "/run/.containerenv", "/proc/1/cgroup")
    if late:
        reasons["container"] = late
        return None
    return bool(_CONTAINER_CGROUP.search(cgroup))


# --- NVIDIA -----------------------------------------------------------------------------------


@dataclass
class _DriverEvidence:
    """What each source said about the NVIDIA driver, before a conclusion is drawn."""

    nvml: NvmlReading | NvmlFailure | None = None
    kernel_module: str | None = None
    procfs_gpus: list[str] = field(default_factory=list)
    smi_rows: list[SmiRow] = field(default_factory=list)
    smi_cuda: str | None = None
    smi_failure: str | None = None
    # Why /proc and /sys could not say whether a driver is loaded (they gave no answer in time).
    procfs_late: str | None = None


@dataclass(frozen=True)
class _Seen:
    """The platform facts the NVIDIA probe depends on."""

    os: str | None
    arch: str | None
    wsl: int | None
    container: bool | None


def _nvidia(
    system: _BoundedSystem, seen: _Seen, deadline: _Deadline, sources: dict[str, str], reasons: dict[str, str]
) -> Nvidia | NoNvidia | None:
    if seen.os == "macos":
        reasons["nvidia"] = (
            "Apple Silicon has no NVIDIA GPU: CUDA never runs here (GPU work uses Metal/MPS)"
            if seen.arch == "arm64"
            else "macOS: NVIDIA's current drivers and CUDA do not support macOS"
        )
        return NoNvidia.NONE
    if seen.wsl == 1:
        reasons["nvidia"] = WSL1_NO_GPU
        return NoNvidia.NONE
    evidence = _DriverEvidence()
    evidence.nvml = system.nvml(deadline.cap(NVML_TIMEOUT_S))
    if seen.os == "linux":
        _read_procfs(system, evidence)
    if isinstance(evidence.nvml, NvmlFailure):
        _read_nvidia_smi(system, seen.wsl, deadline, evidence)
    return _conclude(evidence, seen.container, sources, reasons)


def _read_procfs(system: _BoundedSystem, evidence: _DriverEvidence) -> None:
    sys_version = (system.read_text("/sys/module/nvidia/version") or "").strip()
    version = sys_version if VERSION.matches(sys_version) else None
    if not version:
        parsed = parse_driver_version_file(system.read_text("/proc/driver/nvidia/version") or "")
        version = parsed.version if parsed else None
    evidence.kernel_module = version
    information = [
        f"/proc/driver/nvidia/gpus/{bus_id}/information"
        for bus_id in (system.listdir("/proc/driver/nvidia/gpus") or [])[:MAX_GPUS]
    ]
    for path in information:
        model = parse_gpu_information(system.read_text(path) or "")
        if model:
            evidence.procfs_gpus.append(model)
    late = system.late_among("/sys/module/nvidia/version", "/proc/driver/nvidia/version", "/proc/driver/nvidia/gpus")
    evidence.procfs_late = late or system.late_among(*information)


def _read_nvidia_smi(system: _BoundedSystem, wsl: int | None, deadline: _Deadline, evidence: _DriverEvidence) -> None:
    smi = system.which("nvidia-smi") or ("/usr/lib/wsl/lib/nvidia-smi" if wsl == 2 else None)
    if smi is None or (wsl == 2 and not system.exists(smi)):
        evidence.smi_failure = "nvidia-smi is not on PATH"
        return
    # Every GPU must be listed, whatever this shell's CUDA_VISIBLE_DEVICES hides.
    env = {key: value for key, value in system.environ().items() if key != "CUDA_VISIBLE_DEVICES"}
    fields = "index,name,driver_version,memory.total,compute_cap,mig.mode.current"
    result = system.run([smi, f"--query-gpu={fields}", "--format=csv"], deadline.cap(COMMAND_TIMEOUT_S), env)
    if not result.ok and "compute_cap" in (result.stdout + result.stderr):
        # Drivers before compute_cap was a query field reject the whole query.
        fields = fields.replace(",compute_cap", "")
        result = system.run([smi, f"--query-gpu={fields}", "--format=csv"], deadline.cap(COMMAND_TIMEOUT_S), env)
    if not result.ok:
        evidence.smi_failure = result.failure or _first_line(result.stdout + result.stderr) or "nvidia-smi failed"
        return
    evidence.smi_rows = parse_query_csv(result.stdout)[:MAX_GPUS]
    header = system.run([smi, "-q", "-d", "COMPUTE"], deadline.cap(COMMAND_TIMEOUT_S), env)
    if header.ok:
        evidence.smi_cuda = parse_smi_query_header(header.stdout).cuda


def _conclude(
    evidence: _DriverEvidence, container: bool | None, sources: dict[str, str], reasons: dict[str, str]
) -> Nvidia | NoNvidia | None:
    nvml = evidence.nvml
    if isinstance(nvml, NvmlReading):
        return _from_nvml(nvml, evidence.kernel_module, sources, reasons)
    assert isinstance(nvml, NvmlFailure)
    if nvml.code == nvml_codes.NVML_ERROR_LIB_RM_VERSION_MISMATCH and evidence.kernel_module:
        user_space = nvml.library_version or _smi_driver(evidence)
        sources["nvidia.driver"] = SOURCE_NVML if nvml.library_version else SOURCE_PROCFS
        sources["nvidia.kernel_module"] = SOURCE_PROCFS
        reasons["nvidia.kernel_module"] = (
            f"the loaded kernel module is {evidence.kernel_module} but the user-space driver is "
            f"{user_space or 'another version'}: the driver was upgraded without a reboot; "
            "reboot (or reload the nvidia kernel modules) before using the GPU"
        )
        gpus = _procfs_gpus(evidence.procfs_gpus, sources)
        return Nvidia(driver=user_space, cuda=None, gpus=gpus, kernel_module=evidence.kernel_module)
    if evidence.smi_rows:
        return _from_smi(evidence, sources, reasons, nvml)
    if evidence.kernel_module:
        sources["nvidia.driver"] = SOURCE_PROCFS
        if container and nvml.code == nvml_codes.NVML_ERROR_LIBRARY_NOT_FOUND:
            reasons["nvidia"] = (
                f"the host's kernel runs NVIDIA driver {evidence.kernel_module}, but this container has no "
                "NVIDIA user-space driver: start it with GPU access (docker run --gpus all, the NVIDIA "
                "container toolkit)"
            )
            return NoNvidia.NONE
        reasons["nvidia.cuda"] = f"{nvml.reason}; {evidence.smi_failure or 'nvidia-smi gave no GPUs'}"
        if evidence.procfs_late:
            reasons["nvidia.gpus"] = evidence.procfs_late
        gpus = _procfs_gpus(evidence.procfs_gpus, sources)
        return Nvidia(driver=evidence.kernel_module, cuda=None, gpus=gpus)
    if evidence.procfs_late:
        # A driver that does not answer through /proc is there, and wedged.
        reasons["nvidia"] = f"{nvml.reason}; {evidence.procfs_late}; {evidence.smi_failure}"
        return None
    if nvml.code in (nvml_codes.NVML_ERROR_LIBRARY_NOT_FOUND, nvml_codes.NVML_ERROR_DRIVER_NOT_LOADED):
        reasons["nvidia"] = f"no NVIDIA driver: {nvml.reason}; no /proc/driver/nvidia; {evidence.smi_failure}"
        return NoNvidia.NONE
    # Permission denied, a hang, or an error we cannot read: the GPU may be there.
    reasons["nvidia"] = f"{nvml.reason}; {evidence.smi_failure}"
    return None


def _from_nvml(
    reading: NvmlReading, kernel_module: str | None, sources: dict[str, str], reasons: dict[str, str]
) -> Nvidia:
    for key in ("nvidia.driver", "nvidia.cuda", "nvidia.gpus"):
        sources[key] = SOURCE_NVML
    if len(reading.gpus) > MAX_GPUS:
        reasons["nvidia.gpus"] = f"NVML lists {len(reading.gpus)} GPUs; only the first {MAX_GPUS} are kept"
    gpus = []
    for index, gpu in enumerate(reading.gpus[:MAX_GPUS]):
        where = f"nvidia.gpus[{index}]"
        if gpu.error:
            reasons[where] = gpu.error
        memory = gpu.memory_total_bytes // (1024 * 1024) if gpu.memory_total_bytes is not None else None
        gpus.append(
            Gpu(
                name=_valid(gpu.name, GPU_NAME, f"{where}.name", "NVML", reasons),
                compute_capability=_valid(
                    gpu.compute_capability, COMPUTE_CAPABILITY, f"{where}.compute_capability", "NVML", reasons
                ),
                memory_mib=memory if memory is not None and 0 <= memory <= MAX_MEMORY_MIB else None,
                # NVML answers "not supported" for GPUs without MIG: MIG is then off.
                mig=bool(gpu.mig_mode) if gpu.mig_mode is not None else False,
            )
        )
    cuda = cuda_version_from_int(reading.cuda_driver_version) if reading.cuda_driver_version else None
    driver = _valid(reading.driver, VERSION, "nvidia.driver", "NVML", reasons)
    module = kernel_module if kernel_module and kernel_module != driver else None
    if module:
        sources["nvidia.kernel_module"] = SOURCE_PROCFS
    return Nvidia(
        driver=driver,
        cuda=_valid(cuda, VERSION, "nvidia.cuda", "NVML", reasons),
        gpus=tuple(gpus),
        kernel_module=module,
    )


def _from_smi(evidence: _DriverEvidence, sources: dict[str, str], reasons: dict[str, str], nvml: NvmlFailure) -> Nvidia:
    from envdoctor.kb.gpus import compute_capability_for

    gpus = []
    for index, row in enumerate(evidence.smi_rows):
        capability = row.compute_capability
        if capability is None and row.name:
            capability = compute_capability_for(row.name)
            if capability:
                sources[f"nvidia.gpus[{index}].compute_capability"] = SOURCE_KB
        gpus.append(Gpu(row.name, capability, row.memory_mib, row.mig))
    sources["nvidia.driver"] = SOURCE_NVIDIA_SMI
    sources["nvidia.gpus"] = SOURCE_NVIDIA_SMI
    if evidence.smi_cuda:
        sources["nvidia.cuda"] = SOURCE_NVIDIA_SMI
    reasons["nvidia.source"] = f"read from nvidia-smi because {nvml.reason}"
    driver = _smi_driver(evidence)
    module = evidence.kernel_module if evidence.kernel_module and evidence.kernel_module != driver else None
    return Nvidia(driver=driver, cuda=evidence.smi_cuda, gpus=tuple(gpus), kernel_module=module)


def _smi_driver(evidence: _DriverEvidence) -> str | None:
    return next((row.driver for row in evidence.smi_rows if row.driver), None)


def _procfs_gpus(models: list[str], sources: dict[str, str]) -> tuple[Gpu, ...] | None:
    if not models:
        return None
    from envdoctor.kb.gpus import compute_capability_for

    sources["nvidia.gpus"] = SOURCE_PROCFS
    return tuple(Gpu(name=model, compute_capability=compute_capability_for(model)) for model in models)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# --- CUDA toolkit -----------------------------------------------------------------------------


def _cuda_toolkit(
    system: _BoundedSystem, deadline: _Deadline, sources: dict[str, str], reasons: dict[str, str]
) -> CudaToolkit:
    environ = system.environ()
    already_late = len(system.late)
    nvcc_path = _nvcc_path(system, environ)
    nvcc = None
    if nvcc_path is not None:
        result = system.run([nvcc_path, "--version"], deadline.cap(COMMAND_TIMEOUT_S))
        nvcc = parse_nvcc_version(result.stdout) if result.ok else None
        if nvcc:
            sources["cuda_toolkit.nvcc"] = "nvcc"
    libraries = _libraries_on_path(system, environ.get("LD_LIBRARY_PATH", ""))
    if libraries:
        sources["cuda_toolkit.libraries"] = "LD_LIBRARY_PATH"
    late = system.late_among(*system.late[already_late:])
    if late:
        reasons["cuda_toolkit"] = late
    return CudaToolkit(nvcc=nvcc, libraries=libraries)


def _nvcc_path(system: _BoundedSystem, environ: Mapping[str, str]) -> str | None:
    """The nvcc that torch.utils.cpp_extension builds extensions with (its _find_cuda_home, torch
    2.5.1): $CUDA_HOME's, else $CUDA_PATH's, else the one on PATH, else /usr/local/cuda's. Where
    $CUDA_HOME holds no nvcc torch's builds fail outright; the probe then records the next one."""
    home = environ.get("CUDA_HOME") or environ.get("CUDA_PATH")
    if home and system.exists(f"{home.rstrip('/')}/bin/nvcc"):
        return f"{home.rstrip('/')}/bin/nvcc"
    found = system.which("nvcc")
    if found is not None:
        return found
    return "/usr/local/cuda/bin/nvcc" if system.exists("/usr/local/cuda/bin/nvcc") else None


def parse_nvcc_version(output: str) -> str | None:
    """The CUDA major.minor of ``nvcc --version`` output ("release 12.4, V12.4.131" -> 12.4)."""
    match = _NVCC_RELEASE.search(output)
    return match.group(1) if match and VERSION.matches(match.group(1)) else None


def _libraries_on_path(system: _BoundedSystem, ld_library_path: str) -> tuple[CudaLibrary, ...]:
    found: list[CudaLibrary] = []
    folders = [part for part in ld_library_path.split(":") if part and PATH.matches(part)]
    for folder in dict.fromkeys(folders):
        best: dict[str, tuple[str | None, str]] = {}
        for entry in system.listdir(folder) or []:
            match = _LIBRARY_FILE.fullmatch(entry)
            if not match or match.group("name") not in CUDA_LIBRARY_NAMES:
                continue
            name, version = match.group("name"), match.group("version")
            current = best.get(name)
            # The most specific file name carries the full version (libcudnn.so.8.9.2).
            if current is None or len(version or "") > len(current[0] or ""):
                best[name] = (version, f"{folder.rstrip('/')}/{entry}")
        found.extend(
            CudaLibrary(name, version, path) for name, (version, path) in sorted(best.items()) if PATH.matches(path)
        )
    return tuple(found)


def environ_subset(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: environ[name] for name in CUDA_ENV_VARS if name in environ}


def _environment(environ: Mapping[str, str], reasons: dict[str, str]) -> dict[str, str]:
    """The CUDA variables whose values are one line; the others are left out, and ``reasons`` says so."""
    found = {}
    for name, value in environ_subset(environ).items():
        if _valid(value, ENV_VALUE, f"env.{name}", "the environment", reasons) is not None:
            found[name] = value
    return found


def _packages(system: System, reasons: dict[str, str]) -> dict[str, str]:
    """The GPU packages installed, those whose name or version is not one left out."""
    found = system.python_packages(GPU_PACKAGE_NAMES, GPU_PACKAGE_PREFIXES)
    return {
        name: version
        for name, version in found.items()
        if PACKAGE_NAME.matches(name) and PACKAGE_VERSION.matches(version)
    }
