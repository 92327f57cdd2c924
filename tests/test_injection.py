"""Hostile input, fed through the commands a user (or a pull request) runs: nothing reaches a
lockfile, an image's lock, a runner's log, a terminal or Markdown that the input should not put
there, and no file outside the project is read. One test (or table row) per vector of issue 11."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from envdoctor import github_action
from envdoctor.cli import main
from envdoctor.errors import EnvdoctorError
from envdoctor.lock.render import requirements_lock
from envdoctor.lock.steering import Steering
from envdoctor.requirements.model import IndexOptions

LINUX = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
HASH = "sha256:" + "a" * 64
ESCAPE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # any control character but \t and \n


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("envdoctor: error: "), err
    assert not ESCAPE.search(err), err
    return err


# 1 and 2: an index option that smuggles lines or options into the hash-pinned lockfile.
DOCKERFILE_INJECTIONS = {
    "exec form, newline in the value": 'FROM python:3.11-slim\nRUN ["pip", "install", "--extra-index-url", '
    f'"https://pypi.org/simple\\nevilpkg==6.6.6 --hash={HASH}\\n--find-links /tmp/evilwheels", "requests==2.31.0"]\n',
    "exec form, quotes around the newline": 'FROM python:3.11-slim\nRUN ["pip", "install", "--extra-index-url", '
    '"\'https://pypi.org/simple\\nevilpkg==6.6.6\'", "requests==2.31.0"]\n',
    "shell form, options in a quoted value": "FROM python:3.11-slim\nRUN pip install --extra-index-url "
    '"https://pypi.org/simple --trusted-host evil.example -r /etc/passwd" requests==2.31.0\n',
    "attached value": "FROM python:3.11-slim\nRUN pip install '--index-url=https://x.example/s -r /etc/passwd' a\n",
    "sh -c inside the exec form": 'FROM python:3.11-slim\nRUN ["sh", "-c", "pip install --extra-index-url '
    "'https://pypi.org/simple --trusted-host evil.example' requests\"]\n",
}


@pytest.mark.parametrize("text", DOCKERFILE_INJECTIONS.values(), ids=DOCKERFILE_INJECTIONS)
def test_index_options_from_a_dockerfile_cannot_add_lockfile_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    (tmp_path / "Dockerfile").write_text(text)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "lock", "Dockerfile", *LINUX)
    assert "Dockerfile:2: " in one_line_error(code, err)
    assert not (tmp_path / "lockfiles").exists()


@pytest.mark.parametrize(
    "line",
    [
        "--extra-index-url https://x.example/simple\x1b[2K",
        "--find-links ./wheels\x00evil==1",
        "-i https://x.example/\x7fevil==1",
    ],
)
def test_index_options_in_requirements_files_are_one_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    (tmp_path / "requirements.in").write_text(f"{line}\nrequests==2.31.0\n")
    code, _, err = run(capsys, "lock", str(tmp_path / "requirements.in"), *LINUX, "-o", str(tmp_path / "out"))
    assert "requirements.in:1: " in one_line_error(code, err)


@pytest.mark.parametrize(
    "indexes",
    [
        IndexOptions(extra_index_urls=("https://pypi.org/simple\nevilpkg==6.6.6",)),
        IndexOptions(index_url="https://pypi.org/simple --trusted-host evil.example"),
        IndexOptions(find_links=("-r/etc/passwd",)),
        IndexOptions(find_links=("wheels\u2028evil==1",)),
    ],
)
def test_the_lockfile_writer_refuses_what_a_reader_let_through(indexes: IndexOptions) -> None:
    # The check at the writer holds whatever reader (today's or a future one) the value came from.
    with pytest.raises(EnvdoctorError):
        requirements_lock([], [], indexes, Steering())


@pytest.mark.parametrize(
    "line",
    [
        "--find-links /tmp/evilwheels",
        "-r /etc/passwd",
        "--trusted-host evil.example",
        "--extra-index-url https://pypi.org/simple --trusted-host evil.example",
        "--index-url",
    ],
)
def test_the_image_lock_reader_accepts_only_envdoctors_own_option_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    real = Path(__file__).parent.parent / "images" / "cpu" / "lock" / "requirements.linux-x86_64-py3.11.txt"
    text = real.read_text()
    lock = tmp_path / "requirements.linux-x86_64-py3.11.txt"
    lock.write_text(
        text.replace("--index-url https://pypi.org/simple\n", f"--index-url https://pypi.org/simple\n{line}\n")
    )
    out = tmp_path / "build"
    code, _, err = run(capsys, "dockerfile", str(lock), "-o", str(out), *LINUX)
    if line.startswith("--find-links /tmp"):
        # A local folder is an option envdoctor writes; it must still be one token, and it is.
        assert code in (0, 1, 2)
        return
    one_line_error(code, err)
    assert not out.exists()


# 3: a line break in an input's file name (git stores such names; pre-commit passes them).
def test_a_line_break_in_an_input_name_never_reaches_the_lock_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, local_index: Path
) -> None:
    name = "requirements\nevilpkg==6.6.6 --hash=sha256:" + "b" * 64 + "\n.in"
    (tmp_path / name).write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "lock", name, *LINUX)
    assert "input file name" in one_line_error(code, err)
    assert not (tmp_path / "lockfiles").exists()


def test_inputs_are_recorded_relative_to_the_lockfiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, local_index: Path
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "requirements.in").write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    monkeypatch.chdir(tmp_path)
    spellings = ["sub/requirements.in", "./sub/requirements.in", str(tmp_path / "sub" / "requirements.in")]
    written = []
    for spelling in spellings:
        assert run(capsys, "lock", spelling, *LINUX, "-o", "locks")[0] == 0
        written.append({path.name: path.read_bytes() for path in sorted((tmp_path / "locks").iterdir())})
        assert run(capsys, "lock", "--check", spelling, *LINUX, "-o", "locks")[0] == 0
    assert written[0] == written[1] == written[2]
    header = written[0]["requirements.linux-x86_64-py3.11.txt"].decode()
    assert re.search(r"^# inputs: sha256:[0-9a-f]{64} \(\.\./sub/requirements\.in\)$", header, re.MULTILINE)
    assert str(tmp_path) not in header


# 4: workflow commands forged through the Action's plain-text report.
def workflow_commands(log: str) -> list[str]:
    """The lines a GitHub runner would act on: any line starting with '::' (leading blanks too),
    except between ::stop-commands::TOKEN and ::TOKEN::."""
    commands, stopped_until = [], None
    for line in log.splitlines():
        stripped = line.strip()
        if stopped_until is not None:
            if stripped == f"::{stopped_until}::":
                stopped_until = None
            continue
        if stripped.startswith("::stop-commands::"):
            stopped_until = stripped.removeprefix("::stop-commands::")
            continue
        if stripped.startswith("::"):
            commands.append(stripped)
    return commands


def test_the_action_log_holds_no_command_from_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "::error title=X::Y"
    folder.mkdir()
    (folder / "requirements.txt").write_text("torch==2.2.0+cu121\nx @ https://e.example/x-1.0-py3-none-any.whl\n")
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    profile = {
        "schema": "envdoctor.host/1", "os": "linux", "arch": "x86_64", "python": "3.11",
        "nvidia": {"driver": "520.61.05", "cuda": "11.8", "gpus": [
            {"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}]},
    }  # fmt: skip
    (hosts / "prod.json").write_text(json.dumps(profile))
    summary = tmp_path / "summary.md"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVDOCTOR_FILES", f"'{folder.name}/requirements.txt'")
    monkeypatch.setenv("ENVDOCTOR_HOSTS", "hosts/*.json")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code = github_action.main(["audit"])
    log = capsys.readouterr().out
    commands = workflow_commands(log)
    assert code in (0, 1), log
    assert commands, log
    for command in commands:
        assert re.match(r"::(error|warning|notice) file=[^:\n]*,(line=\d+,)?title=ED\d{3} [a-z-]+::", command), command
    assert not ESCAPE.search(log)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pyproject.toml", '[project]\nname = "p"\nversion = "1"\ndependencies = '
         '["y @ https://e.example/y-1.0.tar.gz#\\n::add-mask::requests\\n::stop-commands::token"]\n'),
        ("hosts/prod.json", json.dumps({"os": "linux", "nvidia": {"gpus": [{"name": "A100\n::warning::forged"}]}})),
        ("requirements.txt", "six==1.16.0\n-r ::error::x\n"),
    ],
)  # fmt: skip
def test_an_action_error_quoting_the_input_is_one_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    (tmp_path / "hosts").mkdir()
    (tmp_path / name).write_text(text)
    if name != "requirements.txt":
        (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVDOCTOR_FILES", "pyproject.toml" if name == "pyproject.toml" else "requirements.txt")
    if name.startswith("hosts"):
        monkeypatch.setenv("ENVDOCTOR_HOSTS", name)
    assert github_action.main(["audit"]) == 2
    log = capsys.readouterr().out
    (command,) = workflow_commands(log)
    assert command.startswith("::error title=envdoctor::") and "%0A" not in command, command
    assert not ESCAPE.search(log)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [("ENVDOCTOR_FILES", "it's requirements.txt", "files: "), ("ENVDOCTOR_FAIL_ON", "bogus", "fail-on: ")],
)
def test_bad_action_inputs_are_one_error(  # noqa: PLR0917 - a column of the table each
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
    expected: str,
) -> None:  # fmt: skip
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    assert github_action.main(["audit"]) == 2
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"::error title=envdoctor::{expected}"), line


# 5: files outside the project are neither read nor quoted.
SECRET = "AWS_SECRET_ACCESS_KEY=do-not-print-me"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    (tmp_path / "project").mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path / "project")], check=True)
    return secret


@pytest.mark.parametrize("include", ["-r {absolute}", "-r ../../elsewhere/secret.txt", "-c ../../{tail}"])
def test_includes_outside_the_project_are_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outside: Path, include: str
) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir()
    line = include.format(absolute=outside, tail=outside.relative_to(tmp_path))
    requirements = project / "sub" / "requirements.txt"
    requirements.write_text(f"six==1.16.0\n{line}\n")
    code, out, err = run(capsys, "audit", str(requirements), *LINUX)
    assert "resolves outside the project" in one_line_error(code, err)
    assert "do-not-print-me" not in out + err


def test_a_symlink_out_of_the_project_is_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, outside: Path
) -> None:
    project = tmp_path / "project"
    (project / "requirements.txt").symlink_to(outside)
    (project / "hosts").mkdir()
    (project / "hosts" / "prod.json").symlink_to(outside)
    monkeypatch.chdir(project)
    for argv in (["audit", "requirements.txt"], ["audit"], ["audit", "--host", "hosts/prod.json", "requirements.txt"]):
        code, out, err = run(capsys, *argv, *LINUX)
        assert "resolves outside the project" in one_line_error(code, err)
        assert "do-not-print-me" not in out + err


def test_a_dockerfile_names_files_in_the_image_not_on_this_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outside: Path
) -> None:
    project = tmp_path / "project"
    (project / "Dockerfile").write_text(
        f"FROM python:3.11-slim\nRUN pip install -r /etc/passwd -r {outside} -r ../elsewhere/secret.txt six==1.16.0\n"
    )
    code, out, err = run(capsys, "audit", str(project / "Dockerfile"), *LINUX, "--format", "json")
    assert code in (0, 1), err
    report = json.loads(out)
    assert [item["path"] for item in report["inputs"]] == [str(project / "Dockerfile")]
    assert "do-not-print-me" not in out + err


def test_an_invalid_line_is_quoted_short_and_printable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("not a requirement \x1b]0;title\x07 " + "x" * 5000 + "\n")
    code, _, err = run(capsys, "audit", str(requirements), *LINUX)
    assert len(one_line_error(code, err)) < 300


# 6 and 7: Markdown and terminals.
HOSTILE_REQUIREMENTS = (
    "evil @ https://e.example/x/<img_src=x_onerror=alert(1)>[a](http://e)`b`|c\x1b]8;;http://e\x07.whl\n"
    "evil2 @ https://e.example/<script>alert(1)</script>&amp;.whl\n"
    "evil3 @ https://e.example/y\r| **error** | forged |.whl\n"
    "torch==2.2.0+cu121\n"
)


def test_markdown_renders_input_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_bytes(HOSTILE_REQUIREMENTS.encode())
    code, out, _ = run(capsys, "audit", str(requirements), *LINUX, "--driver", "520.61.05", "--format", "markdown")
    assert code == 1
    rows = [line for line in out.split("\n") if line.startswith("| **") or line.startswith("| info")]
    assert rows
    for row in rows:
        # Five cells: an unescaped pipe from the input would make more.
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row
    for markup in ("<img", "<script", "](", "&amp;", "`b`"):
        assert not re.search(r"(?<!\\)" + re.escape(markup), out), markup
    assert "\r" not in out and not ESCAPE.search(out)


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "markdown"])
def test_no_escape_sequence_from_the_input_reaches_any_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output_format: str
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_bytes(HOSTILE_REQUIREMENTS.encode())
    argv = ["--color", "always", "audit", str(requirements), *LINUX, "--driver", "520.61.05", "--format", output_format]
    code, out, err = run(capsys, *argv)
    assert code == 1, err
    if output_format == "text":
        out = re.sub(r"\x1b\[[0-9;]*m", "", out)  # envdoctor's own colours, asked for with --color always
    assert "\x1b" not in out and "\x07" not in out


def test_a_file_name_that_is_not_utf8_reaches_json_and_sarif(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/requirements-\xff.txt"))
    path.write_text("torch==2.2.0+cu121\n")
    for output_format in ("json", "sarif", "text", "markdown"):
        code, out, err = run(capsys, "audit", str(path), *LINUX, "--driver", "520.61.05", "--format", output_format)
        assert code == 1, err
        out.encode("utf-8")
        if output_format in ("json", "sarif"):
            json.loads(out)
    assert "%FF" in run(capsys, "audit", str(path), *LINUX, "--format", "sarif")[1]


# 8: a pattern that guards output matches the whole value.
@pytest.mark.parametrize("tag", ["app:1\n", "app:1\nRUN curl evil", "app\x1b:1"])
def test_the_image_tag_is_checked_in_full(tmp_path: Path, capsys: pytest.CaptureFixture[str], tag: str) -> None:
    lock = Path(__file__).parent.parent / "images" / "cpu" / "lock" / "requirements.linux-x86_64-py3.11.txt"
    code, _, err = run(capsys, "dockerfile", str(lock), "-o", str(tmp_path / "out"), "--tag", tag, *LINUX)
    one_line_error(code, err)
    assert not (tmp_path / "out").exists()


def test_outside_git_the_current_folder_is_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A project unpacked from an archive, audited from its top: requirements/dev.txt may include
    # ../requirements.txt; from inside requirements/, it may not.
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    (tmp_path / "requirements" / "dev.txt").write_text("-r ../requirements.txt\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "audit", "requirements/dev.txt", *LINUX, "--format", "json")
    assert code in (0, 1), err
    assert [item["path"] for item in json.loads(out)["inputs"]] == [
        "requirements/dev.txt",
        "requirements/../requirements.txt",
    ]
    monkeypatch.chdir(tmp_path / "requirements")
    code, _, err = run(capsys, "audit", "dev.txt", *LINUX)
    assert "resolves outside the project" in one_line_error(code, err)
