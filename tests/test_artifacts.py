"""Model artifacts read as data and judged against the set (envdoctor/artifacts, rules/artifacts.py).

The real files in tests/fixtures/artifacts/ were written by the releases PROVENANCE.md names;
the hostile ones are made here, as bytes, and never loaded by anything."""

from __future__ import annotations

import io
import json
import lzma
import os
import pickle
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from envdoctor import api
from envdoctor.artifacts import pickles, read
from envdoctor.artifacts.read import read_artifact
from envdoctor.host.profile import HostProfile

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "artifacts"
KEYS = frozenset({"_sklearn_version"})
LINUX = HostProfile(os="linux", arch="x86_64", python="3.11")


@pytest.mark.parametrize(
    ("name", "form", "versions", "names"),
    [
        # pickle.dump of a scikit-learn 1.3.2 estimator, NumPy 1: numpy.core paths.
        ("logistic-sklearn1.3.2-numpy1.26.4.pkl", "pickle", [("_sklearn_version", "1.3.2")],
         {"sklearn.linear_model._logistic.LogisticRegression", "numpy.core.multiarray._reconstruct"}),
        # NumPy 2 writes numpy._core.
        ("logistic-sklearn1.5.2-numpy2.1.3.pkl", "pickle", [("_sklearn_version", "1.5.2")],
         {"numpy._core.multiarray._reconstruct"}),
        # joblib: arrays written between opcodes are stepped over, plain and compressed alike.
        ("logistic-sklearn1.3.2-numpy1.26.4.joblib", "joblib", [("_sklearn_version", "1.3.2")],
         {"joblib.numpy_pickle.NumpyArrayWrapper"}),
        ("logistic-sklearn1.3.2-numpy1.26.4-zlib.joblib", "joblib", [("_sklearn_version", "1.3.2")], set()),
        ("logistic-sklearn1.5.2-numpy2.1.3-xz.joblib", "joblib", [("_sklearn_version", "1.5.2")], set()),
        # Structured arrays (the trees' nodes), sized from their pickled dtype.
        ("forest-sklearn1.5.2-numpy2.1.3.joblib", "joblib", [("_sklearn_version", "1.5.2")],
         {"sklearn.tree._tree.Tree", "numpy._core.multiarray.scalar"}),
        ("checkpoint-torch2.13.0-numpy2.pt", "torch", [],
         {"argparse.Namespace", "torch._utils._rebuild_tensor_v2", "collections.OrderedDict"}),
        ("weights-sklearn1.3.2-numpy1.26.4.safetensors", "safetensors", [], set()),
        # XGBoost records its release last: a JSON array, a UBJSON array, or the legacy binary's header.
        ("more/xgboost-3.2.0-tiny.json", "xgboost", [("version", "3.2.0")], set()),
        ("more/xgboost-1.7.6-tiny.ubj", "xgboost", [("version", "1.7.6")], set()),
        ("more/xgboost-3.2.0-tiny.ubj", "xgboost", [("version", "3.2.0")], set()),
        ("more/xgboost-1.7.6-tiny.model", "xgboost", [("version", "1.7"), ("format", "binf")], set()),
        # LightGBM records its format generation, not its release.
        ("more/lightgbm-3.3.5-tiny.txt", "lightgbm", [("format", "v3")], set()),
        ("more/lightgbm-4.7.0-tiny.txt", "lightgbm", [("format", "v4")], set()),
        ("more/keras-3.15.1-tiny-sequential.keras", "keras", [("keras_version", "3.15.1")], set()),
        ("more/keras-2.15.0-tiny-sequential.keras", "keras", [("keras_version", "2.15.0")], set()),
        # Keras' legacy HDF5: the root group's keras_version (variable-length text, in the global heap).
        ("more/keras-3.15.1-tiny-sequential.h5", "keras-h5", [("keras_version", "3.15.1")], set()),
        ("more/keras-2.15.0-tiny-sequential.h5", "keras-h5", [("keras_version", "2.15.0")], set()),
        # h5py's newest layout (superblock 3, object header 2); not written by Keras.
        ("more/hdf5-superblock3-h5py3.16.0.h5", "keras-h5", [("keras_version", "3.15.1")], set()),
        # skops: the types its schema builds, skops' release, and scikit-learn's in the estimator's state.
        ("more/skops-0.16.0-sklearn-1.9.1-logreg.skops", "skops",
         [("_skops_version", "0.16.0"), ("_sklearn_version", "1.9.1")],
         {"sklearn.linear_model._logistic.LogisticRegression", "numpy.ndarray", "builtins.dict"}),
        ("more/skops-0.16.0-sklearn-1.9.1-untrusted-pipe.skops", "skops",
         [("_skops_version", "0.16.0"), ("_sklearn_version", "1.9.1")], {"_operator.neg", "sklearn.pipeline.Pipeline"}),
        # ONNX: the header's IR version, operator sets (skl2onnx names the default domain twice) and producer.
        ("onnx/linear-opset21-ir10.onnx", "onnx", [], set()),
    ],
)  # fmt: skip
def test_real_artifacts_are_read_without_loading_them(
    name: str, form: str, versions: list[tuple[str, str]], names: set[str]
) -> None:
    found = read_artifact(str(FIXTURES / name), KEYS)
    assert found.format == form
    assert list(found.versions) == versions
    assert names <= set(found.globals)
    assert found.pickled == (form in ("pickle", "joblib", "torch"))


