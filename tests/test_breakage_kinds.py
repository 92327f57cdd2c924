"""The 25 common kinds of ML environment breakage of issue 14, each with cases from public reports.

Each case is a requirements text as a user wrote it (the comment above it names the public report
of that breakage), a host given as the flags a user types, and the finding the audit must give. The
expectation is the TRUTH, read from the packages' own METADATA and files on the index, their release
notes and the report's thread (the comment says which); where envdoctor does not find it today the
case is marked ``xfail(strict=True)`` with what is missing in one line. Every kind also has a case
where the audit must stay quiet (the set that works).

The rows run through the real entry point exactly as tests/test_audit_table.py's do (same ``row()``,
same expectation syntax, same check), so a case here reads like a row there.

The issue's table lists 24 rows while its text counts 25 kinds: its protobuf row names two different
breakages (protobuf 4's "Descriptors cannot be created directly", and protobuf 5/6 generated code
against an older runtime), which are two kinds here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import test_audit_table as table
from tests.test_audit_table import A100, OK, Case, linux, row

# --- Hosts, as flags (a profile where the flags cannot say it: libc, LD_LIBRARY_PATH, nvcc).
HOST_A100 = linux("3.11", "535.104.05", A100)  # driver R535 = CUDA 12.2
HOST_A100_PY310 = linux("3.10", "535.104.05", A100)
HOST_A100_PY39 = linux("3.9", "535.104.05", A100)
HOST_H100 = linux("3.12", "580.95.05", "NVIDIA H100 80GB HBM3")  # CUDA 13 driver
HOST_5090 = linux("3.12", "570.86.16", "NVIDIA GeForce RTX 5090")  # compute capability 12.0
HOST_1080TI = linux("3.11", "575.57.08", "NVIDIA GeForce GTX 1080 Ti")  # Pascal 6.1
HOST_V100 = linux("3.11", "580.95.05", "Tesla V100-SXM2-32GB")  # Volta 7.0, CUDA 13 driver
HOST_CPU_PY311 = linux("3.11")
HOST_CPU_PY312 = linux("3.12")
WINDOWS_RTX = ["--os", "windows", "--arch", "x86_64", "--driver", "551.78", "--gpu", "NVIDIA GeForce RTX 3090"]
HOST_WINDOWS = [*WINDOWS_RTX, "--python", "3.11"]
HOST_WINDOWS_4090 = ["--os", "windows", "--arch", "x86_64", "--python", "3.12", "--driver", "581.57"]
HOST_WINDOWS_4090 += ["--gpu", "NVIDIA GeForce RTX 4090"]
HOST_MAC_INTEL = ["--os", "macos", "--arch", "x86_64", "--python", "3.11"]
HOST_MAC_ARM = ["--os", "macos", "--arch", "arm64", "--python", "3.11"]
_A100_GPU = {"name": A100, "compute_capability": "8.0"}
HOST_GLIBC217: dict[str, Any] = {
    "schema": "envdoctor.host/1",
    "os": "linux",
    "arch": "x86_64",
    "libc": {"name": "glibc", "version": "2.17"},
    "python": "3.11",
    "nvidia": {"driver": "535.104.05", "gpus": [_A100_GPU]},
}


def _system_cuda(python: str, nvcc: str, *libraries: tuple[str, str]) -> dict[str, Any]:
    """A Linux A100 host (driver R550) with a system CUDA toolkit at /usr/local/cuda-<nvcc> on LD_LIBRARY_PATH."""
    folder = f"/usr/local/cuda-{nvcc}/lib64"
    return {
        "schema": "envdoctor.host/1",
        "os": "linux",
        "arch": "x86_64",
        "python": python,
        "nvidia": {"driver": "550.54.15", "gpus": [_A100_GPU]},
        "env": {"LD_LIBRARY_PATH": folder},
        "cuda_toolkit": {
            "nvcc": nvcc,
            "libraries": [
                {"name": name, "version": version, "path": f"{folder}/{name}.so.{version}"}
                for name, version in libraries
            ],
        },
    }


CASES = [
    # ============================================================================================
    # driver-too-old. torch 2.11's PyPI wheel is a CUDA 13.0 build (torch.toml pypi_build), which
    # needs an R580 driver: "The NVIDIA driver on your system is too old (found version 12080)"
    # (https://github.com/pytorch/pytorch/pull/162531, PyTorch's own CI on a CUDA 12.8 driver).
    row(
        "driver/torch-2.11-on-r535",
        "torch==2.11.0",
        HOST_A100,
        ("ED101:error",),
        words={"ED101": ("2.11.0", "580", "535.104.05")},
        fix={"ED101": ("cu128",)},
    ),
    row("driver/torch-2.10-on-r535", "torch==2.10.0", HOST_A100, absent=(*OK, "ED101")),
    # ============================================================================================
    # gpu-too-new. "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the
    # current PyTorch installation" (https://github.com/pytorch/pytorch/issues/150733): sm_120 needs a
    # CUDA >= 12.8 build; torch 2.6.0's PyPI wheel is cu124 (RELEASE.md; torch.toml cuda_arch).
    row(
        "gpu-new/5090-torch-2.6.0",
        "torch==2.6.0",
        HOST_5090,
        ("ED102:error",),
        words={"ED102": ("12.0",)},
        fix={"ED102": ("cu128",)},
    ),
    row(
        "gpu-new/5090-windows-cu126",
        "--extra-index-url https://download.pytorch.org/whl/cu126\ntorch==2.6.0",
        [
            "--os",
            "windows",
            "--arch",
            "x86_64",
            "--python",
            "3.12",
            "--driver",
            "572.16",
            "--gpu",
            "NVIDIA GeForce RTX 5090",
        ],
        ("ED102:error",),
    ),
    row("gpu-new/5090-torch-2.8.0", "torch==2.8.0", HOST_5090, absent=(*OK, "ED102")),
    # ============================================================================================
    # numpy2-abi. pandas built against NumPy 1: "numpy.dtype size changed" (numpy/numpy#26710), 2.2.2
    # the first release for NumPy 2 (incompatibilities.toml). onnxruntime: "A module that was compiled
    # using NumPy 1.x cannot be run in NumPy 2.0.0" with 1.18.0
    # (https://github.com/microsoft/onnxruntime/issues/21063); 1.17.3's METADATA asks only
    # numpy>=1.21.6 (read 2026-12-02), and 1.19.0 is the first release built for NumPy 2
    # (https://github.com/microsoft/onnxruntime/releases/tag/v1.19.0; chroma-core/chroma#2359).
    row(
        "numpy2/pandas-2.0.3",
        "pandas==2.0.3\nnumpy",
        HOST_CPU_PY311,
        ("ED203:error",),
        fix={"ED203": ("numpy<2",)},
    ),
    row(
        "numpy2/onnxruntime-1.17.3",
        "onnxruntime==1.17.3\nnumpy",
        HOST_CPU_PY311,
        ("ED203:error",),
        words={"ED203": ("onnxruntime",)},
        fix={"ED203": ("numpy<2",)},
    ),
    row("numpy2/pandas-2.2.2", "pandas==2.2.2\nnumpy", HOST_CPU_PY311, absent=(*OK, "ED203")),
    # ============================================================================================
    # cpu-only-torch. "pip install torch is a GPU build on Linux but a CPU build on Windows" (a
    # comment there, translated, https://github.com/THU-MIG/yolov10/issues/218); torch.toml pypi_platform.
    row(
        "cpu-torch/windows-torch-2.15.0",
        "torch==2.15.0",
        HOST_WINDOWS_4090,
        ("ED103:warning",),
        words={"ED103": ("cpu build",)},
        fix={"ED103": ("download.pytorch.org/whl/cu",)},
    ),
    row(
        "cpu-torch/windows-cu124-index",
        "--extra-index-url https://download.pytorch.org/whl/cu124\ntorch==2.4.1",
        HOST_WINDOWS,
        absent=(*OK, "ED103"),
    ),
    # ============================================================================================
    # torch-skew. torchvision 0.17.0 pins torch==2.2.0 and torchaudio 2.11.1 asks torch>=2.11
    # (their METADATA, read 2026-12-02; torch.toml release rows).
    row(
        "skew/torchvision-0.17-torch-2.1",
        "torch==2.1.0\ntorchvision==0.17.0",
        HOST_A100,
        ("ED202:error",),
        fix={"ED202": ("torchvision==0.16.0",)},
    ),
    row(
        "skew/torchaudio-2.11.1-torch-2.10",
        "torch==2.10.0\ntorchaudio==2.11.1",
        HOST_H100,
        ("ED202:error",),
        ("ED204",),  # one finding for one clash: the companion's, with its fix
        once=("ED202",),
        fix={"ED202": ("torchaudio==2.10.0",)},
    ),
    # torch.toml stable_abi: torchaudio >= 2.11 is built against torch's stable ABI, so 2.11.1 serves torch 2.15.
    row("skew/torchaudio-2.11.1-torch-2.15", "torch==2.15.0\ntorchaudio==2.11.1", HOST_H100, absent=(*OK, "ED202")),
    row("skew/trio-2.4.1", "torch==2.4.1\ntorchvision==0.19.1\ntorchaudio==2.4.1", HOST_A100, absent=(*OK, "ED202")),
    # ============================================================================================
    # protobuf4-descriptors. "TypeError: Descriptors cannot be created directly" with protobuf 4.21
    # (https://github.com/tensorflow/tensorflow/issues/56266); tensorflow 2.8.0 asks protobuf>=3.9.2,
    # uncapped, while 2.6.5 caps protobuf<3.20 (METADATA, incompatibilities.toml).
    row(
        "protobuf4/tensorflow-2.8.0",
        "tensorflow==2.8.0\nprotobuf==4.21.1",
        linux("3.9", "535.104.05", A100),
        ("ED203:error",),
        words={"ED203": ("Descriptors cannot be created directly",)},
        fix={"ED203": ("protobuf<4",)},
    ),
    row("protobuf4/tensorflow-2.6.5-capped", "tensorflow==2.6.5\nprotobuf", linux("3.9"), absent=("ED203",)),
    # ============================================================================================
    # protobuf-gencode. "VersionError: Detected mismatched Protobuf Gencode/Runtime major versions
    # when loading a2a.proto: gencode 6.31.1 runtime 5.29.5"
    # (https://github.com/a2aproject/a2a-python/issues/185): a2a-sdk 0.2.7's a2a/grpc/a2a_pb2.py calls
    # ValidateProtobufRuntimeVersion(PUBLIC, 6, 31, 1) while its METADATA asks no protobuf at all;
    # 0.2.8 pins protobuf==6.31.1 (wheels read 2026-12-02).
    row(
        "protobuf-gencode/a2a-sdk-0.2.7-protobuf-5",
        "a2a-sdk==0.2.7\nprotobuf==5.29.5",
        HOST_CPU_PY311,
        ("ED203:error",),
        words={"ED203": ("a2a-sdk", "6.31.1")},
    ),
    row("protobuf-gencode/a2a-sdk-0.2.7-protobuf-6", "a2a-sdk==0.2.7\nprotobuf==6.31.1", HOST_CPU_PY311, absent=OK),
    # ============================================================================================
    # xformers. "xFormers was built for: PyTorch 2.3.0+cu121 ... (you have 2.1.0+cu121)"
    # (https://github.com/yangjianxin1/Firefly/issues/258); 0.0.28.post1 pins torch==2.4.1 (METADATA).
    row(
        "xformers/0.0.28.post1-torch-2.5.1",
        "xformers==0.0.28.post1\ntorch==2.5.1",
        HOST_A100,
        ("ED202:error",),
        fix={"ED202": ("torch==2.4.1",)},
    ),
    row("xformers/0.0.28.post1-torch-2.4.1", "xformers==0.0.28.post1\ntorch==2.4.1", HOST_A100, absent=(*OK, "ED202")),
    # ============================================================================================
    # flash-attn. "RuntimeError: FlashAttention only supports Ampere GPUs or newer" on a V100
    # (https://github.com/microsoft/MInference/issues/51). A release older than the torch beside it
    # has no prebuilt wheel for it: "Guessing wheel URL: .../flash_attn-2.5.6+cu122torch2.7cxx11abiTRUE
    # ... Precompiled wheel not found. Building from source..."
    # (https://github.com/Tanveer81/ReVisionLLM/issues/4); flash-attn 2.5.6 was uploaded 2024-03-02,
    # torch 2.7.0 on 2025-04-23, and PyPI has flash-attn only as an sdist.
    row(
        "flash-attn/v100-2.6.3",
        "flash-attn==2.6.3\ntorch==2.0.1",
        linux("3.10", "535.104.05", "Tesla V100-SXM2-32GB"),
        ("ED102:error",),
        words={"ED102": ("flash-attn 2.6.3", "8.0")},
    ),
    row(
        "flash-attn/2.5.6-torch-2.7-source-build",
        "flash-attn==2.5.6\ntorch==2.7.1",
        HOST_A100,
        ("ED301|ED302",),
        words={"ED301|ED302": ("flash-attn", "source")},
    ),
    row("flash-attn/a100-2.6.3-torch-2.4.1", "flash-attn==2.6.3\ntorch==2.4.1", HOST_A100, absent=OK),
    # ============================================================================================
    # bitsandbytes. Windows: "[WinError 193] ... libbitsandbytes_cpu.so" and "CUDA Setup failed"
    # (https://github.com/bitsandbytes-foundation/bitsandbytes/issues/1568, issue #651): before 0.43.0
    # the only wheel is py3-none-any carrying Linux .so files only (0.41.1's wheel listing, read
    # 2026-12-02); 0.43.0 is the first with a win_amd64 wheel, 0.49.0 the first with a macOS arm64
    # one (file lists). 0.46.0 asks torch>=2.2,<3 (METADATA).
    row(
        "bnb/windows-0.41.1",
        "bitsandbytes==0.41.1",
        HOST_WINDOWS,
        ("ED301:error",),
        words={"ED301": ("bitsandbytes",)},
        fix={"ED301": ("0.43",)},
    ),
    row("bnb/torch-floor-0.46.0", "bitsandbytes==0.46.0\ntorch==2.1.0", HOST_A100, ("ED204:error",)),
    row("bnb/mac-arm-0.44.1", "bitsandbytes==0.44.1", HOST_MAC_ARM, ("ED301:error",), fix={"ED301": ("0.49.0",)}),
    row("bnb/windows-0.43.1", "bitsandbytes==0.43.1", HOST_WINDOWS, absent=("ED301",)),
    # ============================================================================================
    # tf-no-gpu. TensorFlow 2.10 was the last release with GPU support on native Windows (TensorFlow's
    # install page; tensorflow.toml platform rows; https://github.com/tensorflow/tensorflow/issues/60241).
    row(
        "tf-no-gpu/windows-2.15.1",
        "tensorflow==2.15.1",
        HOST_WINDOWS,
        ("ED103:warning",),
        words={"ED103": ("2.10",)},
        fix={"ED103": ("WSL 2",)},
    ),
    row("tf-no-gpu/windows-and-cuda", "tensorflow[and-cuda]", HOST_WINDOWS, ("ED103",)),
    row("tf-no-gpu/linux-and-cuda", "tensorflow[and-cuda]", HOST_A100, absent=(*OK, "ED103")),
    # ============================================================================================
    # cudnn-clash. torch and tensorflow[and-cuda] pin different nvidia-cudnn-cu12 / nvidia-nccl-cu12
    # (incompatibilities.toml, from both wheels' METADATA); onnxruntime-gpu 1.18.1 on PyPI is a CUDA
    # 11.8 / cuDNN 8 build, and 1.19.2 the one for CUDA 12.x / cuDNN 9.x beside torch 2.4.1
    # (https://github.com/microsoft/onnxruntime/issues/21684, the maintainer's table).
    row(
        "cudnn/torch-2.4.1-tf-2.15.1",
        "torch==2.4.1\ntensorflow[and-cuda]==2.15.1",
        HOST_A100,
        ("ED203:error",),
        words={"ED203": ("cudnn",)},
    ),
    row(
        "cudnn/nccl-torch-2.8-tf-2.21",
        "torch==2.8.0\ntensorflow[and-cuda]==2.21.0",
        HOST_H100,
        ("ED203:error",),
        words={"ED203": ("nvidia-nccl-cu12",)},
        fix={"ED203": ("tensorflow[and-cuda]>=2.20,<2.21",)},
    ),
    row(
        "cudnn/onnxruntime-gpu-1.18.1-torch-2.4.1", "onnxruntime-gpu==1.18.1\ntorch==2.4.1", HOST_A100, ("ED201:error",)
    ),
    row("cudnn/torch-2.8-tf-2.20", "torch==2.8.0\ntensorflow[and-cuda]==2.20.0", HOST_A100, absent=(*OK, "ED203")),
    # ============================================================================================
    # old-gpu. "Removed support for Maxwell, Pascal, and Volta architectures with CUDA 12.8 and 12.9
    # builds" (torch 2.8.0 release notes, quoted in https://github.com/easydiffusion/torchruntime/issues/22);
    # CUDA 13 builds start at Turing 7.5 (https://github.com/pytorch/pytorch/issues/172352).
    row(
        "old-gpu/1080ti-torch-2.8.0",
        "torch==2.8.0",
        HOST_1080TI,
        ("ED102:error",),
        words={"ED102": ("6.1",)},
        fix={"ED102": ("cu126",)},
    ),
    row("old-gpu/v100-torch-2.11.0", "torch==2.11.0", HOST_V100, ("ED102:error",), words={"ED102": ("7.0",)}),
    row("old-gpu/1080ti-torch-2.7.1", "torch==2.7.1", HOST_1080TI, absent=(*OK, "ED102")),
    # ============================================================================================
    # no-wheel. numpy 1.24.4 has no cp312 wheel and its sdist asks setuptools==59.2.0, which needs the
    # distutils Python 3.12 removed: "Failed to fetch wheel: numpy==1.24.4 ... No module named
    # 'distutils'" (https://github.com/mit-ll/MaDDG/issues/1). numba 0.57.1 has no cp312 wheel and its
    # sdist's setup.py refuses: max_python_version = "3.12" (exclusive). scikit-image 0.20.0 has no
    # cp312 wheel; 0.22.0 is the first with one (file lists read 2026-12-02). torch stops at 2.2.2 on
    # macOS x86_64; torch 2.7 wheels are manylinux_2_28 (releases.toml).
    row(
        "no-wheel/numpy-1.24.4-py312",
        "numpy==1.24.4",
        HOST_CPU_PY312,
        ("ED302:error",),
        fix={"ED302": ("1.26.0",)},
    ),
    row(
        "no-wheel/numba-0.57.1-py312",
        "numba==0.57.1",
        HOST_CPU_PY312,
        ("ED302:error",),
        fix={"ED302": ("0.59.0",)},
    ),
    row(
        "no-wheel/scikit-image-0.20.0-py312",
        "scikit-image==0.20.0\nnumpy<2",
        HOST_CPU_PY312,
        ("ED302",),
        fix={"ED302": ("0.22.0",)},
    ),
    row("no-wheel/macintel-torch>=2.3", "torch>=2.3", HOST_MAC_INTEL, ("ED301:error",), fix={"ED301": ("2.2",)}),
    row("no-wheel/glibc217-torch-2.7.1", "torch==2.7.1", HOST_GLIBC217, ("ED301:error",)),
    row("no-wheel/numpy-1.26.4-py312", "numpy==1.26.4", HOST_CPU_PY312, absent=(*OK, "ED302")),
    # ============================================================================================
    # keras3. "ValueError: Your currently installed version of Keras is Keras 3, but this is not yet
    # supported in Transformers. Please install the backwards-compatible tf-keras package"
    # (https://github.com/huggingface/transformers/issues/36410; transformers 4.40.2's
    # activations_tf.py raises it); Keras 3 "is becoming the default Keras in TF 2.16"
    # (https://github.com/huggingface/transformers/pull/28588); tf-keras 2.16.0 asks
    # tensorflow>=2.16,<2.17 (METADATA).
    row(
        "keras3/tf-2.16-transformers",
        "tensorflow==2.16.1\ntransformers==4.40.2",
        HOST_CPU_PY311,
        ("ED203",),
        words={"ED203": ("Keras 3",)},
        fix={"ED203": ("tf-keras",)},
    ),
    row(
        "keras3/tf-2.16-tf-keras-transformers",
        "tensorflow==2.16.1\ntf-keras==2.16.0\ntransformers==4.40.2",
        HOST_CPU_PY311,
        absent=(*OK, "ED203"),
    ),
    row("keras3/tf-2.15-transformers", "tensorflow==2.15.1\ntransformers==4.40.2", HOST_CPU_PY311, absent=OK),
    # ============================================================================================
    # hf-hub. "ImportError: cannot import name 'cached_download' from 'huggingface_hub'"
    # (https://github.com/newgenai79/newgenai/issues/5; incompatibilities.toml removed-api rows).
    # "ImportError: cannot import name 'HfFolder' from 'huggingface_hub'" from gradio/oauth.py
    # (https://github.com/oobabooga/textgen/issues/7284): gradio 4.44.1's oauth.py line 13 imports
    # HfFolder, its METADATA asks huggingface-hub>=0.19.3 only, and huggingface_hub 1.0.0 no longer
    # exports it (https://github.com/huggingface/huggingface_hub/releases/tag/v1.0.0).
    row(
        "hf-hub/diffusers-0.27-hub-0.26",
        "diffusers==0.27.2\nhuggingface-hub==0.26.0",
        HOST_CPU_PY311,
        ("ED203:error",),
        fix={"ED203": ("huggingface-hub<0.26",)},
    ),
    row(
        "hf-hub/gradio-4.44.1-hub-1.0",
        "gradio==4.44.1\nhuggingface-hub>=1.0",
        HOST_CPU_PY311,
        ("ED203:error",),
        words={"ED203": ("HfFolder",)},
        fix={"ED203": ("huggingface-hub<1",)},
    ),
    row("hf-hub/gradio-4.44.1-hub<1", "gradio==4.44.1\nhuggingface-hub<1.0", HOST_CPU_PY311, absent=("ED203",)),
    # ============================================================================================
    # numpy-api. np.float/np.int removed in 1.24 (incompatibilities.toml numpy124-aliases: tensorboard
    # < 2.6). "AttributeError: `np.float_` was removed in the NumPy 2.0 release"
    # (https://github.com/chroma-core/chroma/issues/2418): chromadb 0.4.24's chromadb/api/types.py
    # line 102 uses np.float_ at import, its METADATA asks numpy>=1.22.5 uncapped, and 0.5.3 caps
    # numpy<2.0.0 (wheels read 2026-12-02).
    row(
        "numpy-api/tensorboard-2.5-numpy-1.24",
        "tensorboard==2.5.0\nnumpy==1.24.0",
        HOST_CPU_PY311,
        ("ED203:error",),
        fix={"ED203": ("numpy<1.24",)},
    ),
    row(
        "numpy-api/chromadb-0.4.24-numpy-2",
        "chromadb==0.4.24\nnumpy>=2",
        HOST_CPU_PY311,
        ("ED203:error",),
        words={"ED203": ("np.float_",)},
        fix={"ED203": ("numpy<2",)},
    ),
    row("numpy-api/chromadb-0.5.3-numpy", "chromadb==0.5.3\nnumpy", HOST_CPU_PY311, absent=("ED203",)),
    # ============================================================================================
    # deepspeed. "DeepSpeed Op Builder: Installed CUDA version 12.1 does not match the version torch was
    # compiled with 11.8, unable to compile cuda/cpp extensions"
    # (https://github.com/deepspeedai/DeepSpeed/issues/3223): op_builder/builder.py of deepspeed 0.14.4
    # raises CUDAMismatchException unless both versions are in the same major's list (sdist read
    # 2026-12-02).
    row(
        "deepspeed/nvcc-12.1-torch-cu118",
        "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.1.0+cu118\ndeepspeed==0.14.4\nnumpy<2",
        _system_cuda("3.10", "12.1"),
        ("ED201:error",),
        words={"ED201": ("deepspeed", "12.1", "11.8")},
    ),
    row(
        "deepspeed/nvcc-11.8-torch-cu118",
        "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.1.0+cu118\ndeepspeed==0.14.4\nnumpy<2",
        _system_cuda("3.10", "11.8"),
        absent=(*OK, "ED201"),
    ),
    # ============================================================================================
    # pyg. "torch_scatter/_version_cuda.so: undefined symbol" when the wheel was built for another torch
    # (https://github.com/rusty1s/pytorch_scatter/issues/476): PyG's wheels are per torch minor x CUDA
    # (+pt23cu121 = torch 2.3, CUDA 12.1) on data.pyg.org; PyPI has torch-scatter 2.1.2 as an sdist
    # only (file list read 2026-12-02), which needs torch at build time.
    row(
        "pyg/pt23-wheel-torch-2.4.1",
        "--find-links https://data.pyg.org/whl/torch-2.3.0+cu121.html\ntorch==2.4.1\ntorch-scatter==2.1.2+pt23cu121",
        HOST_A100,
        ("ED202:error",),
        words={"ED202": ("torch-scatter", "2.4.1")},
    ),
    row(
        "pyg/sdist-only-on-pypi",
        "torch==2.4.1\ntorch-scatter==2.1.2",
        HOST_A100,
        ("ED301|ED302",),
        fix={"ED301|ED302": ("data.pyg.org",)},
    ),
    row(
        "pyg/pt23-wheel-torch-2.3.0",
        "--find-links https://data.pyg.org/whl/torch-2.3.0+cu121.html\ntorch==2.3.0\ntorch-scatter==2.1.2+pt23cu121",
        HOST_A100,
        absent=OK,
    ),
    # ============================================================================================
    # ld-path. "libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12"
    # with LD_LIBRARY_PATH=/usr/local/cuda-12.1/lib64 (https://github.com/infiniflow/ragflow/issues/4466,
    # https://github.com/pytorch/pytorch/issues/134929); torch 2.5.1 pins nvidia-nvjitlink-cu12==12.4.127
    # and nvidia-cusparse-cu12==12.3.1.170 (METADATA), so a system libnvJitLink older than 12.4 found
    # first lacks the symbols its cuSPARSE needs. A system cuDNN 8 there shadows torch's cuDNN 9 wheel.
    row(
        "ld-path/nvjitlink-12.1-torch-2.5.1",
        "torch==2.5.1",
        _system_cuda("3.12", "12.1", ("libnvJitLink", "12.1.105")),
        ("ED201",),
        words={"ED201": ("libnvJitLink", "LD_LIBRARY_PATH")},
        fix={"ED201": ("LD_LIBRARY_PATH",)},
    ),
    row(
        "ld-path/cudnn-8-torch-2.4.1",
        "torch==2.4.1",
        _system_cuda("3.11", "12.1", ("libcudnn", "8.9.2")),
        ("ED201:warning",),
        words={"ED201": ("cuDNN 8.9.2", "LD_LIBRARY_PATH")},
        fix={"ED201": ("LD_LIBRARY_PATH",)},
    ),
    row(
        "ld-path/nvjitlink-12.6-torch-2.5.1",
        "torch==2.5.1",
        _system_cuda("3.12", "12.6", ("libnvJitLink", "12.6.77")),
        absent=(*OK, "ED201"),
    ),
    # ============================================================================================
    # jax. jax pins its jaxlib and plugin versions, and the CUDA 13 plugin needs an R580 driver
    # (jax.toml, from the wheels' METADATA; cuda.toml).
    row(
        "jax/plugin-0.4.31-jax-0.4.30",
        "jax==0.4.30\njax-cuda12-plugin==0.4.31",
        HOST_A100,
        ("ED202:error",),
        words={"ED202": ("0.4.31",)},
    ),
    row("jax/cuda13-on-r535", "jax[cuda13]", linux("3.12", "535.104.05", A100), ("ED101:error",)),
    row("jax/cuda12-on-r535", "jax[cuda12]", HOST_A100, absent=(*OK, "ED101")),
    # ============================================================================================
    # vllm. vllm 0.6.3 pins torch==2.4.0 (METADATA, read 2026-12-02; gpu_packages built_against).
    row(
        "vllm/0.6.3-torch-2.5.1",
        "vllm==0.6.3\ntorch==2.5.1",
        HOST_A100,
        ("ED202:error",),
        fix={"ED202": ("torch==2.4.0",)},
    ),
    # The pair vllm pins installs (no ED202); but its uncapped transformers>=4.45.0 takes 5.24 today,
    # which disables PyTorch below 2.6 at import (see torch-floor): capped, it works.
    row(
        "vllm/0.6.3-torch-2.4.0",
        "vllm==0.6.3\ntorch==2.4.0",
        HOST_A100,
        ("ED203:error",),
        ("ED202",),
        fix={"ED203": ("transformers<5.15.0",)},
    ),
    row("vllm/0.6.3-torch-2.4.0-capped", "vllm==0.6.3\ntorch==2.4.0\ntransformers<5.15", HOST_A100, absent=OK),
    # ============================================================================================
    # torch-floor. "Disabling PyTorch because PyTorch >= 2.1 is required but found 2.0.1"
    # (https://github.com/jingyaogong/minimind/issues/588): transformers 4.56.0's utils/import_utils.py
    # line 252 requires torch >= 2.1.0 while its METADATA asks torch only in extras (wheel read
    # 2026-12-02). accelerate 1.10.0's METADATA asks torch>=2.0.0.
    row(
        "torch-floor/transformers-4.56-torch-2.0.1",
        "transformers==4.56.0\ntorch==2.0.1\nnumpy<2",
        HOST_A100,
        ("ED203:error",),
        words={"ED203": ("transformers", "2.1")},
    ),
    row(
        "torch-floor/accelerate-1.10-torch-1.13.1",
        "accelerate==1.10.0\ntorch==1.13.1",
        HOST_A100_PY310,
        ("ED204:error",),
    ),
    row("torch-floor/transformers-4.56-torch-2.4.1", "transformers==4.56.0\ntorch==2.4.1", HOST_A100, absent=OK),
    # ============================================================================================
    # triton. "ERROR: No matching distribution found for triton" on Windows
    # (https://github.com/Kwai-Kolors/Kolors/issues/132): triton publishes Linux wheels only; torch
    # 2.4.1 pins triton==3.0.0 on Linux x86_64, Python < 3.13 (METADATA, read 2026-12-02).
    row("triton/windows", "triton==3.1.0", HOST_WINDOWS, ("ED301:error",), fix={"ED301": ("sys_platform != 'win32'",)}),
    row("triton/torch-2.4.1-triton-3.1.0", "torch==2.4.1\ntriton==3.1.0", HOST_A100, ("ED204:error",)),
    row("triton/torch-2.4.1-triton-3.0.0", "torch==2.4.1\ntriton==3.0.0", HOST_A100, absent=(*OK, "ED204")),
    # ============================================================================================
    # unpinned. What `torch>=2.0` resolves to per host (releases.toml: 2.15.0 needs Python >= 3.11, so
    # 3.10 gets 2.14.1, a CUDA 13.0 build; 3.9 gets 2.8.0, a cu128 build; Intel Macs 2.2.2; Windows the
    # CPU build) — "torch>=2.0 requires CUDA>=11.8" asked of a CUDA 11.7 driver
    # (https://github.com/farewellthree/PPLLaVA/issues/1).
    row(
        "unpinned/torch>=2.0-py310-r535",
        "torch>=2.0",
        HOST_A100_PY310,
        ("ED101:error",),
        words={"ED101": ("2.14.1",)},
        fix={"ED101": ("cu126",)},
    ),
    row("unpinned/torch>=2.0-py39-r535", "torch>=2.0", HOST_A100_PY39, absent=(*OK, "ED101")),
    row("unpinned/torch>=2.0-macintel", "torch>=2.0\nnumpy<2", HOST_MAC_INTEL, absent=(*OK, "ED301")),
    row("unpinned/torch-windows", "torch", HOST_WINDOWS_4090, ("ED103:warning",), words={"ED103": ("2.15.0",)}),
]

# The 25 kinds (short ids) and the cases of each; test_every_kind_has_cases keeps this in step with CASES.
KINDS: dict[str, tuple[str, ...]] = {
    "driver-too-old": ("driver/torch-2.11-on-r535", "driver/torch-2.10-on-r535"),
    "gpu-too-new": ("gpu-new/5090-torch-2.6.0", "gpu-new/5090-windows-cu126", "gpu-new/5090-torch-2.8.0"),
    "numpy2-abi": ("numpy2/pandas-2.0.3", "numpy2/onnxruntime-1.17.3", "numpy2/pandas-2.2.2"),
    "cpu-only-torch": ("cpu-torch/windows-torch-2.15.0", "cpu-torch/windows-cu124-index"),
    "torch-companion-skew": (
        "skew/torchvision-0.17-torch-2.1",
        "skew/torchaudio-2.11.1-torch-2.10",
        "skew/torchaudio-2.11.1-torch-2.15",
        "skew/trio-2.4.1",
    ),
    "protobuf4-descriptors": ("protobuf4/tensorflow-2.8.0", "protobuf4/tensorflow-2.6.5-capped"),
    "protobuf-gencode-runtime": (
        "protobuf-gencode/a2a-sdk-0.2.7-protobuf-5",
        "protobuf-gencode/a2a-sdk-0.2.7-protobuf-6",
    ),
    "xformers-torch": ("xformers/0.0.28.post1-torch-2.5.1", "xformers/0.0.28.post1-torch-2.4.1"),
    "flash-attn": (
        "flash-attn/v100-2.6.3",
        "flash-attn/2.5.6-torch-2.7-source-build",
        "flash-attn/a100-2.6.3-torch-2.4.1",
    ),
    "bitsandbytes": ("bnb/windows-0.41.1", "bnb/torch-floor-0.46.0", "bnb/mac-arm-0.44.1", "bnb/windows-0.43.1"),
    "tf-no-gpu": ("tf-no-gpu/windows-2.15.1", "tf-no-gpu/windows-and-cuda", "tf-no-gpu/linux-and-cuda"),
    "cudnn-nccl-clash": (
        "cudnn/torch-2.4.1-tf-2.15.1",
        "cudnn/nccl-torch-2.8-tf-2.21",
        "cudnn/onnxruntime-gpu-1.18.1-torch-2.4.1",
        "cudnn/torch-2.8-tf-2.20",
    ),
    "old-gpu-dropped": ("old-gpu/1080ti-torch-2.8.0", "old-gpu/v100-torch-2.11.0", "old-gpu/1080ti-torch-2.7.1"),
    "no-wheel": (
        "no-wheel/numpy-1.24.4-py312",
        "no-wheel/numba-0.57.1-py312",
        "no-wheel/scikit-image-0.20.0-py312",
        "no-wheel/macintel-torch>=2.3",
        "no-wheel/glibc217-torch-2.7.1",
        "no-wheel/numpy-1.26.4-py312",
    ),
    "keras3": ("keras3/tf-2.16-transformers", "keras3/tf-2.16-tf-keras-transformers", "keras3/tf-2.15-transformers"),
    "hf-hub-removals": ("hf-hub/diffusers-0.27-hub-0.26", "hf-hub/gradio-4.44.1-hub-1.0", "hf-hub/gradio-4.44.1-hub<1"),
    "numpy-api-removals": (
        "numpy-api/tensorboard-2.5-numpy-1.24",
        "numpy-api/chromadb-0.4.24-numpy-2",
        "numpy-api/chromadb-0.5.3-numpy",
    ),
    "deepspeed-apex-cuda": ("deepspeed/nvcc-12.1-torch-cu118", "deepspeed/nvcc-11.8-torch-cu118"),
    "pyg-extensions": ("pyg/pt23-wheel-torch-2.4.1", "pyg/sdist-only-on-pypi", "pyg/pt23-wheel-torch-2.3.0"),
    "ld-library-path-shadow": (
        "ld-path/nvjitlink-12.1-torch-2.5.1",
        "ld-path/cudnn-8-torch-2.4.1",
        "ld-path/nvjitlink-12.6-torch-2.5.1",
    ),
    "jax-versions": ("jax/plugin-0.4.31-jax-0.4.30", "jax/cuda13-on-r535", "jax/cuda12-on-r535"),
    "vllm-torch": ("vllm/0.6.3-torch-2.5.1", "vllm/0.6.3-torch-2.4.0", "vllm/0.6.3-torch-2.4.0-capped"),
    "torch-floor": (
        "torch-floor/transformers-4.56-torch-2.0.1",
        "torch-floor/accelerate-1.10-torch-1.13.1",
        "torch-floor/transformers-4.56-torch-2.4.1",
    ),
    "triton": ("triton/windows", "triton/torch-2.4.1-triton-3.1.0", "triton/torch-2.4.1-triton-3.0.0"),
    "unpinned-resolution": (
        "unpinned/torch>=2.0-py310-r535",
        "unpinned/torch>=2.0-py39-r535",
        "unpinned/torch>=2.0-macintel",
        "unpinned/torch-windows",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_breakage_kind(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table.test_audit_table(case, tmp_path, capsys)


def test_every_kind_has_cases() -> None:
    """25 kinds, each with a case that must find the breakage and one where the audit stays quiet."""
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(KINDS) == 25
    listed = [case_id for cases in KINDS.values() for case_id in cases]
    assert sorted(listed) == sorted(ids), set(listed) ^ set(ids)
    by_id = {param.id: param.values[0] for param in CASES}
    for kind, cases in KINDS.items():
        assert any(by_id[c].expect for c in cases), f"{kind}: no case that finds the breakage"
        assert any(not by_id[c].expect for c in cases), f"{kind}: no case where the audit stays quiet"
