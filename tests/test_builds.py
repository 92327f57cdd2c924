"""The one build model (envdoctor/kb/builds.py), as tables: which build of a release is installed
where, which builds a release has, which of them runs on a driver and its GPUs, and what an
nvidia/cuda image carries. Expectations are read from the knowledge rows named above each table."""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.kb import builds, facts
from envdoctor.kb.builds import Where

LINUX = Where("linux", "x86_64")


# torch.toml release: 2.1.0 has cpu, cu118, cu121 builds; 2.7.1 cpu, cu118, cu126, cu128; cuda_arch:
# cu118 builds carry sm_70 through 2.7, cu128 builds of 2.7 carry sm_120; cuda.toml: driver 470 runs
# CUDA 11.x only, 535 runs 12.x by minor-version compatibility, 570 runs up to 12.8.
@pytest.mark.parametrize(
    ("name", "version", "driver", "capabilities", "variant"),
    [
        ("torch", "2.1.0", "470.82.01", ["7.0"], "cu118"),
        ("torch", "2.1.0", "535.104.05", ["8.0"], "cu121"),
        ("torch", "2.7.1", "570.86.16", ["12.0"], "cu128"),
        ("torch", "2.7.1", "470.82.01", ["7.0"], "cu118"),
        # 2.8.0 has no cu118 build: nothing a CUDA 11 driver runs.
        ("torch", "2.8.0", "470.82.01", ["7.0"], None),
        # cu126 of 2.6 has no Blackwell kernels and CUDA 12.6 cannot compile for 12.0: no build runs.
        ("torch", "2.6.0", "570.86.16", ["12.0"], None),
    ],
)
def test_best_build_is_the_newest_cuda_the_driver_runs_with_kernels_for_every_gpu(
    name: str, version: str, driver: str, capabilities: list[str], variant: str | None
) -> None:
    best = builds.best_build(name, Version(version), LINUX, driver, capabilities)
    assert (best.variant if best else None) == variant
    if best is not None:
        assert best.index_url == f"{facts.PYTORCH_INDEX}/{variant}"


def test_a_release_has_one_build_per_variant_index_and_a_package_without_variants_one() -> None:
    variants = {b.variant for b in builds.release_builds("torch", Version("2.1.0"), LINUX)}
    assert variants == {"cpu", "cu118", "cu121"}
    # gpu_packages build: onnxruntime-gpu 1.18 is PyPI's CUDA 11 build, the only one the base knows.
    (only,) = builds.release_builds("onnxruntime-gpu", Version("1.18.1"), LINUX)
    assert only.cuda == "11" and only.index_url is None and only.from_pypi


@pytest.mark.parametrize(
    ("kernels", "ptx", "minimum", "capability", "runs"),
    [
        (("7.0", "8.0"), (), None, "7.5", True),  # sm_70 code runs on 7.5 (same major, newer minor)
        (("8.0",), (), None, "7.0", False),
        (("8.0",), (), None, "9.0", False),  # another major, no PTX
        (("8.0",), ("8.0",), None, "9.0", True),  # PTX compiles forward
        (None, (), "8.0", "7.0", False),  # older than the oldest GPU it supports
        (None, (), "8.0", "9.0", None),  # newer: the base cannot tell
        (None, (), None, "9.0", None),
    ],
)
def test_runs_on(
    kernels: tuple[str, ...] | None, ptx: tuple[str, ...], minimum: str | None, capability: str, runs: bool | None
) -> None:
    build = builds.Build(
        canonicalize_name("pkg"), Version("1.0"), "test", cuda="12", kernels=kernels, ptx=ptx,
        min_capability=minimum,
    )  # fmt: skip
    assert builds.runs_on(build, capability) is runs