def _audit(tmp_path: Path, requirements: str, *artifacts: str) -> dict[str, list[str]]:
    (tmp_path / "requirements.txt").write_text(requirements)
    files = [tmp_path / "requirements.txt", *(FIXTURES / name for name in artifacts)]
    report = api.audit(files, hosts=[LINUX])
    found: dict[str, list[str]] = {}
    for finding in report.findings:
        if finding.location is not None and not finding.location.path.endswith("requirements.txt"):
            found.setdefault(Path(finding.location.path).name, []).append(finding.code)
    return found


# (artifact, the set, the codes the artifact gets): each expectation from the releases that wrote it.
CASES = [
    # The release that wrote it: a clean bill but for being a pickle.
    ("logistic-sklearn1.3.2-numpy1.26.4.pkl", "scikit-learn==1.3.2\nnumpy==1.26.4\n", ["ED603"]),
    # Another scikit-learn release: the post-mortem's failure.
    ("logistic-sklearn1.3.2-numpy1.26.4.pkl", "scikit-learn==1.5.2\nnumpy==1.26.4\n", ["ED206", "ED603"]),
    # The set does not name scikit-learn: another package may bring it, so its release is not judged.
    ("logistic-sklearn1.3.2-numpy1.26.4.joblib", "numpy==1.26.4\njoblib==1.3.2\n", ["ED603"]),
    # A NumPy 2 pickle under NumPy 1.25 (no numpy._core), and under 1.26.4 (its stubs load it).
    ("arrays-sklearn1.5.2-numpy2.1.3.pkl", "numpy==1.25.2\n", ["ED207", "ED603"]),
    ("arrays-sklearn1.5.2-numpy2.1.3.pkl", "numpy==1.26.4\n", ["ED603"]),
    ("arrays-sklearn1.3.2-numpy1.26.4.pkl", "numpy==2.1.3\n", ["ED603"]),
    # Protocol 5 names numpy._core.numeric, which 1.26's stubs lack (numpy#28340; 1.26.4 fails to load it).
    ("arrays-protocol5-sklearn1.5.2-numpy2.1.3.pkl", "numpy==1.26.4\n", ["ED207", "ED603"]),
    ("arrays-protocol5-sklearn1.5.2-numpy2.1.3.pkl", "numpy==2.1.3\n", ["ED603"]),
    # torch >= 2.6 refuses a checkpoint that holds an argparse.Namespace by default; 2.5 does not.
    ("checkpoint-torch2.13.0-numpy2.pt", "torch==2.7.1\nnumpy==2.1.3\n", ["ED208", "ED602"]),
    ("checkpoint-torch2.13.0-numpy2.pt", "torch==2.5.1\nnumpy==2.1.3\n", ["ED602"]),
    ("linear-state-torch2.13.0-numpy2.pt", "torch==2.7.1\n", ["ED603"]),
    ("weights-sklearn1.3.2-numpy1.26.4.safetensors", "torch==2.7.1\n", []),
    # XGBoost reads what older releases saved, not newer ones (1.7.6 loads a 3.2.0 model and predicts wrong).
    ("more/xgboost-3.2.0-tiny.ubj", "xgboost==1.7.6\n", ["ED206"]),
    ("more/xgboost-3.2.0-tiny.json", "xgboost==3.2.0\n", []),
    ("more/xgboost-1.7.6-tiny.json", "xgboost==3.2.0\n", []),
    # The legacy binary format: gone from 3.1 on.
    ("more/xgboost-1.7.6-tiny.model", "xgboost==3.2.0\n", ["ED209"]),
    ("more/xgboost-1.7.6-tiny.model", "xgboost==1.7.6\n", []),
    # LightGBM's loader does not read the version line: each release loads the other's model.
    ("more/lightgbm-4.7.0-tiny.txt", "lightgbm==3.3.5\n", []),
    # Keras 2 cannot rebuild a Keras 3 file; Keras 3 reads Keras 2's.
    ("more/keras-3.15.1-tiny-sequential.keras", "keras==2.15.0\n", ["ED206"]),
    ("more/keras-2.15.0-tiny-sequential.keras", "keras==3.15.1\n", []),
    # Keras 2 and 3 each fail on the other's HDF5 model (Keras 3 loads a Keras 2 one only with compile=False).
    ("more/keras-3.15.1-tiny-sequential.h5", "keras==2.15.0\n", ["ED206"]),
    ("more/keras-2.15.0-tiny-sequential.h5", "keras==3.15.1\n", ["ED206"]),
    ("more/keras-3.15.1-tiny-sequential.h5", "keras==3.15.1\n", []),
    # skops: scikit-learn's release in the state; a type skops does not trust by default.
    ("more/skops-0.16.0-sklearn-1.9.1-logreg.skops", "scikit-learn==1.9.1\n", []),
    ("more/skops-0.16.0-sklearn-1.9.1-logreg.skops", "scikit-learn==1.5.2\n", ["ED206"]),
    ("more/skops-0.16.0-sklearn-1.9.1-untrusted-pipe.skops", "scikit-learn==1.9.1\n", ["ED602"]),
    # Class paths a later (or earlier) release does not have: each seen failing to load (renames/PROVENANCE.md).
    ("renames/pandas153_df_int64index.pkl", "pandas==2.2.3\n", ["ED207", "ED603"]),
    ("renames/pandas153_df_int64index.pkl", "pandas==1.5.3\n", ["ED603"]),
    ("renames/sklearn0213_rf.pkl", "scikit-learn==1.5.2\n", ["ED206", "ED207", "ED603"]),
    # 0.22-0.23 kept the old paths as deprecated aliases.
    ("renames/sklearn0213_logreg.pkl", "scikit-learn==0.23.2\n", ["ED206", "ED603"]),
    ("renames/sklearn0204_externals_joblib_logreg.joblib", "scikit-learn==1.5.2\n", ["ED206", "ED207", "ED603"]),
    ("renames/sklearn0242_knn_kdtree.pkl", "scikit-learn==1.0.2\n", ["ED206", "ED207", "ED603"]),
    ("renames/sklearn122_knn_kdtree.pkl", "scikit-learn==1.3.2\n", ["ED206", "ED207", "ED603"]),
    ("renames/sklearn132_knn_kdtree.pkl", "scikit-learn==1.2.2\n", ["ED206", "ED207", "ED603"]),
    ("renames/sklearn132_gradient_boosting.pkl", "scikit-learn==1.4.2\n", ["ED206", "ED207", "ED603"]),
    ("renames/scipy181_csr_matrix.pkl", "scipy==1.7.3\n", ["ED207", "ED603"]),
    # SciPy still loads the old public name, as a deprecated alias.
    ("renames/scipy173_csr_matrix.pkl", "scipy==1.18.1\n", ["ED603"]),
    # ONNX Runtime refuses an operator set or IR version newer than it knows: 1.17 stops at 20 and 9.
    ("onnx/linear-opset21-ir10.onnx", "onnxruntime==1.17.3\n", ["ED209"]),
    ("onnx/linear-opset21-ir10.onnx", "onnxruntime==1.18.1\n", []),
    ("onnx/linear-opset17-ir8.onnx", "onnxruntime==1.14.1\n", []),
    ("onnx/linear-opset21-ir10.onnx", "onnxruntime-gpu==1.16.3\n", ["ED209"]),
    # A release the knowledge base has no row for is not judged.
    ("onnx/linear-opset21-ir10.onnx", "onnxruntime==1.13.1\n", []),
]


