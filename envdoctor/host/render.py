"""A host profile as paste-friendly ``key: value`` lines.

Every key and value is printed through ``safety.printable``: a profile can come from a file
anyone can propose, and a GPU name holding an escape sequence or a line break must not reach a
terminal or a CI log as one."""

from __future__ import annotations

from envdoctor import __version__
from envdoctor.console import Style
from envdoctor.host.profile import Gpu, HostProfile, NoNvidia, Nvidia
from envdoctor.safety import printable

UNKNOWN = "unknown"


def render_text(profile: HostProfile, style: Style) -> str:
    lines: list[tuple[str, str]] = [("envdoctor", __version__)]
    if profile.import_format:
        lines.append(("imported from", profile.import_format))
    lines += [
        ("os", profile.os or UNKNOWN),
        ("arch", profile.arch or UNKNOWN),
        ("libc", _libc(profile)),
        ("python", profile.python or UNKNOWN),
        ("wsl", _wsl(profile.wsl)),
        ("container", _yes_no(profile.container)),
    ]
    lines += _nvidia_lines(profile)
    lines += _toolkit_lines(profile)
    if profile.python_packages:
        packages = ", ".join(f"{name}=={version}" for name, version in sorted(profile.python_packages.items()))
        lines.append(("python packages", packages))
    lines += [(f"env {name}", value) for name, value in sorted(profile.env.items())]
    lines += [(f"why {key} is unknown or absent", reason) for key, reason in sorted(profile.reasons.items())]
    return "".join(_line(key, value, profile, style) for key, value in lines)


def _line(key: str, value: str, profile: HostProfile, style: Style) -> str:
    shown = style(value, "yellow") if value == UNKNOWN else printable(value)
    return f"{style(printable(key), 'bold')}: {shown}\n"


def _libc(profile: HostProfile) -> str:
    if profile.libc is None:
        return "none" if profile.os in ("macos", "windows") else UNKNOWN
    return " ".join(part for part in (profile.libc.name, profile.libc.version) if part) or UNKNOWN


def _wsl(wsl: int | None) -> str:
    return UNKNOWN if wsl is None else "no" if wsl == 0 else f"WSL {wsl}"


def _yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else "yes" if value else "no"


def _nvidia_lines(profile: HostProfile) -> list[tuple[str, str]]:
    nvidia = profile.nvidia
    if nvidia is None:
        return [("nvidia driver", UNKNOWN)]
    if isinstance(nvidia, NoNvidia):
        return [("nvidia driver", "none")]
    assert isinstance(nvidia, Nvidia)
    sources = profile.sources
    lines = [
        ("nvidia driver", _sourced(nvidia.driver, sources.get("nvidia.driver"))),
        ("cuda supported by the driver", _sourced(nvidia.cuda, sources.get("nvidia.cuda"))),
    ]
    if nvidia.kernel_module:
        lines.append(("nvidia kernel module", _sourced(nvidia.kernel_module, sources.get("nvidia.kernel_module"))))
    if nvidia.gpus is None:
        lines.append(("gpus", UNKNOWN))
    else:
        lines.append(("gpus", str(len(nvidia.gpus))))
        for index, gpu in enumerate(nvidia.gpus):
            derived = sources.get(f"nvidia.gpus[{index}].compute_capability")
            lines.append((f"gpu {index}", _gpu(gpu, derived)))
    return lines


def _gpu(gpu: Gpu, capability_source: str | None) -> str:
    capability = gpu.compute_capability or UNKNOWN
    if capability_source and gpu.compute_capability:
        capability += f" (from the GPU name, {capability_source})"
    parts = [
        gpu.name or "unnamed GPU",
        f"compute capability {capability}",
        f"{gpu.memory_mib} MiB" if gpu.memory_mib is not None else "memory unknown",
        "MIG " + ("unknown" if gpu.mig is None else "on" if gpu.mig else "off"),
    ]
    return ", ".join(parts)


def _sourced(value: str | None, source: str | None) -> str:
    if value is None:
        return UNKNOWN
    return f"{value} ({source})" if source else value


def _toolkit_lines(profile: HostProfile) -> list[tuple[str, str]]:
    toolkit = profile.cuda_toolkit
    if toolkit is None:
        return [("cuda toolkit (nvcc)", UNKNOWN)]
    lines = [("cuda toolkit (nvcc)", toolkit.nvcc or "none")]
    for library in toolkit.libraries:
        lines.append((f"library {library.name}", f"{library.version or 'unversioned'} at {library.path}"))
    return lines
