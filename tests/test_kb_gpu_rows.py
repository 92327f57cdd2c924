"""Issue 14's rows for four kinds of breakage, each table-driven through the base and the CLI:

1. flash-attn's prebuilt wheels per release (gpu_packages [[prebuilt]], from the publish.yml matrix
   at each tag): a torch, CUDA major or Python the release built none for means a source build.
2. bitsandbytes' platforms per release (platforms [[native_code]]): up to 0.42.0 the only wheel is
   py3-none-any with Linux x86-64 .so files, so Windows and macOS get no working distribution.
3. sdists known not to build on a Python (platforms [[source_build]]): numba 0.56-0.59's setup.py
   max_python_version, numpy 1.23-1.25's distutils build.
4. PyG's extension wheels (gpu_packages [[prebuilt]] with find_links and label): +pt23cu121 is
   torch 2.3 and CUDA 12.1; without a label or a -f page, pip builds the PyPI sdist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.cli import main
from envdoctor.kb import builds, facts, load_topic
from envdoctor.rules.candidates import HostFacts, Origin, Why, candidates, pinned

A100 = ["--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "535.104.05", "--gpu", "8.0"]
OLD_DRIVER = ["--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "470.82.01", "--gpu", "7.0"]
WINDOWS = ["--os", "windows", "--arch", "x86_64", "--python", "3.11", "--driver", "551.78", "--gpu", "8.6"]
MAC = ["--os", "macos", "--arch", "arm64", "--python", "3.11"]
PY312 = ["--os", "linux", "--arch", "x86_64", "--python", "3.12"]
PYG_23 = "--find-links https://data.pyg.org/whl/torch-2.3.0+cu121.html\n"


def _findings(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, host: list[str]) -> list[dict[str, Any]]:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    assert main(["audit", str(path), *host, "--format", "json", "-q"]) in (0, 1)
    findings: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    return findings


def _coded(findings: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [f for f in findings if f["code"] == code]


# --- 1. flash-attn ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flash", "torch", "cuda", "python", "reached"),
    [
        ("2.5.6", "2.3.1", "12.1", "3.11", True),  # torch 1.12-2.3 x CUDA 11/12 x Python 3.7-3.11
        ("2.5.6", "2.7.1", "12.6", "3.11", False),  # the torch2.7 wheel the report's log guessed does not exist
        ("2.5.6", "2.2.2", "12.1", "3.12", False),  # Python 3.12 wheels start at 2.5.9
        ("2.6.3", "2.4.1", "12.1", "3.11", True),
        ("2.6.3", "2.5.1", "12.4", "3.11", False),
        ("2.7.4", "2.4.1", "11.8", "3.11", False),  # 2.7.4 built CUDA 12.4.1 wheels only
        ("2.7.4", "2.4.1", "12.1", "3.11", True),
        ("2.8.3", "2.8.0", "12.8", "3.12", True),
        ("2.8.3", "2.9.0", "12.8", "3.12", False),
        ("2.8.3.post2", "2.10.0", "13.0", "3.12", True),  # +cu13 wheels for torch 2.9 and 2.10
        ("2.8.3.post2", "2.8.0", "13.0", "3.12", False),  # CUDA 13 only from torch 2.9
        ("2.8.3.post2", "2.11.0", "12.8", "3.12", False),
    ],
)
def test_flash_attn_has_a_prebuilt_wheel_only_for_the_matrix_of_its_tag(
    flash: str, torch: str, cuda: str, python: str, reached: bool
) -> None:
    against = builds.Against(Version(torch), cuda, None)
    missing = builds.from_source("flash-attn", Version(flash), against, python, ())
    assert (missing is None) is reached, missing
    if missing is not None:
        assert "no prebuilt wheel" in missing.reason and "publish.yml" in missing.source


def test_flash_attn_older_than_the_torch_beside_it_builds_from_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finding,) = _coded(_findings(tmp_path, capsys, "flash-attn==2.5.6\ntorch==2.7.1\n", A100), "ED301")
    assert finding["severity"] == "warning"
    assert "flash-attn 2.5.6 has no prebuilt wheel for torch 2.7" in finding["message"]
    assert "from source" in finding["message"] and "nvcc" in finding["message"]
    # PyPI's flash-attn 2.8 line starts at 2.8.0.post2, whose matrix builds torch 2.4-2.7 (CUDA 12).
    assert finding["fix"].startswith("flash-attn==2.8.0.post2")


@pytest.mark.parametrize("text", ["flash-attn==2.6.3\ntorch==2.4.1\n", "flash-attn==2.8.3\ntorch==2.8.0\n"])
def test_flash_attn_with_a_torch_its_release_built_for_is_quiet(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not _coded(_findings(tmp_path, capsys, text, A100), "ED301")


def test_every_flash_attn_release_on_the_index_from_2_0_6_has_a_prebuilt_row() -> None:
    from envdoctor.kb import releases

    known = [r.version for r in releases.releases("flash-attn") if r.version >= Version("2.0.6")]
    assert known and all(facts.prebuilt("flash-attn", version) for version in known)


# --- 2. bitsandbytes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "os", "arch", "installs"),
    [
        ("0.41.1", "windows", "x86_64", False),
        ("0.42.0", "macos", "arm64", False),
        ("0.42.0", "linux", "aarch64", False),  # the .so files are x86-64 ELF objects
        ("0.41.1", "linux", "x86_64", True),
        ("0.43.0", "windows", "x86_64", True),  # the first win_amd64 wheel
        ("0.44.1", "macos", "arm64", False),  # macosx_14_0_arm64 wheels start at 0.49.0
        ("0.49.0", "macos", "arm64", True),
    ],
)
def test_bitsandbytes_platforms_follow_each_release(version: str, os: str, arch: str, installs: bool) -> None:
    name = canonicalize_name("bitsandbytes")
    found = pinned(
        name, SpecifierSet(f"=={version}"), Version(version), Origin.PINNED, HostFacts("3.11", os, arch, None)
    )
    assert (not found.excluded) is installs, found.excluded
    if not installs:
        assert found.excluded[0].why is Why.PLATFORM


def test_bitsandbytes_0_41_on_windows_is_an_error_fixed_by_0_43(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finding,) = _coded(_findings(tmp_path, capsys, "bitsandbytes==0.41.1\n", WINDOWS), "ED301")
    assert finding["severity"] == "error" and "libraries are built for linux-x86_64 only" in finding["message"]
    assert "bitsandbytes>=0.43.0" in finding["fix"]


def test_a_bitsandbytes_range_on_a_mac_skips_to_the_first_release_with_a_mac_wheel() -> None:
    found = candidates(
        canonicalize_name("bitsandbytes"), SpecifierSet(">=0.40"), HostFacts("3.11", "macos", "arm64", None)
    )
    assert found.versions and min(found.versions) == Version("0.49.0")


# --- 3. sdists that do not build on the host's Python ----------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "python", "fails"),
    [
        ("numba", "0.57.1", "3.12", True),  # max_python_version = "3.12" (exclusive)
        ("numba", "0.58.1", "3.12", True),
        ("numba", "0.56.4", "3.11", True),  # "3.11" in 0.56.x
        ("numba", "0.59.1", "3.13", True),
        ("numba", "0.59.1", "3.12", False),
        ("numpy", "1.24.4", "3.12", True),  # numpy.distutils needs distutils, gone in 3.12
        ("numpy", "1.25.2", "3.12", True),
        ("numpy", "1.23.0", "3.12", True),
        ("numpy", "1.24.4", "3.11", False),
        ("numpy", "1.26.0", "3.12", False),
    ],
)
def test_source_build_rows(name: str, version: str, python: str, fails: bool) -> None:
    assert (facts.failing_source_build(name, Version(version), python) is not None) is fails


@pytest.mark.parametrize(
    ("text", "fix"),
    [("numpy==1.24.4\n", "numpy>=1.26.0"), ("numba==0.57.1\n", "numba>=0.59.0"), ("numpy<1.25\n", "numpy>=1.26.0")],
)
def test_an_sdist_that_cannot_build_on_the_python_is_an_error(
    text: str, fix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finding,) = _coded(_findings(tmp_path, capsys, text, PY312), "ED302")
    assert finding["severity"] == "error" and "fails to build" in finding["message"]
    assert finding["fix"].startswith(fix)


def test_pip_takes_the_failing_sdist_rather_than_an_older_release() -> None:
    """pip does not backtrack past a build failure: numpy<1.25 on 3.12 picks 1.24.4 and stops."""
    found = candidates(canonicalize_name("numpy"), SpecifierSet("<1.25"), HostFacts("3.12", "linux", "x86_64", None))
    assert found.newest == Version("1.24.4")
    assert found.excluded[0].failing_sdist and found.excluded[0].why is Why.PYTHON


def test_an_sdist_with_no_known_failure_stays_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (finding,) = _coded(_findings(tmp_path, capsys, "scikit-image<0.22\n", PY312), "ED302")
    assert finding["severity"] == "warning" and "from its sdist" in finding["message"]


# --- 4. PyG extension wheels -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "cuda", "torch"),
    [
        ("torch-scatter", "2.1.2+pt23cu121", "12.1", "torch==2.3.*"),
        ("torch-sparse", "0.6.18+pt113cu117", "11.7", "torch==1.13.*"),
        ("torch-cluster", "1.6.3+pt210cu128", "12.8", "torch==2.10.*"),
        ("pyg-lib", "0.4.0+pt23cpu", None, "torch==2.3.*"),
        ("torch-spline-conv", "1.2.2+pt23", None, "torch==2.3.*"),  # macOS wheels name no variant
    ],
)
def test_a_pyg_label_names_the_torch_minor_and_cuda(name: str, version: str, cuda: str | None, torch: str) -> None:
    build = builds.build_of(name, Version(version), builds.Where("linux", "x86_64"))
    assert build is not None and build.cuda == cuda and str(build.built_against) == torch
    (step,) = facts.lockstep(name, Version(version))
    assert step.companion == "torch" and step.on_own_line


def test_a_label_of_another_scheme_is_not_read_as_pyg() -> None:
    assert builds.build_of("torch-scatter", Version("2.1.2+cu121"), builds.Where("linux", "x86_64")) is None


def test_a_pyg_wheel_for_another_torch_minor_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = f"{PYG_23}torch==2.4.1\ntorch-scatter==2.1.2+pt23cu121\n"
    findings = _findings(tmp_path, capsys, text, A100)
    (finding,) = _coded(findings, "ED202")
    assert finding["severity"] == "error" and "built for torch 2.3" in finding["message"]
    assert not any("no build row" in f["message"] for f in _coded(findings, "ED900"))


def test_a_pyg_wheel_for_its_torch_is_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    findings = _findings(tmp_path, capsys, f"{PYG_23}torch==2.3.0\ntorch-scatter==2.1.2+pt23cu121\n", A100)
    assert not [f for f in findings if f["severity"] == "error"]
    assert not any("no build row" in f["message"] for f in _coded(findings, "ED900"))


def test_a_pyg_wheel_judges_its_cuda_against_the_driver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (finding,) = _coded(_findings(tmp_path, capsys, "torch-scatter==2.1.2+pt23cu121\n", OLD_DRIVER), "ED101")
    assert "CUDA 12.1" in finding["message"]


@pytest.mark.parametrize(
    ("text", "page"),
    [
        ("torch==2.4.1\ntorch-scatter==2.1.2\n", "https://data.pyg.org/whl/torch-2.4.0+cu121.html"),
        ("torch==2.3.0\ntorch-sparse==0.6.18\n", "https://data.pyg.org/whl/torch-2.3.0+cu121.html"),
    ],
)
def test_without_a_pyg_page_pip_builds_the_sdist(
    text: str, page: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finding,) = _coded(_findings(tmp_path, capsys, text, A100), "ED301")
    assert finding["severity"] == "warning" and "only an sdist on PyPI" in finding["message"]
    assert finding["fix"].startswith(f"add -f {page}")


def test_with_a_pyg_page_the_wheel_is_reached(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "--find-links https://data.pyg.org/whl/torch-2.4.0+cu121.html\ntorch==2.4.1\ntorch-scatter==2.1.2\n"
    assert not _coded(_findings(tmp_path, capsys, text, A100), "ED301")


def test_the_new_rows_cite_a_source_read_on_the_checked_date() -> None:
    for topic, table in (("gpu_packages", "prebuilt"), ("platforms", "native_code"), ("platforms", "source_build")):
        rows = load_topic(topic, table)
        assert rows and all(row["source"].startswith("https://") and row["checked"] == "2026-12-02" for row in rows)


def test_mac_bitsandbytes_0_44_fix_is_0_49(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (finding,) = _coded(_findings(tmp_path, capsys, "bitsandbytes==0.44.1\n", MAC), "ED301")
    assert "0.49.0" in finding["fix"]
