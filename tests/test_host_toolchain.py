"""The host's own CUDA toolchain against a requirement set (ED201, rules/toolchain.py): the nvcc
that DeepSpeed and Apex compile against torch with, and system libraries on LD_LIBRARY_PATH that
shadow the nvidia-* wheels' (cuda.toml nvcc_build and wheel_library). Hosts are probed from
recorded real command outputs, or written as profile JSON by the test, and audited through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.host.probe import parse_nvcc_version, probe_host
from envdoctor.host.profile import CudaLibrary, profile_to_json
from envdoctor.host.system import CommandResult
from tests.fakes import RecordedSystem, fixture_text, recorded_nvml

# --- Real `nvcc --version` outputs, each as its public report printed it ------------------------

# https://github.com/k2-fsa/k2/pull/584 (CUDA 10.1: no "Build" line yet)
NVCC_10_1 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2019 NVIDIA Corporation
Built on Sun_Jul_28_19:07:16_PDT_2019
Cuda compilation tools, release 10.1, V10.1.243
"""
# https://github.com/k2-fsa/k2/pull/584 (CUDA 11.0)
NVCC_11_0 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2020 NVIDIA Corporation
Built on Thu_Jun_11_22:26:38_PDT_2020
Cuda compilation tools, release 11.0, V11.0.194
Build cuda_11.0_bu.TC445_37.28540450_0
"""
# https://github.com/pytorch/builder/pull/580 (CUDA 11.1)
NVCC_11_1 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2020 NVIDIA Corporation
Built on Mon_Oct_12_20:09:46_PDT_2020
Cuda compilation tools, release 11.1, V11.1.105
Build cuda_11.1.TC455_06.29190527_0
"""
# https://github.com/ggml-org/llama.cpp/issues/11696 (CUDA 11.5)
NVCC_11_5 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2021 NVIDIA Corporation
Built on Thu_Nov_18_09:45:30_PST_2021
Cuda compilation tools, release 11.5, V11.5.119
Build cuda_11.5.r11.5/compiler.30672275_0
"""
# https://github.com/pytorch/pytorch/issues/134929 (CUDA 12.4, the ld-path report's own machine)
NVCC_12_4 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""
# https://github.com/risc0/risc0/issues/2449 (CUDA 12.5)
NVCC_12_5 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Jun__6_02:18:23_PDT_2024
Cuda compilation tools, release 12.5, V12.5.82
Build cuda_12.5.r12.5/compiler.34385749_0
"""
# Recorded on the H200 device machine by ci/device/capture-fixtures (CUDA 13.0).
NVCC_13_0 = fixture_text("device-h200/nvcc.txt")


@pytest.mark.parametrize(
    ("output", "release"),
    [
        (NVCC_10_1, "10.1"),
        (NVCC_11_0, "11.0"),
        (NVCC_11_1, "11.1"),
        (NVCC_11_5, "11.5"),
        (NVCC_12_4, "12.4"),
        (NVCC_12_5, "12.5"),
        (NVCC_13_0, "13.0"),
        (NVCC_12_4.replace("\n", "\r\n"), "12.4"),  # as a Windows console prints it
    ],
)
def test_nvcc_release_is_read_from_real_outputs(output: str, release: str) -> None:
    assert parse_nvcc_version(output) == release


@pytest.mark.parametrize("output", ["", "nvcc: command not found\n", "Cuda compilation tools, release 12, V12\n"])
def test_nvcc_output_without_a_release_gives_no_version(output: str) -> None:
    assert parse_nvcc_version(output) is None


# --- The probe -----------------------------------------------------------------------------------


def machine(nvcc: dict[str, str], env: dict[str, str], folders: dict[str, list[str]] | None = None) -> RecordedSystem:
    """A Linux machine with the H200's NVML, the given nvcc binaries (path -> `nvcc --version`),
    the first of them on PATH, and the given environment and folders."""
    return RecordedSystem(
        files=dict.fromkeys(nvcc, ""),
        folders=folders or {},
        programs={"nvcc": next(iter(nvcc))} if nvcc else {},
        commands={(path, "--version"): CommandResult(0, output) for path, output in nvcc.items()},
        env=env,
        nvml_answer=recorded_nvml("h200-580"),
    )


