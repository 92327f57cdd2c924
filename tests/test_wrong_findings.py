"""Findings that were wrong (issue 12's list, and a user trial on real projects): each case is a
setup that must not be told what it already does, or must not be told to do what cannot work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.cli import main
from tests.test_noise import findings, with_code


@pytest.mark.parametrize(
    ("numpy", "warned"),
    [
        ("numpy<2", False),
        ("numpy>=1.24,<2", False),
        ("numpy~=1.26", False),
        ("numpy<=1.26.4", False),
        ("numpy", True),
        ("numpy>=1.26", True),
        ("numpy<3", True),
        ("numpy!=2.0.0", True),
    ],
)
def test_a_range_that_keeps_out_numpy_2_is_not_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], numpy: str, warned: bool
) -> None:
    # torch 2.2.0 was built against NumPy 1.x (knowledge base, torch numpy_build); the set's own
    # numpy<2 already keeps NumPy 2 out, and the finding used to tell it to add numpy<2.
    (tmp_path / "requirements.txt").write_text(f"torch==2.2.0\n{numpy}\n")
    assert bool(with_code(findings(capsys, str(tmp_path / "requirements.txt")), "ED203")) is warned


def test_a_constraint_file_counts_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "constraints.txt").write_text("numpy<2\n")
    (tmp_path / "requirements.txt").write_text("-c constraints.txt\ntorch==2.2.0\nnumpy\n")
    assert not with_code(findings(capsys, str(tmp_path / "requirements.txt")), "ED203")


@pytest.mark.parametrize(
    ("lines", "flagged"),
    [
        ("RUN pip install --no-cache-dir six==1.16.0", False),
        ("RUN pip install --no-cache six==1.16.0", False),  # pip takes an unambiguous prefix
        ("ENV PIP_NO_CACHE_DIR=1\nRUN pip install six==1.16.0", False),
        ("RUN --mount=type=cache,target=/root/.cache/pip pip install six==1.16.0", False),
        ("RUN pip install six==1.16.0", True),
        ("RUN pip install --no-cache-dirs six==1.16.0", True),
    ],
)
def test_the_pip_cache_finding_knows_what_pip_knows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, flagged: bool
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.11-slim@sha256:{'a' * 64}\n{lines}\n")
    cache = [
        f for f in with_code(findings(capsys, str(tmp_path / "Dockerfile")), "ED502") if "cache" in str(f["message"])
    ]
    assert bool(cache) is flagged


@pytest.mark.parametrize("python", [[], ["--python", "3.11"]])
def test_a_line_for_another_os_is_not_judged_even_without_the_hosts_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], python: list[str]
) -> None:
    (tmp_path / "requirements.txt").write_text(
        'torch==2.2.0+cu121 ; sys_platform == "win32" and python_version >= "3.8"\n'
        'torch==2.2.0+cu118 ; sys_platform == "linux" and python_version >= "3.8"\n'
    )
    code = main(["audit", str(tmp_path / "requirements.txt"), "--os", "linux", "--driver", "470.82.01", *python,
                 "--format", "json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert not [f for f in json.loads(out)["findings"] if f["code"] == "ED101"]


def test_the_driver_fix_never_names_a_build_too_old_for_the_hosts_gpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # torch 2.12.0 comes as cpu, cu126, cu130 and cu132 builds (knowledge base: torch release); an
    # RTX 5090 (12.0) needs CUDA 12.8 or newer to have kernels (gpu_architectures: first_cuda), and
    # driver 570 runs no CUDA 13 build: no build works, so the fix is the driver, not cu126.
    (tmp_path / "requirements.txt").write_text("torch==2.12.0\n")
    argv = [str(tmp_path / "requirements.txt"), "--driver", "570.86.10", "--gpu", "12.0"]
    (finding,) = with_code(findings(capsys, *argv), "ED101")
    # Another release is offered beside the driver: one whose cu128 build carries 12.0's kernels.
    assert str(finding["fix"]).startswith("upgrade the NVIDIA driver to >= 580.65.06, or move to a torch")
    assert "+cu128 from https://download.pytorch.org/whl/cu128" in str(finding["fix"])
    assert "cu126" not in str(finding["fix"])


@pytest.mark.parametrize(
    ("torch", "served"),
    [
        ("torch==2.6.0.*", "resolves today to 2.6.0 (cu124 build"),
        ("torch>=2.2,<2.3", "resolves today to 2.2.2 (cu121 build"),
    ],
)
def test_a_torch_range_is_judged_as_the_release_it_admits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], torch: str, served: str
) -> None:
    # It used to be judged as the newest torch of all (2.14.0, CUDA 13.0), whatever the range said.
    # A CUDA 12.0 base under a newer CUDA 12 build of torch: the base's libraries can shadow the wheels'.
    (tmp_path / "Dockerfile").write_text(f"FROM nvidia/cuda:12.0.0-runtime-ubuntu22.04\nRUN pip install '{torch}'\n")
    (finding,) = with_code(findings(capsys, str(tmp_path / "Dockerfile")), "ED201")
    assert served in str(finding["message"])


def test_a_wsl_1_host_given_by_flags_has_no_gpu_as_when_probed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The probe says WSL 1 has no usable GPU; a host described with --wsl 1 used to be judged as
    # if its driver worked.
    (tmp_path / "requirements.txt").write_text("torch==2.2.0\n")
    argv = [str(tmp_path / "requirements.txt"), "--wsl", "1", "--driver", "535.104.05"]
    (finding,) = with_code(findings(capsys, *argv), "ED103")
    assert "WSL 1 cannot reach the GPU" in str(finding["message"]) and str(finding["fix"]).endswith("move to WSL 2")


@pytest.mark.parametrize(("python", "minor"), [("3.14.0a1+", "3.14"), ("3.13.0rc1", "3.13"), ("3.11.9", "3.11")])
def test_a_pre_release_python_that_probe_records_is_a_target_too(python: str, minor: str) -> None:
    # probe -o writes what platform.python_version() says, pre-releases included, and --host reads
    # it: the lock's target must take it too, as its minor.
    from envdoctor.host.profile import HostProfile
    from envdoctor.resolve.target import target_of

    assert target_of(HostProfile(os="linux", arch="x86_64", python=python), "h").python == minor


def test_a_cuda_pin_that_cannot_install_on_a_mac_is_told_once_on_its_own_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # invoke-ai/InvokeAI's pyproject (fixture): line 64 asks torch>=2.7.0,<2.8.0 on macOS, the cuda
    # extra's line 133 pins torch==2.7.1+cu128 for every platform but Linux aarch64. The pin cannot
    # install on a Mac (no index serves CUDA builds there): one error, on the pin, not on the range.
    project = Path(__file__).parent / "fixtures/projects/invokeai"
    host = project.parent / "hosts/mac-arm64.json"
    main(["audit", str(project / "pyproject.toml"), "--extra", "cuda", "--host", str(host), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    (found,) = [f for f in report["findings"] if f["code"] == "ED301"]
    assert found["location"]["line"] == 133 and found["severity"] == "error"
    assert not [f for f in report["findings"] if f["code"] == "ED103"]


@pytest.mark.parametrize(
    ("lines", "flagged"),
    [
        ("RUN uv pip install --system six==1.16.0", True),
        ("RUN uv pip install --system --no-cache six==1.16.0", False),
        ("ENV UV_NO_CACHE=1\nRUN uv pip install --system six==1.16.0", False),
        ("RUN --mount=type=cache,target=/root/.cache/uv uv pip install --system six==1.16.0", False),
        # pip's --no-cache-dir is not uv's flag: uv has no such option prefix.
        ("RUN pip install --no-cache-dir six==1.16.0", False),
    ],
)
def test_the_uv_cache_finding_knows_what_uv_knows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, flagged: bool
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.11-slim@sha256:{'a' * 64}\n{lines}\n")
    cache = [
        f for f in with_code(findings(capsys, str(tmp_path / "Dockerfile")), "ED502") if "cache" in str(f["message"])
    ]
    assert bool(cache) is flagged
    assert all("uv" in str(f["fix"]) for f in cache if "uv pip" in lines)


def test_a_uv_pip_option_that_takes_a_file_is_not_read_as_a_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # hao-ai-lab/FastVideo's Dockerfile: uv pip install --excludes docker/uv-excludes ".[dev]" (uv's PipInstallArgs
    # has excludes: a requirements file of packages to leave out), once read as the project docker/uv-excludes.
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "uv-excludes").write_text("torch\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\ndependencies = ["six==1.16.0"]\n')
    (tmp_path / "Dockerfile").write_text(
        f"FROM python:3.11-slim@sha256:{'a' * 64}\nCOPY . /app\nWORKDIR /app\n"
        'RUN uv pip install --system --no-cache --excludes docker/uv-excludes ".[dev]"\n'
    )
    found = findings(capsys, str(tmp_path / "Dockerfile"))
    assert not [f for f in found if "uv-excludes" in str(f["message"])], found


def test_a_frozen_environments_cuda_library_wheels_are_one_finding_on_a_mac(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # magic-research/magic-animate's requirements.txt pins torch 2.0.1's eleven nvidia-*-cu11 wheels (pip
    # freeze). None has a macOS build (platforms.toml): one error naming them, and no "GPU code idles" beside it.
    pins = [
        "nvidia-cublas-cu11==11.10.3.66", "nvidia-cuda-cupti-cu11==11.7.101", "nvidia-cuda-nvrtc-cu11==11.7.99",
        "nvidia-cuda-runtime-cu11==11.7.99", "nvidia-cudnn-cu11==8.5.0.96", "nvidia-cufft-cu11==10.9.0.58",
        "nvidia-curand-cu11==10.2.10.91", "nvidia-cusolver-cu11==11.4.0.1", "nvidia-cusparse-cu11==11.7.4.91",
        "nvidia-nccl-cu11==2.14.3", "nvidia-nvtx-cu11==11.7.91",
    ]  # fmt: skip
    (tmp_path / "requirements.txt").write_text("\n".join(pins) + "\n")
    main(["audit", str(tmp_path / "requirements.txt"), "--os", "macos", "--arch", "arm64", "--python", "3.11",
          "--format", "json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    (found,) = [f for f in report["findings"] if f["code"] == "ED301"]
    assert found["severity"] == "error" and "11 NVIDIA CUDA library wheels" in found["message"]
    assert not [f for f in report["findings"] if f["code"] == "ED103"]


def test_a_devel_stage_that_compiles_cuda_code_is_told_to_build_in_a_stage(capsys: pytest.CaptureFixture[str]) -> None:
    # huggingface/peft's docker/peft-gpu/Dockerfile builds EETQ from git with --no-build-isolation on its
    # CUDA devel image (EETQ's setup.py runs nvcc): "start from python:X.Y-slim" would break that build.
    project = Path(__file__).parent / "fixtures/projects/peft"
    host = project.parent / "hosts/a100-driver535.json"
    main(["audit", str(project / "docker/peft-gpu/Dockerfile"), "--host", str(host), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    (bloat,) = [f for f in report["findings"] if f["code"] == "ED501"]
    assert "build in a stage on this CUDA devel image" in bloat["fix"] and "start from" not in bloat["fix"]