@pytest.mark.parametrize(("artifact", "requirements", "codes"), CASES)
def test_artifact_findings(tmp_path: Path, artifact: str, requirements: str, codes: list[str]) -> None:
    assert sorted(_audit(tmp_path, requirements, artifact).get(Path(artifact).name, [])) == codes


# (artifact, the set, the host's Python, the codes): a range is judged as what it installs on that host.
HOST_CASES = [
    # scikit-learn>=1.3,<1.6 is 1.3.2 on Python 3.8 (its last release with 3.8 wheels), 1.5.2 on 3.12.
    ("logistic-sklearn1.3.2-numpy1.26.4.pkl", "scikit-learn>=1.3,<1.6\n", "3.8", ["ED603"]),
    ("logistic-sklearn1.3.2-numpy1.26.4.pkl", "scikit-learn>=1.3,<1.6\n", "3.12", ["ED206", "ED603"]),
    ("onnx/linear-opset21-ir10.onnx", "onnxruntime>=1.14,<1.18\n", "3.11", ["ED209"]),
    ("onnx/linear-opset21-ir10.onnx", "onnxruntime>=1.14\n", "3.8", []),
]


@pytest.mark.parametrize(("artifact", "requirements", "python", "codes"), HOST_CASES)
def test_artifact_findings_depend_on_what_the_set_installs_on_the_host(
    tmp_path: Path, artifact: str, requirements: str, python: str, codes: list[str]
) -> None:
    (tmp_path / "requirements.txt").write_text(requirements)
    host = HostProfile(os="linux", arch="x86_64", python=python)
    report = api.audit([tmp_path / "requirements.txt", FIXTURES / artifact], hosts=[host])
    found = [f.code for f in report.findings if f.location is not None and f.location.path.endswith(artifact)]
    assert sorted(found) == codes