def test_the_probe_reads_the_nvcc_torch_builds_extensions_with() -> None:
    """torch.utils.cpp_extension takes $CUDA_HOME's nvcc over the one on PATH (its _find_cuda_home):
    that is the nvcc DeepSpeed and Apex compare with torch's CUDA."""
    system = machine(
        {"/usr/bin/nvcc": NVCC_11_5, "/usr/local/cuda-12.4/bin/nvcc": NVCC_12_4},
        {"CUDA_HOME": "/usr/local/cuda-12.4/"},
    )
    toolkit = probe_host(system).cuda_toolkit
    assert toolkit is not None and toolkit.nvcc == "12.4"
    # Without CUDA_HOME, the nvcc on PATH.
    system.env = {}
    toolkit = probe_host(system).cuda_toolkit
    assert toolkit is not None and toolkit.nvcc == "11.5"


def test_the_probe_lists_a_system_libnvjitlink_on_ld_library_path() -> None:
    folder = "/usr/local/cuda-12.1/lib64"
    system = machine(
        {},
        {"LD_LIBRARY_PATH": folder},
        {folder: ["libnvJitLink.so", "libnvJitLink.so.12", "libnvJitLink.so.12.1.105", "libcudart.so.12"]},
    )
    toolkit = probe_host(system).cuda_toolkit
    assert toolkit is not None
    assert CudaLibrary("libnvJitLink", "12.1.105", f"{folder}/libnvJitLink.so.12.1.105") in toolkit.libraries


# --- The audit -----------------------------------------------------------------------------------

CU118 = "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.1.0+cu118\nnumpy<2\n"
APEX = "apex @ git+https://github.com/NVIDIA/apex\n"


def audit(
    tmp_path: Path, requirements: str, host: str | dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    """The ED201 findings of the audit; ``host`` is a profile's JSON text or a profile dict."""
    (tmp_path / "requirements.txt").write_text(requirements)
    profile = tmp_path / "host.json"
    profile.write_text(host if isinstance(host, str) else json.dumps(host))
    main(["audit", str(tmp_path / "requirements.txt"), "--host", str(profile), "--format", "json", "-q"])
    findings: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    return [f for f in findings if f["code"] == "ED201"]


def probed(nvcc_output: str) -> str:
    """The profile JSON of a machine whose nvcc printed ``nvcc_output``, as `envdoctor probe` writes it."""
    system = machine({"/usr/local/cuda/bin/nvcc": nvcc_output}, {"CUDA_HOME": "/usr/local/cuda"})
    return profile_to_json(probe_host(system)._replace(python="3.10"))


def nvcc_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if "host's nvcc" in f["message"]]


def test_deepspeed_refuses_an_nvcc_of_another_major_than_torch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # deepspeedai/DeepSpeed#3223's pairing: torch built with CUDA 11.8, a CUDA 12 nvcc.
    found = nvcc_findings(audit(tmp_path, CU118 + "deepspeed==0.14.4\n", probed(NVCC_12_4), capsys))
    assert len(found) == 1, found
    finding = found[0]
    assert finding["severity"] == "error"
    assert all(word in finding["message"] for word in ("deepspeed 0.14.4", "CUDA 12.4", "11.8", "does not match"))
    assert "CUDA 11.8 toolkit" in finding["fix"] and "torch==2.1.0+cu121" in finding["fix"]
    assert finding["references"][0].endswith("deepspeed-0.14.4.tar.gz")


