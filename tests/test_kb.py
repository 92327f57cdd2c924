"""The knowledge base holds together: every row cited and well-formed, the topics consistent."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from envdoctor import kb
from envdoctor.cli import main
from envdoctor.kb import check
from envdoctor.kb.schema import TOPICS

CITED = 'source = "https://example.org/notes"\nchecked = "2026-11-26"\n'


def test_the_shipped_base_is_sound() -> None:
    assert check.problems() == []


def test_the_shipped_base_is_broad() -> None:
    counts = {t.name: sum(len(kb.load_topic(t.name, table.name)) for table in t.tables) for t in TOPICS}
    assert all(counts.values()), f"every topic has rows: {counts}"
    assert sum(counts.values()) >= 300


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty base in a temporary folder; the caches are cleared around each test."""
    monkeypatch.setattr(kb, "DATA_DIR", tmp_path)
    kb.clear_caches()
    yield tmp_path
    kb.clear_caches()


def row(table: str, cited: bool = True, **fields: object) -> str:
    """One TOML row; string values quoted, lists and numbers as they are."""
    lines = [f"[[{table}]]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n" + (CITED if cited else "")


ARCHITECTURES = row("architecture", compute_capability="8.6", name="Ampere")
CUDA_12 = row("release", cuda="12.1.0", linux_driver="530.30.02") + row(
    "minor_compat", cuda_major=12, linux_driver="525.60.13", limits="no PTX JIT"
)
TORCH_2_2 = row("release", torch="2.2.0", torchvision="0.17.0", python=">=3.8", variants=["cu118", "cu121"])
CU128_ARCH = row("cuda_arch", torch=">=2.8", variant="cu128", sm=["8.6", "12.0"], ptx=[])
IMAGE = row("image", repository="nvidia/cuda", tag="x", flavor="base", os="ubuntu22.04", cuda="12.2.0")
UNCITED_CUDA = row("release", cited=False, cuda="12.1.0", linux_driver="530.30.02")


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"cuda": UNCITED_CUDA + 'checked = "2026-11-26"\n'}, "missing source"),
        ({"cuda": UNCITED_CUDA + 'source = "http://x"\nchecked = "2026-11-26"\n'}, "source: expected an https URL"),
        ({"cuda": UNCITED_CUDA + 'source = "https://x.org"\nchecked = "2099-01-01"\n'}, "checked in the future"),
        ({"cuda": row("release", cuda="twelve", linux_driver="530.30.02")}, "'twelve' is not a PEP 440 version"),
        ({"cuda": row("release", cuda="12.1.0", linux_driver="530.30.02", colour="green")}, "unknown field 'colour'"),
        ({"cuda": "[[release]\n"}, "cuda.toml:"),
        ({"cuda": row("releases")}, "unknown table(s) releases"),
        (
            {"gpu_architectures": ARCHITECTURES, "gpu_models": row("model", model="X", compute_capability="9.0")},
            "X has compute capability 9.0, no architecture",
        ),
        ({"gpu_architectures": ARCHITECTURES * 2}, "8.6 appears 2 times"),
        ({"cuda": CUDA_12, "torch": TORCH_2_2}, "torch 2.2.0 names cu118, but cuda.toml has no CUDA 11.8 release"),
        ({"gpu_architectures": ARCHITECTURES, "torch": CU128_ARCH}, "cu128 names 12.0, no architecture"),
        (
            {"cuda": row("release", cuda="13.0.0", linux_driver="580.65.06")},
            "CUDA 13.0.0 has no minor_compat row for CUDA 13",
        ),
        ({"base_images": IMAGE, "cuda": CUDA_12}, "carries CUDA 12.2.0, not a release"),
        (
            {"gpu_packages": row("kernels", package="x", versions=">=1", sm=["8.0"], ptx=[], min_capability="8.0")},
            "give exactly one of sm, min_capability",
        ),
        ({"gpu_packages": row("kernels", package="x", versions=">=1")}, "give exactly one of sm, min_capability"),
    ],
)
def test_broken_rows_are_caught(data_dir: Path, files: dict[str, str], problem: str) -> None:
    for topic, text in files.items():
        (data_dir / f"{topic}.toml").write_text(text)
    found = check.problems(today=datetime.date(2026, 11, 26))
    assert any(problem in item for item in found), found


@pytest.mark.parametrize(
    ("variant", "cuda"), [("cu121", "12.1"), ("cu118", "11.8"), ("cu130", "13.0"), ("cu92", "9.2"), ("cpu", None)]
)
def test_cuda_of_variant(variant: str, cuda: str | None) -> None:
    assert check.cuda_of_variant(variant) == cuda


def test_kb_check_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check"]) == 0
    assert "every row cited and consistent" in capsys.readouterr().out


def test_kb_check_fails_on_a_broken_base(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / "cuda.toml").write_text('[[release]]\ncuda = "x"\n')
    assert main(["kb", "check"]) == 1
    assert "cuda.toml: [[release]] row 1" in capsys.readouterr().out


def test_kb_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "list", "--format", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [t["topic"] for t in listing["topics"]] == [t.name for t in TOPICS]
    assert listing["rows"] == sum(t["rows"] for t in listing["topics"])


def test_kb_show_names_each_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "show", "gpu_models", "H100"]) == 0
    out = capsys.readouterr().out
    assert "compute_capability=9.0" in out
    assert "source: https://developer.nvidia.com/cuda-gpus" in out
