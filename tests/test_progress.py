"""Progress on stderr, as uv shows it: a line per step on a terminal, one plain line per step in a CI
log, nothing with -q; -v adds the command lines run. Each command runs as a user runs it, with its
stderr on a pseudo-terminal (the pty module) or on a pipe, against the local index (no network)."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envdoctor import console
from envdoctor.cli import main

ROOT = Path(__file__).parent.parent
HOST = ("--os", "linux", "--arch", "x86_64", "--python", "3.11", "--no-gpu")
# The steps each command shows while it works.
COMMANDS = {
    "audit": (["audit", "requirements.txt", "--resolve", *HOST], ["Resolving requirements.txt for host flags"]),
    "lock": (["lock", "requirements.txt", *HOST], ["Locking requirements.txt for target linux-x86_64-py3.11"]),
    "dockerfile": (
        ["dockerfile", "requirements.txt", "-o", "out", *HOST],
        ["Locking requirements.txt for target linux-x86_64-py3.11", "Writing the build context to out"],
    ),
}
# Runs the command line after the threshold (seconds before a step shows) and the arguments.
DRIVER = (
    "import sys, envdoctor.console as c, envdoctor.audit.resolver as r\n"
    "c.PROGRESS_AFTER_S = r.PROGRESS_AFTER_S = float(sys.argv[1])\n"
    "from envdoctor.cli import main\n"
    "raise SystemExit(main(sys.argv[2:]))\n"
)


@pytest.fixture
def project(tmp_path: Path, local_index: Path) -> Path:
    (tmp_path / "requirements.txt").write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    return tmp_path


def run(folder: Path, args: list[str], *, terminal: bool, after: float = 0.0) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the command, its stderr a pseudo-terminal or a pipe."""
    command = [sys.executable, "-c", DRIVER, str(after), *args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    if not terminal:
        done = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, env=environment, timeout=60, check=False
        )
        return done.returncode, done.stdout, done.stderr
    controller, attached = pty.openpty()
    with subprocess.Popen(
        command, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=attached, env=environment
    ) as process:
        os.close(attached)
        seen = bytearray()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # EIO: the command closed the terminal (it exited)
                    break
                if not chunk:
                    break
                seen += chunk
            elif process.poll() is not None:
                break
        os.close(controller)
        assert process.stdout is not None
        out = process.stdout.read().decode()
        code = process.wait(timeout=60)
    # The terminal writes a line break as \r\n.
    return code, out, seen.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_on_a_terminal_each_step_shows_and_is_finished_in_place(project: Path, name: str) -> None:
    args, steps = COMMANDS[name]
    code, out, err = run(project, args, terminal=True)
    assert code in (0, 1), err
    for doing in steps:
        [line] = [line for line in err.splitlines() if line.startswith(doing)]
        assert "…" in line and " done in " in line and line.endswith(" s"), err
    assert "…" not in out and " done in " not in out, "stdout is the command's output alone"


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_shows_nothing_even_on_a_terminal(project: Path, name: str, where: str) -> None:
    args, _ = COMMANDS[name]
    code, _, err = run(project, ["-q", *args] if where == "before" else [*args, "--quiet"], terminal=True)
    assert code in (0, 1) and err == "", err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_in_a_ci_log_a_step_is_one_plain_line_after_it_is_done(project: Path, name: str) -> None:
    args, steps = COMMANDS[name]
    code, _, err = run(project, args, terminal=False)
    assert code in (0, 1), err
    assert "…" not in err, "no line finished in place where stderr is not a terminal"
    for doing in steps:
        [line] = [line for line in err.splitlines() if line.startswith(doing)]
        assert ": done in " in line and line.endswith(" s")


def test_without_a_terminal_quick_work_shows_nothing(project: Path) -> None:
    args, _ = COMMANDS["lock"]
    code, _, err = run(project, args, terminal=False, after=30.0)
    assert (code, err) == (0, ""), err


def test_verbose_shows_each_command_run_and_the_host_judged(project: Path) -> None:
    code, _, err = run(project, ["audit", "requirements.txt", "--resolve", *HOST, "-v"], terminal=False, after=30.0)
    assert code in (0, 1), err
    [ran] = [line for line in err.splitlines() if line.startswith("run: ")]
    assert " pip compile " in ran and "--python-version 3.11" in ran
    host = "host flags: os linux (override), arch x86_64 (override), python 3.11 (override), nvidia none (override)"
    assert host in err.splitlines()


def test_quiet_and_verbose_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["-q", "audit", "requirements.txt", "-v"])
    assert exited.value.code == 2
    assert "-q and -v cannot be used together" in capsys.readouterr().err


def test_a_detail_line_breaks_a_step_line_that_is_showing() -> None:
    stream = io.StringIO()
    previous = console.set_feedback(console.Feedback(stream, terminal=True, verbose=1))
    try:
        with console.Progress(stream, terminal=True, after=0.0).step("Locking r"):
            time.sleep(0.1)
            console.detail("run: uv pip compile")
    finally:
        console.set_feedback(previous)
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["Locking r…", "run: uv pip compile"]
    assert lines[2].startswith("Locking r: done in ") and len(lines) == 3


def test_a_credential_in_a_command_line_is_masked() -> None:
    shown = console.command_line(["uv", "--index-url", "https://user:s3cret@example.org/simple", "a b"])
    assert shown == "uv --index-url https://***@example.org/simple 'a b'"