def test_a_version_skew_finding_names_the_release_that_wrote_it(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("scikit-learn==1.5.2\n")
    report = api.audit(
        [tmp_path / "requirements.txt", FIXTURES / "logistic-sklearn1.3.2-numpy1.26.4.pkl"], hosts=[LINUX]
    )
    (skew,) = [f for f in report.findings if f.code == "ED206"]
    assert "written by scikit-learn 1.3.2" in skew.message and "scikit-learn 1.5.2" in skew.message
    assert skew.fix is not None and skew.fix.startswith("scikit-learn==1.3.2")


class _Shell:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def test_a_pickle_that_runs_a_command_is_an_error_and_is_never_run(tmp_path: Path) -> None:
    bad = tmp_path / "model.pkl"
    bad.write_bytes(pickle.dumps({"weights": [1.0], "hook": _Shell()}))
    report = api.audit([bad], hosts=[LINUX])
    (finding,) = [f for f in report.findings if f.category == "unsafe-artifact"]
    assert finding.code == "ED601" and finding.severity.label == "error"
    assert "posix.system" in finding.message or "nt.system" in finding.message


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x80\x04\x95", "truncated"),
        (b"\x80\x04\xff.", "unknown opcode"),
        (b"\x80\x04)R.", "stack underflow"),
        (b"\x80\x04\x8c\xff", "truncated"),  # a string longer than the file
        (b"\x80\x04" + b"(" * (pickles.MAX_MARKS + 1), "nested MARKs"),
        (b"\x80\x04\x8e" + (2**62).to_bytes(8, "little"), "truncated"),  # 4 EiB claimed: skipped, not read
        (b"cos\nsystem" + b"x" * 70_000 + b"\n.", "no newline"),
    ],
)
def test_hostile_pickles_are_one_line_problems(tmp_path: Path, data: bytes, problem: str) -> None:
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(data)
    with pytest.raises(api.InputError, match=problem) as raised:
        read_artifact(str(bad), KEYS)
    assert raised.value.path == str(bad) and "\n" not in str(raised.value)


def test_a_compression_bomb_stops_at_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read, "MAX_DECOMPRESSED", 1 << 20)
    bomb = tmp_path / "model.joblib"
    # A pickle of one 8 MiB bytes value, compressed to a few KiB: reading stops after 1 MiB.
    bomb.write_bytes(lzma.compress(pickle.dumps(bytes(8 << 20), protocol=4), format=lzma.FORMAT_XZ))
    with pytest.raises(api.InputError, match="more than 0 GiB once decompressed"):
        read_artifact(str(bomb), KEYS)
    zbomb = tmp_path / "model-z.joblib"
    zbomb.write_bytes(zlib.compress(pickle.dumps(bytes(8 << 20), protocol=4)))
    with pytest.raises(api.InputError, match="decompressed"):
        read_artifact(str(zbomb), KEYS)


