"""Facts generated from the package index for the compiled ML stack, judged through the CLI, and
what ``envdoctor kb list`` says of every tracked package; ``ci/kb-refresh``'s offline parts.

Every release fact asserted here was read from the simple index's file listings on 2026-12-02
(e.g. grpcio 1.58.0 has no cp312 wheel and an sdist; 1.59.0 has
grpcio-1.59.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.cli import main
from envdoctor.kb import load_topic
from envdoctor.kb import refresh as kbrefresh
from envdoctor.kb import releases as kbr

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests/fixtures/index-releases"


def _generator() -> ModuleType:
    """ci/kb-releases, imported as a module (it has no .py suffix, being a command)."""
    loader = importlib.machinery.SourceFileLoader("kb_releases_generated", str(ROOT / "ci/kb-releases"))
    spec = importlib.util.spec_from_loader("kb_releases_generated", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


gen = _generator()


# --- the compiled ML stack is tracked and generated --------------------------------------------------


def test_the_compiled_stack_is_tracked_after_tracked_and_once() -> None:
    found = gen.tracked()
    assert set(gen.COMPILED_STACK) <= set(found)
    assert found[: len(gen.TRACKED)] == gen.TRACKED  # another list may grow beside it
    assert len(found) == len(set(found))
    issue = {"numpy", "scipy", "pandas", "scikit-learn", "numba", "llvmlite", "scikit-image", "opencv-python",
             "pyarrow", "h5py", "tokenizers", "sentencepiece", "grpcio", "protobuf", "onnx", "lightgbm", "xgboost",
             "catboost", "faiss-cpu", "spacy"}  # fmt: skip
    assert issue <= set(gen.COMPILED_STACK)


def test_the_compiled_stack_has_releases_and_is_a_parent() -> None:
    assert [name for name in gen.COMPILED_STACK if not kbr.releases(name)] == []
    assert set(gen.COMPILED_STACK) <= set(gen.parents())


def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], requirement: str, python: str) -> list[dict[str, Any]]:
    path = tmp_path / "requirements.txt"
    path.write_text(requirement + "\n")
    main(["audit", str(path), "--os", "linux", "--arch", "x86_64", "--python", python, "--format", "json"])
    findings: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    return [f for f in findings if f["code"] == "ED302"]


@pytest.mark.parametrize(
    ("requirement", "python", "severity", "fix"),
    [
        # No wheel for the Python, an sdist to build: a warning, and the first release with one.
        ("numpy==1.24.4", "3.12", "error", "numpy>=1.26.0"),
        ("scikit-image==0.20.0", "3.12", "warning", "scikit-image>=0.22.0"),
        ("sentencepiece==0.1.99", "3.12", "warning", "sentencepiece>=0.2.0"),
        ("grpcio==1.58.0", "3.12", "warning", "grpcio>=1.59.0"),
        ("catboost==1.2.2", "3.12", "warning", "catboost>=1.2.3"),
        ("gensim==4.3.2", "3.12", "warning", "gensim>=4.3.3"),
        ("tiktoken==0.5.1", "3.12", "warning", "tiktoken>=0.5.2"),
        # No wheel and no sdist (faiss-cpu 1.7.4: cp37-cp311 wheels only): it does not install.
        ("faiss-cpu==1.7.4", "3.12", "error", None),
        # Requires-Python of the wheels: xgboost 3.3.0 >=3.12, lightgbm 4.7.0 >=3.10.
        ("xgboost==3.3.0", "3.11", "error", None),
        ("lightgbm==4.7.0", "3.9", "error", None),
    ],
)
def test_no_wheel_for_this_python(
    *,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    requirement: str,
    python: str,
    severity: str,
    fix: str | None,
) -> None:
    found = audit(tmp_path, capsys, requirement, python)
    assert [f["severity"] for f in found] == [severity], found
    assert found[0]["packages"] == [requirement]
    if fix is not None:
        assert found[0]["fix"].startswith(fix + " "), found[0]["fix"]


@pytest.mark.parametrize(
    ("requirement", "python"),
    [
        ("sentencepiece==0.2.0", "3.12"),
        ("grpcio==1.59.0", "3.12"),
        ("catboost==1.2.3", "3.12"),
        ("faiss-cpu==1.8.0", "3.12"),
        ("gensim==4.3.3", "3.12"),
        ("tiktoken==0.5.2", "3.12"),
        ("xgboost==3.3.0", "3.12"),
        ("lightgbm==4.7.0", "3.10"),
    ],
)
def test_a_release_with_a_wheel_for_this_python_is_not_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], requirement: str, python: str
) -> None:
    assert audit(tmp_path, capsys, requirement, python) == []


@pytest.mark.parametrize(
    ("package", "version", "field", "expected"),
    [
        ("grpcio", "1.58.0", "pythons", ["3.7", "3.8", "3.9", "3.10", "3.11"]),
        ("faiss-cpu", "1.7.4", "sdist", False),
        ("xgboost", "3.3.0", "requires_python", ">=3.12"),
        ("lightgbm", "4.0.0", "glibc", "2.28"),  # manylinux_2_28 wheels
    ],
)
def test_generated_release_rows(package: str, version: str, field: str, expected: object) -> None:
    rows = [r for r in load_topic("releases", "release") if r["package"] == package and r["version"] == version]
    assert len(rows) == 1
    assert rows[0].get(field) == expected
    assert rows[0]["source"] == f"https://pypi.org/simple/{package}/"


# --- envdoctor kb list --------------------------------------------------------------------------------


def kb_list(capsys: pytest.CaptureFixture[str], *options: str) -> str:
    assert main(["kb", "list", *options]) == 0
    return capsys.readouterr().out


def test_kb_list_json_lists_every_tracked_package(capsys: pytest.CaptureFixture[str]) -> None:
    packages = json.loads(kb_list(capsys, "--format", "json"))["packages"]
    by_name = {p["name"]: p for p in packages}
    assert [p["name"] for p in packages] == sorted(by_name)
    assert set(gen.tracked()) == set(by_name)
    assert set(packages[0]) == {"name", "newest_release", "checked"}
    for name in ("torch", "grpcio", "scikit-learn", "jax-cuda13-plugin"):
        versions = [r.version for r in kbr.releases(name)]
        assert by_name[name]["newest_release"] == str(max(versions))
    # The checked date is the row's, a date.
    assert all(len(p["checked"]) == 10 and p["checked"][4] == "-" for p in packages)


def test_kb_list_text_shows_newest_release_and_date_per_topic(capsys: pytest.CaptureFixture[str]) -> None:
    out = kb_list(capsys)
    torch = next(line for line in out.splitlines() if line.startswith("torch "))
    newest = max(Version(r["torch"]) for r in load_topic("torch", "release"))
    assert str(newest) in torch.split() and any(len(w) == 10 and w[4] == "-" for w in torch.split())
    assert f"{len(gen.tracked())} tracked packages" in out


# --- ci/kb-refresh, its offline parts -------------------------------------------------------------------


def test_final_releases_of_a_recorded_page() -> None:
    # numpy.json: 1.17.4 (2019-11-11), 1.24.4, 2.0.0rc1, 2.0.0, and 2.4.0 whose files are all yanked.
    page = json.loads((FIXTURES / "numpy.json").read_text())
    assert list(kbrefresh.final_releases(page, "numpy")) == [Version("1.24.4"), Version("2.0.0")]
    assert Version("1.17.4") in kbrefresh.final_releases(page, "numpy", since="2019-01-01")


def test_every_tracked_gpu_package_is_in_the_releases_table() -> None:
    assert [name for name in kbrefresh.GPU_TRACKED if not kbr.releases(name)] == []
    assert kbrefresh.all_tracked()[: len(kbrefresh.GPU_TRACKED)] == kbrefresh.GPU_TRACKED


def page_of(*files: tuple[str, str]) -> dict[str, Any]:
    return {"files": [{"filename": name, "upload-time": f"{day}T00:00:00Z"} for name, day in files]}


def test_status_names_a_release_the_base_lacks() -> None:
    newest = max(r.version for r in kbr.releases("xformers"))
    newer = "99.0.0"  # past every curated range
    page = page_of(
        (f"xformers-{newest}-cp39-abi3-manylinux_2_28_x86_64.whl", "2026-01-01"),
        (f"xformers-{newer}-cp39-abi3-manylinux_2_28_x86_64.whl", "2099-01-01"),
    )
    found = kbrefresh.status("xformers", page)
    assert found.newest == Version(newer) and found.table_newest == newest
    assert found.missing == (Version(newer),)
    assert found.curated is None and found.has_curated  # uploaded after every row was checked
    assert f"releases table lacks {newer}" in found.line()
    assert kbrefresh.status("xformers", page_of((f"xformers-{newest}.tar.gz", "2026-01-01"))).missing == ()


@pytest.mark.parametrize(
    ("specifier", "checked", "version", "uploaded", "known"),
    [
        (">=1.27", "2026-11-26", "1.31.1", "2026-10-01", True),  # open, checked after the upload
        (">=1.27", "2026-11-26", "1.32.0", "2026-12-01", False),  # open, uploaded since: not reviewed
        (">=1.21,<1.27", "2020-01-01", "1.26.0", "2026-12-01", True),  # bounded: the row says so
        ("==0.0.35", "2026-11-26", "0.0.36", "2026-11-01", False),
    ],
)
def test_curated_knows(specifier: str, checked: str, version: str, uploaded: str, known: bool) -> None:
    ranges = [("gpu_packages.build", SpecifierSet(specifier), checked)]
    assert (kbrefresh.curated_knows(ranges, Version(version), uploaded) is not None) is known


def test_curated_ranges_of_each_kind_of_package() -> None:
    assert {where for where, _, _ in kbrefresh.curated_ranges("torch")} == {"torch.pypi_build", "torch.release"}
    assert {where for where, _, _ in kbrefresh.curated_ranges("jax-cuda12-plugin")} >= {"jax.release"}
    assert {where for where, _, _ in kbrefresh.curated_ranges("onnxruntime-gpu")} >= {"gpu_packages.build"}
    assert kbrefresh.curated_ranges("triton") == []  # generated tables only


@pytest.mark.parametrize(
    ("package", "requirements", "major"),
    [
        ("cupy-cuda12x", [], 12),
        ("tensorrt-cu13", [], 13),
        ("xgboost", ["nvidia-nccl-cu12; platform_system == 'Linux'"], 12),
        ("onnxruntime-gpu", ["nvidia-cuda-runtime~=13.0; extra == 'cuda'", "nvidia-cudnn-cu13~=9.0"], 13),
        ("vllm", ["torch==2.9.0", "nvidia-cublas-cu12", "nvidia-nccl-cu13"], None),  # two: not drafted
        ("bitsandbytes", ["torch>=2.3"], None),
    ],
)
def test_cuda_major_of(package: str, requirements: list[str], major: int | None) -> None:
    assert kbrefresh.cuda_major_of(package, [Requirement(r) for r in requirements]) == major
