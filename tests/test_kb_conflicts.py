"""The conflict rows (envdoctor/kb/data/incompatibilities.toml), row by row: each row's versions are
the releases its source names, a real requirement set triggers it through the CLI, and one beside
it does not. The version lists below were read from each wheel's METADATA on 2026-12-02."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from envdoctor import kb
from envdoctor.cli import main
from envdoctor.kb import check, facts

HOST = ["--os", "linux", "--arch", "x86_64", "--driver", "580.65.06", "--gpu", "NVIDIA A100-SXM4-80GB"]


def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, python: str = "3.11") -> list[dict[str, Any]]:
    path = tmp_path / "requirements.txt"
    path.write_text(text + "\n")
    main(["audit", str(path), *HOST, "--python", python, "--format", "json", "-q"])
    findings: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    return findings


def ed203(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if f["code"] == "ED203" and f["severity"] == "error"]


def rows(kind: str, package: str) -> list[facts.Conflict]:
    return [c for c in facts.known_conflicts() if c.kind == kind and c.package == package]


def covered(conflicts: list[facts.Conflict], version: str) -> bool:
    return any(c.versions.contains(Version(version), prereleases=True) for c in conflicts)


# --- protobuf4-descriptors, tensorflow ----------------------------------------------------------
# Requires-Dist protobuf of every Linux x86_64 wheel: uncapped (>=3.9.2, lower floors before 2.3)
# or capped (<3.20,>=3.9.2; 0.12.0 pins ==3.1.0).
TF_UNCAPPED = [
    "0.12.1",
    "1.15.5",
    "2.0.0",
    "2.2.3",
    "2.3.0",
    "2.4.0",
    "2.4.4",
    "2.5.0",
    "2.5.3",
    "2.6.0",
    "2.6.3",
    "2.6.4",
    "2.7.0",
    "2.7.1",
    "2.7.2",
    "2.8.0",
    "2.8.1",
    "2.9.0",
]
TF_CAPPED = ["0.12.0", "2.6.5", "2.7.3", "2.7.4", "2.8.2", "2.8.3", "2.8.4", "2.9.1", "2.9.2", "2.9.3", "2.10.0"]


@pytest.mark.parametrize("version", TF_UNCAPPED)
def test_tensorflow_protobuf_rows_cover_every_uncapped_release(version: str) -> None:
    assert covered(rows("protobuf4-descriptors", "tensorflow"), version)


@pytest.mark.parametrize("version", TF_CAPPED)
def test_tensorflow_protobuf_rows_leave_out_the_capped_releases(version: str) -> None:
    assert not covered(rows("protobuf4-descriptors", "tensorflow"), version)


def test_no_tensorflow_protobuf_row_says_only_3_9_2_of_a_capped_release() -> None:
    for conflict in rows("protobuf4-descriptors", "tensorflow"):
        if "asks only protobuf>=3.9.2" in conflict.message:
            assert not any(conflict.versions.contains(Version(v), prereleases=True) for v in TF_CAPPED), conflict


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("tensorflow==2.6.4\nprotobuf==4.21.0", True),
        ("tensorflow==2.5.3\nprotobuf==4.21.0", True),
        ("tensorflow==2.7.2\nprotobuf==4.21.0", True),
        ("tensorflow==2.8.1\nprotobuf==4.21.0", True),
        ("tensorflow==2.6.5\nprotobuf==4.21.0", False),  # its METADATA caps protobuf<3.20
        ("tensorflow==2.7.3\nprotobuf==4.21.0", False),
        ("tensorflow==2.8.2\nprotobuf==4.21.0", False),
        ("tensorflow==2.6.4\nprotobuf<4", False),
    ],
)
def test_tensorflow_protobuf_audit(text: str, fires: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    findings = ed203(audit(tmp_path, capsys, text, python="3.9"))
    found = [f for f in findings if f["packages"][0].startswith("tensorflow") and "protobuf" in f["fix"]]
    assert bool(found) is fires, found
    if fires:
        assert "protobuf<4" in found[0]["fix"]


# --- nccl-pin-clash ------------------------------------------------------------------------------
# torch's nvidia-nccl-cu12 pin per release; tensorflow[and-cuda] 2.20.0 asks >=2.25.1,<3.0 and
# 2.21.0 asks >=2.27.7,<3.0. torch 2.11+ requires nvidia-nccl-cu13 instead.
TORCH_NCCL = {"2.7.0": "2.26.2", "2.7.1": "2.26.2", "2.8.0": "2.27.3", "2.9.0": "2.27.5", "2.9.1": "2.27.5"}
TORCH_NCCL["2.10.0"] = "2.27.5"


@pytest.mark.parametrize(("torch", "pin"), sorted(TORCH_NCCL.items()))
def test_nccl_rows_name_each_torch_pin(torch: str, pin: str) -> None:
    found = [c for c in rows("nccl-pin-clash", "torch") if c.versions.contains(Version(torch))]
    assert len(found) == 1 and f"nvidia-nccl-cu12=={pin}" in found[0].message
    assert found[0].breaks_with.specifier.contains("2.21.0") and not found[0].breaks_with.specifier.contains("2.20.0")
    assert found[0].declared_clash


@pytest.mark.parametrize("torch", ["2.6.0", "2.11.0", "2.15.0"])
def test_nccl_rows_leave_out_other_torch(torch: str) -> None:
    assert not covered(rows("nccl-pin-clash", "torch"), torch)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("torch==2.7.1\ntensorflow[and-cuda]==2.21.0", True),
        ("torch==2.8.0\ntensorflow[and-cuda]==2.21.0", True),
        ("torch==2.9.1\ntensorflow[and-cuda]==2.21.0", True),
        ("torch==2.10.0\ntensorflow[and-cuda]==2.21.0", True),
        # Ranges where every pair clashes: a resolver has nowhere to backtrack to.
        ("torch>=2.7,<2.11\ntensorflow[and-cuda]>=2.21", True),
        ("torch==2.10.0\ntensorflow[and-cuda]==2.20.0", False),
        ("torch==2.7.1\ntensorflow[and-cuda]>=2.20", False),  # 2.20 installs beside it
        ("torch==2.10.0\ntensorflow==2.21.0", False),  # no and-cuda extra: no NCCL pin
        ("torch==2.11.0\ntensorflow[and-cuda]==2.21.0", False),  # cu13 projects: no shared pin (ED201)
    ],
)
def test_nccl_clash_audit(text: str, fires: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = [f for f in ed203(audit(tmp_path, capsys, text)) if "nvidia-" in f["message"]]
    assert bool(found) is fires, found
    if fires:
        assert "nvidia-nccl-cu12" in found[0]["message"]
        assert "tensorflow[and-cuda]>=2.20,<2.21" in found[0]["fix"]


def test_the_newest_pair_names_its_own_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """torch 2.4 beside tensorflow[and-cuda] 2.21 is the 2.21 row's cuDNN clash, not the first
    torch 2.4 row's (tensorflow 2.15)."""
    found = ed203(audit(tmp_path, capsys, "torch==2.4.1\ntensorflow[and-cuda]==2.21.0"))
    assert found and "2.21" in found[0]["message"] and "2.15" not in found[0]["message"], found
    assert "tensorflow[and-cuda]>=2.20,<2.21" in found[0]["fix"]