def test_deepspeed_accepts_an_nvcc_of_torchs_major(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # DeepSpeed accepts 11.1 beside 11.8 (both in its CUDA 11 list): no finding.
    assert nvcc_findings(audit(tmp_path, CU118 + "deepspeed==0.14.4\n", probed(NVCC_11_1), capsys)) == []


def test_deepspeed_beside_pypi_torch_and_a_cuda_13_nvcc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = nvcc_findings(audit(tmp_path, "torch==2.5.1\ndeepspeed==0.14.4\n", probed(NVCC_13_0), capsys))
    assert len(found) == 1 and "CUDA 13.0" in found[0]["message"] and "12.4" in found[0]["message"]


@pytest.mark.parametrize(
    "requirements",
    [
        # torch's CPU build: nothing is compiled with nvcc.
        "--index-url https://download.pytorch.org/whl/cpu\ntorch==2.1.0\ndeepspeed==0.14.4\nnumpy<2\n",
        # No package that compiles against torch.
        CU118,
        # PyPI's "apex" is another project than NVIDIA's.
        CU118 + "apex==0.9.10.dev0\n",
    ],
)
def test_nothing_compiled_with_nvcc_is_quiet(
    requirements: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert nvcc_findings(audit(tmp_path, requirements, probed(NVCC_12_4), capsys)) == []


def test_an_unknown_nvcc_is_not_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = {"schema": "envdoctor.host/1", "os": "linux", "arch": "x86_64", "python": "3.10"}
    assert nvcc_findings(audit(tmp_path, CU118 + "deepspeed==0.14.4\n", host, capsys)) == []


def test_apex_refuses_another_minor_when_built_with_its_cuda_extensions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = nvcc_findings(audit(tmp_path, APEX + "torch==2.5.1\n", probed(NVCC_12_5), capsys))
    assert len(found) == 1
    assert found[0]["severity"] == "warning"  # only --cuda_ext builds compare
    assert "--cuda_ext" in found[0]["message"] and "CUDA 12.5" in found[0]["message"]
    assert "https://github.com/NVIDIA/apex/blob/25.09/setup.py" in found[0]["references"]


def test_apex_with_torchs_own_cuda_is_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert nvcc_findings(audit(tmp_path, APEX + "torch==2.5.1\n", probed(NVCC_12_4), capsys)) == []


# --- System libraries ahead of the wheels' ------------------------------------------------------


def ld_host(version: str, ld_library_path: str | None = None) -> dict[str, Any]:
    """A host with CUDA 12.x's libnvJitLink in /usr/local/cuda-12.x/lib64 on LD_LIBRARY_PATH."""
    folder = f"/usr/local/cuda-{'.'.join(version.split('.')[:2])}/lib64"
    return {
        "schema": "envdoctor.host/1",
        "os": "linux",
        "arch": "x86_64",
        "python": "3.12",
        "nvidia": {"driver": "550.54.15", "gpus": [{"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}]},
        "env": {"LD_LIBRARY_PATH": ld_library_path or folder},
        "cuda_toolkit": {
            "libraries": [{"name": "libnvJitLink", "version": version, "path": f"{folder}/libnvJitLink.so.{version}"}]
        },
    }


def shadow_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if "libnvJitLink" in f["message"]]


def test_an_older_system_nvjitlink_shadows_torchs_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # torch 2.5.1 pins nvidia-nvjitlink-cu12==12.4.127 (torch.toml pypi_build, from its METADATA).
    found = shadow_findings(audit(tmp_path, "torch==2.5.1\n", ld_host("12.1.105"), capsys))
    assert len(found) == 1
    finding = found[0]
    assert finding["severity"] == "error"
    assert all(word in finding["message"] for word in ("12.1.105", "nvidia-nvjitlink-cu12 12.4.127", "torch 2.5.1"))
    assert "remove /usr/local/cuda-12.1/lib64 from LD_LIBRARY_PATH" in finding["fix"]
    assert finding["references"] == ["https://github.com/pytorch/pytorch/issues/134929"]


def test_the_probed_libnvjitlink_is_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole chain: a folder listing on LD_LIBRARY_PATH, probed, written, read back, audited."""
    folder = "/usr/local/cuda-12.1/lib64"
    system = machine({}, {"LD_LIBRARY_PATH": folder}, {folder: ["libnvJitLink.so.12", "libnvJitLink.so.12.1.105"]})
    host = profile_to_json(probe_host(system)._replace(python="3.12"))
    assert len(shadow_findings(audit(tmp_path, "torch==2.5.1\n", host, capsys))) == 1


def test_a_lockfiles_own_nvjitlink_pin_is_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = shadow_findings(audit(tmp_path, "nvidia-nvjitlink-cu12==12.4.127\n", ld_host("12.1.105"), capsys))
    assert len(found) == 1 and "that the set brings" in found[0]["message"]


@pytest.mark.parametrize(
    ("requirements", "host"),
    [
        # A newer system nvJitLink has every older minor's symbols.
        ("torch==2.5.1\n", ld_host("12.6.77")),
        # The same minor.
        ("torch==2.5.1\n", ld_host("12.4.99")),
        # torch 2.4.1's wheels pin no nvJitLink (their cuSPARSE is CUDA 12.1's).
        ("torch==2.4.1\n", ld_host("12.1.105")),
        # The wheel's own folder comes first on LD_LIBRARY_PATH (the threads' workaround).
        (
            "torch==2.5.1\n",
            ld_host("12.1.105", "/venv/lib/python3.12/site-packages/nvidia/nvjitlink/lib:/usr/local/cuda-12.1/lib64"),
        ),
        # A file name without the minor: which symbols it has is unknown.
        ("torch==2.5.1\n", ld_host("12")),
    ],
)
def test_no_older_nvjitlink_ahead_of_the_wheels_is_quiet(
    requirements: str, host: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shadow_findings(audit(tmp_path, requirements, host, capsys)) == []
