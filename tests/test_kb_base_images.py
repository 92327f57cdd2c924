"""base_images: the NGC framework containers and every row's glibc, as their sources print them.

Spot checks name the page each value was read from (read 2026-12-02); the consistency checks tie
the rows to the CUDA and torch topics, so that a mistyped value fails here and not in an audit.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor import kb
from envdoctor.cli import main
from envdoctor.kb.check import cuda_of_variant
from envdoctor.kb.schema import TOPIC_BY_NAME, RowError

NGC = ("nvcr.io/nvidia/pytorch", "nvcr.io/nvidia/tensorflow")
TABLE = TOPIC_BY_NAME["base_images"].tables[0]


def rows() -> tuple[dict[str, Any], ...]:
    return kb.load_topic("base_images", "image")


def image(repository: str, tag: str) -> dict[str, Any]:
    found = [row for row in rows() if row["repository"] == repository and row["tag"] == tag]
    assert len(found) == 1, f"{repository}:{tag}"
    return found[0]


def shown(capsys: pytest.CaptureFixture[str], key: str) -> list[dict[str, Any]]:
    """The rows ``envdoctor kb show base_images KEY --format json`` prints."""
    assert main(["kb", "show", "base_images", key, "--format", "json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return list(document["rows"])


def test_the_ngc_rows_load() -> None:
    tags = {(row["repository"], row["tag"]) for row in rows() if row["repository"] in NGC}
    assert tags == {
        ("nvcr.io/nvidia/pytorch", "25.12-py3"),
        ("nvcr.io/nvidia/tensorflow", "23.01-tf2-py3"),
        ("nvcr.io/nvidia/tensorflow", "22.10-tf2-py3"),
        ("nvcr.io/nvidia/tensorflow", "22.06-tf2-py3"),
        ("nvcr.io/nvidia/tensorflow", "21.10-tf2-py3"),
        ("nvcr.io/nvidia/tensorflow", "21.06-tf2-py3"),
        ("nvcr.io/nvidia/tensorflow", "21.05-tf2-py3"),
        ("nvcr.io/nvidia/tensorflow", "21.04-tf2-py3"),
    }
    for row in rows():
        if row["repository"] in NGC:
            assert row["flavor"] == "ngc"
            assert row["source"].startswith("https://docs.nvidia.com/deeplearning/"), row["tag"]


def test_pytorch_25_12_as_its_release_notes_print_it(capsys: pytest.CaptureFixture[str]) -> None:
    # pytorch-release-notes/rel-25-12.html: "based on CUDA 13.1.0", "installed in the default
    # Python environment (/usr/local/lib/python3.12/dist-packages/torch)", "based on 2.10.0a0+b4e4ee81d3".
    (row,) = shown(capsys, "25.12-py3")
    assert (row["repository"], row["cuda"], row["python"]) == ("nvcr.io/nvidia/pytorch", "13.1.0", "3.12")
    assert row["preinstalled"] == ["torch==2.10.0a0+b4e4ee81d3"]
    assert "min_driver" not in row  # the notes refer to NVIDIA's compatibility pages instead
    assert row["source"].endswith("/pytorch-release-notes/rel-25-12.html")


def test_tensorflow_23_01_driver_paragraph() -> None:
    # tensorflow-release-notes/rel-23-01.html: "based on CUDA 12.0.1, which requires NVIDIA Driver
    # release 525 or later ... 450.51 (or later R450), 470.57 ..., 510.47 ..., 515.65 ..., or 525.85".
    row = image("nvcr.io/nvidia/tensorflow", "23.01-tf2-py3")
    assert (row["cuda"], row["min_driver"], row["min_capability"]) == ("12.0.1", "525", "6.0")
    assert row["compat_drivers"] == ["450.51", "470.57", "510.47", "515.65", "525.85"]


def test_tensorflow_22_10_and_22_06_driver_paragraphs() -> None:
    # rel-22-10.html: "based on CUDA 11.8.0, which requires NVIDIA Driver release 520 or later".
    row = image("nvcr.io/nvidia/tensorflow", "22.10-tf2-py3")
    assert (row["cuda"], row["min_driver"]) == ("11.8.0", "520")
    assert row["compat_drivers"][-1] == "515.65"
    # rel_22-06.html: "based on CUDA 11.7 Update 1 Preview, which requires ... 515 or later": a
    # preview is no toolkit release, so the row names no CUDA and says why.
    row = image("nvcr.io/nvidia/tensorflow", "22.06-tf2-py3")
    assert "cuda" not in row and row["min_driver"] == "515"
    assert "11.7 Update 1 Preview" in row["note"]


def test_tensorflow_21_10_contents_list() -> None:
    # rel_21-10.html: Ubuntu 20.04, Python 3.8, CUDA 11.4.2 with cuBLAS 11.6.5.2, cuDNN 8.2.4.15,
    # NCCL 2.11.4, TensorRT 8.0.3.4 (x64), TensorBoard 2.6.0, Horovod 0.22.0; driver 470 or later.
    row = image("nvcr.io/nvidia/tensorflow", "21.10-tf2-py3")
    assert (row["os"], row["python"], row["cuda"], row["cudnn"]) == ("ubuntu20.04", "3.8", "11.4.2", "8.2.4.15")
    assert row["min_driver"] == "470"
    assert row["libraries"] == {
        "cublas": "11.6.5.2",
        "nccl": "2.11.4",
        "tensorrt": "8.0.3.4",
        "horovod": "0.22.0",
        "jupyterlab": "2.3.1",
        "tensorboard": "2.6.0",
    }


def test_tensorflow_21_04_and_21_05_differ_where_their_notes_do() -> None:
    # rel_21-04.html: cuDNN 8.2.0.41, NCCL 2.9.6; rel_21-05.html: cuDNN 8.2.0.51, NCCL 2.9.8;
    # both CUDA 11.3.0, requiring driver 465.19.01 or later.
    april = image("nvcr.io/nvidia/tensorflow", "21.04-tf2-py3")
    may = image("nvcr.io/nvidia/tensorflow", "21.05-tf2-py3")
    assert (april["cudnn"], april["libraries"]["nccl"]) == ("8.2.0.41", "2.9.6")
    assert (may["cudnn"], may["libraries"]["nccl"]) == ("8.2.0.51", "2.9.8")
    assert april["cuda"] == may["cuda"] == "11.3.0"
    assert april["min_driver"] == may["min_driver"] == "465.19.01"


@pytest.mark.parametrize(
    ("repository", "tag", "glibc", "page"),
    [
        # packages.ubuntu.com jammy libc6 2.35-0ubuntu3.14; noble libc6 2.39-0ubuntu8.8.
        ("nvidia/cuda", "12.4.1-cudnn-runtime-ubuntu22.04", "2.35", "https://packages.ubuntu.com/jammy/libc6"),
        ("nvidia/cuda", "12.8.1-runtime-ubuntu24.04", "2.39", "https://packages.ubuntu.com/noble/libc6"),
        # packages.debian.org bookworm libc6 2.36-9+deb12u13; trixie libc6 2.41-12+deb13u4.
        ("python", "3.12-slim-bookworm", "2.36", "https://packages.debian.org/en/bookworm/libc6"),
        ("python", "3.13-slim-trixie", "2.41", "https://packages.debian.org/en/trixie/libc6"),
        # packages.ubuntu.com focal-updates libc6 2.31-0ubuntu9.17.
        (
            "nvcr.io/nvidia/tensorflow",
            "21.06-tf2-py3",
            "2.31",
            "https://packages.ubuntu.com/en/focal-updates/armhf/libc6",
        ),
    ],
)
def test_glibc_of_the_image_os(repository: str, tag: str, glibc: str, page: str) -> None:
    row = image(repository, tag)
    assert (row["glibc"], row["glibc_source"]) == (glibc, page)


def test_one_glibc_per_os_and_every_named_os_has_one() -> None:
    by_os: dict[str, set[str]] = {}
    for row in rows():
        if "os" in row:
            assert "glibc" in row and "glibc_source" in row, row["tag"]
            by_os.setdefault(row["os"], set()).add(row["glibc"])
    assert by_os == {
        "ubuntu20.04": {"2.31"},
        "ubuntu22.04": {"2.35"},
        "ubuntu24.04": {"2.39"},
        "debian12": {"2.36"},
        "debian13": {"2.41"},
    }


def test_the_images_the_generator_picks_still_name_their_os() -> None:
    # os became optional for NGC rows; the Dockerfile generator sorts nvidia/cuda rows by it.
    for row in rows():
        if row["repository"] in ("nvidia/cuda", "python"):
            assert "os" in row, row["tag"]


def test_min_driver_is_the_branch_cuda_toml_gives_for_that_cuda() -> None:
    # NVIDIA's notes and NVIDIA's CUDA driver table must agree: 11.8.0 -> 520.61.05 (R520), etc.
    drivers = {row["cuda"]: row["linux_driver"] for row in kb.load_topic("cuda", "release")}
    checked = 0
    for row in rows():
        if "min_driver" in row and "cuda" in row:
            toolkit = Version(drivers[row["cuda"]])
            minimum = Version(row["min_driver"])
            assert minimum.major == toolkit.major and minimum <= toolkit, row["tag"]
            checked += 1
    assert checked == 6


def test_compat_drivers_are_older_branches_in_order() -> None:
    for row in rows():
        if "compat_drivers" not in row:
            continue
        floors = [Version(item) for item in row["compat_drivers"]]
        assert floors == sorted(floors), row["tag"]
        assert len({floor.major for floor in floors}) == len(floors), row["tag"]
        # Each floor is an older branch than the one required, or that branch's own data-center floor.
        minimum = Version(row["min_driver"])
        assert all(floor < minimum or floor.major == minimum.major for floor in floors), row["tag"]


def test_preinstalled_torch_fits_the_image() -> None:
    """An image's torch: a release torch.toml knows (an NGC alpha build counts as the release it
    leads to), for the image's Python, with a build for the image's CUDA major."""
    releases = {row["torch"]: row for row in kb.load_topic("torch", "release")}
    checked = 0
    for row in rows():
        for pin in row.get("preinstalled", []):
            requirement = Requirement(pin)
            if requirement.name != "torch":
                continue
            (specifier,) = requirement.specifier
            public = Version(specifier.version)
            release = releases[public.base_version]
            assert SpecifierSet(release["python"]).contains(row["python"]), row["tag"]
            majors = {cuda.split(".")[0] for cuda in map(cuda_of_variant, release["variants"]) if cuda}
            assert str(Version(row["cuda"]).major) in majors, row["tag"]
            label = public.local or ""
            if label.startswith("cu"):  # a PyTorch-index build says its CUDA itself
                assert cuda_of_variant(label.split(".")[0]) == ".".join(row["cuda"].split(".")[:2])
            checked += 1
    assert checked >= 1


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("preinstalled", ["torch>=2.1"], "is not a pin like torch==2.1.0"),
        ("preinstalled", ["Torch==2.1.0"], "canonical form, torch"),
        ("preinstalled", ["torch[opt]==2.1.0"], "is not a pin"),
        ("preinstalled", "torch==2.1.0", "expected a list of name==version pins"),
        ("preinstalled", ["torch==two"], "is not a pin"),
        ("compat_drivers", "470.57", "expected a list of versions"),
        ("compat_drivers", ["R470"], "'R470' is not a PEP 440 version"),
        ("min_driver", "r520", "is not a PEP 440 version"),
        ("min_capability", "sm_60", "is not a compute capability"),
    ],
)
def test_the_new_fields_refuse_malformed_values(field: str, value: object, problem: str) -> None:
    row = {"repository": "r", "tag": "t", "flavor": "ngc", "source": "https://x.org", "checked": "2026-12-02"}
    with pytest.raises(RowError, match=re.escape(problem)):
        TABLE.check({**row, field: value})


def test_an_ngc_alpha_build_is_a_valid_pin() -> None:
    row = {"repository": "r", "tag": "t", "flavor": "ngc", "source": "https://x.org", "checked": "2026-12-02"}
    TABLE.check({**row, "preinstalled": ["torch==2.2.0a0+81ea7a4", "transformer-engine==1.2.0"]})


# nvidia/cuda after 13.0.0, each read at the upstream commit that added it (gitlab
# nvidia/container-images/cuda, through the fork abyss-solutions/nvidia_container_images):
# doc/supported-tags.md for the tags, the base Dockerfile's NVIDIA_REQUIRE_CUDA, NV_CUDNN_VERSION.
CUDA_13_COMMITS = {
    "13.0.1": "d431a81b4e0dc7d43f2a66880edd16424550ca31",
    "13.0.2": "af2c41e0a03f9839d0d447d27e7dcdd61de9699a",
    "13.1.0": "e3c1b680f08e358d51d190aaa156bba111e32509",
}


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("13.0.1-base-ubuntu22.04", ("13.0.1", None, "ubuntu22.04", "2.35", "cuda>=13.0 ")),
        ("13.0.1-cudnn-runtime-ubuntu24.04", ("13.0.1", "9.13.0.50", "ubuntu24.04", "2.39", "cuda>=13.0 ")),
        ("13.0.2-cudnn-devel-ubuntu22.04", ("13.0.2", "9.14.0.64", "ubuntu22.04", "2.35", "cuda>=13.0 ")),
        ("13.0.2-runtime-ubuntu24.04", ("13.0.2", None, "ubuntu24.04", "2.39", "cuda>=13.0 ")),
        ("13.1.0-devel-ubuntu24.04", ("13.1.0", None, "ubuntu24.04", "2.39", "cuda>=13.1 ")),
        ("13.1.0-runtime-ubuntu22.04", ("13.1.0", None, "ubuntu22.04", "2.35", "cuda>=13.1 ")),
    ],
)
def test_cuda_13_updates_as_their_dockerfiles_say(
    capsys: pytest.CaptureFixture[str], tag: str, expected: tuple[str, str | None, str, str, str]
) -> None:
    cuda, cudnn, os, glibc, requires = expected
    (row,) = shown(capsys, tag)
    assert row["repository"] == "nvidia/cuda"
    assert (row["cuda"], row.get("cudnn"), row["os"], row["glibc"]) == (cuda, cudnn, os, glibc)
    assert row["require_cuda"].startswith(requires)
    assert f"/-/blob/{CUDA_13_COMMITS[cuda]}/dist/{cuda}/" in row["source"]


def test_cuda_13_update_rows_cover_every_listed_ubuntu_tag() -> None:
    # Five images per Ubuntu release for 13.0.1 and 13.0.2; 13.1.0 lists no cudnn-* tag for Ubuntu.
    tags = {row["tag"] for row in rows() if row["repository"] == "nvidia/cuda" and row["cuda"] in CUDA_13_COMMITS}
    assert len(tags) == 5 * 2 + 5 * 2 + 3 * 2
    assert not {t for t in tags if t.startswith("13.1.0-cudnn")}


def test_cuda_13_1_requires_the_r580_branch_and_drops_r565() -> None:
    # dist/13.1.0/ubuntu2404/base/Dockerfile: branches 535, 550, 570, 575, 580; 13.0.x: 535 ... 575 with 565.
    newer = image("nvidia/cuda", "13.1.0-base-ubuntu24.04")["require_cuda"]
    older = image("nvidia/cuda", "13.0.2-base-ubuntu24.04")["require_cuda"]
    assert "driver>=580,driver<581" in newer and "driver>=565" not in newer
    assert "driver>=565,driver<566" in older and "driver>=580" not in older


def _audit(tmp_path: Any, capsys: pytest.CaptureFixture[str], dockerfile: str, *host: str) -> tuple[int, str]:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile, encoding="utf-8")
    code = main(["audit", "-q", "--os", "linux", "--arch", "x86_64", *host, str(path)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("tag", "refused"),
    [
        # 13.0.2's NVIDIA_REQUIRE_CUDA still lists the R565 branch, 13.1.0's no longer does, so the
        # container runtime starts the first on driver 565.57.01 (CUDA 12.6) and refuses the second.
        ("13.0.2-runtime-ubuntu24.04", False),
        ("13.1.0-runtime-ubuntu24.04", True),
    ],
)
def test_a_cuda_13_update_image_on_an_r565_driver(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], tag: str, refused: bool
) -> None:
    code, out = _audit(tmp_path, capsys, f"FROM nvidia/cuda:{tag}\n", "--driver", "565.57.01", "--gpu", "9.0")
    said = f"Dockerfile:1: error ED101 (driver-too-old): the base image nvidia/cuda:{tag} requires cuda>="
    assert (said in out, code) == (refused, 1 if refused else 0)
    if refused:
        assert "/-/blob/e3c1b680f08e358d51d190aaa156bba111e32509/dist/13.1.0/ubuntu2404/runtime/Dockerfile" in out


@pytest.mark.parametrize(
    ("install", "expected"),
    [
        # torchvision 0.20.1 declares torch==2.5.1; the image carries the NGC build 2.10.0a0+b4e4ee81d3.
        (
            "torchvision==0.20.1",
            "torchvision 0.20.1 requires torch==2.5.1, but the set asks torch==2.10.0a0+b4e4ee81d3",
        ),
        # torchvision 0.25.0 declares torch==2.10.0: the NGC alpha build is not that release either.
        (
            "torchvision==0.25.0",
            "torchvision 0.25.0 requires torch==2.10.0, but the set asks torch==2.10.0a0+b4e4ee81d3",
        ),
    ],
)
def test_a_companion_pinned_to_another_torch_than_the_ngc_image_carries(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], install: str, expected: str
) -> None:
    dockerfile = f"FROM nvcr.io/nvidia/pytorch:25.12-py3\nRUN pip install --no-cache-dir {install}\n"
    code, out = _audit(tmp_path, capsys, dockerfile, "--driver", "580.95.05", "--gpu", "9.0")
    assert code == 1
    assert f"Dockerfile:2: error ED204 (unsatisfiable): {expected}" in out


def test_a_package_that_asks_only_a_torch_floor_fits_the_ngc_build(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # accelerate 1.0.0 declares torch>=1.10.0; pip takes an installed pre-release as meeting it
    # (resolvelib factory: specifier.contains(installed_version, prereleases=True)).
    dockerfile = "FROM nvcr.io/nvidia/pytorch:25.12-py3\nRUN pip install --no-cache-dir accelerate==1.0.0\n"
    code, out = _audit(tmp_path, capsys, dockerfile, "--driver", "580.95.05", "--gpu", "9.0")
    assert "ED204" not in out
    assert code == 0


@pytest.mark.parametrize(
    ("line", "held"),
    [
        # pip keeps an installed release that meets the line (a pre-release too): the NGC build is
        # judged, and only the image's own CUDA 13 against driver 535 is said.
        ('"torch>=2.5" accelerate', False),
        # A floor above it: pip would replace it, but NGC 25.12's /etc/pip/constraint.txt (from 25.03)
        # holds pip to the image's torch: the install stops, which is what is said.
        ('"torch>=2.12"', True),
    ],
)
def test_a_range_over_the_image_torch_keeps_it_where_pip_does(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], line: str, held: bool
) -> None:
    dockerfile = f"FROM nvcr.io/nvidia/pytorch:25.12-py3\nRUN pip install --no-cache-dir {line}\n"
    _code, out = _audit(tmp_path, capsys, dockerfile, "--driver", "535.104.05", "--gpu", "8.0")
    assert "Dockerfile:1: warning ED101" in out  # the image's CUDA 13.1 on a CUDA 12.2 driver
    assert "Dockerfile:2: warning ED101" not in out  # never judged as a fresh install of PyPI's torch
    assert ("Dockerfile:2: error ED204" in out and "pip constraint file of nvcr.io/nvidia/pytorch" in out) is held
