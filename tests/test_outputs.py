"""How outputs are written: whole sets, modes, stale temporary files, and paths that cannot be
written (one line, exit 2). The kill -9 runs are in tests/test_kill.py."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from envdoctor.cli import main
from envdoctor.fsio import COMMITTED, STAGING

FIXTURES = Path(__file__).parent / "fixtures"
SMALL_LOCK = FIXTURES / "images/small/requirements.linux-x86_64-py3.11.txt"
HOST = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
TARGET = "linux-x86_64-py3.11"
NOT_UTF8 = b"# Written by `envdoctor lock`\n\xff\xfe not text\n"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test in its own folder, under umask 022."""
    monkeypatch.chdir(tmp_path)
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def project(tmp_path: Path, local_index: Path) -> Path:
    (tmp_path / "requirements.in").write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    return tmp_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


# Every command that writes, with where its output goes.
def probe(output: str) -> list[str]:
    return ["probe", *HOST, "--format", "json", "-o", output]


def audit(output: str) -> list[str]:
    Path("requirements.txt").write_text("six==1.16.0\n")
    return ["audit", "requirements.txt", *HOST, "--format", "json", "-o", output]


def lock(output: str) -> list[str]:
    return ["lock", "requirements.in", *HOST, "-o", output]


def dockerfile(output: str) -> list[str]:
    return ["dockerfile", str(SMALL_LOCK), "-o", output]


WRITERS = {"probe": probe, "audit": audit, "lock": lock, "dockerfile": dockerfile}
FOLDER_OUTPUT = {"lock", "dockerfile"}


@pytest.mark.parametrize("command", sorted(WRITERS))
@pytest.mark.parametrize("where", ["missing parent", "parent is a file", "file or folder in the way", "/proc"])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(
    project: Path, command: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "a-file").write_text("not a folder\n")
    (project / "a-folder").mkdir()
    output = {
        "missing parent": "missing/out",  # a mistyped path makes no tree of folders
        "parent is a file": "a-file/out",  # as root, the way to have a folder nothing can be written in
        "file or folder in the way": "a-file" if command in FOLDER_OUTPUT else "a-folder",
        "/proc": "/proc/envdoctor-test/out",
    }[where]
    assert main(WRITERS[command](output)) == 2
    assert one_line_error(capsys).startswith("envdoctor: error: cannot write ")
    assert not (project / "missing").exists()
    assert (project / "a-file").read_text() == "not a folder\n"
    assert os.listdir(project / "a-folder") == []


def test_an_output_folder_is_made_but_not_its_parents(project: Path) -> None:
    assert main(lock("new")) == 0
    assert (project / "new" / f"requirements.{TARGET}.txt").is_file()
    assert main(["dockerfile", "requirements.in", *HOST, "-o", "context"]) == 0
    assert (project / "context" / "lockfiles" / f"pylock.{TARGET}.toml").is_file()
    assert (project / "context" / "Dockerfile").is_file()


def test_written_files_get_the_umask_mode_and_existing_files_keep_theirs(project: Path) -> None:
    assert main(probe("host.json")) == 0
    assert main(lock("lockfiles")) == 0
    assert main(dockerfile("context")) == 0
    assert mode(project / "host.json") == 0o644
    assert mode(project / "lockfiles" / f"pylock.{TARGET}.toml") == 0o644
    assert mode(project / "context" / "Dockerfile") == 0o644
    assert mode(project / "context" / "build.sh") == 0o755
    (project / "host.json").chmod(0o600)
    (project / "lockfiles" / f"pylock.{TARGET}.toml").chmod(0o640)
    (project / "context" / "Dockerfile").chmod(0o664)
    # A build.sh that an older envdoctor, killed, left at 0600 becomes executable again.
    (project / "context" / "build.sh").chmod(0o600)
    os.umask(0o077)
    assert main(probe("host.json")) == 0
    assert main(lock("lockfiles")) == 0
    assert main(dockerfile("context")) == 0
    assert mode(project / "host.json") == 0o600
    assert mode(project / "lockfiles" / f"pylock.{TARGET}.toml") == 0o640
    assert mode(project / "lockfiles" / f"requirements.{TARGET}.txt") == 0o644
    assert mode(project / "context" / "Dockerfile") == 0o664
    assert mode(project / "context" / "build.sh") == 0o700
    assert main(probe("other.json")) == 0
    assert mode(project / "other.json") == 0o600  # new under umask 077


def test_stale_temporary_files_of_ours_are_removed_by_the_next_run(project: Path) -> None:
    """What a killed run (of this version or an older one) left: temporary files named after the
    files it was writing, a staging folder. Someone else's file that looks alike stays."""
    leftovers = {
        "lockfiles": [f".requirements.{TARGET}.txt.k3j_9x2a.tmp", f".pylock.{TARGET}.toml.0a1b2c3d.tmp"],
        "context": [".Dockerfile.abcdefgh.tmp", ".build.sh.12345678.tmp"],
        ".": [".host.json.zz9_zz9z.tmp"],
    }
    for folder, names in leftovers.items():
        (project / folder).mkdir(exist_ok=True)
        for name in names:
            (project / folder / name).write_text("half a file")
        (project / folder / ".notes.txt.abcdefgh.tmp").write_text("not ours")
    for folder in ("lockfiles", "context"):
        (project / folder / f"{STAGING}x1y2z3").mkdir()
        (project / folder / f"{STAGING}x1y2z3" / "Dockerfile").write_text("half a set")
    assert main(probe("host.json")) == 0
    assert main(lock("lockfiles")) == 0
    assert main(dockerfile("context")) == 0
    for folder, names in leftovers.items():
        present = os.listdir(project / folder)
        assert not set(names) & set(present)
        assert ".notes.txt.abcdefgh.tmp" in present
        assert not any(name.startswith((STAGING, COMMITTED)) for name in present)


