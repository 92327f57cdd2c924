"""The audit's verdicts as a table, in the style of pypa/packaging's marker and specifier tests.

Each row is (requirements text, host, codes that must be present, codes that must be absent, key
words of the messages and fixes). The expectations are what is TRUE, read from the knowledge base
rows (envdoctor/kb/data/*.toml) and the packages' own metadata; the comment above each group names
the rows it rests on. Where the audit disagrees with the truth the row stays as the truth and is
marked ``xfail(strict=True)`` with the bug in one line: fixing the bug makes the row pass, and the
strict mark then asks for the mark to be removed.

Every row runs through the real entry point (``envdoctor audit FILE ... --format json``), in-process.

Expectation syntax:
- ``expect``: ``"ED101"`` a finding with that code; ``"ED101:error"`` with that severity;
  ``"ED202|ED204"`` a finding with any of those codes.
- ``absent``: ``"ED101"`` no finding with that code; ``"ED203:error"`` none with that code and
  severity; ``"error"`` no finding of severity error at all (a working setup).
- ``words`` / ``fix``: code -> words that must all appear in the message / the fix of one finding
  with that code.
- ``once``: codes that must be reported exactly once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from envdoctor.cli import main
from envdoctor.codes import catalogue

ROOT = Path(__file__).parent.parent
FIXTURE_HOSTS = ROOT / "tests/fixtures/projects/hosts"

# --- Hosts: flags as a user types them, or a saved profile (the five hosts of issue 12's evidence).


def linux(python: str, driver: str | None = None, gpu: str | None = None, arch: str = "x86_64") -> list[str]:
    flags = ["--os", "linux", "--arch", arch, "--python", python]
    if driver:
        flags += ["--driver", driver]
    if gpu:
        flags += ["--gpu", gpu]
    return flags


A100 = "NVIDIA A100-SXM4-80GB"
HOST_A100 = linux("3.11", "535.104.05", A100)  # CUDA 12 driver: minor-version compatibility down to 525
HOST_A100_PY39 = linux("3.9", "535.104.05", A100)
HOST_A100_PY312 = linux("3.12", "535.104.05", A100)
HOST_A100_PY313 = linux("3.13", "535.104.05", A100)
HOST_V100 = linux("3.10", "470.82.01", "Tesla V100-SXM2-32GB")  # CUDA 11 driver, compute capability 7.0
HOST_5090 = linux("3.12", "570.86.16", "NVIDIA GeForce RTX 5090")  # CUDA 12.8 driver, compute capability 12.0
HOST_H100 = linux("3.12", "580.95.05", "NVIDIA H100 80GB HBM3")  # CUDA 13 driver
HOST_H100_PY314 = linux("3.14", "580.95.05", "NVIDIA H100 80GB HBM3")
HOST_H100_PY38 = linux("3.8", "580.95.05", "NVIDIA H100 80GB HBM3")
HOST_1080TI = linux("3.11", "575.57.08", "NVIDIA GeForce GTX 1080 Ti")  # Pascal 6.1
HOST_GH200 = linux("3.11", "535.104.05", "9.0", arch="aarch64")
HOST_NO_DRIVER_FACTS = linux("3.11")  # the driver is unknown, not absent
HOST_WSL1 = [*linux("3.11", "535.104.05", "8.6"), "--wsl", "1"]
HOST_WINDOWS = ["--os", "windows", "--arch", "x86_64", "--python", "3.11", "--driver", "551.78", "--gpu", "8.6"]
HOST_MAC_INTEL = ["--os", "macos", "--arch", "x86_64", "--python", "3.11"]
HOST_MAC = ["--host", str(FIXTURE_HOSTS / "mac-arm64.json")]  # Apple Silicon, Python 3.12
HOST_LAPTOP = ["--host", str(FIXTURE_HOSTS / "laptop-cpu.json")]  # Linux x86_64, nvidia: null
# CentOS 7's glibc 2.17 (written to a file by the test: the flags cannot say the libc).
HOST_GLIBC217: dict[str, Any] = {
    "schema": "envdoctor.host/1",
    "os": "linux",
    "arch": "x86_64",
    "libc": {"name": "glibc", "version": "2.17"},
    "python": "3.11",
    "nvidia": {"driver": "535.104.05", "gpus": [{"name": A100, "compute_capability": "8.0"}]},
}

OK = ("error",)  # a working setup: no finding of severity error


class Case(NamedTuple):
    requirements: str
    host: list[str] | dict[str, Any]
    expect: tuple[str, ...]
    absent: tuple[str, ...]
    words: dict[str, tuple[str, ...]]
    fix: dict[str, tuple[str, ...]]
    once: tuple[str, ...]
    name: str


def row(
    case_id: str,
    requirements: str,
    host: list[str] | dict[str, Any],
    expect: tuple[str, ...] = (),
    absent: tuple[str, ...] = (),
    *,
    words: dict[str, tuple[str, ...]] | None = None,
    fix: dict[str, tuple[str, ...]] | None = None,
    once: tuple[str, ...] = (),
    name: str = "requirements.txt",
    bug: str | None = None,
) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    case = Case(requirements, host, expect, absent, words or {}, fix or {}, once, name)
    return pytest.param(case, id=case_id, marks=marks)


ROWS = [
    # ============================================================================================
    # torch and the driver. cuda.toml minor_compat: a CUDA 12 build runs on a driver >= 525, a
    # CUDA 13 build needs >= 580. torch.toml pypi_build: PyPI's Linux wheel is CUDA 12.1 for
    # 2.1-2.4, 12.4 for 2.5-2.6, 12.6 for 2.7, 12.8 for 2.8-2.10, 13.0 for 2.11-2.14.1, 13.2 for
    # 2.15.0; 1.13-2.0 are CUDA 11.7. releases.toml: 2.15.0 needs Python >= 3.11, so a Python 3.10
    # host gets 2.14.1.
    # --- A100, driver 535 (CUDA 12.2), Python 3.11
    row(
        "a100-torch-bare",
        "torch",
        HOST_A100,
        ("ED101:error",),
        words={"ED101": ("2.15.0", "580", "535.104.05")},
        fix={"ED101": ("+cu12",)},
    ),
    row("a100-torch>=2.0", "torch>=2.0", HOST_A100, ("ED101:error",), words={"ED101": ("torch>=2.0", "2.15.0")}),
    row("a100-torch>=2.11", "torch>=2.11", HOST_A100, ("ED101:error",), words={"ED101": ("2.15.0",)}),
    row("a100-torch~=2.12.0", "torch~=2.12.0", HOST_A100, ("ED101:error",), words={"ED101": ("2.12.1", "580")}),
    row("a100-torch>=2.9,<2.12", "torch>=2.9,<2.12", HOST_A100, ("ED101:error",), words={"ED101": ("2.11.0",)}),
    row("a100-torch<2.11", "torch<2.11", HOST_A100, absent=(*OK, "ED101")),
    row("a100-torch<=2.10", "torch<=2.10", HOST_A100, absent=(*OK, "ED101")),
    row("a100-torch>=2.4,<2.11", "torch>=2.4,<2.11", HOST_A100, absent=(*OK, "ED101", "ED102")),
    row("a100-torch==2.4.1", "torch==2.4.1", HOST_A100, absent=(*OK, "ED101", "ED102")),
    row("a100-torch==2.10.0", "torch==2.10.0", HOST_A100, absent=(*OK, "ED101")),
    row("a100-torch==2.1.0", "torch==2.1.0", HOST_A100, absent=(*OK, "ED101")),
    row("a100-torch==1.13.1", "torch==1.13.1", HOST_A100, absent=(*OK, "ED101")),
    row("a100-torch==2.11.0", "torch==2.11.0", HOST_A100, ("ED101:error",), words={"ED101": ("2.11.0", "580")}),
    row("a100-torch==2.14.0", "torch==2.14.0", HOST_A100, ("ED101:error",), words={"ED101": ("2.14.0",)}),
    row("a100-torch==2.15.0", "torch==2.15.0", HOST_A100, ("ED101:error",), words={"ED101": ("13.2",)}),
    # --- V100 (7.0), driver 470 (CUDA 11.4), Python 3.10. cuda_arch: the CUDA 13 builds (2.11 on)
    # start at 7.5; the cu128 builds of 2.8-2.10 keep 7.0; gpu_architectures: 7.0's last CUDA is 12.9.
    row(
        "v100-torch-bare",
        "torch",
        HOST_V100,
        ("ED101:error", "ED102:error"),
        words={"ED101": ("2.14.1",), "ED102": ("7.0",)},
        fix={"ED101": ("cu118",)},
    ),
    row(
        "v100-torch>=2.0,<2.9",
        "torch>=2.0,<2.9",
        HOST_V100,
        ("ED101:error",),
        ("ED102",),
        words={"ED101": ("2.8.0", "525.60.13")},
    ),
    row(
        "v100-torch>=2.8,<2.11",
        "torch>=2.8,<2.11",
        HOST_V100,
        ("ED101:error",),
        ("ED102",),
        words={"ED101": ("2.10.0",)},
    ),
    row("v100-torch==2.4.1", "torch==2.4.1", HOST_V100, ("ED101:error",), fix={"ED101": ("torch==2.4.1+cu118",)}),
    row("v100-torch==2.11.0", "torch==2.11.0", HOST_V100, ("ED101:error", "ED102:error")),
    row("v100-torch==2.0.1", "torch==2.0.1", HOST_V100, absent=(*OK, "ED101", "ED102")),
    row("v100-torch==1.13.1", "torch==1.13.1", HOST_V100, absent=(*OK, "ED101")),
    row("v100-torch<2.1", "torch<2.1", HOST_V100, absent=(*OK, "ED101")),
    row(
        "v100-cu118-index-bare",
        "--index-url https://download.pytorch.org/whl/cu118\ntorch",
        HOST_V100,
        absent=(*OK, "ED101"),
    ),
    row(
        "v100-cu118-extra-index-pin",
        "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.4.1",
        HOST_V100,
        absent=(*OK, "ED101"),
    ),
    row(
        "v100-cu124-index-bare",
        "--index-url https://download.pytorch.org/whl/cu124\ntorch",
        HOST_V100,
        ("ED101:error",),
        words={"ED101": ("cu124",)},
    ),
    row(
        "v100-cu121-index-2.1.0",
        "--extra-index-url https://download.pytorch.org/whl/cu121\ntorch==2.1.0",
        HOST_V100,
        ("ED101:error",),
        fix={"ED101": ("torch==2.1.0+cu118",)},
    ),
    # --- RTX 5090 (12.0), driver 570 (CUDA 12.8), Python 3.12. gpu_architectures: 12.0 needs CUDA
    # >= 12.8, so no cu124/cu126 build has its kernels; cuda_arch: the cu128 builds (2.8-2.10) do.
    row(
        "5090-torch-bare",
        "torch",
        HOST_5090,
        ("ED101:error",),
        ("ED102",),
        words={"ED101": ("2.15.0", "570.86.16")},
        fix={"ED101": ("cu128",)},
    ),
    row(
        "5090-torch<2.8",
        "torch<2.8",
        HOST_5090,
        ("ED102:error",),
        words={"ED102": ("12.0",)},
        fix={"ED102": ("cu128",)},
    ),
    row("5090-torch<2.7", "torch<2.7", HOST_5090, ("ED102:error",), words={"ED102": ("2.6.0",)}),
    row("5090-torch==2.7.1", "torch==2.7.1", HOST_5090, ("ED102:error",)),
    row("5090-torch==2.6.0", "torch==2.6.0", HOST_5090, ("ED102:error",)),
    row("5090-torch==2.12.0", "torch==2.12.0", HOST_5090, ("ED101:error",)),
    row("5090-torch==2.10.0", "torch==2.10.0", HOST_5090, absent=(*OK, "ED101", "ED102")),
    row("5090-torch==2.8.0", "torch==2.8.0", HOST_5090, absent=(*OK, "ED102")),
    row("5090-torch>=2.8,<2.11", "torch>=2.8,<2.11", HOST_5090, absent=(*OK, "ED101", "ED102")),
    row(
        "5090-torch>=2.6,<2.11-part",
        "torch>=2.6,<2.11",
        HOST_5090,
        ("ED102:warning",),
        OK,
        words={"ED102": ("2.6.0", "2.7.1", "2.10.0")},
    ),
    row(
        "5090-cu128-index-bare",
        "--index-url https://download.pytorch.org/whl/cu128\ntorch",
        HOST_5090,
        absent=(*OK, "ED102"),
    ),
    row(
        "5090-cu126-index-bare",
        "--index-url https://download.pytorch.org/whl/cu126\ntorch",
        HOST_5090,
        ("ED102:error",),
        words={"ED102": ("12.0",)},
    ),
    # --- GTX 1080 Ti (6.1), driver 575.57.08 (CUDA 12.9), Python 3.11. cuda_arch: cu128 of 2.8.0
    # starts at 7.0; cu126 keeps 6.0, whose kernels run on 6.1 (same major).
    row(
        "1080ti-torch==2.8.0",
        "torch==2.8.0",
        HOST_1080TI,
        ("ED102:error",),
        words={"ED102": ("6.1",)},
        fix={"ED102": ("cu126",)},
    ),
    row("1080ti-torch-bare", "torch", HOST_1080TI, ("ED101:error", "ED102:error")),
    row("1080ti-torch==2.7.1", "torch==2.7.1", HOST_1080TI, absent=(*OK, "ED102")),
    row("1080ti-torch<2.8", "torch<2.8", HOST_1080TI, absent=(*OK, "ED102")),
    # --- H100 (9.0), driver 580.95.05 (CUDA 13.0). 580.95.05 >= 580.65.06, the CUDA 13 floor.
    row("h100-torch-bare", "torch", HOST_H100, absent=(*OK, "ED101", "ED102")),
    row("h100-torch>=2.11", "torch>=2.11", HOST_H100, absent=(*OK, "ED101")),
    row("h100-torch==2.15.0", "torch==2.15.0", HOST_H100, absent=(*OK, "ED101")),
    row("h100-py314-torch", "torch", HOST_H100_PY314, absent=(*OK, "ED302")),
    # ============================================================================================
    # Host facts that need no version (issue 12 part 4). torch.toml pypi_platform: PyPI's macOS
    # and Windows wheels are CPU builds; the Linux default is a CUDA build (pypi_build rows).
    # --- A laptop without an NVIDIA driver (nvidia: null)
    row(
        "laptop-torch-bare",
        "torch",
        HOST_LAPTOP,
        ("ED103:warning",),
        ("ED101",),
        words={"ED103": ("no usable NVIDIA driver",)},
        fix={"ED103": ("whl/cpu",)},
    ),
    row("laptop-torch==2.4.1", "torch==2.4.1", HOST_LAPTOP, ("ED103",), ("ED101",)),
    row("laptop-torch>=2.0", "torch>=2.0", HOST_LAPTOP, ("ED103",)),
    row(
        "laptop-cpu-index-torch",
        "--index-url https://download.pytorch.org/whl/cpu\ntorch",
        HOST_LAPTOP,
        absent=(*OK, "ED103"),
    ),
    row("laptop-tf-and-cuda", "tensorflow[and-cuda]", HOST_LAPTOP, ("ED103",), fix={"ED103": ("without [and-cuda]",)}),
    row("laptop-tensorflow", "tensorflow", HOST_LAPTOP, absent=(*OK, "ED103")),
    row("laptop-jax", "jax", HOST_LAPTOP, absent=(*OK, "ED103")),
    row("laptop-cupy-cuda12x", "cupy-cuda12x", HOST_LAPTOP, ("ED103",)),
    row("laptop-jax-cuda12-plugin", "jax-cuda12-plugin", HOST_LAPTOP, ("ED103",)),
    row("laptop-nvidia-cudnn", "nvidia-cudnn-cu12==9.1.0.70", HOST_LAPTOP, ("ED103",)),
    row("laptop-scientific", "numpy\nscipy\npandas", HOST_LAPTOP, absent=(*OK, "ED103", "ED900")),
    row(
        "laptop-jax[cuda12]",
        "jax[cuda12]",
        HOST_LAPTOP,
        ("ED103",),
    ),
    row(
        "laptop-onnxruntime-gpu",
        "onnxruntime-gpu",
        HOST_LAPTOP,
        ("ED103",),
    ),
    row(
        "laptop-paddlepaddle-gpu",
        "paddlepaddle-gpu",
        HOST_LAPTOP,
        ("ED103",),
        bug="paddlepaddle-gpu is not known as a GPU package",
    ),
    row(
        "laptop-flash-attn",
        "flash-attn",
        HOST_LAPTOP,
        ("ED103|ED301",),
    ),
    # --- WSL 1 reaches no GPU whatever its driver
    row(
        "wsl1-torch==2.4.1",
        "torch==2.4.1",
        HOST_WSL1,
        ("ED103",),
        words={"ED103": ("WSL 2",)},
        fix={"ED103": ("WSL 2",)},
    ),
    row("wsl1-torch-bare", "torch", HOST_WSL1, ("ED103",)),
    row("wsl1-tf-and-cuda", "tensorflow[and-cuda]==2.16.1", HOST_WSL1, ("ED103",)),
    # --- Apple Silicon, Python 3.12: PyPI's torch is the CPU/MPS build; releases.toml: macos-arm64
    # wheels for torch, tensorflow, jaxlib, bitsandbytes; none for the CUDA-only packages.
    row("mac-torch-bare", "torch", HOST_MAC, absent=(*OK, "ED103", "ED301")),
    row("mac-torch==2.4.1", "torch==2.4.1", HOST_MAC, absent=(*OK, "ED103")),
    row("mac-torch>=2.2,<2.5", "torch>=2.2,<2.5", HOST_MAC, absent=(*OK, "ED301")),
    row("mac-torch-numpy<2", "torch==2.4.1\nnumpy<2", HOST_MAC, absent=OK),
    row("mac-torch<2.3-numpy<2", "torch<2.3\nnumpy<2", HOST_MAC, absent=(*OK, "ED203")),
    row("mac-torch-torchvision", "torch\ntorchvision", HOST_MAC, absent=OK),
    row("mac-tensorflow", "tensorflow", HOST_MAC, absent=(*OK, "ED301")),
    row("mac-tensorflow==2.16.1", "tensorflow==2.16.1", HOST_MAC, absent=OK),
    row("mac-jax", "jax", HOST_MAC, absent=OK),
    row("mac-bitsandbytes", "bitsandbytes", HOST_MAC, absent=(*OK, "ED301")),
    row("mac-cupy-cuda12x", "cupy-cuda12x", HOST_MAC, ("ED301:error",), words={"ED301": ("macos-arm64",)}),
    row("mac-onnxruntime-gpu", "onnxruntime-gpu", HOST_MAC, ("ED301:error",)),
    row("mac-triton", "triton", HOST_MAC, ("ED301:error",)),
    row("mac-triton==3.1.0", "triton==3.1.0", HOST_MAC, ("ED301:error",)),
    row("mac-paddlepaddle-gpu", "paddlepaddle-gpu", HOST_MAC, ("ED301:error",)),
    row(
        "mac-nvidia-cudnn", "nvidia-cudnn-cu12==9.1.0.70", HOST_MAC, ("ED301:error",), words={"ED301": ("macos-arm64",)}
    ),
    row(
        "mac-linux-freeze",
        "torch==2.3.0\nnvidia-cudnn-cu12==8.9.2.26",
        HOST_MAC,
        ("ED301:error",),
        fix={"ED301": ("sys_platform != 'darwin'",)},
    ),
    row(
        "mac-cudnn-marked-linux",
        'nvidia-cudnn-cu12==9.1.0.70 ; sys_platform == "linux"',
        HOST_MAC,
        absent=(*OK, "ED301", "ED103"),
    ),
    row(
        "mac-jax[cuda12]",
        "jax[cuda12]",
        HOST_MAC,
        ("ED301|ED103",),
    ),
    row(
        "mac-flash-attn",
        "flash-attn",
        HOST_MAC,
        ("ED301|ED103",),
    ),
    row(
        "mac-tensorrt",
        "tensorrt",
        HOST_MAC,
        ("ED301|ED103",),
    ),
    # --- Native Windows, driver 551.78, RTX 3090 (8.6), Python 3.11. tensorflow.toml platform
    # windows-native-gpu-last: no GPU TensorFlow on native Windows after 2.10.
    row(
        "win-torch-bare",
        "torch",
        HOST_WINDOWS,
        ("ED103:warning",),
        words={"ED103": ("cpu build",)},
        fix={"ED103": ("download.pytorch.org/whl/cu",)},
    ),
    row("win-torch==2.4.1", "torch==2.4.1", HOST_WINDOWS, ("ED103",), fix={"ED103": ("torch==2.4.1+cu124",)}),
    row(
        "win-cu124-index-torch",
        "--extra-index-url https://download.pytorch.org/whl/cu124\ntorch==2.4.1",
        HOST_WINDOWS,
        absent=(*OK, "ED103"),
    ),
    row("win-triton", "triton", HOST_WINDOWS, ("ED301:error",)),
    row(
        "win-tf-and-cuda",
        "tensorflow[and-cuda]",
        HOST_WINDOWS,
        ("ED103",),
    ),
    row(
        "win-jax[cuda12]",
        "jax[cuda12]",
        HOST_WINDOWS,
        ("ED301|ED103",),
    ),
    # --- Linux whose driver is not known: not-judged, never guessed
    row(
        "unknown-driver-torch",
        "torch",
        HOST_NO_DRIVER_FACTS,
        ("ED900:info",),
        ("ED101", "ED103", *OK),
        words={"ED900": ("driver is unknown",)},
    ),
    row("unknown-driver-torch==2.4.1", "torch==2.4.1", HOST_NO_DRIVER_FACTS, ("ED900",), OK),
    row("unknown-driver-cupy", "cupy-cuda12x", HOST_NO_DRIVER_FACTS, ("ED900",), OK),
    row("unknown-driver-numpy", "numpy", HOST_NO_DRIVER_FACTS, absent=(*OK, "ED900")),
    # --- Builds the base has no row for: said, never passed as if they ran. alphafold's Dockerfile
    # pins jaxlib==0.4.26+cuda12.cudnn89 from JAX's find-links page; PyG's wheels carry +pt23cu121;
    # tensorflow.toml's build rows start at 2.10.
    row(
        "unmodelled-cuda-labels",
        "jax==0.4.26\njaxlib==0.4.26+cuda12.cudnn89",
        HOST_V100,
        ("ED900:info",),
        once=("ED900",),
        words={"ED900": ("no build row", "jaxlib 0.4.26+cuda12.cudnn89")},
    ),
    # gpu_packages prebuilt (PyG): +pt23cu121 is a CUDA 12.1 build for torch 2.3, judged as such.
    row("modelled-pyg-label", "torch-scatter==2.1.2+pt23cu121", HOST_V100, ("ED101:error",)),
    row(
        "unmodelled-tensorflow-2.6", "tensorflow==2.6.0", HOST_V100, ("ED900",), words={"ED900": ("tensorflow 2.6.0",)}
    ),
    # With no NVIDIA driver to judge a build against (a Mac), there is no driver question to leave unjudged.
    row("unmodelled-label-on-a-mac", "jaxlib==0.4.26+cuda12.cudnn89", HOST_MAC, absent=("ED900",)),
    # A lock forked by Python version, read where the Python is unknown: the fork's pin keeps its label.
    row(
        "forked-pins-keep-label",
        "--extra-index-url https://download.pytorch.org/whl/cu126\n"
        'torch==2.6.0+cu126 ; python_version >= "3.10"\ntorch==2.5.1+cu124 ; python_version < "3.10"',
        ["--os", "linux", "--arch", "x86_64", "--driver", "470.82.01", "--gpu", "7.0"],
        ("ED101:error",),
        words={"ED101": ("+cu126 label", "CUDA 12.6")},
    ),
    # torch.toml pypi_platform (macOS, cuda_builds = false): no index serves a CUDA build for macOS, so
    # a +cu128 pin cannot install there at all (an error, not "its GPU code idles"); invokeai's cuda extra.
    row(
        "mac-cuda-label-does-not-install",
        "--extra-index-url https://download.pytorch.org/whl/cu128\ntorch==2.7.1+cu128",
        HOST_MAC,
        ("ED301:error",),
        ("ED103",),
        words={"ED301": ("no +cu128 build for macOS",)},
        fix={"ED301": ("torch==2.7.1 without the +cu128 label", "sys_platform != 'darwin'")},
    ),
    # torchvision 0.29.1's METADATA asks torch>=2.14.0: pip installs it beside torch 2.15.0, which was
    # released with 0.29.2. Only the release pairing speaks against the pair: a warning, never an error.
    row(
        "companion-metadata-allows-it",
        "torch==2.15.0\ntorchvision==0.29.1",
        HOST_H100,
        ("ED202:warning",),
        ("ED202:error",),
        words={"ED202": ("released with torchvision 0.29.2", "METADATA allows torch>=2.14.0")},
    ),
    # incompatibilities.toml nccl-pin-clash: torch 2.9-2.10 pin nvidia-nccl-cu12==2.27.5, tensorflow[and-cuda]
    # 2.21.0 asks >=2.27.7. The curated row's finding (with a fix that installs) stands for the metadata's ED204,
    # whose "torch==2.15.0" would bring CUDA 13 libraries beside TensorFlow's CUDA 12 ones.
    row(
        "nccl-clash-told-once",
        "torch==2.10.0\ntensorflow[and-cuda]==2.21.0",
        HOST_H100,
        ("ED203:error",),
        ("ED204",),
        fix={"ED203": ("tensorflow[and-cuda]>=2.20,<2.21",)},
    ),
    # The set's own lines that no one release meets: pip's ResolutionImpossible, said before the install.
    row(
        "own-lines-contradict",
        "torch>=2.12\ntorch==2.10.0",
        HOST_H100,
        ("ED204:error",),
        words={"ED204": ("torch>=2.12 and torch==2.10.0", "no one release meets")},
        once=("ED204",),
    ),
    row("own-lines-agree", "torch>=2.9\ntorch==2.10.0", HOST_H100, absent=("ED204",)),
    # The cu118 index serves no macOS wheel (pypi_platform cuda_builds = false): on a Mac pip takes PyPI's
    # CPU build of torch 2.2.0 from the same line (DAMO-NLP-SG/VideoLLaMA2's requirements on an M-series Mac).
    row(
        "mac-cuda-index-takes-pypi",
        "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.2.0",
        HOST_MAC_INTEL,
        absent=(*OK, "ED103"),
    ),
    # Zyphra/Zonos's Dockerfile on a V100 with R470: the image's own torch (cu124) needs R525, an error; the
    # hedged forward-compatibility warning about the image's CUDA 12.4 on the same line would say it twice.
    row(
        "image-torch-and-image-cuda-told-once",
        "FROM pytorch/pytorch:2.6.0-cuda12.4-cudnn9-devel",
        HOST_V100,
        ("ED101:error",),
        ("ED101:warning",),
        once=("ED101",),
        name="Dockerfile",
    ),
    # base_images nvidia/cuda 13.0.0: NVIDIA_REQUIRE_CUDA admits the R570 branch only for the brands it lists
    # (tesla, nvidia, quadro, nvidiartx, ...); a GeForce card on 570 is refused (hao-ai-lab/FastVideo's base on
    # an RTX 5090). A data-center GPU's brand is not told by its name: not judged, no finding.
    row(
        "cuda13-image-geforce-on-r570",
        "FROM nvidia/cuda:13.0.0-cudnn-devel-ubuntu24.04",
        HOST_5090,
        ("ED101:error",),
        words={"ED101": ("NVIDIA_REQUIRE_CUDA",)},
        name="Dockerfile",
    ),
    row(
        "cuda13-image-h100-on-r570",
        "FROM nvidia/cuda:13.0.0-cudnn-devel-ubuntu24.04",
        linux("3.12", "570.86.16", "NVIDIA H100 80GB HBM3"),
        absent=("ED101:error",),
        name="Dockerfile",
    ),
    # incompatibilities.toml removed-api: torchtext 0.18.0 (METADATA torch>=2.3.0) fails to import beside
    # torch >= 2.4 (pytorch/text#2272). On an RTX 5090 every torch that runs is >= 2.7: the GPU fix says
    # torchtext does not go with it, instead of moving it to 0.18.0 (audiocraft's requirements).
    row("torchtext-0.18-torch-2.5", "torch==2.5.1\ntorchtext==0.18.0", HOST_A100, ("ED203:error",)),
    row(
        "torchtext-and-the-5090-fix",
        "torch==2.1.0\ntorchvision==0.16.0\ntorchtext==0.16.0",
        HOST_5090,
        ("ED102:error",),
        fix={"ED102": ("torch==2.11.0+cu128", "but torchtext==0.16.0 does not go with it")},
    ),
    # jax's own build is its jaxlib's; torchvision's +cu118 is judged through the torch it moves with.
    row("modelled-labels", "jax==0.4.26\ntorch==2.1.0+cu118\ntorchvision==0.16.0+cu118", HOST_A100, absent=("ED900",)),
    # ============================================================================================
    # python-unsupported: releases.toml's cpXY wheels and Requires-Python of each release.
    row("py312-torch==2.1.0", "torch==2.1.0", HOST_A100_PY312, ("ED302:error",), fix={"ED302": ("torch>=2.2.0",)}),
    row("py312-torch<2.2", "torch<2.2", HOST_A100_PY312, ("ED302:error",), words={"ED302": ("3.12",)}),
    row("py312-torch>=2.2,<2.5", "torch>=2.2,<2.5", HOST_A100_PY312, absent=(*OK, "ED302")),
    row("py39-torch>=2.9", "torch>=2.9", HOST_A100_PY39, ("ED302:error",), words={"ED302": ("3.9",)}),
    row("py39-torch-bare", "torch", HOST_A100_PY39, absent=(*OK, "ED302", "ED101")),
    row("py313-torch==2.4.1", "torch==2.4.1", HOST_A100_PY313, ("ED302:error",), fix={"ED302": ("2.5.0",)}),
    row("py314-torch<2.9", "torch<2.9", HOST_H100_PY314, ("ED302:error",)),
    row("py38-torch>=2.5", "torch>=2.5", HOST_H100_PY38, ("ED302:error",)),
    row("py313-tensorflow<2.20", "tensorflow<2.20", HOST_A100_PY313, ("ED302:error",), fix={"ED302": ("2.20.0",)}),
    row("py313-tensorflow", "tensorflow", HOST_A100_PY313, absent=(*OK, "ED302")),
    row(
        "py312-tensorflow==2.15.0", "tensorflow==2.15.0", HOST_A100_PY312, ("ED302:error",), fix={"ED302": ("2.16.1",)}
    ),
    row("py312-tensorflow==2.16.1", "tensorflow==2.16.1", HOST_A100_PY312, absent=(*OK, "ED302")),
    row("py312-tensorflow>=2.16", "tensorflow>=2.16", HOST_A100_PY312, absent=(*OK, "ED302")),
    row(
        "py314-tensorflow",
        "tensorflow",
        HOST_H100_PY314,
        ("ED302:error",),
        fix={"ED302": ("python_version",)},
    ),
    row("py310-jax>=0.11", "jax>=0.11", linux("3.10"), ("ED302:error",)),
    row("py310-jax", "jax", linux("3.10"), absent=(*OK, "ED302")),
    row("py311-numpy>=2.5", "numpy>=2.5", linux("3.11"), ("ED302:error",), fix={"ED302": ("2.4.6",)}),
    row("py311-numpy", "numpy", linux("3.11"), absent=(*OK, "ED302")),
    row("py312-numpy<1.26", "numpy<1.26", linux("3.12"), ("ED302",), fix={"ED302": ("1.26.0",)}),
    # scipy 1.10.x asks Requires-Python <3.12, but 1.9.3 asks only >=3.8: pip falls back to building
    # 1.9.3's sdist (releases.toml), which is what the finding must say.
    row("py312-scipy<1.11", "scipy<1.11", linux("3.12"), ("ED302:warning",), words={"ED302": ("1.9.3", "sdist")}),
    row("py311-scipy>=1.18", "scipy>=1.18", linux("3.11"), ("ED302:error",)),
    row("py311-scipy", "scipy", linux("3.11"), absent=(*OK, "ED302")),
    row("py311-onnx==1.11.0", "onnx==1.11.0", linux("3.11"), ("ED302",), words={"ED302": ("sdist",)}),
    row("py310-vllm>=0.32", "vllm>=0.32", linux("3.10", "580.95.05", "9.0"), ("ED302:error",)),
    row("py310-onnxruntime-gpu>=1.30", "onnxruntime-gpu>=1.30", linux("3.10", "580.95.05", "9.0"), ("ED302:error",)),
    row("py313-paddlepaddle-gpu", "paddlepaddle-gpu", HOST_A100_PY313, ("ED302:error",)),
    # ============================================================================================
    # platform-unsupported: releases.toml platforms and glibc; platforms.toml. torch's last
    # macOS x86_64 wheels are 2.2.x; tensorflow.toml macos-x86-last: 2.16.
    row(
        "macintel-torch>=2.3",
        "torch>=2.3",
        HOST_MAC_INTEL,
        ("ED301:error",),
        fix={"ED301": ("2.2",)},
    ),
    row("macintel-torch-bare", "torch", HOST_MAC_INTEL, absent=(*OK, "ED301")),
    row("macintel-torch==2.2.2", "torch==2.2.2", HOST_MAC_INTEL, absent=(*OK, "ED301")),
    row(
        "macintel-tensorflow>=2.17",
        "tensorflow>=2.17",
        HOST_MAC_INTEL,
        ("ED301:error",),
        fix={"ED301": ("2.16",)},
    ),
    row("macintel-tensorflow", "tensorflow", HOST_MAC_INTEL, absent=(*OK, "ED301")),
    row("aarch64-torch==2.0.1", "torch==2.0.1", HOST_GH200, absent=(*OK, "ED301")),
    row(
        "aarch64-onnxruntime-gpu<1.27",
        "onnxruntime-gpu<1.27",
        HOST_GH200,
        ("ED301:error",),
        words={"ED301": ("linux-aarch64",)},
    ),
    row("aarch64-paddlepaddle-gpu", "paddlepaddle-gpu", HOST_GH200, ("ED301:error",)),
    row(
        "aarch64-xformers",
        "xformers",
        HOST_GH200,
        ("ED301",),
    ),
    row("glibc217-torch==2.7.1", "torch==2.7.1", HOST_GLIBC217, ("ED301:error",), words={"ED301": ("2.7.1",)}),
    row("glibc217-torch<2.7", "torch<2.7", HOST_GLIBC217, absent=(*OK, "ED301")),
    row("glibc217-torch-bare", "torch", HOST_GLIBC217, absent=(*OK, "ED301")),
    row("glibc217-tensorflow==2.21.0", "tensorflow==2.21.0", HOST_GLIBC217, ("ED301:error",)),
    # Lines whose marker is false for the host are not judged for it.
    row("linux-win32-marker", 'pywin32==306 ; sys_platform == "win32"', HOST_A100, absent=(*OK, "ED301")),
    row("linux-darwin-marker-torch", 'torch==2.15.0 ; sys_platform == "darwin"', HOST_A100, absent=(*OK, "ED101")),
    row("linux-py-marker-torch", 'torch==2.15.0 ; python_version >= "3.12"', HOST_A100, absent=(*OK, "ED101")),
    # ============================================================================================
    # companion-mismatch. torch.toml release rows (torchvision/torchaudio released with each
    # torch; their wheels pin torch==X); jax.toml jaxlib / cuda_plugin specifiers; tensorflow.toml
    # wheel tensorboard; gpu_packages built_against (xformers, vllm pin one torch).
    row(
        "tv-0.17-with-torch-2.1.0",
        "torch==2.1.0\ntorchvision==0.17.0",
        HOST_A100,
        ("ED202:error",),
        fix={"ED202": ("torchvision==0.16.0",)},
    ),
    # torchvision declares an unbounded numpy (dependencies.toml): beside a NumPy 1.x torch, a fresh
    # install gets NumPy 2 unless the set keeps it out, so these in-step sets say numpy<2.
    row("tv-0.16-with-torch-2.1.0", "torch==2.1.0\ntorchvision==0.16.0\nnumpy<2", HOST_A100, absent=(*OK, "ED202")),
    row("tv-0.16-torch-2.1.0-numpy", "torch==2.1.0\ntorchvision==0.16.0", HOST_A100, ("ED203:error",), ("ED202",)),
    row(
        "ta-2.5.0-with-torch-2.4.1",
        "torch==2.4.1\ntorchaudio==2.5.0",
        HOST_A100,
        ("ED202:error",),
        fix={"ED202": ("torchaudio==2.4.1",)},
    ),
    row("trio-2.4.1", "torch==2.4.1\ntorchvision==0.19.1\ntorchaudio==2.4.1", HOST_A100, absent=(*OK, "ED202")),
    row(
        "trio-2.0.0", "torch==2.0.0\ntorchvision==0.15.1\ntorchaudio==2.0.1\nnumpy<2", HOST_A100, absent=(*OK, "ED202")
    ),
    row("tv-bare-with-torch-2.1.0", "torch==2.1.0\ntorchvision\nnumpy<2", HOST_A100, absent=(*OK, "ED202")),
    row("tv<0.17-with-torch-2.1.0", "torch==2.1.0\ntorchvision<0.17\nnumpy<2", HOST_A100, absent=(*OK, "ED202")),
    row("tv-bare-torch<2.5", "torch<2.5\ntorchvision", HOST_A100, absent=(*OK, "ED202")),
    row(
        "cu118-trio",
        "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.4.1\ntorchvision==0.19.1",
        HOST_V100,
        absent=(*OK, "ED202", "ED101"),
    ),
    row(
        "tv>=0.17-with-torch-2.1.0",
        "torch==2.1.0\ntorchvision>=0.17",
        HOST_A100,
        ("ED202|ED204",),
    ),
    row(
        "torch>=2.5-with-tv-0.19.1",
        "torch>=2.5\ntorchvision==0.19.1",
        HOST_A100,
        ("ED202|ED204",),
    ),
    row(
        "tv-0.16-beside-ta-2.2",
        "torchvision==0.16.0\ntorchaudio==2.2.0",
        HOST_A100,
        ("ED202|ED204",),
    ),
    row(
        "torch-bare-with-tv-0.16",
        "torch\ntorchvision==0.16.0\nnumpy<2",
        HOST_A100,
        absent=(*OK, "ED101"),
    ),
    row("jax-0.4.30-jaxlib-0.4.30", "jax==0.4.30\njaxlib==0.4.30", HOST_A100, absent=(*OK, "ED202")),
    row("jax[cuda12]-0.4.30-jaxlib", "jax[cuda12]==0.4.30\njaxlib==0.4.30", HOST_A100, absent=(*OK, "ED202", "ED101")),
    row(
        "jax-0.4.30-plugin-0.4.31",
        "jax==0.4.30\njax-cuda12-plugin==0.4.31",
        HOST_A100,
        ("ED202:error",),
        words={"ED202": ("0.4.31",)},
    ),
    row("jax-0.4.30-jaxlib-0.4.26", "jax==0.4.30\njaxlib==0.4.26", HOST_A100, ("ED202:error",)),
    row("jax-0.8.0-jaxlib-0.7.2", "jax==0.8.0\njaxlib==0.7.2", HOST_A100, ("ED202:error",)),
    row(
        "tf-2.15-tensorboard-2.16",
        "tensorflow==2.15.0\ntensorboard==2.16.2",
        HOST_A100,
        ("ED202:error",),
        ("ED204",),  # the same clash, told once
        fix={"ED202": ("<2.16",)},
    ),
    row("tf-2.16-tensorboard-2.16", "tensorflow==2.16.1\ntensorboard==2.16.2", HOST_A100, absent=(*OK, "ED202")),
    row(
        "xformers-0.0.28.post1-torch-2.5.1",
        "xformers==0.0.28.post1\ntorch==2.5.1",
        HOST_A100,
        ("ED202:error",),
        fix={"ED202": ("torch==2.4.1",)},
    ),
    row("xformers-0.0.28.post1-torch-2.4.1", "xformers==0.0.28.post1\ntorch==2.4.1", HOST_A100, absent=(*OK, "ED202")),
    row("xformers<0.0.29-torch-2.3.1", "xformers<0.0.29\ntorch==2.3.1", HOST_A100, absent=(*OK, "ED202")),
    row(
        "xformers-0.0.24-torch>=2.3",
        "xformers==0.0.24\ntorch>=2.3",
        HOST_A100,
        ("ED202|ED204",),
    ),
    row(
        "xformers-0.0.30-torch-bare",
        "xformers==0.0.30\ntorch",
        HOST_A100,
        absent=(*OK, "ED101"),
    ),
    row(
        "vllm-0.6.3-torch-2.5.1",
        "vllm==0.6.3\ntorch==2.5.1",
        HOST_A100,
        ("ED202:error",),
        fix={"ED202": ("torch==2.4.0",)},
    ),
    # vllm 0.6.3 asks transformers>=4.45.0 with no cap: a fresh install today takes transformers 5.24,
    # whose import disables PyTorch below 2.6 (incompatibilities.toml undeclared-floor): cap transformers.
    row(
        "vllm-0.6.3-torch-2.4.0",
        "vllm==0.6.3\ntorch==2.4.0",
        HOST_A100,
        ("ED203:error",),
        ("ED202", "ED101"),
        fix={"ED203": ("transformers<5.15.0",)},
    ),
    row("vllm-0.10.1-trio", "vllm==0.10.1\ntorch==2.7.1\nxformers==0.0.31", HOST_A100, absent=(*OK, "ED202")),
    # ============================================================================================
    # known-incompatibility. torch.toml numpy_build: 1.13-2.2 built against NumPy 1, 2.3+ against
    # NumPy 2; torch declares no numpy requirement. incompatibilities.toml numpy2-abi rows (the
    # releases whose METADATA already caps numpy<2 install NumPy 1 and work: pandas 2.1.4-2.2.1,
    # scipy 1.12 (numpy<1.29), tensorflow 2.14.1-2.17 per tensorflow.toml wheel rows, statsmodels
    # 0.14.1), numpy124-aliases, removed-api, protobuf4-descriptors, cudnn-pin-clash.
    row("torch-2.1.0-numpy-bare", "torch==2.1.0\nnumpy", HOST_A100, ("ED203:error",), fix={"ED203": ("numpy<2",)}),
    row("torch-2.1.0-numpy<2", "torch==2.1.0\nnumpy<2", HOST_A100, absent=(*OK, "ED203")),
    row("torch-2.1.0-numpy>=2", "torch==2.1.0\nnumpy>=2", HOST_A100, ("ED203:error",)),
    row("torch-2.2.2-numpy-2.0.0", "torch==2.2.2\nnumpy==2.0.0", HOST_A100, ("ED203:error",)),
    row("torch<2.3-numpy-bare", "torch<2.3\nnumpy", HOST_A100, ("ED203:error",)),
    row("torch-2.3.0-numpy-bare", "torch==2.3.0\nnumpy", HOST_A100, absent=(*OK, "ED203")),
    row("torch-2.4.1-numpy-bare", "torch==2.4.1\nnumpy", HOST_A100, absent=(*OK, "ED203")),
    row("torch-range-numpy<2", "torch>=2.0,<2.11\nnumpy<2", HOST_A100, absent=(*OK, "ED203")),
    row("scipy-numpy-bare", "scipy\nnumpy", HOST_A100, absent=(*OK, "ED203")),
    row("scipy<1.13-numpy<2", "scipy<1.13\nnumpy<2", HOST_A100, absent=(*OK, "ED203")),
    row("scipy>=1.10-numpy-part", "scipy>=1.10\nnumpy", HOST_A100, absent=(*OK, "ED203:error")),
    row(
        "scipy<1.13-numpy-bare",
        "scipy<1.13\nnumpy",
        HOST_A100,
        absent=("ED203:error",),
    ),
    row("scipy-1.12.0-numpy>=2", "scipy==1.12.0\nnumpy>=2", HOST_A100, ("ED203|ED204",)),
    row(
        # pandas 2.1.4's own METADATA caps numpy<2 (dependencies.toml): the pair does not install at all.
        "pandas-2.1.4-numpy-2.0.0",
        "pandas==2.1.4\nnumpy==2.0.0",
        HOST_A100,
        ("ED204:error",),
        words={"ED204": ("numpy<2",)},
    ),
    row("pandas-numpy-bare", "pandas\nnumpy", HOST_A100, absent=(*OK, "ED203")),
    row(
        "pandas<2.2.2-numpy-bare",
        "pandas<2.2.2\nnumpy",
        HOST_A100,
        absent=("ED203:error",),
    ),
    row(
        "tf<2.16-numpy-bare",
        "tensorflow<2.16\nnumpy",
        HOST_A100,
        absent=("ED203:error",),
    ),
    row("tf-2.14.0-numpy-bare", "tensorflow==2.14.0\nnumpy", HOST_A100, ("ED203:error",)),
    row("tf-2.16.1-numpy>=2", "tensorflow==2.16.1\nnumpy>=2", HOST_A100_PY312, ("ED203|ED204",)),
    row("tf>=2.18-numpy-bare", "tensorflow>=2.18\nnumpy", HOST_A100, absent=(*OK, "ED203")),
    row("tf-2.16.1-numpy<2-py312", "tensorflow==2.16.1\nnumpy<2", HOST_A100_PY312, absent=(*OK, "ED203")),
    row(
        "opencv<4.10-numpy-bare", "opencv-python<4.10\nnumpy", HOST_A100, ("ED203:error",), fix={"ED203": ("numpy<2",)}
    ),
    row("opencv-numpy-bare", "opencv-python\nnumpy", HOST_A100, absent=(*OK, "ED203")),
    row("matplotlib-3.7.1-numpy-bare", "matplotlib==3.7.1\nnumpy", HOST_A100, ("ED203:error",)),
    row("h5py<3.11-numpy-bare", "h5py<3.11\nnumpy", HOST_A100, ("ED203:error",)),
    row("h5py-numpy-bare", "h5py\nnumpy", HOST_A100, absent=(*OK, "ED203")),
    row(
        "statsmodels-0.14.1-numpy-bare",
        "statsmodels==0.14.1\nnumpy",
        HOST_A100,
        absent=("ED203:error",),
    ),
    row(
        "tensorboard-2.5-numpy-1.24",
        "tensorboard==2.5.0\nnumpy==1.24.0",
        HOST_A100,
        ("ED203:error",),
        fix={"ED203": ("numpy<1.24",)},
    ),
    row("shap-0.41-numpy>=1.24", "shap==0.41.0\nnumpy>=1.24", HOST_A100, ("ED203:error",)),
    row(
        "onnx-1.11-protobuf-bare", "onnx==1.11.0\nprotobuf", HOST_A100, ("ED203:error",), fix={"ED203": ("protobuf<4",)}
    ),
    row("onnx-1.11-protobuf<4", "onnx==1.11.0\nprotobuf<4", HOST_A100, absent=("ED203",)),
    row("onnx>=1.14-protobuf-bare", "onnx>=1.14\nprotobuf", HOST_A100, absent=(*OK, "ED203")),
    row(
        "st-2.2.2-hub-bare",
        "sentence-transformers==2.2.2\nhuggingface-hub",
        HOST_A100,
        ("ED203:error",),
    ),
    row(
        "st-2.2.2-hub<0.26",
        "sentence-transformers==2.2.2\nhuggingface-hub<0.26",
        HOST_A100,
        ("ED101",),
        ("ED203",),
        words={"ED101": ("sentence-transformers",)},
    ),
    row(
        "diffusers-0.27-hub-0.26",
        "diffusers==0.27.2\nhuggingface-hub==0.26.0",
        HOST_A100,
        ("ED203:error",),
        fix={"ED203": ("huggingface-hub<0.26",)},
    ),
    row(
        "cudnn-clash-2.4-tf-2.15",
        "torch==2.4.1\ntensorflow[and-cuda]==2.15.1",
        HOST_A100,
        ("ED203:error",),
        words={"ED203": ("cudnn",)},
    ),
    row("cudnn-clash-2.2-tf-2.19", "torch==2.2.0\ntensorflow[and-cuda]==2.19.0", HOST_A100, ("ED203:error",)),
    row("cudnn-ok-2.8-tf-2.20", "torch==2.8.0\ntensorflow[and-cuda]==2.20.0", HOST_A100, absent=(*OK, "ED203")),
    row("cudnn-ok-2.7.1-tf-bare", "torch==2.7.1\ntensorflow[and-cuda]", HOST_A100, absent=(*OK, "ED203")),
    # torch 2.1-2.3 pin an nvidia-cudnn-cu12 that no tensorflow[and-cuda] >= 2.16 accepts, but torch
    # 2.0.x and 1.13.x pin nvidia-cudnn-cu11, another package: a resolver backtracks to one of them.
    row("cudnn-clash-torch<2.4-tf>=2.16", "torch<2.4\ntensorflow[and-cuda]>=2.16", HOST_A100, absent=("ED203:error",)),
    row(
        "cudnn-clash-torch-2.1-2.3-tf>=2.16",
        "torch>=2.1,<2.4\ntensorflow[and-cuda]>=2.16",
        HOST_A100,
        ("ED203:error",),
        words={"ED203": ("cudnn",)},
    ),
    row("torch-beside-plain-tf", "torch==2.2.0\ntensorflow==2.16.1", HOST_A100, ("ED205:info",), OK),
    # ============================================================================================
    # cuda-mismatch: two CUDA majors in one process (cuda_claims of each package).
    row(
        "cupy11-beside-torch-cu121",
        "torch==2.4.1\ncupy-cuda11x",
        HOST_A100,
        ("ED201:error",),
        words={"ED201": ("CUDA 11",)},
    ),
    row(
        "torch-cu118-beside-cupy12",
        "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.4.1\ncupy-cuda12x",
        HOST_A100,
        ("ED201:error",),
    ),
    row("cudnn-cu11-beside-torch-cu121", "torch==2.4.1\nnvidia-cudnn-cu11==8.7.0.84", HOST_A100, ("ED201:error",)),
    row("cupy12-beside-torch-cu121", "torch==2.4.1\ncupy-cuda12x", HOST_A100, absent=(*OK, "ED201")),
    row(
        "torch-cu13-beside-tf-cu12",
        "torch\ntensorflow[and-cuda]",
        HOST_H100,
        ("ED201:error",),
        words={"ED201": ("CUDA 12",)},
    ),
    row("torch-2.10-beside-tf-cu12", "torch<2.11\ntensorflow[and-cuda]", HOST_A100, absent=(*OK, "ED201")),
    row("jax-plugin-beside-torch-cu121", "torch==2.4.1\njax-cuda12-plugin", HOST_A100, absent=(*OK, "ED201")),
    row("cupy13-beside-torch-cu121", "torch==2.4.1\ncupy-cuda13x", HOST_H100, ("ED201:error",)),
    # ============================================================================================
    # The other GPU packages (gpu_packages.toml builds; cuda.toml driver floors).
    # --- onnxruntime-gpu: CUDA 13 from 1.27, CUDA 12 for 1.19-1.26, CUDA 11.8 for 1.15-1.18.
    row(
        "a100-ort-bare",
        "onnxruntime-gpu",
        HOST_A100,
        ("ED101",),
        words={"ED101": ("onnxruntime-gpu",)},
    ),
    row(
        "a100-ort==1.27.0",
        "onnxruntime-gpu==1.27.0",
        HOST_A100,
        ("ED101",),
    ),
    row("a100-ort<1.27", "onnxruntime-gpu<1.27", HOST_A100, absent=(*OK, "ED101")),
    row("v100-ort==1.18.1", "onnxruntime-gpu==1.18.1", HOST_V100, absent=(*OK, "ED101")),
    row("v100-ort<1.19", "onnxruntime-gpu<1.19", HOST_V100, absent=(*OK, "ED101")),
    row(
        "v100-ort==1.20.1",
        "onnxruntime-gpu==1.20.1",
        HOST_V100,
        ("ED101",),
    ),
    row("h100-ort-bare", "onnxruntime-gpu", HOST_H100, absent=(*OK, "ED101")),
    # --- CuPy: one project per CUDA major.
    row("v100-cupy12", "cupy-cuda12x", HOST_V100, ("ED101:error",), words={"ED101": ("cupy-cuda12x", "525.60.13")}),
    row("v100-cupy11", "cupy-cuda11x", HOST_V100, absent=(*OK, "ED101")),
    row("a100-cupy12", "cupy-cuda12x", HOST_A100, absent=(*OK, "ED101")),
    row("a100-cupy13", "cupy-cuda13x", HOST_A100, ("ED101:error",), words={"ED101": ("580",)}),
    row("h100-cupy13", "cupy-cuda13x", HOST_H100, absent=(*OK, "ED101")),
    # --- JAX: jax.toml cuda_plugin (jax-cuda12-plugin / jax-cuda13-plugin) and requires_python
    # (0.11 on needs Python 3.12; a Python 3.10 host gets 0.6.2).
    row("v100-jax-cuda12-plugin", "jax-cuda12-plugin", HOST_V100, ("ED101:error",)),
    row("a100-jax-cuda12-plugin", "jax-cuda12-plugin", HOST_A100, absent=(*OK, "ED101")),
    row("a100-jax-cuda13-plugin", "jax-cuda13-plugin", HOST_A100, ("ED101:error",)),
    row("a100-jax[cuda12]", "jax[cuda12]", HOST_A100, absent=(*OK, "ED101")),
    row("h100-jax[cuda13]", "jax[cuda13]", HOST_H100, absent=(*OK, "ED101")),
    row(
        "v100-jax[cuda12]",
        "jax[cuda12]",
        HOST_V100,
        ("ED101",),
    ),
    row(
        "v100-jax[cuda12]==0.4.30",
        "jax[cuda12]==0.4.30",
        HOST_V100,
        ("ED101",),
    ),
    row(
        "a100-jax[cuda13]",
        "jax[cuda13]",
        HOST_A100,
        ("ED101",),
    ),
    # --- TensorFlow: tensorflow.toml wheel and_cuda pins (CUDA 11.8 wheels for 2.14, CUDA 12 from
    # 2.15) and tested rows (the system CUDA a plain tensorflow loads to use the GPU).
    row("v100-tf-and-cuda", "tensorflow[and-cuda]", HOST_V100, ("ED101:error",), words={"ED101": ("and-cuda",)}),
    row("v100-tf-and-cuda==2.14.1", "tensorflow[and-cuda]==2.14.1", HOST_V100, absent=(*OK, "ED101")),
    row("v100-tf-and-cuda<2.15", "tensorflow[and-cuda]<2.15", HOST_V100, absent=(*OK, "ED101")),
    row("v100-tf-and-cuda==2.16.1", "tensorflow[and-cuda]==2.16.1", HOST_V100, ("ED101:error",)),
    row("a100-tf-and-cuda", "tensorflow[and-cuda]", HOST_A100, absent=(*OK, "ED101")),
    row("v100-tf-plain", "tensorflow", HOST_V100, ("ED101:warning",), OK),
    row("a100-tf-plain", "tensorflow", HOST_A100, absent=(*OK, "ED101")),
    # --- TensorRT: cuda_major 13 from 10.13.2.6 (the tensorrt metapackage), tensorrt-cu12/-cu13.
    row("a100-tensorrt-bare", "tensorrt", HOST_A100, ("ED101",)),
    row("a100-tensorrt<10.13.2.6", "tensorrt<10.13.2.6", HOST_A100, absent=(*OK, "ED101")),
    row("a100-tensorrt-cu12", "tensorrt-cu12", HOST_A100, absent=(*OK, "ED101")),
    row(
        "a100-tensorrt-cu13",
        "tensorrt-cu13",
        HOST_A100,
        ("ED101:error",),
    ),
    row(
        "v100-tensorrt-cu12",
        "tensorrt-cu12",
        HOST_V100,
        ("ED101:error",),
    ),
    row("h100-tensorrt-bare", "tensorrt", HOST_H100, absent=(*OK, "ED101")),
    # --- flash-attn, bitsandbytes, triton, deepspeed, paddlepaddle-gpu
    row("a100-flash-attn-torch", "flash-attn\ntorch==2.4.1", HOST_A100, absent=OK),
    row(
        "v100-flash-attn",
        "flash-attn==2.7.4\ntorch==2.4.1",
        HOST_V100,
        # FlashAttention 2's wheels carry sm_80/sm_90 only (gpu_packages kernels); torch 2.4.1's
        # PyPI build is CUDA 12.1, which driver 470 does not run (its own ED101).
        ("ED102:error", "ED101:error"),
        words={"ED102": ("flash-attn 2.7.4", "8.0, 9.0"), "ED101": ("torch 2.4.1",)},
    ),
    row(
        "a100-bitsandbytes",
        "bitsandbytes",
        HOST_A100,
        ("ED101:error",),
        ("ED301",),
        words={"ED101": ("bitsandbytes", "2.15.0")},
    ),
    row("a100-triton", "triton", HOST_A100, absent=(*OK, "ED301")),
    row("a100-deepspeed-torch", "deepspeed\ntorch==2.4.1", HOST_A100, absent=OK),
    row("a100-paddlepaddle-gpu", "paddlepaddle-gpu==2.6.2", HOST_A100, absent=("ED301", "ED302")),
    # ============================================================================================
    # Transitive GPU packages (issue 12 part 5). gpu_packages built_against: vllm and xformers
    # wheels pin one torch (vllm 0.33.0: torch==2.14.0, a CUDA 13.0 build; vllm 0.5.4-0.6.3:
    # 2.4.0; xformers 0.0.28.post1: 2.4.1, CUDA 12.1). The dependencies topic (accelerate,
    # sentence-transformers, lightning, transformers[torch] -> torch) is still being filled.
    row(
        "a100-vllm==0.33.0",
        "vllm==0.33.0",
        HOST_A100,
        ("ED101",),
        words={"ED101": ("torch", "vllm")},
    ),
    row(
        "a100-vllm-bare",
        "vllm",
        HOST_A100,
        ("ED101",),
    ),
    row(
        "v100-vllm==0.6.3",
        "vllm==0.6.3",
        HOST_V100,
        ("ED101",),
    ),
    row(
        "v100-vllm==0.6.3-torch",
        "vllm==0.6.3",
        HOST_V100,
        ("ED101",),
        words={"ED101": ("torch==2.4.0", "vllm")},
    ),
    row("a100-vllm==0.6.3", "vllm==0.6.3", HOST_A100, absent=("ED101",)),
    row("h100-vllm-bare", "vllm", HOST_H100, absent=(*OK, "ED101")),
    row(
        "v100-xformers==0.0.28.post1",
        "xformers==0.0.28.post1",
        HOST_V100,
        ("ED101",),
    ),
    row(
        "v100-accelerate",
        "accelerate",
        HOST_V100,
        ("ED101",),
        words={"ED101": ("accelerate",)},
    ),
    row(
        "a100-accelerate",
        "accelerate",
        HOST_A100,
        ("ED101",),
        words={"ED101": ("accelerate",)},
    ),
    row("a100-accelerate-torch<2.11", "accelerate\ntorch<2.11", HOST_A100, absent=(*OK, "ED101")),
    row(
        "laptop-sentence-transformers",
        "sentence-transformers",
        HOST_LAPTOP,
        ("ED103",),
    ),
    row(
        "v100-transformers[torch]",
        "transformers[torch]",
        HOST_V100,
        ("ED101",),
    ),
    row(
        "laptop-lightning",
        "lightning",
        HOST_LAPTOP,
        ("ED103",),
    ),
    row("mac-peft", "peft", HOST_MAC, absent=OK),
    row("a100-timm-torch-pinned", "timm\ntorch==2.4.1\ntorchvision==0.19.1", HOST_A100, absent=OK),
    # ============================================================================================
    # not-reproducible (issue 12 part 7): one "not pinned" and one "no hash" finding per file,
    # listing the names; none for an input meant to be locked.
    row(
        "unpinned-once",
        "torch\nnumpy\nscipy>=1.10",
        HOST_A100,
        ("ED401:warning",),
        words={"ED401": ("torch", "numpy", "scipy>=1.10")},
        once=("ED401",),
    ),
    row(
        "unhashed-once",
        "numpy==1.26.4\npandas==2.2.2",
        HOST_A100,
        ("ED402:warning",),
        ("ED401",),
        words={"ED402": ("2 of 2",)},
        once=("ED402",),
    ),
    row("hashed-pin", "numpy==1.26.4 --hash=sha256:" + "0" * 64, HOST_A100, absent=(*OK, "ED401", "ED402")),
    row(
        "vcs-branch",
        "git+https://github.com/huggingface/transformers@main#egg=transformers",
        HOST_A100,
        ("ED403:warning",),
    ),
    row(
        "vcs-commit",
        "git+https://github.com/huggingface/transformers@" + "0123456789abcdef" * 2 + "01234567#egg=transformers",
        HOST_A100,
        absent=("ED403",),
    ),
    # A path inside the project travels with its files (a uv workspace member, a Dockerfile's
    # `pip install .`); one outside it exists on one machine only.
    row("local-path-outside", "/home/me/wheels/pkg", HOST_A100, ("ED404:warning",)),
    row("local-path-parent", "../shared/pkg", HOST_A100, ("ED404:warning",)),
    row("local-path-in-project", "./local/pkg", HOST_A100, absent=("ED404",)),
    row("url-no-hash", "https://example.com/pkg-1.0.tar.gz", HOST_A100, ("ED404",)),
    row("requirements-in", "numpy\nscipy", HOST_A100, absent=("ED401",), name="requirements.in"),
    row(
        "pin-and-range-same-name",
        "numpy==1.26.4\nnumpy<2",
        HOST_A100,
        absent=("ED401",),
    ),
    row(
        "dockerfile-tag",
        "FROM python:3.11-slim\nRUN pip install --no-cache-dir numpy==1.26.4\n",
        HOST_A100,
        ("ED405",),
        name="Dockerfile",
    ),
    row(
        "dockerfile-no-cache-prefix",
        "FROM python:3.11-slim\nRUN pip install --no-cache numpy==1.26.4\n",
        HOST_A100,
        absent=("ED502",),
        name="Dockerfile",
    ),
    # ============================================================================================
    # Fixes re-judged against the rest of the set (issue 12 part 3). torch.toml release: 2.7.1 is
    # the newest release with a cu118 build (driver 470 runs CUDA 11.8, not 12); 2.0.1+cu118
    # carries sm_70. dependencies: xformers 0.0.33.post2 declares torch==2.9.0, 0.0.22 declares
    # torch==2.0.1 (gpu_packages: a CUDA 11 build); vllm 0.6.3 declares torch==2.4.0.
    row(
        "v100-torch-beside-xformers-pin",
        "torch\nxformers==0.0.33.post2",
        HOST_V100,
        ("ED101:error",),
        fix={"ED101": ("torch==2.7.1+cu118", "xformers==0.0.33.post2 does not go with it")},
    ),
    row(
        "v100-xformers-moves-torch",
        "torch\nxformers",
        HOST_V100,
        ("ED101:error", "ED102:error"),
        # xformers' fix moves torch to the release its wheel is compiled against: PyPI's build of it
        # (torch 2.0.1 from PyPI is a CUDA 11.7 build, which driver 470 runs), not an index's.
        fix={"ED101": ("xformers==0.0.22 (a CUDA 11 build), with torch==2.0.1",), "ED102": ("xformers==0.0.22",)},
    ),
    row(
        "v100-vllm-pulls-torch",
        "vllm==0.6.3",
        HOST_V100,
        ("ED101:error",),
        words={"ED101": ("required by vllm==0.6.3",)},
        # vllm 0.6.3's kernels are compiled against PyPI's torch 2.4.0 (CUDA 12.1): a cu118 torch
        # does not go with it, and the fix says so.
        fix={"ED101": ("torch==2.4.0+cu118", "torchvision==0.19.0+cu118", "vllm==0.6.3 does not go with it")},
    ),
    # dependencies: opencv-python 4.12.0.88 declares numpy>=2,<2.3 on Python >= 3.9, 4.11.0.86
    # numpy>=1.23.5 on 3.11; torch.toml numpy_build: torch 2.2 was built against NumPy 1.
    row(
        "numpy2-fix-moves-a-pin-that-asks-numpy2",
        "opencv-python==4.12.0.88\ntorch==2.2.2",
        linux("3.11"),
        ("ED203:error",),
        fix={"ED203": ("numpy<2, with opencv-python==4.11.0.86",)},
    ),
    # ============================================================================================
    # Kernels of GPU packages other than torch (issue 12 part 6): gpu_packages kernels rows.
    # flash-attn 2.x wheels carry sm_80/sm_90 (2.8: also 10.0, 12.0), 1.x sm_75/80/90; vllm 0.21
    # supports 7.5 and newer, 0.3.3-0.14 7.0 and newer; faiss-gpu-cu12 1.9.0.post1-1.14.1 carries
    # sm_70/sm_80 only, 1.8 also sm_90; xformers 0.0.33.post1-0.0.35: 7.5, 8.0, 9.0, PTX 8.0;
    # cupy-cuda12x 13.3: 5.0-9.0 with PTX 9.0.
    row(
        "v100-flash-attn-2",
        "flash-attn==2.6.3\ntorch==2.0.1",
        HOST_V100,
        ("ED102:error",),
        words={"ED102": ("flash-attn 2.6.3", "8.0, 9.0", "(7.0)")},
        fix={"ED102": ("leave it out",)},
    ),
    row(
        "t4-flash-attn-range-falls-back-to-1.x",
        "flash-attn>=1.0\ntorch==2.0.1",
        linux("3.10", "535.104.05", "7.5"),
        ("ED102:error",),
        fix={"ED102": ("flash-attn==1.0.9",)},
    ),
    row("a100-flash-attn", "flash-attn==2.6.3\ntorch==2.4.1", HOST_A100, absent=(*OK, "ED102")),
    row(
        "v100-vllm-0.21",
        "vllm==0.21.0",
        linux("3.12", "580.95.05", "7.0"),
        ("ED102:error",),
        words={"ED102": ("7.5 and newer",)},
        fix={"ED102": ("vllm==0.14.1",)},
    ),
    row(
        "h100-faiss-gpu-cu12-1.10",
        "faiss-gpu-cu12==1.10.0",
        HOST_H100,
        ("ED102:error",),
        words={"ED102": ("7.0, 8.0",)},
        fix={"ED102": ("faiss-gpu-cu12<1.9.0.post1,>=1.8.0.0",)},
    ),
    row("v100-xformers-0.0.35", "xformers==0.0.35\ntorch==2.10.0", HOST_V100, ("ED102:error",)),
    row("5090-cupy-ptx", "cupy-cuda12x==13.3.0", HOST_5090, absent=("ED102",)),
    # ============================================================================================
    # A reviewer's reading of the projects' findings (session 3): the defects it found, as rows.
    # torch.toml release 2.7.1: torchaudio 2.7.1, variants incl. cu118; releases: torchaudio 2.11.1
    # asks torch>=2.11; torchvision 0.17.0 and torchtext 0.16.2 pin torch 2.2.0 and have cp312 wheels.
    row(
        "v100-torch-range-with-bare-torchaudio-moves-it",
        "torch>=2.1\ntorchaudio",
        HOST_V100,
        ("ED101:error", "ED102:error"),
        fix={"ED102": ("torch==2.7.1+cu118 torchaudio==2.7.1+cu118",)},
    ),
    row(
        "py312-fix-moves-companions-the-least",
        "torch==2.1.0\ntorchvision==0.16.0\ntorchtext==0.16.0",
        linux("3.12", "570.86.16", A100),
        ("ED302:error",),
        fix={"ED302": ("torch>=2.2.0", "with torchvision==0.17.0 torchtext==0.16.2 (the nearest release")},
    ),
    # The same set on an RTX 5090: torch 2.2.0 has a cp312 wheel but no sm_120 kernels, so the Python
    # fix is the GPU fix (one answer on every line: torchvision and torchtext move with torch).
    row(
        "py312-fix-runs-on-the-gpu",
        "torch==2.1.0\ntorchvision==0.16.0\ntorchtext==0.16.0",
        HOST_5090,
        ("ED302:error", "ED102:error"),
        fix={"ED302": ("torch==2.11.0+cu128", "torchvision==0.26.0+cu128", "runs on its GPUs")},
    ),
    # generative-models' pt2.txt: the oldest torchvision with a cp312 wheel pins torch 2.2.0, and the
    # fix moves what pins the torch 2.0 family with it (torchdata 0.7.1 asks torch>=2; torch 2.2.0 pins triton 2.2.0).
    row(
        "py312-unsatisfiable-names-the-oldest-here",
        "torch>=2.0.1\ntorchvision>=0.15.2\ntorchdata==0.6.1\ntriton==2.0.0",
        linux("3.12", "570.86.16", A100),
        ("ED204:error",),
        words={"ED204": ("even 0.17.0, the oldest that installs on Linux x86_64, Python 3.12",)},
        fix={"ED204": ("torch==2.2.0", "torchdata==0.7.1", "triton==2.2.0")},
    ),
    # gpu_packages kernels: no flash-attn wheel carries 7.0 code; a newer driver cannot change that.
    row(
        "v100-flash-attn-no-driver-advice",
        "flash-attn>=2.0",
        HOST_V100,
        ("ED102:error",),
        ("ED101",),
        fix={"ED102": ("leave it out",)},
    ),
    # cu130 builds of torch carry no sm_70: the driver upgrade is not offered beside the cu118 build.
    row("v100-torch-bare-no-driver-upgrade", "torch", HOST_V100, ("ED101:error",), fix={"ED101": ("cu118",)}),
    row(
        "mac-and-cuda-marker-on-the-line",
        "tensorflow[and-cuda]\ntensorflow-text>=2.20.1,<2.21.0",
        HOST_MAC,
        ("ED301:error",),
        fix={"ED301": ("(tensorflow[and-cuda]; sys_platform != 'darwin')",)},
    ),
    # ============================================================================================
    # A Dockerfile's base image as a layer of the host (issue 13 part 3). Tags by their publishers'
    # schemes: pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime carries torch 2.5.1, a cu124 build
    # (cuda.toml: CUDA 12 needs driver >= 525.60.13). base_images: NGC TensorFlow 23.01 is CUDA
    # 12.0.1, "requires NVIDIA Driver release 525 or later", R470 >= 470.57 on data-center GPUs,
    # compute capability 6.0 and later.
    row(
        "v100-pytorch-image-torch",
        "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN pip install --no-cache-dir transformers==4.46.0\n",
        HOST_V100,
        ("ED101:error",),
        words={"ED101": ("torch 2.5.1", "from the base image pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime")},
        name="Dockerfile",
    ),
    row(
        "a100-pytorch-image-torch",
        "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN pip install --no-cache-dir transformers==4.46.0\n",
        HOST_A100,
        absent=(*OK, "ED101"),
        name="Dockerfile",
    ),
    row(
        "old-driver-ngc-image",
        "FROM nvcr.io/nvidia/tensorflow:23.01-tf2-py3\n",
        linux("3.10", "418.67", "8.0"),
        ("ED101:error",),
        words={"ED101": ("release 525 or later",)},
        name="Dockerfile",
    ),
    row(
        "r470-ngc-image-data-center",
        "FROM nvcr.io/nvidia/tensorflow:23.01-tf2-py3\n",
        HOST_V100,
        ("ED101:warning",),
        words={"ED101": ("data-center GPU", "470.57")},
        name="Dockerfile",
    ),
    row(
        "maxwell-ngc-image",
        "FROM nvcr.io/nvidia/tensorflow:23.01-tf2-py3\n",
        linux("3.10", "535.104.05", "5.2"),
        ("ED102:error",),
        name="Dockerfile",
    ),
    # An nvidia/cuda tag the base has no row for: its CUDA from the tag. Driver 470 is CUDA 11.4;
    # a CUDA 12 image runs on it only through forward compatibility (data-center GPUs).
    row(
        "v100-cuda12-image-unknown-tag",
        "FROM nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04\n",
        HOST_V100,
        ("ED101:warning",),
        words={"ED101": ("CUDA 12.2.2", "forward compatibility")},
        name="Dockerfile",
    ),
    row(
        "unknown-base-image-may-carry-torch",
        "FROM example/ml-base:th2.6.0-cu124\nRUN pip install --no-cache-dir deepspeed==0.18.4\n",
        HOST_A100,
        ("ED900",),
        ("ED101", "ED102"),
        words={"ED900": ("may already carry torch",)},
        name="Dockerfile",
    ),
    # torch.toml cuda_arch has no row for 2.7's cu128 build: not judged, said so, never a silent pass.
    row(
        "v100-torch-2.7.1-cu128-kernels-unknown",
        "torch==2.7.1+cu128",
        linux("3.11", "575.57.08", "Tesla V100-SXM2-32GB"),
        ("ED900",),
        ("ED102",),
        words={"ED900": ("2.7.1+cu128", "not recorded")},
    ),
    # A lock forked by Python version, on a host whose Python is unknown (a Dockerfile on an
    # unknown image): numpy is one of its pins, whichever fork applies, never a newer release.
    row(
        "forked-pins-unknown-python",
        'torch==2.2.2\nnumpy==1.26.4 ; python_version >= "3.9"\nnumpy==1.24.4 ; python_version < "3.9"',
        ["--os", "linux", "--arch", "x86_64"],
        absent=("ED203",),
    ),
    row(
        "v100-torch-torchvision-bare",
        "torch\ntorchvision",
        HOST_V100,
        ("ED101:error", "ED102:error"),
        fix={"ED102": ("torch==2.7.1+cu118", "torchvision==0.22.1+cu118")},
    ),
]


def _host_args(host: list[str] | dict[str, Any], tmp_path: Path) -> list[str]:
    if isinstance(host, list):
        return host
    profile = tmp_path / "host.json"
    profile.write_text(json.dumps(host))
    return ["--host", str(profile)]


def _matches(finding: dict[str, Any], spec: str) -> bool:
    code, _, severity = spec.partition(":")
    return finding["code"] in code.split("|") and (not severity or finding["severity"] == severity)


def _show(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {f['code']} {f['severity']}: {f['message']} | fix: {f.get('fix')}" for f in findings)


@pytest.mark.parametrize("case", ROWS)
def test_audit_table(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requirements, host, expect, absent, words, fix, once, name = case
    path = tmp_path / name
    path.write_text(requirements + "\n")
    main(["audit", str(path), *_host_args(host, tmp_path), "--format", "json", "-q"])
    findings: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    seen = _show(findings)
    for spec in expect:
        assert any(_matches(f, spec) for f in findings), f"expected {spec}, got:\n{seen}"
    for spec in absent:
        if spec == "error":
            assert not [f for f in findings if f["severity"] == "error"], f"expected no error, got:\n{seen}"
        else:
            assert not any(_matches(f, spec) for f in findings), f"expected no {spec}, got:\n{seen}"
    for field, wanted in (("message", words), ("fix", fix)):
        for code, keys in wanted.items():
            texts = [f.get(field) or "" for f in findings if _matches(f, code)]
            assert any(all(key in text for key in keys) for text in texts), f"{code} {field} lacks {keys}:\n{seen}"
    for code in once:
        assert len([f for f in findings if f["code"] == code]) == 1, f"{code} not reported once:\n{seen}"


def _row_values() -> list[Case]:
    return [param.values[0] for param in ROWS]


def test_table_covers_what_issue_12_asks() -> None:
    """The evidence of issue 12: >= 200 rows, half of them ranges or bare names, >= 30 working
    setups, every category among the rows that pass today."""
    values = _row_values()
    assert len(values) >= 200
    ranged = [v for v in values if any(_unpinned(line) for line in v.requirements.splitlines())]
    assert len(ranged) * 2 >= len(values)
    working = [v for v in values if "error" in v.absent]
    assert len(working) >= 30
    passing = [v for param, v in zip(ROWS, values, strict=True) if not param.marks]
    categories = {
        catalogue()[code].category for v in passing for spec in v.expect for code in spec.partition(":")[0].split("|")
    }
    wanted = {
        "driver-too-old",
        "gpu-arch-unsupported",
        "cuda-mismatch",
        "companion-mismatch",
        "known-incompatibility",
        "platform-unsupported",
        "python-unsupported",
        "gpu-unavailable",
        "not-reproducible",
        "not-judged",
    }
    assert wanted <= categories, wanted - categories


def _unpinned(line: str) -> bool:
    """A requirement line that is a range or a bare name (not ==, not an option, URL or path)."""
    line = line.split(";", maxsplit=1)[0].strip()
    if not line or line.startswith(("-", "#", ".", "/", "FROM", "RUN")) or "://" in line:
        return False
    return "==" not in line
