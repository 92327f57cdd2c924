"""Rows added or corrected for issue 14 (section 1): each judged through the audit where the audit
reads it, else through the knowledge-base question the rules ask.

- torch.toml: release rows for 2.14.1 (torchvision 0.29.1) and 2.15.0 (torchvision 0.29.2,
  Python >= 3.11, no cu126 build); torchaudio no longer in lockstep (2.11.1 asks torch>=2.11).
- gpu_packages.toml: flash-attn 2.8.3.post2 fetches prebuilt +cu13 wheels for CUDA 13 torch.
- gpu_architectures.toml: compute capability 8.8 (first CUDA 13.0) and 10.7 (Rubin, 13.4).
- cuda.toml: CUDA 13.3 needs Linux driver 610.43.02, not the bare branch 610.
- gpu_models.toml: Kepler models cite the legacy CUDA GPUs page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.cli import main
from envdoctor.kb import facts, load_topic

H100_PY312 = ["--os", "linux", "--arch", "x86_64", "--python", "3.12", "--driver", "580.95.05", "--gpu", "9.0"]
H100_PY310 = ["--os", "linux", "--arch", "x86_64", "--python", "3.10", "--driver", "580.95.05", "--gpu", "9.0"]


def _findings(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, host: list[str]) -> list[dict[str, Any]]:
    path = tmp_path / "requirements.txt"
    path.write_text(text + "\n")
    main(["audit", str(path), *host, "--format", "json", "-q"])
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    return found


@pytest.fixture
def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """Audit a requirements text on a host, the way a user runs it; the findings as JSON."""
    return lambda text, host: _findings(tmp_path, capsys, text, host)


def _gpu(capability: str, driver: str = "615.20") -> list[str]:
    return ["--os", "linux", "--arch", "x86_64", "--python", "3.12", "--driver", driver, "--gpu", capability]


# --- torch 2.14.1 / 2.15.0 and their companions ----------------------------------------------

# (requirements, host, code that must be reported with these words, codes that must be absent)
TORCH_CASES = [
    # torchvision 0.29.1 and 0.29.2 both ask only torch>=2.14.0: the release rows give the pairing.
    pytest.param(
        "torch==2.15.0\ntorchvision==0.29.1", H100_PY312, ("ED202", ("0.29.2",)), (), id="2.15.0-with-tv-0.29.1"
    ),
    pytest.param(
        "torch==2.14.1\ntorchvision==0.29.0", H100_PY312, ("ED202", ("0.29.1",)), (), id="2.14.1-with-tv-0.29.0"
    ),
    pytest.param(
        "torch==2.15.0\ntorchvision==0.29.2", H100_PY312, None, ("ED202", "ED204"), id="2.15.0-with-tv-0.29.2"
    ),
    pytest.param(
        "torch==2.14.1\ntorchvision==0.29.1", H100_PY312, None, ("ED202", "ED204"), id="2.14.1-with-tv-0.29.1"
    ),
    # torchaudio is built on torch's stable ABI from 2.11 on: no release row pins it.
    pytest.param("torch==2.15.0\ntorchaudio==2.11.0", H100_PY312, None, ("ED202",), id="2.15.0-with-ta-2.11.0"),
    pytest.param("torch==2.15.0\ntorchaudio==2.11.1", H100_PY312, None, ("ED202",), id="2.15.0-with-ta-2.11.1"),
    # 2.15.0 needs Python >= 3.11: Python 3.10 gets 2.14.1.
    pytest.param("torch==2.15.0", H100_PY310, ("ED302", ("torch==2.14.1",)), (), id="2.15.0-on-py310"),
    # The cu126 index has no 2.15.0 build: its newest torch is 2.14.1.
    pytest.param(
        "--index-url https://download.pytorch.org/whl/cu126\ntorch",
        H100_PY312,
        ("ED900", ("2.14.1", "cu126")),
        (),
        id="cu126-index-newest-is-2.14.1",
    ),
]


Expect = tuple[str, tuple[str, ...]] | None


@pytest.mark.parametrize(("text", "host", "expect", "absent"), TORCH_CASES)
def test_torch_rows_judged_by_the_audit(
    text: str, host: list[str], expect: Expect, absent: tuple[str, ...], audit: Any
) -> None:
    found = audit(text, host)
    shown = "\n".join(f"{f['code']} {f['message']} | {f.get('fix')}" for f in found)
    if expect is not None:
        code, words = expect
        texts = [f"{f['message']} {f.get('fix') or ''}" for f in found if f["code"] == code]
        assert any(all(w in t for w in words) for t in texts), shown
    for code in absent:
        assert not [f for f in found if f["code"] == code], shown


@pytest.mark.parametrize(
    ("torch", "torchvision", "python", "variants"),
    [
        ("2.14.1", "0.29.1", ">=3.10,<3.15", ("cpu", "cu126", "cu130", "cu132")),
        ("2.15.0", "0.29.2", ">=3.11,<3.16", ("cpu", "cu130", "cu132")),
    ],
)
def test_torch_release_rows(torch: str, torchvision: str, python: str, variants: tuple[str, ...]) -> None:
    row = facts.torch_release(Version(torch))
    assert row is not None
    assert (row["torchvision"], row["python"], tuple(row["variants"])) == (torchvision, python, variants)
    assert "torchaudio" not in row
    assert facts.release_variants("torch", Version(torch)) == variants


@pytest.mark.parametrize(("python", "newest"), [("3.10", "2.14.1"), ("3.11", "2.15.0"), ("3.15", "2.15.0")])
def test_newest_torch_per_python(python: str, newest: str) -> None:
    assert facts.newest_torch(SpecifierSet(">=2.0"), python) == Version(newest)


def test_no_torch_release_row_pins_torchaudio_after_2_11() -> None:
    rows = [r for r in load_topic("torch", "release") if Version(r["torch"]) >= Version("2.12")]
    assert rows and not [r for r in rows if "torchaudio" in r]


# --- flash-attn 2.8.3.post2: prebuilt +cu13 wheels --------------------------------------------


def _flash_rows(version: str) -> list[dict[str, Any]]:
    return [
        row
        for row in facts.package_builds("flash-attn")
        if SpecifierSet(row["versions"]).contains(Version(version), prereleases=True)
    ]


@pytest.mark.parametrize(
    ("version", "majors", "words"),
    [
        ("2.8.3.post2", {12: "prebuilt +cu12", 13: "prebuilt +cu13"}, "torch 2.9 and 2.10"),
        ("2.8.3.post1", {12: "source build"}, "matrix built none"),
        ("2.8.3", {12: "source build"}, "torch 2.4-2.8"),
    ],
)
def test_flash_attn_cuda13_wheels(version: str, majors: dict[int, str], words: str) -> None:
    rows = _flash_rows(version)
    assert {row["cuda_major"] for row in rows} == set(majors)
    for row in rows:
        assert majors[row["cuda_major"]] in row["note"], row
    assert any(words in row["note"] for row in rows)


def test_flash_attn_2_8_kernels_cover_the_cuda13_wheels() -> None:
    kernels = facts.package_kernels("flash-attn", Version("2.8.3.post2"))
    assert kernels is not None and kernels.sm == ("8.0", "9.0", "10.0", "12.0")


# --- compute capability 8.8 and 10.7 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cuda", "capability", "targets"),
    [
        ("12.9", "8.8", False),
        ("13.0", "8.8", True),
        ("13.3", "10.7", False),
        ("13.4", "10.7", True),
        ("13.5", "10.7", True),
    ],
)
def test_toolkits_that_target_the_new_capabilities(cuda: str, capability: str, targets: bool) -> None:
    assert facts.toolkit_targets(cuda, capability) is targets


def test_rubin_row() -> None:
    row = next(r for r in load_topic("gpu_architectures", "architecture") if r["compute_capability"] == "10.7")
    assert (row["name"], row["first_cuda"]) == ("Rubin", "13.4")


def test_a_rubin_gpu_gets_no_kernels_from_a_cuda_12_6_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No cuda_arch row covers 2.12's cu126 build; CUDA 12.6 cannot compile for 10.7 (before the
    10.7 row the audit said only that it could not judge)."""
    text = "--extra-index-url https://download.pytorch.org/whl/cu126\ntorch==2.12.0+cu126"
    found = _findings(tmp_path, capsys, text, _gpu("10.7"))
    assert any(f["code"] == "ED102" and "10.7" in f["message"] for f in found), found


