"""One ``Lock`` (envdoctor.lock.model): the resolver backends produce it; the lockfile writers,
``lock --check --resolve``, ``audit --resolve`` and the image planner read it (issue 15, part 2).

Hermetic: the local index (tests/local_index.py) and a stand-in ``uv`` where the resolver's own
command line is what is tested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from envdoctor.cli import main
from envdoctor.errors import InputError
from envdoctor.lock.model import Lock, LockedPackage, read_requirements_lock
from envdoctor.lock.render import requirements_lock
from envdoctor.lock.steering import Steering
from envdoctor.requirements.model import IndexOptions
from envdoctor.requirements.pylock import parse_pylock
from envdoctor.resolve import uv

ROOT = Path(__file__).parent.parent
LINUX = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
# Every pylock envdoctor has written and committed: lockfiles/, images/, tests/fixtures/.
COMMITTED = sorted(
    path.relative_to(ROOT)
    for folder in ("lockfiles", "images", "tests/fixtures")
    for path in (ROOT / folder).rglob("pylock*.toml")
)
SMALL = ROOT / "tests/fixtures/images/small"
# What a stand-in uv answers: a one-package pylock, as uv 0.13 writes it.
PYLOCK = """lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "six"
version = "1.17.0"
wheels = [{ url = "https://files.pythonhosted.org/packages/b7/ce/six-1.17.0-py2.py3-none-any.whl", \
hashes = { sha256 = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274" } }]
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the model and its writers ------------------------------------------------------------------


def test_every_committed_pylock_is_read_and_written_back_byte_for_byte() -> None:
    assert len(COMMITTED) >= 15
    for path in COMMITTED:
        text = (ROOT / path).read_text(encoding="utf-8")
        lock = Lock.read(text, str(path))
        assert lock.header and lock.header[0].startswith("# Written by `envdoctor lock`"), path
        assert lock.text() == text, path


def test_the_writer_keeps_uvs_layout_for_several_wheels_a_marker_and_local_files(tmp_path: Path) -> None:
    """uv's own answer, written again: several wheels one per line, its spelling of a marker
    (packaging would respell it), and local files as paths relative to the lockfile."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    original = next((ROOT / "tests/fixtures/images/small/wheelhouse").glob("six-*.whl"))
    for name in ("six-1.17.0-py2.py3-none-any.whl", "six-1.17.0-py3-none-any.whl"):
        shutil.copy(original, wheels / name)
    (tmp_path / "requirements.in").write_text("six ; python_version >= '3.8'\n")
    subprocess.run(
        [uv.uv_binary(), "pip", "compile", "requirements.in", "--quiet", "--no-header", "--format", "pylock.toml",
         "--no-index", "--find-links", str(wheels), "--python-version", "3.11", "--output-file", "pylock.toml"],
        cwd=tmp_path, check=True, capture_output=True, env={**os.environ, "UV_NO_CONFIG": "1"},
    )  # fmt: skip
    answer = (tmp_path / "pylock.toml").read_text()
    lock = Lock.read(answer, "pylock.toml")
    assert lock.text() == answer
    assert "wheels = [\n    { url = " in answer and "marker = \"python_full_version >= '3.8'\"" in answer
    written = lock.with_local_paths(tmp_path / "lockfiles", [str(wheels)]).with_header(["# a header"]).text()
    assert "file://" not in written and f'path = "{wheels}/six-1.17.0-py3-none-any.whl"' in written
    relative = lock.with_local_paths(tmp_path / "lockfiles", ["wheels"]).text()
    assert 'path = "../wheels/six-1.17.0-py3-none-any.whl"' in relative
    assert Lock.read(written, "x").packages == lock.packages


def test_the_lock_round_trips_through_every_writer_and_reader() -> None:
    """One Lock: its pylock written and read again, its requirements lockfile written and read by
    the image planner's reader, and the audit's pylock source, all name the same packages."""
    (path,) = SMALL.glob("pylock.*.toml")
    lock = Lock.read(path.read_text(), str(path))
    again = Lock.read(lock.text(), "again.toml")
    assert again.pylock == lock.pylock and again.packages == lock.packages
    text = requirements_lock(list(lock.header), lock.packages, IndexOptions(), Steering())
    assert tuple(read_requirements_lock(text, "requirements.txt")) == lock.packages
    assert text == (SMALL / "requirements.linux-x86_64-py3.11.txt").read_text()
    audited = parse_pylock(lock.text(), "pylock.toml")
    assert [(str(r.name), str(r.pinned_version)) for r in audited] == [(p.name, p.version) for p in lock.packages]
    assert lock.versions() == {p.name: p.version for p in lock.pylock.packages}


def test_a_resolver_answer_that_does_not_validate_is_its_failure() -> None:
    from envdoctor.lock.backends import _answer_lock

    with pytest.raises(uv.ResolverFailed, match=r"the resolver wrote a pylock\.toml that does not validate"):
        _answer_lock(PYLOCK.replace('name = "six"', 'name = "Six"'))


# --- the image planner's reader -----------------------------------------------------------------


def test_the_image_lock_reader_names_the_line_a_bad_requirement_starts_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each hash-pinned requirement spans several lines: the error names the file's own line,
    not the line's number among the joined ones."""
    lock = tmp_path / "requirements.linux-x86_64-py3.11.txt"
    text = (SMALL / "requirements.linux-x86_64-py3.11.txt").read_text()
    lock.write_text(text + "evil==1.0 \\\n    --hash=md5:abc\n")
    bad = text.count("\n") + 1
    with pytest.raises(InputError) as caught:
        read_requirements_lock(lock.read_text(), str(lock))
    assert caught.value.line == bad
    code, _, err = run(capsys, "dockerfile", str(lock), "-o", str(tmp_path / "out"))
    assert code == 2 and f"{lock}:{bad}: evil: every requirement needs --hash=sha256:<hex>" in err


def test_the_image_lock_reader_counts_lines_after_a_comment_and_a_blank() -> None:
    text = "# head\n\nsix==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n\n# note\nbad line\n"
    with pytest.raises(InputError) as caught:
        read_requirements_lock(text, "requirements.lock")
    assert caught.value.line == 7
    assert read_requirements_lock(text.replace("bad line\n", ""), "r") == (
        LockedPackage("six", "1.17.0", ("sha256:" + "a" * 64,)),
    )


# --- one resolver for `lock` and `audit --resolve` ----------------------------------------------


@pytest.fixture
def recording_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in uv that records its command line and answers with PYLOCK; the project is the working folder."""
    script = tmp_path / "bin" / "uv"
    script.parent.mkdir()
    log = tmp_path / "argv.log"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\ncat > pylock.toml <<'EOF'\n{PYLOCK}EOF\n")
    script.chmod(0o755)
    monkeypatch.setattr(uv, "uv_binary", lambda: str(script))
    monkeypatch.chdir(tmp_path)
    return log


def test_lock_and_audit_resolve_run_the_same_resolver_command(
    tmp_path: Path, recording_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("--index-url https://mirror.example/simple\nsix\n")
    assert run(capsys, "lock", "requirements.txt", *LINUX)[0] == 0
    assert run(capsys, "audit", "requirements.txt", "--resolve", *LINUX)[0] == 0
    for_lock, for_audit = recording_uv.read_text().splitlines()
    assert for_lock == for_audit
    assert "--index-url https://mirror.example/simple" in for_lock and "--format pylock.toml" in for_lock


def test_the_audit_keeps_the_pytorch_index_the_inputs_give_and_the_lock_steers_it(
    tmp_path: Path, recording_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytorch = "https://download.pytorch.org/whl/cu121"
    (tmp_path / "requirements.txt").write_text(f"--extra-index-url {pytorch}\nsix\n")
    assert run(capsys, "audit", "requirements.txt", "--resolve", *LINUX)[0] == 0
    assert run(capsys, "lock", "requirements.txt", *LINUX)[0] == 0
    for_audit, for_lock = recording_uv.read_text().splitlines()
    assert f"--extra-index-url {pytorch}" in for_audit and pytorch not in for_lock


@pytest.mark.parametrize("command", [["lock"], ["audit", "--resolve"]])
def test_one_timeout_for_both_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    script = tmp_path / "uv"
    script.write_text("#!/bin/sh\nexec sleep 5\n")
    script.chmod(0o755)
    monkeypatch.setattr(uv, "uv_binary", lambda: str(script))
    monkeypatch.setattr(uv, "TIMEOUT_S", 0.3)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.txt").write_text("six\n")
    code, _, err = run(capsys, command[0], "requirements.txt", *command[1:], *LINUX)
    assert code == 2 and "uv did not finish within 0.3 s" in err


# --- `lock --format json` -------------------------------------------------------------------------


def project(folder: Path, index: Path, body: str) -> Path:
    (folder / "requirements.in").write_text(f"--no-index\n--find-links {index}\n{body}")
    return folder


def test_an_unresolvable_lock_is_reported_in_json_alone(
    tmp_path: Path, local_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path, local_index, "torch==2.2.0\ntensorflow[and-cuda]==2.16.1\n"))
    code, out, err = run(capsys, "lock", "requirements.in", *LINUX, "--format", "json")
    assert code == 1
    document = json.loads(out)  # nothing but the document on stdout
    assert document["schema"] == "envdoctor.audit/1"
    assert [f["code"] for f in document["findings"]] == ["ED204"]
    assert document["lock"] == {"written": [], "unresolved": ["flags"]}
    assert "no lockfile written" in err and not (tmp_path / "lockfiles").exists()


def test_a_refused_lock_is_reported_in_json(
    tmp_path: Path,
    local_index: Path,
    pytorch_index: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(project(tmp_path, local_index, "torch==2.7.0\n"))
    argv = ["lock", "requirements.in", *LINUX, "--driver", "418.67", "--pytorch-index", str(pytorch_index)]
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert document["lock"]["written"] == [] and "no CUDA build of torch 2.7.0" in document["lock"]["refused"]
    assert run(capsys, *argv)[1].startswith("refused: no CUDA build of torch 2.7.0")


def test_stale_lockfiles_are_reported_in_json(
    tmp_path: Path, local_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path, local_index, "six\n"))
    code, out, _ = run(capsys, "lock", "requirements.in", *LINUX, "--check", "--format", "json")
    assert code == 1
    stale = json.loads(out)["lock"]["stale"]
    assert len(stale) == 2 and all("missing" in problem for problem in stale)
