"""Build a host profile from text copied from another machine, detecting its format.

Each format is one entry in ``FORMATS``: a name, a test that recognises the text and a builder
that turns it into a HostProfile whose facts are sourced as ``file``. A paste that holds several
formats (a bug report with collect_env and nvidia-smi, say) yields one profile: the earlier
format in ``FORMATS`` wins where both know a fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from envdoctor.errors import InputError
from envdoctor.host.importers import collect_env, k8s_node, procfs, smi_csv, smi_query, smi_table, smi_xml
from envdoctor.host.importers.common import build_gpus, checked_version, whole_number
from envdoctor.host.profile import (
    MAX_GPUS,
    PACKAGE_VERSION,
    SCHEMA,
    SOURCE_FILE,
    CudaLibrary,
    CudaToolkit,
    HostProfile,
    Libc,
    NoNvidia,
    Nvidia,
    checked_profile,
    normalize_arch,
    normalize_os,
    profile_from_json,
)


@dataclass(frozen=True)
class ImportFormat:
    name: str
    recognises: Callable[[str], bool]
    build: Callable[[str, str], HostProfile]


def _from_report(report: smi_query.QueryReport | smi_table.SmiTable) -> HostProfile:
    driver, cuda = checked_version(report.driver), checked_version(report.cuda)
    sources = {"nvidia.driver": SOURCE_FILE}
    reasons: dict[str, str] = {}
    if cuda:
        sources["nvidia.cuda"] = SOURCE_FILE
    gpus = build_gpus([(gpu.name, None, gpu.memory_mib, gpu.mig) for gpu in report.gpus], sources, reasons)
    return HostProfile(nvidia=Nvidia(driver=driver, cuda=cuda, gpus=gpus), sources=sources, reasons=reasons)


def _build_xml(text: str, path: str) -> HostProfile:
    try:
        return _from_report(smi_xml.parse_smi_xml(text))
    except smi_xml.NotSmiXml as exc:
        raise InputError(path, f"nvidia-smi XML: {exc}") from None


def _build_query(text: str, path: str) -> HostProfile:
    return _from_report(smi_query.parse_smi_query(text))


def _build_table(text: str, path: str) -> HostProfile:
    return _from_report(smi_table.parse_smi_table(text))


def _build_failure(text: str, path: str) -> HostProfile:
    failure = smi_table.find_smi_failure(text)
    assert failure is not None
    detail = f" (user-space NVML {failure.nvml_library})" if failure.nvml_library else ""
    hint = "; reboot after the driver upgrade" if "mismatch" in failure.problem else ""
    return HostProfile(
        nvidia=NoNvidia.NONE,
        sources={"nvidia": SOURCE_FILE},
        reasons={"nvidia": f"nvidia-smi failed: {failure.problem}{detail}{hint}"},
    )


def _build_csv(text: str, path: str) -> HostProfile:
    rows = smi_csv.parse_query_csv(text)
    driver = next((row.driver for row in rows if row.driver), None)
    sources: dict[str, str] = {}
    reasons: dict[str, str] = {}
    if driver:
        sources["nvidia.driver"] = SOURCE_FILE
    gpus = build_gpus([(row.name, row.compute_capability, row.memory_mib, row.mig) for row in rows], sources, reasons)
    return HostProfile(nvidia=Nvidia(driver=driver, gpus=gpus), sources=sources, reasons=reasons)


def _build_procfs(text: str, path: str) -> HostProfile:
    module = procfs.parse_driver_version_file(text)
    assert module is not None
    arch = normalize_arch(module.arch) if module.arch else None
    sources = {"os": SOURCE_FILE}
    if module.version:
        sources["nvidia.driver"] = SOURCE_FILE
    if arch:
        sources["arch"] = SOURCE_FILE
    return HostProfile(
        os="linux",
        arch=arch,
        nvidia=Nvidia(driver=module.version),
        sources=sources,
        reasons={"nvidia.cuda": "/proc/driver/nvidia/version does not show the CUDA version or the GPUs"},
    )


def _build_collect_env(text: str, path: str) -> HostProfile:
    report = collect_env.parse_collect_env(text)
    sources: dict[str, str] = {}
    reasons: dict[str, str] = {}
    os_name, arch = report.os, normalize_arch(report.arch) if report.arch else None
    if os_name == "macos" and arch == "aarch64":
        arch = "arm64"
    libc = Libc(*report.libc) if report.libc else None
    for key, value in (("os", os_name), ("arch", arch), ("libc", libc), ("python", report.python), ("wsl", report.wsl)):
        if value is not None:
            sources[key] = SOURCE_FILE
    nvidia: Nvidia | NoNvidia | None = None
    driver = checked_version(report.value("Nvidia driver version"))
    if driver or report.gpus:
        gpus = build_gpus([(name, None, None, None) for name in report.gpus], sources, reasons) if report.gpus else None
        nvidia = Nvidia(driver=driver, gpus=gpus)
        sources["nvidia.driver"] = SOURCE_FILE
        reasons["nvidia.cuda"] = "collect_env does not show the CUDA version the driver supports"
    elif os_name == "macos":
        nvidia = NoNvidia.NONE
        reasons["nvidia"] = "macOS: no NVIDIA driver (collect_env reports no CUDA)"
    toolkit = None
    if report.nvcc or report.cudnn:
        libraries = tuple(CudaLibrary("libcudnn", version, file) for version, file in report.cudnn[:1])
        toolkit = CudaToolkit(nvcc=report.nvcc, libraries=libraries)
    packages = dict(report.packages)
    torch = report.value("PyTorch version")
    if torch and PACKAGE_VERSION.matches(torch):
        packages["torch"] = torch  # torch's own spelling, as imported, over pip's normalised one
    return HostProfile(
        os=os_name,
        arch=arch,
        libc=libc,
        python=report.python,
        wsl=report.wsl,
        nvidia=nvidia,
        cuda_toolkit=toolkit,
        sources=sources,
        reasons=reasons,
        python_packages=packages,
    )


def _build_k8s(text: str, path: str) -> HostProfile:
    return profile_from_node_labels(k8s_node.node_labels(text, path))


def profile_from_node_labels(labels: Mapping[str, str]) -> HostProfile:
    """The host a Kubernetes node's labels describe (GPU Feature Discovery's, and the kubelet's
    kubernetes.io/os and arch)."""
    sources: dict[str, str] = {}
    reasons: dict[str, str] = {}
    os_label = labels.get("kubernetes.io/os") or labels.get("beta.kubernetes.io/os")
    arch_label = labels.get("kubernetes.io/arch") or labels.get("beta.kubernetes.io/arch")
    os_name = normalize_os(os_label) if os_label else None
    arch = normalize_arch(arch_label) if arch_label else None
    if arch_label == "arm64" and os_name == "linux":
        arch = "aarch64"
    for key, value in (("os", os_name), ("arch", arch)):
        if value is not None:
            sources[key] = SOURCE_FILE
    driver = checked_version(k8s_node.driver_version(labels))
    cuda = checked_version(k8s_node.cuda_version(labels))
    for key, value in (("nvidia.driver", driver), ("nvidia.cuda", cuda)):
        if value is not None:
            sources[key] = SOURCE_FILE
    count = whole_number(labels.get("nvidia.com/gpu.count")) or 0
    if count > MAX_GPUS:
        # The profile lists GPUs one by one: a count of a hundred million would be that many entries.
        reasons["nvidia.gpus"] = f"the node's nvidia.com/gpu.count is {count}; only {MAX_GPUS} GPUs are listed"
        count = MAX_GPUS
    product = labels.get("nvidia.com/gpu.product")
    row = (product, k8s_node.compute_capability(labels), k8s_node.gpu_memory_mib(labels), k8s_node.mig_enabled(labels))
    gpus = build_gpus([row] * count, sources, reasons) if count else None
    nvidia = Nvidia(driver=driver, cuda=cuda, gpus=gpus)
    return HostProfile(os=os_name, arch=arch, nvidia=nvidia, sources=sources, reasons=reasons)


def _build_saved(text: str, path: str) -> HostProfile:
    return profile_from_json(text, path)


FORMATS: tuple[ImportFormat, ...] = (
    ImportFormat("envdoctor-profile", lambda text: f'"{SCHEMA}"' in text, _build_saved),
    ImportFormat("nvidia-smi-xml", smi_xml.looks_like_smi_xml, _build_xml),
    ImportFormat("kubernetes-node", k8s_node.looks_like_k8s_node, _build_k8s),
    ImportFormat("nvidia-smi-q", smi_query.looks_like_smi_query, _build_query),
    ImportFormat("nvidia-smi-table", smi_table.looks_like_smi_table, _build_table),
    ImportFormat("nvidia-smi-csv", smi_csv.looks_like_query_csv, _build_csv),
    ImportFormat("nvidia-smi-error", lambda text: smi_table.find_smi_failure(text) is not None, _build_failure),
    ImportFormat(
        "proc-driver-nvidia-version", lambda text: procfs.parse_driver_version_file(text) is not None, _build_procfs
    ),
    ImportFormat("torch-collect-env", collect_env.looks_like_collect_env, _build_collect_env),
)

KNOWN_FORMATS = (
    "nvidia-smi (the table, -q, -q -x, --query-gpu=... --format=csv), /proc/driver/nvidia/version, "
    "python -m torch.utils.collect_env, a Kubernetes node with GPU Feature Discovery labels, "
    "or a saved envdoctor profile"
)


def import_host(text: str, path: str) -> HostProfile:
    """The host described by pasted text; InputError if no known format is in it, or if what was
    read fails the check every profile passes (``checked_profile``)."""
    matched = [fmt for fmt in FORMATS if fmt.recognises(text)]
    if not matched:
        raise InputError(path, f"not a host description envdoctor can read; expected {KNOWN_FORMATS}", 1)
    if matched[0].name == "envdoctor-profile":
        return matched[0].build(text, path)
    if len(matched) > 1:
        # A table pasted beside an old error message describes the working state.
        matched = [fmt for fmt in matched if fmt.name != "nvidia-smi-error"]
    profile = HostProfile()
    for fmt in matched:
        profile = _fill_unknown(profile, fmt.build(text, path))
    return checked_profile(profile._replace(import_format="+".join(fmt.name for fmt in matched)), path)


def _fill_unknown(known: HostProfile, extra: HostProfile) -> HostProfile:
    """``known`` with the fields it lacks taken from ``extra``."""
    changes: dict[str, Any] = {}
    for name in HostProfile._fields:
        mine, theirs = getattr(known, name), getattr(extra, name)
        if name in ("sources", "reasons", "python_packages", "env"):
            changes[name] = {**theirs, **mine}
        elif name == "nvidia" and isinstance(mine, Nvidia) and isinstance(theirs, Nvidia):
            changes[name] = _fill_nvidia(mine, theirs)
        elif mine is None:
            changes[name] = theirs
    merged = known._replace(**changes)
    if isinstance(merged.nvidia, Nvidia) and merged.nvidia.cuda and "nvidia.cuda" in merged.reasons:
        merged = merged._replace(reasons={k: v for k, v in merged.reasons.items() if k != "nvidia.cuda"})
    return merged


def _fill_nvidia(mine: Nvidia, theirs: Nvidia) -> Nvidia:
    return Nvidia(
        driver=mine.driver or theirs.driver,
        cuda=mine.cuda or theirs.cuda,
        gpus=mine.gpus if mine.gpus is not None else theirs.gpus,
        kernel_module=mine.kernel_module or theirs.kernel_module,
    )