# The fixes of the pin-clash rows must be satisfiable: what each offers installs beside the side it
# keeps, by the rows themselves (the cuDNN fix torch>=2.7,<2.11 beside tensorflow[and-cuda] 2.21 is not).
TORCH_RELEASES = ["2.0.1", "2.1.2", "2.3.1", "2.4.1", "2.6.0", "2.7.0", "2.7.1", "2.8.0", "2.9.0", "2.9.1", "2.10.0"]
TF_RELEASES = ["2.14.1", "2.15.1", "2.16.2", "2.17.1", "2.18.1", "2.19.1", "2.20.0", "2.21.0"]


def _clash(torch: str, tensorflow: str) -> bool:
    return any(
        c.declared_clash and c.versions.contains(Version(torch)) and c.breaks_with.specifier.contains(tensorflow)
        for c in facts.known_conflicts()
    )


PIN_ROWS = [c for c in facts.known_conflicts() if c.declared_clash]


@pytest.mark.parametrize("conflict", PIN_ROWS, ids=lambda c: f"{c.kind}-{c.versions}-{c.breaks_with}")
def test_each_pin_clash_fix_installs(conflict: facts.Conflict) -> None:
    fix = facts.Pep508Requirement(conflict.fix)
    tf_kept = [w for w in TF_RELEASES if conflict.breaks_with.specifier.contains(w)]
    if fix.name == "torch":
        # Every tensorflow the row keeps has a torch in the fix that installs beside it.
        for w in tf_kept:
            assert any(fix.specifier.contains(v) and not _clash(v, w) for v in TORCH_RELEASES), (conflict, w)
    else:
        assert fix.name == "tensorflow" and "and-cuda" in fix.extras
        mine = facts.SpecifierSet(conflict.upgrade) if conflict.upgrade else conflict.versions
        for v in [v for v in TORCH_RELEASES if mine.contains(v)]:
            fitting = [w for w in TF_RELEASES if fix.specifier.contains(w)]
            assert fitting and all(not _clash(v, w) for w in fitting), (conflict, v)