def test_a_zip_that_is_no_model_is_refused_and_a_bad_safetensors_header_too(tmp_path: Path) -> None:
    archive = tmp_path / "model.pt"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("notes.txt", "hello")
    with pytest.raises(api.InputError, match="not a model format"):
        read_artifact(str(archive), KEYS)
    header = tmp_path / "model.safetensors"
    header.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(api.InputError, match="header size"):
        read_artifact(str(header), KEYS)
    header.write_bytes((2).to_bytes(8, "little") + b"[]")
    with pytest.raises(api.InputError, match="not a JSON object"):
        read_artifact(str(header), KEYS)


def test_deep_nesting_costs_no_recursion() -> None:
    found = pickles.read_pickle(io.BytesIO(_nested_list_pickle(50_000)))
    assert found.opcodes > 50_000


def _nested_list_pickle(depth: int) -> bytes:
    """A list nested ``depth`` deep, written opcode by opcode (pickle.dumps would recurse)."""
    return b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."


def test_a_folder_is_read_for_its_model_files(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("logistic-sklearn1.3.2-numpy1.26.4.pkl", "weights-sklearn1.3.2-numpy1.26.4.safetensors"):
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    (folder / "README.md").write_text("not a model")
    found = read.read_artifacts(str(folder))
    assert [Path(a.path).name for a in found] == [
        "logistic-sklearn1.3.2-numpy1.26.4.pkl",
        "weights-sklearn1.3.2-numpy1.26.4.safetensors",
    ]


def test_explain_and_sarif_know_the_new_category(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from envdoctor.cli import main

    assert main(["explain", "ED601"]) == 0
    assert "unsafe-artifact" in capsys.readouterr().out
    bad = tmp_path / "model.pkl"
    bad.write_bytes(pickle.dumps(_Shell()))
    main(["audit", str(bad), "--os", "linux", "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    rules = {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert "ED601" in rules


def test_models_named_like_other_files_are_told_by_their_first_bytes(tmp_path: Path) -> None:
    from envdoctor.requirements import detect_kind

    more = FIXTURES / "more"
    assert detect_kind(str(more / "xgboost-3.2.0-tiny.json")) == "artifact"
    assert detect_kind(str(more / "xgboost-1.7.6-tiny.model")) == "artifact"
    assert detect_kind(str(more / "lightgbm-4.7.0-tiny.txt")) == "artifact"
    (tmp_path / "requirements.txt").write_text("tree\nnumpy==2.1.3\n")
    assert detect_kind(str(tmp_path / "requirements.txt")) == "requirements"
    (tmp_path / "package.json").write_text('{"name": "web", "version": "1.0.0"}')
    with pytest.raises(api.InputError, match="cannot tell what kind"):
        detect_kind(str(tmp_path / "package.json"))
    # In a folder too: the XGBoost JSON is read, the package.json and requirements.txt are not.
    (tmp_path / "booster.json").write_bytes((more / "xgboost-3.2.0-tiny.json").read_bytes())
    assert [Path(a.path).name for a in read.read_artifacts(str(tmp_path))] == ["booster.json"]


def test_an_xgboost_model_whose_end_is_not_its_version_is_named_not_guessed(tmp_path: Path) -> None:
    cut = tmp_path / "model.ubj"
    cut.write_bytes((FIXTURES / "more" / "xgboost-3.2.0-tiny.ubj").read_bytes()[:-5])
    found = read_artifact(str(cut), KEYS)
    assert found.format == "xgboost" and found.versions == ()
    assert found.notes == ("an XGBoost model whose release is not recorded at its end",)


def test_an_onnx_header_is_read_and_its_graph_stepped_over() -> None:
    found = read_artifact(str(FIXTURES / "onnx" / "linear-opset13-ir7.onnx"), KEYS)
    assert (found.ir_version, found.producer) == (7, "skl2onnx 1.20.0")
    assert sorted(set(found.opsets)) == [("", 13), ("ai.onnx.ml", 1)]


def test_an_onnx_fix_names_the_first_runtime_that_loads_it(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("onnxruntime==1.16.3\n")
    report = api.audit([tmp_path / "requirements.txt", FIXTURES / "onnx" / "linear-opset21-ir10.onnx"], hosts=[LINUX])
    (finding,) = [f for f in report.findings if f.code == "ED209"]
    assert "uses operator set 21 and IR version 10; onnxruntime 1.16.3 loads up to operator set 19" in finding.message
    assert finding.fix is not None and finding.fix.startswith("install onnxruntime>=1.18, or export it again")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x08", "truncated"),  # ir_version's number missing
        (b"\x08\x07\x3a\xff\xff\xff\xff\x0f", "past the end"),  # a graph longer than the file
        (b"\x00\x01", "numbered 0"),
        (b"\x08\x07\x0b", "wire type 3"),
        (b"\x08\x07", "no operator set"),
        (b"\x08" + b"\xff" * 11, "longer than ten bytes"),
        (b"\x08\x07\x42\x02\x08\x01", "has no version"),  # an operator set with only a domain-less field 1
    ],
)
def test_hostile_onnx_files_are_one_line_problems(tmp_path: Path, data: bytes, problem: str) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(data)
    with pytest.raises(api.InputError, match=problem) as raised:
        read_artifact(str(bad), KEYS)
    assert "\n" not in str(raised.value)


def test_an_hdf5_file_that_is_no_keras_model_is_data(tmp_path: Path) -> None:
    plain = bytearray((FIXTURES / "more" / "keras-2.15.0-tiny-sequential.h5").read_bytes())
    at = plain.find(b"keras_version")
    plain[at : at + 13] = b"other_version"
    (tmp_path / "data.h5").write_bytes(bytes(plain))
    found = read_artifact(str(tmp_path / "data.h5"), KEYS)
    assert (found.format, found.versions, found.notes) == ("hdf5", (), ())


@pytest.mark.parametrize(
    ("cut", "problem"),
    [
        (lambda data: data[:40], "cut short"),
        (lambda data: data[:8] + b"\x07" + data[9:], "superblock version 7"),
        (lambda data: data[:800], "past the end"),
    ],
)
def test_hostile_hdf5_files_are_one_line_problems(tmp_path: Path, cut: Callable[[bytes], bytes], problem: str) -> None:
    data = (FIXTURES / "more" / "keras-3.15.1-tiny-sequential.h5").read_bytes()
    bad = tmp_path / "bad.h5"
    bad.write_bytes(cut(data))
    with pytest.raises(api.InputError, match=problem) as raised:
        read_artifact(str(bad), KEYS)
    assert "\n" not in str(raised.value)


def test_every_name_a_release_lacks_is_named_at_once_with_the_loader_that_maps_it(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("scikit-learn==1.5.2\npandas==2.2.3\n")
    renames = FIXTURES / "renames"
    files = [renames / "sklearn0213_rf.pkl", renames / "pandas153_df_int64index.pkl"]
    report = api.audit([tmp_path / "requirements.txt", *files], hosts=[LINUX])
    sklearn, pandas = sorted((f for f in report.findings if f.code == "ED207"), key=lambda f: f.packages)[::-1]
    # Unpickling stops at the first missing module; the finding names both.
    assert "sklearn.ensemble.forest.RandomForestClassifier, sklearn.tree.tree.DecisionTreeClassifier" in sklearn.message
    assert sklearn.fix is not None and sklearn.fix.startswith("install scikit-learn<0.24")
    shim = "pd.read_pickle maps these to pandas.Index and loads it; pickle.load and joblib.load fail"
    assert pandas.message.endswith(shim)


def test_an_onnx_ml_operator_set_is_judged_too(tmp_path: Path) -> None:
    # ModelProto: ir_version 8, ai.onnx 17, ai.onnx.ml 5 (what scikit-learn exporters stamp), no graph.
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x08" + b"\x42\x02\x10\x11" + b"\x42\x0e\x0a\x0aai.onnx.ml\x10\x05")
    for runtime, expected in (("onnxruntime==1.16.3", 1), ("onnxruntime==1.18.1", 0)):
        (tmp_path / "requirements.txt").write_text(runtime + "\n")
        report = api.audit([tmp_path / "requirements.txt", model], hosts=[LINUX])
        found = [f for f in report.findings if f.code == "ED209"]
        assert len(found) == expected
        if found:
            assert "uses ai.onnx.ml operator set 5; onnxruntime 1.16.3 loads up to ai.onnx.ml operator set 3" in (
                found[0].message
            )
            assert found[0].fix is not None and found[0].fix.startswith("install onnxruntime>=1.18, or")
