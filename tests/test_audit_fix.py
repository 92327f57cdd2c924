"""``envdoctor audit --fix`` and ``--diff`` on real files (tests/fixtures/projects/, with their
provenance) against the bundled host profiles: the diff is exact, --fix writes what --diff shows
and the fixed files audit clean, a fix that does not hold (on one host, or on every host) is not
applied, pyproject.toml keeps its comments and quoting, a fix that would write more than a
requirement is refused (exit 2), and a second --fix changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.findings import Edit
from envdoctor.rules import edits as fix_edits

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "projects"
V100 = str(FIXTURES / "hosts" / "v100-driver470.json")
RTX5090 = str(FIXTURES / "hosts" / "rtx5090-driver570.json")
CPU = str(FIXTURES / "hosts" / "laptop-cpu.json")
WHISPER = FIXTURES / "whisper"

WHISPER_DIFF = """\
--- requirements.txt
+++ requirements.txt
@@ -1,6 +1,7 @@
+--extra-index-url https://download.pytorch.org/whl/cu118
 numba
 numpy
-torch
+torch==2.7.1+cu118
 tqdm
 more-itertools
 tiktoken
"""

NUMPY_PYPROJECT = """\
[project]
name = "demo"
version = "0.1.0"
# Runtime dependencies: keep them sorted.
dependencies = [
    'numpy>=1.20',   # arrays
    "torch==2.1.0",  # the model
]

