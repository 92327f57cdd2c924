"""Which host a command works against: a saved profile, one-off flags, or this machine."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from envdoctor.errors import UsageError
from envdoctor.fsio import read_text_input
from envdoctor.host.profile import (
    ARCH_NAMES,
    GPU_NAME,
    OS_NAMES,
    PYTHON_VERSION,
    VERSION,
    Gpu,
    HostOverrides,
    HostProfile,
    apply_overrides,
    is_compute_capability,
    normalize_arch,
    normalize_os,
    profile_from_json,
)
from envdoctor.host.profile import SCHEMA as PROFILE_SCHEMA
from envdoctor.safety import quote


def parse_overrides(
    *,
    os: str | None = None,
    arch: str | None = None,
    python: str | None = None,
    wsl: str | None = None,
    driver: str | None = None,
    cuda: str | None = None,
    gpus: list[str] | None = None,
    no_gpu: bool = False,
) -> HostOverrides:
    """Check and normalise the host flags; a bad value is a UsageError naming the flag.

    --driver without --cuda brings the CUDA the knowledge base says that driver supports (what
    nvidia-smi would show); --no-gpu goes with none of --driver, --cuda and --gpu."""
    os_name = _checked(os, normalize_os, "--os", ", ".join(OS_NAMES))
    arch_name = _checked(arch, normalize_arch, "--arch", ", ".join(ARCH_NAMES))
    if os_name == "macos" and arch_name == "aarch64":
        arch_name = "arm64"
    for flag, value, grammar, example in (
        ("--python", python, PYTHON_VERSION, "3.11"),
        ("--driver", driver, VERSION, "535.104.05"),
        ("--cuda", cuda, VERSION, "12.2"),
    ):
        if value is not None and not grammar.matches(value):
            raise UsageError(f"{flag} {quote(value)}: expected a version like {example}")
    wsl_level = None
    if wsl is not None:
        if wsl not in ("0", "1", "2"):
            raise UsageError(f"--wsl {quote(wsl)}: expected 0, 1 or 2")
        wsl_level = int(wsl)
    if no_gpu:
        given = [flag for flag, value in (("--driver", driver), ("--cuda", cuda), ("--gpu", gpus)) if value]
        if given:
            raise UsageError(f"--no-gpu says the host has no usable NVIDIA driver: it cannot go with {given[0]}")
    cuda_from_kb = False
    if driver is not None and cuda is None:
        from envdoctor.kb.facts import cuda_of_driver

        cuda, cuda_from_kb = cuda_of_driver(driver), True
    return HostOverrides(
        os=os_name,
        arch=arch_name,
        python=python,
        wsl=wsl_level,
        driver=driver,
        cuda=cuda,
        gpus=tuple(_gpu(value) for value in gpus) if gpus else None,
        no_gpu=no_gpu,
        cuda_from_kb=cuda_from_kb,
    )


def overrides_from_args(args: argparse.Namespace) -> HostOverrides:
    """The host flags of a command (add_host_options), checked."""
    return parse_overrides(
        os=args.os,
        arch=args.arch,
        python=args.python,
        wsl=args.wsl,
        driver=args.driver,
        cuda=args.cuda,
        gpus=args.gpu,
        no_gpu=args.no_gpu,
    )


def _checked(value: str | None, normalize: Callable[[str], str | None], flag: str, expected: str) -> str | None:
    if value is None:
        return None
    result = normalize(value)
    if result is None:
        raise UsageError(f"{flag} {quote(value)}: expected one of {expected}")
    return result


def _gpu(value: str) -> Gpu:
    """A --gpu value: a compute capability (8.6), or a GPU model the knowledge base knows."""
    if is_compute_capability(value):
        return Gpu(compute_capability=value)
    from envdoctor.kb.gpus import compute_capability_for

    capability = compute_capability_for(value) if GPU_NAME.matches(value) else None
    if capability is None:
        raise UsageError(f"--gpu {quote(value)}: expected a compute capability like 8.6 or a known GPU model")
    return Gpu(name=value, compute_capability=capability)


def load_profile(path: str) -> HostProfile:
    return profile_from_json(read_text_input(path), "<stdin>" if path == "-" else path)


def load_hosts(path: str) -> list[tuple[str, HostProfile]]:
    """The hosts a --host file describes: a saved profile (named by the file), or a cluster (a
    fleet file, or kubectl's list of nodes), one host per node class, named by the class."""
    text, shown = read_text_input(path), "<stdin>" if path == "-" else path
    if not text.lstrip().startswith(f'{{\n  "schema": "{PROFILE_SCHEMA}"'):  # how probe writes a profile
        from envdoctor.host import fleet

        if fleet.is_fleet(text):
            return [(item.name, item.profile) for item in fleet.fleet_from_json(text, shown)]
        if fleet.is_node_list(text):
            return [(item.name, item.profile) for item in fleet.classes_from_node_list(text, shown)]
    return [(path, profile_from_json(text, shown))]


def select_host(host_file: str | None, overrides: HostOverrides) -> HostProfile:
    """The profile a command should use.

    With ``--host`` or any host flag, only the facts given are known: nothing is filled in from
    the machine envdoctor runs on. With neither, this machine is probed.
    """
    if host_file is None and overrides.is_empty():
        from envdoctor.host.probe import probe_host
        from envdoctor.host.system import LocalSystem

        return probe_host(LocalSystem())
    base = load_profile(host_file) if host_file is not None else HostProfile()
    return apply_overrides(base, overrides)


def hosts_from_args(
    args: argparse.Namespace, configured: tuple[str, ...], this_machine: bool = True
) -> list[tuple[str, HostProfile]]:
    """The hosts a command works against: --host files (or the configured ones), else the host
    flags alone, else this machine (none when ``this_machine`` is false)."""
    overrides = overrides_from_args(args)
    given = [args.host] if isinstance(args.host, str) else list(args.host or ())
    files = given or list(configured)
    if files:
        return [(name, apply_overrides(profile, overrides)) for path in files for name, profile in load_hosts(path)]
    if not overrides.is_empty():
        return [("flags", apply_overrides(HostProfile(), overrides))]
    return [("this machine", select_host(None, overrides))] if this_machine else []