# Same-project pins only: torch 2.0 and tensorflow 2.14 ask the cu11 projects, the rest the cu12 ones
# (a cu11 beside a cu12 project is no install clash; ED201 reports the two CUDA majors).
@pytest.mark.parametrize(("torch", "tensorflow"), [(v, w) for v in TORCH_RELEASES for w in TF_RELEASES])
def test_only_torch_2_7_to_2_10_with_tensorflow_2_20_agree(torch: str, tensorflow: str) -> None:
    cu11 = (torch == "2.0.1", tensorflow == "2.14.1")
    if cu11[0] != cu11[1]:
        assert not _clash(torch, tensorflow)
        return
    agree = Version("2.7") <= Version(torch) < Version("2.11") and tensorflow == "2.20.0"
    assert _clash(torch, tensorflow) is not agree


# --- numpy124-aliases, shap ----------------------------------------------------------------------


def test_shap_row_cites_the_fix_commit() -> None:
    (shap,) = rows("numpy124-aliases", "shap")
    assert shap.source.startswith("https://github.com/shap/shap/commit/")
    assert covered([shap], "0.41.0") and not covered([shap], "0.42.0")


# --- the kind list -------------------------------------------------------------------------------


def test_an_unknown_conflict_kind_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb, "DATA_DIR", tmp_path)
    kb.clear_caches()
    try:
        (tmp_path / "incompatibilities.toml").write_text(
            '[[conflict]]\nkind = "nccl-pin-clsh"\npackage = "torch"\nversions = "<2"\n'
            'breaks_with = "numpy>=2"\nfix = "numpy<2"\nmessage = "m"\n'
            'source = "https://example.org/x"\nchecked = "2026-12-02"\n'
        )
        assert any("nccl-pin-clash" in p for p in check.problems()), check.problems()
    finally:
        kb.clear_caches()


# --- numpy2-abi: the NumPy 1.x builds whose METADATA leaves numpy uncapped ----------------------
# (release, covered): read from each release's Linux x86_64 wheel on 2026-12-02. The capped releases
# between the last uncapped one and the first NumPy-2 build (onnxruntime 1.18.1, gensim 4.3.3,
# thinc 8.2.5, faiss-cpu 1.8.0.post1, catboost 1.2.6-1.2.7) are left out: a resolver keeps NumPy 1.
NUMPY2_ABI = {
    "onnxruntime": [("1.17.3", True), ("1.18.0", True), ("1.18.1", False), ("1.19.0", False)],
    "onnxruntime-gpu": [("1.18.0", True), ("1.18.1", False), ("1.19.0", False)],
    "gensim": [("4.3.2", True), ("4.3.3", False), ("4.4.0", False)],
    "thinc": [("8.2.4", True), ("8.2.5", False), ("8.3.0", False)],
    "spacy": [("3.7.5", True), ("3.8.2", False)],
    "faiss-cpu": [("1.7.4", True), ("1.8.0", True), ("1.8.0.post1", False), ("1.9.0", False)],
    "catboost": [("1.2.5", True), ("1.2.6", False), ("1.2.7", False), ("1.2.8", False)],
    "jaxlib": [("0.4.25", True), ("0.4.26", False)],
}


