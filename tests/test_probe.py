"""The probe's conclusions, replayed from recorded machines (tests/fakes.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from envdoctor.host.nvml import NvmlFailure
from envdoctor.host.probe import probe_host
from envdoctor.host.profile import CudaLibrary, NoNvidia, Nvidia, profile_to_dict
from envdoctor.host.system import CommandResult, LocalSystem, PlatformFacts
from tests.fakes import NVML_NOT_FOUND, RecordedSystem, fixture_text, recorded_nvml

SMI = "/usr/bin/nvidia-smi"
QUERY = "index,name,driver_version,memory.total,compute_cap,mig.mode.current"
QUERY_OLD = "index,name,driver_version,memory.total,mig.mode.current"


def smi_ok(stdout: str) -> CommandResult:
    return CommandResult(0, stdout)


def h200_machine(**changes: object) -> RecordedSystem:
    """The H200 machine recorded by ci/device/capture-fixtures, as it was."""
    machine = RecordedSystem(
        facts=PlatformFacts("linux", "x86_64", "3.12.3", "glibc 2.39"),
        files={
            "/proc/sys/kernel/osrelease": "6.18.44-fc-v657-gpu\n",
            "/.dockerenv": "",
            "/proc/1/cgroup": "0::/process_api/core\n",
            "/sys/module/nvidia/version": fixture_text("device-h200/sys-module-version.txt"),
            "/proc/driver/nvidia/version": fixture_text("hosts/procfs/h200-580-open-device.txt"),
            "/proc/driver/nvidia/gpus/0000:00:06.0/information": fixture_text("device-h200/proc-gpus.txt"),
            "/usr/local/cuda/bin/nvcc": "",
        },
        folders={
            "/proc/driver/nvidia/gpus": ["0000:00:06.0"],
            "/usr/local/nvidia/lib64": [],
            "/usr/local/nvidia/lib": [],
        },
        programs={"nvidia-smi": SMI, "nvcc": "/usr/local/cuda/bin/nvcc"},
        commands={
            ("/usr/local/cuda/bin/nvcc", "--version"): CommandResult(0, fixture_text("device-h200/nvcc.txt")),
            (SMI, f"--query-gpu={QUERY}", "--format=csv"): smi_ok(fixture_text("hosts/smi-csv/h200-580-device.txt")),
            (SMI, "-q", "-d", "COMPUTE"): smi_ok(fixture_text("device-h200/smi-q-compute.txt")),
        },
        env={
            "CUDA_HOME": "/usr/local/cuda",
            "LD_LIBRARY_PATH": "/usr/local/nvidia/lib64:/usr/local/nvidia/lib",
            "NVIDIA_DRIVER_CAPABILITIES": "compute,graphics,utility",
            "NVIDIA_VISIBLE_DEVICES": "0",
            "HOME": "/root",
        },
        nvml_answer=recorded_nvml("h200-580"),
        packages=json.loads(fixture_text("device-h200/probe.json"))["python_packages"],
    )
    for key, value in changes.items():
        setattr(machine, key, value)
    return machine


def test_h200_replay_matches_what_the_probe_saw_on_the_real_machine() -> None:
    profile = probe_host(h200_machine())
    assert profile_to_dict(profile) == json.loads(fixture_text("device-h200/probe.json"))


def test_nvidia_smi_is_the_fallback_when_nvml_is_unavailable() -> None:
    machine = h200_machine(nvml_answer=NVML_NOT_FOUND)
    profile = probe_host(machine)
    assert profile.nvidia == Nvidia(
        driver="580.159.04", cuda="13.0", gpus=profile.driver.gpus if profile.driver else None
    )
    assert profile.driver is not None and profile.driver.gpus is not None
    assert [(g.name, g.compute_capability, g.memory_mib, g.mig) for g in profile.driver.gpus] == [
        ("NVIDIA H200", "9.0", 143771, False)
    ]
    assert profile.sources["nvidia.driver"] == "nvidia-smi"
    # Every GPU is listed whatever CUDA_VISIBLE_DEVICES hides in the caller's shell.
    smi_calls = [env for argv, env in machine.ran if argv[0] == SMI]
    assert smi_calls and all(env is not None and "CUDA_VISIBLE_DEVICES" not in env for env in smi_calls)


def test_nvidia_smi_lists_every_gpu_of_a_mixed_machine() -> None:
    csv_text = fixture_text("hosts/smi-csv/titanv-rtx5880ada-570-mixed.txt").split("\n", 1)[1]
    machine = h200_machine(
        nvml_answer=NVML_NOT_FOUND,
        env={"CUDA_VISIBLE_DEVICES": "1"},
        commands={(SMI, f"--query-gpu={QUERY}", "--format=csv"): smi_ok(csv_text)},
    )
    nvidia = probe_host(machine).driver
    assert nvidia is not None and nvidia.gpus is not None
    assert [(g.name, g.compute_capability) for g in nvidia.gpus] == [
        ("NVIDIA TITAN V", "7.0"),
        ("NVIDIA RTX 5880 Ada Generation", "8.9"),
    ]


def test_old_nvidia_smi_without_compute_cap_is_asked_again_without_it() -> None:
    rejected = CommandResult(2, fixture_text("commands/nvidia-smi-compute-cap-rejected.txt"))
    # A real CSV without compute_cap (netdata's test data) stands in for the older driver's answer.
    old_csv = fixture_text("hosts/smi-csv/tesla-p100-netdata.txt")
    machine = h200_machine(
        nvml_answer=NVML_NOT_FOUND,
        commands={
            (SMI, f"--query-gpu={QUERY}", "--format=csv"): rejected,
            (SMI, f"--query-gpu={QUERY_OLD}", "--format=csv"): smi_ok(old_csv),
        },
    )
    profile = probe_host(machine)
    assert profile.driver is not None and profile.driver.gpus is not None
    gpu = profile.driver.gpus[0]
    assert (gpu.name, gpu.compute_capability) == ("Tesla P100-PCIE-16GB", "6.0")
    assert profile.sources["nvidia.gpus[0].compute_capability"] == "kb"


def test_a_hanging_nvidia_smi_leaves_the_driver_from_procfs_and_says_why() -> None:
    hung = CommandResult(None, failure="/usr/bin/nvidia-smi did not answer within 4 s")
    machine = h200_machine(nvml_answer=NvmlFailure("NVML did not answer within 5 s"), commands={})
    machine.commands[(SMI, f"--query-gpu={QUERY}", "--format=csv")] = hung
    profile = probe_host(machine)
    assert profile.nvidia == Nvidia(
        driver="580.159.04", cuda=None, gpus=profile.driver.gpus if profile.driver else None
    )
    assert profile.sources["nvidia.driver"] == "procfs"
    assert profile.driver is not None and profile.driver.gpus is not None
    assert profile.driver.gpus[0].name == "NVIDIA H200"
    assert "did not answer" in profile.reasons["nvidia.cuda"]


def test_driver_upgraded_without_reboot_is_reported_as_such() -> None:
    machine = h200_machine(
        nvml_answer=NvmlFailure("NVML: Driver/library version mismatch", 18, "580.173.02"),
        commands={
            (SMI, f"--query-gpu={QUERY}", "--format=csv"): CommandResult(
                18, fixture_text("hosts/smi-table/error-nvml-mismatch-linux.txt").split("\n", 1)[1]
            )
        },
    )
    profile = probe_host(machine)
    assert profile.driver is not None
    assert (profile.driver.driver, profile.driver.kernel_module) == ("580.173.02", "580.159.04")
    assert "reboot" in profile.reasons["nvidia.kernel_module"]


def test_container_without_gpu_access_is_told_how_to_get_it() -> None:
    machine = h200_machine(nvml_answer=NVML_NOT_FOUND, programs={})
    del machine.folders["/proc/driver/nvidia/gpus"]
    profile = probe_host(machine)
    assert profile.nvidia is NoNvidia.NONE
    assert "--gpus all" in profile.reasons["nvidia"]


def test_no_driver_at_all() -> None:
    profile = probe_host(RecordedSystem())
    assert profile.nvidia is NoNvidia.NONE
    assert "NVML Shared Library Not Found" in profile.reasons["nvidia"]
    assert profile.os == "linux" and profile.wsl == 0 and profile.container is False


def test_permission_denied_is_unknown_not_absent() -> None:
    profile = probe_host(RecordedSystem(nvml_answer=NvmlFailure("NVML: Insufficient Permissions", 4)))
    assert profile.nvidia is None
    assert "Insufficient Permissions" in profile.reasons["nvidia"]


def test_apple_silicon_never_has_cuda() -> None:
    machine = RecordedSystem(facts=PlatformFacts("darwin", "arm64", "3.11.9", None))
    profile = probe_host(machine)
    assert (profile.os, profile.arch, profile.libc) == ("macos", "arm64", None)
    assert profile.nvidia is NoNvidia.NONE
    assert "Apple Silicon" in profile.reasons["nvidia"]
    assert not machine.ran, "nothing is run on macOS to look for NVIDIA"


@pytest.mark.parametrize(
    ("osrelease", "wsl"),
    [
        # Kernel releases users reported: WSL 1 in paulirish/git-open#158, WSL 2 in
        # dorssel/usbipd-win#727 and yast/yast-yast2#1084.
        ("4.4.0-18362-Microsoft\n", 1),
        ("5.15.90.1-microsoft-standard-WSL2\n", 2),
        ("4.19.104-microsoft-standard\n", 2),
        ("6.1.0-28-amd64\n", 0),
    ],
)
def test_wsl_detection(osrelease: str, wsl: int) -> None:
    machine = RecordedSystem(files={"/proc/sys/kernel/osrelease": osrelease})
    profile = probe_host(machine)
    assert profile.wsl == wsl
    if wsl == 1:
        assert profile.nvidia is NoNvidia.NONE and "WSL 2" in profile.reasons["nvidia"]


def test_musl_version_comes_from_its_loader() -> None:
    loader = "/lib/ld-musl-x86_64.so.1"
    machine = RecordedSystem(
        facts=PlatformFacts("linux", "x86_64", "3.12.8", None),
        folders={"/lib": ["ld-musl-x86_64.so.1", "libc.musl-x86_64.so.1"]},
        # musl's loader run bare prints this on stderr (as recorded in pypa/packaging's test_musllinux.py).
        commands={(loader,): CommandResult(1, "", "musl libc (x86_64)\nVersion 1.2.2\n")},
    )
    libc = probe_host(machine).libc
    assert libc is not None and (libc.name, libc.version) == ("musl", "1.2.2")


def test_cuda_libraries_on_ld_library_path_are_listed_with_their_versions() -> None:
    machine = RecordedSystem(
        env={"LD_LIBRARY_PATH": "/opt/cudnn/lib:/usr/local/cuda/lib64::/opt/cudnn/lib"},
        folders={
            "/opt/cudnn/lib": ["libcudnn.so", "libcudnn.so.8", "libcudnn.so.8.9.2", "libcudnn_ops_infer.so.8"],
            "/usr/local/cuda/lib64": ["libcudart.so", "libcudart.so.12", "libcudart.so.12.1.105", "libcufile.so.0"],
        },
    )
    toolkit = probe_host(machine).cuda_toolkit
    assert toolkit is not None
    assert toolkit.libraries == (
        CudaLibrary("libcudnn", "8.9.2", "/opt/cudnn/lib/libcudnn.so.8.9.2"),
        CudaLibrary("libcudart", "12.1.105", "/usr/local/cuda/lib64/libcudart.so.12.1.105"),
    )


def test_this_machine_is_probed_without_error_and_quickly() -> None:
    started = time.monotonic()
    profile = probe_host(LocalSystem())
    assert time.monotonic() - started < 10, "every step of the probe has a timeout"
    assert profile.python == ".".join(str(part) for part in sys.version_info[:3])
    assert profile.os in ("linux", "macos", "windows")


def test_a_real_hanging_command_is_cut_off_at_its_timeout(tmp_path: Path) -> None:
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    started = time.monotonic()
    result = LocalSystem().run([str(script)], timeout=0.5, env=dict(os.environ))
    assert time.monotonic() - started < 5
    assert result.failure is not None and "did not answer" in result.failure


def test_installed_gpu_packages_are_read_from_metadata_folder_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for entry in (
        "torch-2.2.0+cu121.dist-info",
        "nvidia_cudnn_cu12-9.1.0.70.dist-info",
        "numpy-1.26.4.dist-info",
        "requests-2.32.3.dist-info",
        "cupy_cuda12x-13.3.0.dist-info",
        "jax_cuda12_plugin-0.4.35.dist-info",
        "xgboost-2.0.3-py3.11.egg-info",
    ):
        (tmp_path / entry).mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(tmp_path / "missing")])
    from envdoctor.host.probe import GPU_PACKAGE_NAMES, GPU_PACKAGE_PREFIXES

    assert LocalSystem().python_packages(GPU_PACKAGE_NAMES, GPU_PACKAGE_PREFIXES) == {
        "cupy-cuda12x": "13.3.0",
        "jax-cuda12-plugin": "0.4.35",
        "numpy": "1.26.4",
        "nvidia-cudnn-cu12": "9.1.0.70",
        "torch": "2.2.0+cu121",
        "xgboost": "2.0.3",
    }