[dependency-groups]
dev = ["pytest"]
"""


@pytest.fixture
def whisper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """whisper's requirements.txt and pyproject.toml, copied as they are, in the current folder."""
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy(WHISPER / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _codes(capsys: pytest.CaptureFixture[str], *argv: str) -> set[str]:
    _code, out, _err = _run(capsys, *argv, "--format", "json")
    return {finding["code"] for finding in json.loads(out)["findings"]}


def test_diff_prints_the_torch_build_for_a_v100_and_changes_nothing(
    whisper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (whisper / "requirements.txt").read_text()
    code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--diff")
    assert (code, out) == (1, WHISPER_DIFF)
    assert (whisper / "requirements.txt").read_text() == before


def test_fix_writes_what_diff_shows_and_the_fixed_file_audits_clean(
    whisper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert {"ED101", "ED102"} <= _codes(capsys, "requirements.txt", "--host", V100)
    code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--fix")
    assert code == 0
    assert "fixed requirements.txt:3 (ED101, ED102): torch -> torch==2.7.1+cu118" in out
    text = (whisper / "requirements.txt").read_text()
    assert text.splitlines()[:4] == [
        "--extra-index-url https://download.pytorch.org/whl/cu118",
        "numba",
        "numpy",
        "torch==2.7.1+cu118",
    ]
    # The marker line is untouched, as written.
    assert (
        text.splitlines()[-1]
        == 'triton>=2.0.0;platform_machine=="x86_64" and sys_platform=="linux" or sys_platform=="linux2"'
    )
    assert not {"ED101", "ED102"} & _codes(capsys, "requirements.txt", "--host", V100)


def test_a_second_fix_changes_nothing(whisper: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "requirements.txt", "--host", V100, "--fix")
    fixed = (whisper / "requirements.txt").read_bytes()
    code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--fix")
    assert code == 0 and "fixed" not in out
    assert (whisper / "requirements.txt").read_bytes() == fixed
    assert _run(capsys, "requirements.txt", "--host", V100, "--diff")[:2] == (0, "")


def test_two_hosts_that_disagree_get_no_fix_and_are_named(whisper: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (whisper / "requirements.txt").read_text()
    code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--host", RTX5090, "--fix")
    assert code == 1
    assert (whisper / "requirements.txt").read_text() == before
    # The V100's build has no kernels for the RTX 5090; the RTX 5090's needs a newer driver than the V100's.
    assert f"whl/cu118): not applied: does not hold on {RTX5090} (ED102 remains)" in out
    assert f"whl/cu128): not applied: does not hold on {V100} (ED101 remains)" in out


def test_a_fix_that_does_not_rejudge_clean_is_not_applied(
    whisper: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fix_edits.pins_edits

    def stale(ctx: Any, pins: Any) -> tuple[Edit, ...]:
        # A torch whose build this driver does not run either (the cu121 build of 2.1.0).
        return tuple(e._replace(requirement="torch==2.1.0", index_url=None) for e in real(ctx, pins))

    monkeypatch.setattr(fix_edits, "pins_edits", stale)
    before = (whisper / "requirements.txt").read_text()
    code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--fix")
    assert code == 1
    assert "torch -> torch==2.1.0: not applied: does not re-judge clean:" in out
    assert (whisper / "requirements.txt").read_text() == before


def test_numpy_fix_in_pyproject_keeps_comments_quoting_and_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pyproject.toml").write_text(NUMPY_PYPROJECT)
    code, out, _err = _run(capsys, "pyproject.toml", "--host", CPU, "--diff")
    assert code == 1
    assert "-    'numpy>=1.20',   # arrays\n+    'numpy>=1.20,<2',   # arrays\n" in out
    code, out, _err = _run(capsys, "pyproject.toml", "--host", CPU, "--fix")
    assert "fixed pyproject.toml:6 (ED203): numpy>=1.20 -> numpy>=1.20,<2" in out
    assert Path("pyproject.toml").read_text() == NUMPY_PYPROJECT.replace("'numpy>=1.20'", "'numpy>=1.20,<2'")
    assert "ED203" not in _codes(capsys, "pyproject.toml", "--host", CPU)


def test_numpy_fix_in_requirements_moves_the_pin_that_asks_numpy_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("opencv-python==4.12.0.88  # vision\ntorch==2.1.0\n")
    _run(capsys, "requirements.txt", "--host", CPU, "--fix")
    assert Path("requirements.txt").read_text() == "opencv-python==4.11.0.86  # vision\nnumpy<2\ntorch==2.1.0\n"
    assert "ED203" not in _codes(capsys, "requirements.txt", "--host", CPU)


def test_torch_fix_in_pyproject_that_needs_an_index_is_reported_not_applied(
    whisper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (whisper / "pyproject.toml").read_bytes()
    code, out, _err = _run(capsys, "pyproject.toml", "--host", V100, "--fix")
    assert code == 1
    assert "not applied: it needs the index https://download.pytorch.org/whl/cu118" in out
    assert (whisper / "pyproject.toml").read_bytes() == before


def test_hash_pinned_line_is_not_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = f"torch==2.1.0 \\\n    --hash=sha256:{'a' * 64}\n"
    Path("requirements.txt").write_text(text)
    code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--fix")
    assert code == 1 and "is hash-pinned" in out
    assert Path("requirements.txt").read_text() == text


@pytest.mark.parametrize(
    "requirement", ["torch==2.7.1+cu118; os_name == 'nt'", "torch==2.7.1+cu118\n--index-url https://evil.example"]
)
def test_a_fix_that_would_write_more_than_a_requirement_is_refused(
    whisper: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, requirement: str
) -> None:
    real = fix_edits.pins_edits

    def hostile(ctx: Any, pins: Any) -> tuple[Edit, ...]:
        return tuple(e._replace(requirement=requirement) for e in real(ctx, pins))

    monkeypatch.setattr(fix_edits, "pins_edits", hostile)
    before = (whisper / "requirements.txt").read_text()
    code, out, err = _run(capsys, "requirements.txt", "--host", V100, "--fix")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("envdoctor: error: requirements.txt:3")
    assert (whisper / "requirements.txt").read_text() == before


def test_json_carries_the_edits_and_with_fix_what_became_of_them(
    whisper: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--format", "json")
    edits = next(f["edits"] for f in json.loads(out)["findings"] if f["code"] == "ED101")
    assert edits == [
        {
            "path": "requirements.txt",
            "line": 3,
            "replaces": "torch",
            "requirement": "torch==2.7.1+cu118",
            "index_url": "https://download.pytorch.org/whl/cu118",
        }
    ]
    assert all("edits" not in f for f in json.loads(out)["findings"] if f["code"] == "ED401")
    assert "fixes" not in json.loads(out)
    _code, out, _err = _run(capsys, "requirements.txt", "--host", V100, "--format", "json", "--fix")
    assert json.loads(out)["fixes"] == [{"applied": True, "codes": ["ED101", "ED102"], "edits": edits, "reason": None}]


def test_a_dockerfile_fix_is_reported_not_applied(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES / "peft")
    code, out, err = _run(capsys, "docker/peft-gpu/Dockerfile", "--host", V100, "--diff")
    assert (code, out) == (0, "")
    assert "not applied: a Dockerfile is not edited by --fix: edit its install line by hand" in err


def test_a_fix_an_earlier_fix_already_made_moot_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # google-research/bert's requirements.txt (tests/fixtures/projects/bert) on a V100 with R470: the pin of
    # tensorflow ends the range the NumPy 2 and protobuf 4 warnings were about, so their added lines are not
    # written (they would constrain the pinned release for nothing).
    project = Path(__file__).parent / "fixtures" / "projects"
    shutil.copy(project / "bert" / "requirements.txt", tmp_path / "requirements.txt")
    host = project / "hosts" / "v100-driver470.json"
    main(["audit", str(tmp_path / "requirements.txt"), "--host", str(host), "--diff"])
    captured = capsys.readouterr()
    assert "+tensorflow==2.14.1" in captured.out
    assert "+numpy" not in captured.out and "+protobuf" not in captured.out
    assert "the fixes above already remove it" in captured.err


# --- uv projects: the build's index through [tool.uv.sources] ----------------------------------
# h2o-llmstudio's pyproject.toml (tests/fixtures/dockerfiles/PROVENANCE.md) takes torch==2.8.0 from
# its explicit cu126 index; nanochat's (tests/fixtures/uv/PROVENANCE.md) per extra.
H2O = Path(__file__).resolve().parent / "fixtures" / "dockerfiles" / "h2o-llmstudio" / "pyproject.toml"
NANOCHAT = Path(__file__).resolve().parent / "fixtures" / "uv" / "nanochat" / "pyproject.toml"

# What --diff shows for the V100 (driver 470): the lines it takes away and adds, in order.
H2O_V100_REMOVED = ['-    "torch==2.8.0",', '-torch = { index = "pytorch" }']
H2O_V100_ADDED = [
    '+    "torch==2.7.1",',
    '+torch = { index = "pytorch-cu118" }',
    "+explicit = true",
    "+",
    "+[[tool.uv.index]]",
    '+name = "pytorch-cu118"',
    '+url = "https://download.pytorch.org/whl/cu118"',
]


@pytest.fixture
def h2o(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(H2O, tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "pyproject.toml"


def test_a_uv_project_gets_the_build_through_its_own_sources_and_index(
    h2o: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = h2o.read_text()
    code, out, _err = _run(capsys, "pyproject.toml", "--host", V100, "--diff")
    lines = out.splitlines()[2:]
    assert code == 1
    assert [line for line in lines if line.startswith("-")] == H2O_V100_REMOVED
    assert [line for line in lines if line.startswith("+")] == H2O_V100_ADDED
    _run(capsys, "pyproject.toml", "--host", V100, "--fix")
    # Every other line is as it was, in its order: comments, quoting and layout kept.
    after = iter(h2o.read_text().splitlines())
    assert all(line in after for line in original.splitlines() if f"-{line}" not in H2O_V100_REMOVED)
    import tomllib

    written = tomllib.loads(h2o.read_text())
    # The pin without a build label: the source decides the build, as uv's PyTorch guide writes it.
    assert written["project"]["dependencies"][0] == "torch==2.7.1"
    assert written["tool"]["uv"]["sources"]["torch"] == {"index": "pytorch-cu118"}
    assert written["tool"]["uv"]["index"][-1] == {
        "name": "pytorch-cu118", "url": "https://download.pytorch.org/whl/cu118", "explicit": True
    }  # fmt: skip
    assert "ED101" not in _codes(capsys, "pyproject.toml", "--host", V100)
    assert _run(capsys, "pyproject.toml", "--host", V100, "--diff")[:2] == (0, "")


def test_a_uv_project_whose_pin_fits_only_changes_its_source(h2o: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # torch 2.8.0's cu126 build has no kernels for the RTX 5090 (12.0); the same release's newer build has.
    _code, out, _err = _run(capsys, "pyproject.toml", "--host", RTX5090, "--diff")
    removed = [line for line in out.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert removed == ['-torch = { index = "pytorch" }']
    assert '+torch = { index = "pytorch-cu12' in out and "torch==2.8.0" not in out


def test_a_source_fix_that_leaves_another_line_of_the_package_is_not_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # nanochat pins torch==2.9.1 in its dependencies and again in its gpu extra: moving the extra's
    # line alone leaves two pins no release meets, which the re-audit sees.
    shutil.copy(NANOCHAT, tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)
    before = (tmp_path / "pyproject.toml").read_bytes()
    _code, _out, err = _run(capsys, "pyproject.toml", "--extra", "gpu", "--host", V100, "--fix")
    assert "not applied: does not re-judge clean" in err or "not applied: does not re-judge clean" in _out
    assert (tmp_path / "pyproject.toml").read_bytes() == before


@pytest.mark.parametrize(
    ("pyproject", "written"),
    [
        # No source yet: one for Linux (uv's guide), selecting the extra the line is in.
        (
            '[project]\nname = "x"\nversion = "0"\n[project.optional-dependencies]\ngpu = ["torch==2.8.0"]\n\n'
            '[[tool.uv.index]]\nname = "internal"\nurl = "https://pypi.example/simple"\n',
            {"index": "pytorch-cu118", "extra": "gpu", "marker": "sys_platform == 'linux'"},
        ),
        # The project's own index at that URL is used, under its name.
        (
            '[project]\nname = "x"\nversion = "0"\ndependencies = ["torch==2.8.0"]\n\n[tool.uv.sources]\n'
            'torch = [{ index = "old", marker = "sys_platform == \'linux\'" }]\n\n'
            '[[tool.uv.index]]\nname = "cu118"\nurl = "https://download.pytorch.org/whl/cu118/"\nexplicit = true\n',
            [{"index": "cu118", "marker": "sys_platform == 'linux'"}],
        ),
    ],
)
def test_uv_source_edits(pyproject: str, written: object) -> None:
    import tomllib

    from envdoctor.fix.write import edit_pyproject

    edit = Edit("pyproject.toml", 5, "torch==2.8.0", "torch==2.7.1+cu118", "https://download.pytorch.org/whl/cu118")
    text = edit_pyproject(pyproject, "pyproject.toml", [edit]).text
    assert tomllib.loads(text)["tool"]["uv"]["sources"]["torch"] == written
    assert 'torch==2.7.1"' in text


@pytest.mark.parametrize(
    ("pyproject", "why"),
    [
        ('[project]\nname = "x"\nversion = "0"\ndependencies = ["torch==2.8.0"]\n', "names no index of its own"),
        (
            '[project]\nname = "x"\nversion = "0"\ndependencies = ["torch==2.8.0"]\n\n[tool.uv.sources]\n'
            'torch = [{ index = "a", marker = "sys_platform == \'linux\'" },\n'
            '         { index = "b", marker = "sys_platform == \'win32\'" }]\n',
            "not one index source",
        ),
        (
            '[project]\nname = "x"\nversion = "0"\ndependencies = ["torch==2.8.0"]\n\n[tool.uv.sources]\n'
            'torch = { git = "https://github.com/pytorch/pytorch" }\n',
            "not one index source",
        ),
    ],
)
def test_uv_source_edits_that_are_left_to_the_user(pyproject: str, why: str) -> None:
    from envdoctor.fix.write import NotWritable, edit_pyproject

    edit = Edit("pyproject.toml", 4, "torch==2.8.0", "torch==2.7.1+cu118", "https://download.pytorch.org/whl/cu118")
    with pytest.raises(NotWritable, match=why):
        edit_pyproject(pyproject, "pyproject.toml", [edit])