@pytest.mark.parametrize(
    ("package", "version", "covered_"), [(p, v, c) for p, cases in NUMPY2_ABI.items() for v, c in cases]
)
def test_numpy2_abi_rows_cover_the_uncapped_numpy1_builds(package: str, version: str, covered_: bool) -> None:
    assert covered(rows("numpy2-abi", package), version) is covered_


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("onnxruntime==1.17.3\nnumpy", True),
        ("onnxruntime==1.18.0\nnumpy==2.0.0", True),
        ("onnxruntime-gpu==1.17.1\nnumpy>=2", True),
        ("gensim==4.3.2\nnumpy>=2", True),
        ("thinc==8.2.4\nnumpy>=2", True),
        ("spacy==3.7.5\nnumpy>=2", True),
        ("faiss-cpu==1.8.0\nnumpy>=2", True),
        ("catboost==1.2.5\nnumpy>=2", True),
        ("jaxlib==0.4.25\nnumpy>=2", True),
        ("onnxruntime==1.17.3\nnumpy<2", False),
        ("onnxruntime==1.19.0\nnumpy", False),
        ("gensim==4.4.0\nnumpy>=2", False),
        ("thinc==8.3.0\nnumpy>=2", False),
        ("faiss-cpu==1.9.0\nnumpy>=2", False),
        ("catboost==1.2.8\nnumpy>=2", False),
        ("jaxlib==0.4.26\nnumpy>=2", False),
    ],
)
def test_numpy2_abi_audit(text: str, fires: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = text.split("==", maxsplit=1)[0]
    found = [f for f in ed203(audit(tmp_path, capsys, text)) if f["packages"][0].startswith(package)]
    assert bool(found) is fires, found
    if fires:
        assert found[0]["fix"].startswith("numpy<2")


# --- removed-api: NumPy 2.0's np.float_ (chromadb), huggingface_hub 1.0's HfFolder (gradio) ------
# chromadb/api/types.py has np.float_ at module level in 0.4.16-0.5.5; 0.5.1-0.5.5 cap numpy<2.0.0.
# gradio/oauth.py imports HfFolder in 4.9.0-5.7.0 (read from the wheels).
@pytest.mark.parametrize(
    ("package", "version", "covered_"),
    [
        ("chromadb", "0.4.15", False),
        ("chromadb", "0.4.16", True),
        ("chromadb", "0.4.24", True),
        ("chromadb", "0.5.0", True),
        ("chromadb", "0.5.3", False),
        ("chromadb", "0.5.7", False),
        ("gradio", "4.8.0", False),
        ("gradio", "4.9.0", True),
        ("gradio", "4.44.1", True),
        ("gradio", "5.7.0", True),
        ("gradio", "5.7.1", False),
    ],
)
def test_removed_api_rows(package: str, version: str, covered_: bool) -> None:
    assert covered(rows("removed-api", package), version) is covered_


@pytest.mark.parametrize(
    ("text", "fires", "word"),
    [
        ("chromadb==0.4.24\nnumpy>=2", True, "np.float_"),
        ("chromadb==0.5.0\nnumpy==2.0.0", True, "np.float_"),
        ("chromadb==0.4.24\nnumpy<2", False, ""),
        ("chromadb==0.5.3\nnumpy", False, ""),
        ("chromadb==0.5.7\nnumpy>=2", False, ""),
        ("gradio==4.44.1\nhuggingface-hub>=1.0", True, "HfFolder"),
        ("gradio==5.0.0\nhuggingface-hub==1.0.0", True, "HfFolder"),
        ("gradio==4.44.1\nhuggingface-hub<1.0", False, ""),
        ("gradio==5.7.1\nhuggingface-hub>=1.0", False, ""),
    ],
)
def test_removed_api_audit(
    text: str, fires: bool, word: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = ed203(audit(tmp_path, capsys, text))
    assert bool(found) is fires, found
    if fires:
        assert word in found[0]["message"]
        assert found[0]["fix"].startswith(("numpy<2", "huggingface-hub<1"))


# --- keras3: transformers' TensorFlow models under TensorFlow >= 2.16 without tf-keras -------------
@pytest.mark.parametrize("minor", ["2.16", "2.17", "2.18", "2.19", "2.20", "2.21"])
def test_keras3_rows_fix_with_the_same_tf_keras_minor(minor: str) -> None:
    found = [c for c in rows("keras3", "transformers") if c.breaks_with.specifier.contains(f"{minor}.0")]
    assert len(found) == 1
    fix = facts.Pep508Requirement(found[0].fix)
    assert fix.name == "tf-keras" and fix.specifier.contains(f"{minor}.0") and not fix.specifier.contains("2.15.0")


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("tensorflow==2.16.1\ntransformers==4.40.2", True),
        ("tensorflow==2.21.0\ntransformers==4.57.1", True),
        ("tensorflow==2.18.0\ntransformers==4.38.0", True),
        ("tensorflow==2.16.1\ntf-keras==2.16.0\ntransformers==4.40.2", False),
        ("tensorflow==2.15.1\ntransformers==4.40.2", False),  # Keras 2 is TensorFlow's own
        ("tensorflow==2.16.1\ntransformers==4.37.2", False),  # no tf-keras fallback yet: not this row
        ("tensorflow==2.16.1\ntransformers==5.0.0", False),  # no TensorFlow code
    ],
)
def test_keras3_audit(text: str, fires: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = [f for f in ed203(audit(tmp_path, capsys, text)) if "Keras 3" in f["message"]]
    assert bool(found) is fires, found
    if fires:
        minor = text.split("==")[1][:4]
        assert found[0]["fix"].startswith(f"tf-keras>={minor}")


# --- undeclared-floor: transformers' import-time torch floor ---------------------------------------
# (transformers, the newest torch it disables): utils/import_utils.py of each wheel.
FLOORS = [("4.51.3", None), ("4.52.1", "2.0.1"), ("4.57.6", "2.0.1"), ("5.0.0", "2.1.2")]
FLOORS += [("5.14.1", "2.3.1"), ("5.19.0", "2.4.1"), ("5.24.0", "2.5.1")]


@pytest.mark.parametrize(("transformers", "below"), FLOORS)
def test_undeclared_floor_rows(transformers: str, below: str | None) -> None:
    found = [c for c in rows("undeclared-floor", "transformers") if c.versions.contains(transformers)]
    if below is None:
        assert not found
        return
    assert len(found) == 1
    assert found[0].breaks_with.specifier.contains(below)
    floor = next(iter(facts.Pep508Requirement(found[0].fix).specifier)).version
    assert not found[0].breaks_with.specifier.contains(floor)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("transformers==4.56.0\ntorch==2.0.1\nnumpy<2", True),
        ("transformers==5.24.0\ntorch==2.5.1", True),
        ("transformers==5.10.1\ntorch==2.3.1", True),
        ("transformers==4.56.0\ntorch==2.4.1", False),
        ("transformers==4.51.3\ntorch==2.0.1\nnumpy<2", False),
        ("transformers==5.24.0\ntorch==2.6.0", False),
    ],
)
def test_undeclared_floor_audit(text: str, fires: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = [f for f in ed203(audit(tmp_path, capsys, text)) if "Disabling PyTorch" in f["message"]]
    assert bool(found) is fires, found
    if fires:
        assert found[0]["fix"].startswith("torch>=")


def test_undeclared_floor_of_a_package_the_set_only_pulls_in_is_capped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """vllm 0.6.3 pulls in transformers>=4.45.0 (its METADATA) and pins torch 2.4.0: a fresh install
    takes transformers 5.24, which disables PyTorch below 2.6. The fix caps transformers below the
    first release whose floor torch 2.4.0 misses (5.15.0: floor 2.5), not a torch the pin forbids."""
    (found,) = [
        f for f in ed203(audit(tmp_path, capsys, "vllm==0.6.3\ntorch==2.4.0")) if "Disabling PyTorch" in f["message"]
    ]
    assert found["severity"] == "error"
    assert found["fix"].startswith("transformers<5.15.0")


def test_a_transformers_range_beside_an_old_torch_pin_is_judged_at_the_release_a_fresh_install_gets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """generative-models' shape: transformers>=4.31.0 beside torch==2.1.0. A fresh install takes
    transformers 5.24, whose floor is torch 2.6: an error, judged at that release (not at 5.0, the
    first floor row), with the cap that keeps the releases whose floor torch 2.1.0 meets."""
    found = [
        f for f in ed203(audit(tmp_path, capsys, "transformers>=4.31.0\ntorch==2.1.0")) if "Disabling" in f["message"]
    ]
    (finding,) = found
    assert finding["severity"] == "error" and "5.24.0" in finding["message"]
    assert finding["fix"].startswith("transformers<5.0.0")