@pytest.mark.parametrize("capability", ["8.8", "10.7"])
def test_same_major_kernels_run_on_the_new_capabilities(
    capability: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """torch 2.15.0's cu132 wheel carries sm_86 and sm_100 code: it runs on 8.8 and 10.7."""
    found = _findings(tmp_path, capsys, "torch==2.15.0", _gpu(capability))
    assert not [f for f in found if f["code"] in ("ED101", "ED102")], found


def test_a_cc_8_8_gpu_runs_a_cuda_12_6_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "--extra-index-url https://download.pytorch.org/whl/cu126\ntorch==2.12.0+cu126"
    found = _findings(tmp_path, capsys, text, _gpu("8.8"))
    assert not [f for f in found if f["code"] == "ED102"], found


# --- CUDA 13.3's driver floor -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("driver", "cuda"),
    [("610.20", "13.2"), ("610.43.02", "13.3"), ("610.62", "13.3"), ("615.20", "13.4")],
)
def test_cuda_13_3_needs_610_43_02(driver: str, cuda: str) -> None:
    """A driver of the R610 branch older than 610.43.02 does not meet CUDA 13.3's own floor."""
    assert facts.cuda_of_driver(driver) == cuda


def test_cuda_13_3_rows() -> None:
    need = facts.driver_need("13.3")
    assert need is not None and need.full == "610.43.02" and need.minimum == "580.65.06"


# --- Kepler models cite the legacy page -------------------------------------------------------


def test_kepler_models_cite_the_legacy_page() -> None:
    kepler = [r for r in load_topic("gpu_models", "model") if r["compute_capability"] in ("3.5", "3.7")]
    assert len(kepler) >= 10
    assert {r["source"] for r in kepler} == {"https://developer.nvidia.com/cuda-legacy-gpus"}