class Killed(BaseException):
    """Stands for a kill -9 in the middle of moving a written set into place."""


def interrupt_the_next_move(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(*_: object) -> None:
        raise Killed

    monkeypatch.setattr(os, "replace", replace)


def test_readers_refuse_lockfiles_whose_write_was_interrupted(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(lock("lockfiles")) == 0
    (project / "requirements.in").write_text((project / "requirements.in").read_text() + "filelock\n")
    with monkeypatch.context() as patch:
        interrupt_the_next_move(patch)
        with pytest.raises(Killed):
            main(lock("lockfiles"))
    assert any(name.startswith(COMMITTED) for name in os.listdir(project / "lockfiles"))
    capsys.readouterr()
    assert main(["lock", "requirements.in", *HOST, "--check"]) == 1
    assert "a write of these lockfiles was interrupted" in capsys.readouterr().out
    assert main(["dockerfile", f"lockfiles/requirements.{TARGET}.txt", "-o", "context"]) == 2
    assert "was interrupted" in one_line_error(capsys)
    assert not (project / "context").exists()
    # The next run finishes the write, then makes its own.
    assert main(lock("lockfiles")) == 0
    assert main(["lock", "requirements.in", *HOST, "--check"]) == 0
    assert "filelock==" in (project / "lockfiles" / f"requirements.{TARGET}.txt").read_text()
    assert not any(name.startswith(".") for name in os.listdir(project / "lockfiles"))


def test_a_set_caught_before_its_commit_stays_old(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(dockerfile("context")) == 0
    before = {path.name: path.read_bytes() for path in (project / "context").iterdir()}

    def rename(*_: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(os, "rename", rename)
        with pytest.raises(Killed):
            main([*dockerfile("context"), "--tag", "other/name:2"])
    assert {path.name: path.read_bytes() for path in (project / "context").iterdir()} == before


@pytest.mark.parametrize("which", ["requirements", "pylock"])
def test_a_lockfile_that_is_not_utf8_is_stale_not_a_traceback(
    project: Path, which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(lock("lockfiles")) == 0
    suffix = "txt" if which == "requirements" else "toml"
    (project / "lockfiles" / f"{which}.{TARGET}.{suffix}").write_bytes(NOT_UTF8)
    capsys.readouterr()
    # What the pre-commit hook runs.
    assert main(["lock", "requirements.in", *HOST, "--check"]) == 1
    out = capsys.readouterr().out
    assert f"{which}.{TARGET}.{suffix}:2: not UTF-8 text" in out
    assert "Traceback" not in out
    # Locking again mends it.
    assert main(lock("lockfiles")) == 0
    assert main(["lock", "requirements.in", *HOST, "--check"]) == 0


def test_dockerfile_refuses_a_lock_or_pylock_that_is_not_utf8(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / f"requirements.{TARGET}.txt").write_bytes(NOT_UTF8)
    assert main(["dockerfile", f"requirements.{TARGET}.txt", "-o", "context"]) == 2
    assert "not UTF-8 text" in one_line_error(capsys)
    (project / f"requirements.{TARGET}.txt").write_bytes(SMALL_LOCK.read_bytes())
    (project / f"pylock.{TARGET}.toml").write_bytes(NOT_UTF8)
    assert main(["dockerfile", f"requirements.{TARGET}.txt", "-o", "context"]) == 2
    assert f"pylock.{TARGET}.toml:2: not UTF-8 text" in one_line_error(capsys)
    assert not (project / "context").exists()


# Every command that prints data, with --format json: standard output is one JSON document (and
# nothing else), the same shape whatever happened.
JSON_COMMANDS = {
    "probe": ["probe", *HOST],
    "audit": ["audit", "requirements.in", *HOST],
    "lock": ["lock", "requirements.in", *HOST],
    "lock --check": ["lock", "requirements.in", *HOST, "--check"],
    "dockerfile": ["dockerfile", str(SMALL_LOCK), "-o", "context"],
    "explain": ["explain", "ED101"],
    "kb list": ["kb", "list"],
    "kb show": ["kb", "show", "cuda", "12.1"],
    "kb check": ["kb", "check"],
}


@pytest.mark.parametrize("command", list(JSON_COMMANDS))
def test_every_command_that_prints_data_prints_json(
    project: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if command == "lock --check":
        assert main(lock("lockfiles")) == 0
    capsys.readouterr()
    code = main([*JSON_COMMANDS[command], "--format", "json"])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert isinstance(json.loads(out), dict)


def test_lock_and_dockerfile_say_what_they_wrote_in_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*JSON_COMMANDS["lock"], "--format", "json"]) == 0
    written = json.loads(capsys.readouterr().out)["lock"]["written"]
    assert written and all(path.startswith("lockfiles") for path in written)
    assert main([*JSON_COMMANDS["dockerfile"], "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "envdoctor.dockerfile/1" and "Dockerfile" in document["files"]
    assert document["refused"] == [] and document["base_image"]