def test_an_unrecorded_arch_list_rules_a_build_out_only_where_the_toolkit_says_so() -> None:
    # gpu_architectures: CUDA 12.0 cannot target compute capability 12.0, 12.8 can; a cu12 wheel is
    # either. Only a PyTorch variant build (no PTX, torch.toml) is ruled out by its toolkit alone:
    # another package's build may carry PTX the driver compiles for the newer GPU.
    major_only = builds.Build(canonicalize_name("nvidia-cublas-cu12"), Version("12.8.4.1"), "name", cuda="12")
    assert builds.lacks_kernels(major_only, "12.0") is False
    assert builds.lacks_kernels(major_only._replace(cuda="12.0"), "12.0") is False
    torch = builds.Build(canonicalize_name("torch"), Version("2.99.0+cu120"), "label", variant="cu120", cuda="12.0")
    assert builds.lacks_kernels(torch, "12.0") is True
    assert builds.lacks_kernels(torch._replace(cuda="12.8", variant="cu128"), "12.0") is False


def test_cpu_builds_have_an_index_only_where_the_base_knows_one() -> None:
    assert builds.cpu_index("torch") == f"{facts.PYTORCH_INDEX}/cpu"
    assert builds.cpu_index("torchvision") == f"{facts.PYTORCH_INDEX}/cpu"
    assert builds.cpu_index("onnxruntime-gpu") is None


# base_images: 12.4.1-cudnn-runtime-ubuntu22.04 is a known row; other tags are read by NVIDIA's scheme.
@pytest.mark.parametrize(
    ("repository", "tag", "cuda", "flavor", "known"),
    [
        ("nvidia/cuda", "12.4.1-cudnn-runtime-ubuntu22.04", "12.4.1", "cudnn-runtime", True),
        ("nvcr.io/nvidia/cuda", "11.8.0-base-ubuntu22.04", "11.8.0", "base", True),
        ("nvidia/cuda", "12.3.2-cudnn9-devel-ubuntu22.04", "12.3.2", "cudnn-devel", False),
        ("nvidia/cuda", "12.2.0-runtime-rockylinux8", "12.2.0", "runtime", False),
        ("nvidia/cuda", "latest", None, None, False),
    ],
)
def test_cuda_image(repository: str, tag: str, cuda: str | None, flavor: str | None, known: bool) -> None:
    image = facts.cuda_image(repository, tag)
    assert image is not None
    assert (image.cuda, image.flavor, image.source is not None) == (cuda, flavor, known)
    assert facts.cuda_image("python", "3.11-slim") is None


def _every_package_the_base_names() -> list[str]:
    """Each package any knowledge row names, and names the base knows nothing of."""
    from envdoctor.kb import load_topic
    from envdoctor.kb.schema import TOPICS

    named = set()
    for topic in TOPICS:
        for table in topic.tables:
            for row in load_topic(topic.name, table.name):
                for field in ("package", "name", "against"):
                    value = row.get(field)
                    if isinstance(value, str) and value and " " not in value:
                        named.add(canonicalize_name(value.split("[")[0].split("=")[0].split("<")[0].split(">")[0]))
    return sorted(named | {"requests", "numpy", "package-3-14", "cupy-cuda12x", "nvidia-cudnn-cu12", "torch-scatter"})


def test_has_builds_is_false_only_where_build_of_knows_no_release() -> None:
    # has_builds lets a rule skip a package before any version work: it must never hide a build.
    versions = [Version(v) for v in ("0.1", "1.0", "2.1.0", "2.1.0+cu121", "2.0.1+pt21cu118", "12.1.105", "99.0")]
    places = [LINUX, Where("macos", "arm64"), Where("windows", "x86_64")]
    for name in _every_package_the_base_names():
        if builds.has_builds(name):
            continue
        assert builds.build_of(name, None, LINUX) is None, name
        for version in versions:
            for where in places:
                assert builds.build_of(name, version, where) is None, (name, version, where)
    assert builds.has_builds("torch") and builds.has_builds("flash-attn") and not builds.has_builds("requests")
