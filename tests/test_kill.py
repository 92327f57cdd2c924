"""``kill -9`` at random points of ``envdoctor lock`` and ``envdoctor dockerfile``.

Each run starts from the old output set, is killed (SIGKILL) at some point, and then:

- if no write was caught half-way (no commit folder), the files in place are the whole old set
  or the whole new one, byte for byte, with their modes;
- if one was (a commit folder), the readers refuse the folder, and finishing the write (as the
  next run does) gives the whole new set;
- the next run, uncut, leaves the new set, the modes it should have, untouched neighbours and
  no temporary file or folder.

Kill points are counted file-system calls (the process kills itself before the k-th one: every
step of the write is reached) and wall-clock delays (an outside SIGKILL). The long run is marked
``kill`` (``pytest -m kill``; ENVDOCTOR_KILL_RUNS runs per command, 60 by default); a few kills
at the steps that matter run in the default suite.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from envdoctor.cli import main
from envdoctor.fsio import COMMITTED, STAGING, finish_interrupted_write

ROOT = Path(__file__).resolve().parent.parent
# Runs envdoctor with the file-system calls counted; kills itself before call number
# ENVDOCTOR_KILL_AT (0: never) and, with ENVDOCTOR_KILL_LOG, writes the calls it made.
RUNNER = r"""
import atexit, os, signal, sys
kill_at = int(os.environ["ENVDOCTOR_KILL_AT"])
calls = []
def counted(name):
    real = getattr(os, name)
    def call(*args, **kwargs):
        calls.append(name)
        if len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(os, name, call)
for name in ("open", "write", "fchmod", "chmod", "fsync", "mkdir", "rename", "replace", "unlink", "rmdir"):
    counted(name)
if os.environ.get("ENVDOCTOR_KILL_LOG"):
    atexit.register(lambda: open(os.environ["ENVDOCTOR_KILL_LOG"], "w").write("\n".join(calls)))
os.umask(0o022)
from envdoctor.cli import main
sys.exit(main(sys.argv[1:]))
"""
HOSTS = {"x86": ("x86_64", "3.11.9"), "arm": ("aarch64", "3.11.9")}


class Entry(NamedTuple):
    content: bytes | None  # None: a folder
    mode: int


Snapshot = dict[str, Entry]


def snapshot(folder: Path) -> Snapshot:
    """Every file and folder under folder, with its bytes and permission bits."""
    found = {}
    for path in sorted(folder.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        found[path.relative_to(folder).as_posix()] = Entry(None if path.is_dir() else path.read_bytes(), mode)
    return found


def ours(name: str) -> bool:
    """A temporary file or folder of envdoctor's naming, or what is inside one."""
    top = name.split("/", maxsplit=1)[0]
    return top.startswith((STAGING, COMMITTED)) or (top.startswith(".") and top.endswith(".tmp"))


def visible(state: Snapshot) -> Snapshot:
    return {name: entry for name, entry in state.items() if not ours(name)}


def restore(folder: Path, state: Snapshot) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, entry in sorted(state.items()):
        path = folder / name
        if entry.content is None:
            path.mkdir()
        else:
            path.write_bytes(entry.content)
    for name, entry in sorted(state.items(), reverse=True):
        (folder / name).chmod(entry.mode)


@contextmanager
def chdir(folder: Path) -> Iterator[None]:
    here = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


class Scenario(NamedTuple):
    """A command that turns the old output set in ``folder`` into the new one."""

    name: str
    cwd: Path
    argv: list[str]
    folder: Path  # the output folder
    old: Snapshot  # the folder before: the old set, neighbours, and modes to keep
    new: Snapshot  # the folder after an uncut run

    def run(self, kill_at: int = 0, log: Path | None = None, delay: float | None = None) -> int:
        runner = self.cwd / "runner.py"
        if not runner.exists():
            runner.write_text(RUNNER)
        environment = {**os.environ, "ENVDOCTOR_KILL_AT": str(kill_at), "PYTHONPATH": str(ROOT)}
        if log is not None:
            environment["ENVDOCTOR_KILL_LOG"] = str(log)
        process = subprocess.Popen(
            [sys.executable, str(runner), *self.argv],
            cwd=self.cwd,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if delay is not None:
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.kill()
        _, errors = process.communicate(timeout=120)
        assert b"Traceback" not in errors, errors.decode(errors="replace")
        return process.returncode

    def calls(self, tmp_path: Path) -> list[str]:
        """The counted calls of an uncut run, from the old set."""
        restore(self.folder, self.old)
        log = tmp_path / f"{self.name}.calls"
        assert self.run(log=log) == 0
        assert snapshot(self.folder) == self.new
        return log.read_text().split("\n")


def lock_scenario(tmp_path: Path, index: Path) -> Scenario:
    """Two targets' lockfiles (one set of four files) beside a neighbour that is not ours."""
    project = tmp_path / "lock"
    project.mkdir()
    for name, (arch, python) in HOSTS.items():
        (project / f"{name}.json").write_text(
            f'{{"schema": "envdoctor.host/1", "os": "linux", "arch": "{arch}", "python": "{python}"}}\n'
        )
    argv = ["lock", "requirements.in", "--host", "x86.json", "--host", "arm.json"]
    folder = project / "lockfiles"
    folder.mkdir()
    (folder / "requirements.other-target.txt").write_text("# another target's lock: not ours to touch\n")
    (project / "requirements.in").write_text(f"--no-index\n--find-links {index}\nsix\n")
    with chdir(project):
        assert main(argv) == 0
    (folder / "requirements.linux-x86_64-py3.11.txt").chmod(0o640)  # an existing file keeps its mode
    old = snapshot(folder)
    (project / "requirements.in").write_text(f"--no-index\n--find-links {index}\nsix\nfilelock\n")
    with chdir(project):
        assert main(argv) == 0
    new = snapshot(folder)
    assert new["requirements.linux-x86_64-py3.11.txt"].mode == 0o640
    assert {name for name in new if name != "requirements.other-target.txt"} == {
        "requirements.linux-x86_64-py3.11.txt",
        "pylock.linux-x86_64-py3.11.toml",
        "requirements.linux-aarch64-py3.11.txt",
        "pylock.linux-aarch64-py3.11.toml",
    }
    return Scenario("lock", project, argv, folder, old, new)


def dockerfile_scenario(tmp_path: Path, index: Path, lock: Scenario) -> Scenario:
    """A build context (Dockerfile, .dockerignore, build.sh, requirements.lock, a wheelhouse)
    made from the old lock, then from the new one, beside a file of the user's."""
    project = tmp_path / "dockerfile"
    project.mkdir()
    target = "linux-x86_64-py3.11"
    for which, state, wheels in (("old", lock.old, ["six-"]), ("new", lock.new, ["six-", "filelock-"])):
        (project / which).mkdir()
        for name in (f"requirements.{target}.txt", f"pylock.{target}.toml"):
            content = state[name].content
            assert content is not None
            (project / which / name).write_bytes(content)
        (project / f"wheels-{which}").mkdir()
        for wheel in index.glob("*.whl"):
            if wheel.name.startswith(tuple(wheels)):
                shutil.copy(wheel, project / f"wheels-{which}" / wheel.name)
    folder = project / "context"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's own file in the build context\n")

    def argv(which: str) -> list[str]:
        return ["dockerfile", f"{which}/requirements.{target}.txt", "-o", "context",
                "--wheelhouse", f"wheels-{which}", "--tag", f"envdoctor-test/{which}:1"]  # fmt: skip

    with chdir(project):
        assert main(argv("old")) == 0
    (folder / "requirements.lock").chmod(0o640)
    (folder / "build.sh").chmod(0o750)
    old = snapshot(folder)
    with chdir(project):
        assert main(argv("new")) == 0
    new = snapshot(folder)
    assert new["build.sh"].mode == 0o750 and new["requirements.lock"].mode == 0o640
    assert new["Dockerfile"].mode == 0o644 and new["wheelhouse"].mode == 0o755
    assert {name for name in new if name.startswith("wheelhouse/")} != {
        name for name in old if name.startswith("wheelhouse/")
    }
    return Scenario("dockerfile", project, argv("new"), folder, old, new)


@pytest.fixture
def scenarios(tmp_path: Path, local_index: Path) -> list[Scenario]:
    previous = os.umask(0o022)
    try:
        lock = lock_scenario(tmp_path, local_index)
        return [lock, dockerfile_scenario(tmp_path, local_index, lock)]
    finally:
        os.umask(previous)


def kill_once(scenario: Scenario, tmp_path: Path, kill_at: int = 0, delay: float | None = None) -> str:
    """One run from the old set, killed; the checks above; what the kill left (old, new or
    interrupted, which then finishes as new)."""
    restore(scenario.folder, scenario.old)
    scenario.run(kill_at, delay=delay)
    state = snapshot(scenario.folder)
    interrupted = [name for name in state if name.startswith(COMMITTED) and "/" not in name]
    if interrupted:
        assert len(interrupted) == 1
        readers_refuse(scenario)
        finished = tmp_path / "finished"
        shutil.rmtree(finished, ignore_errors=True)
        shutil.copytree(scenario.folder, finished, symlinks=True)
        finish_interrupted_write(finished)
        assert visible(snapshot(finished)) == scenario.new
        outcome = "interrupted, then new"
    elif visible(state) == scenario.old:
        outcome = "old"
    elif visible(state) == scenario.new:
        outcome = "new"
    else:
        now = visible(state)
        changed = sorted(name for name in now | scenario.new if now.get(name) != scenario.new.get(name))
        pytest.fail(f"{scenario.name} killed at call {kill_at} / after {delay} s: a torn set: {changed}")
    # The next run, uncut (in this process, to save a start): the new set, its modes, no leftovers.
    previous = os.umask(0o022)
    try:
        with chdir(scenario.cwd):
            assert main(scenario.argv) == 0
    finally:
        os.umask(previous)
    assert snapshot(scenario.folder) == scenario.new
    return outcome


def readers_refuse(scenario: Scenario) -> None:
    """While a write is unfinished, the readers of the lockfiles say so instead of trusting them."""
    if scenario.name != "lock":
        return
    with chdir(scenario.cwd):
        assert main(["lock", "--check", *scenario.argv[1:]]) == 1
        lock = "lockfiles/requirements.linux-x86_64-py3.11.txt"
        assert main(["dockerfile", lock, "-o", str(scenario.cwd / "refused")]) == 2
    assert not (scenario.cwd / "refused").exists()


def around_renames(calls: list[str]) -> list[int]:
    """Kill points right before the first rename and right after each: where two renames that
    should go together split."""
    renames = [index + 1 for index, name in enumerate(calls) if name in ("rename", "replace")]
    return renames[:1] + [number + 1 for number in renames]


def test_a_few_kills_leave_each_set_whole(scenarios: list[Scenario], tmp_path: Path) -> None:
    """The default suite's slice: the kills between the renames of a write, where a set tears."""
    for scenario in scenarios:
        points = around_renames(scenario.calls(tmp_path))
        assert points, f"{scenario.name} renamed nothing"
        for kill_at in points[:3]:
            kill_once(scenario, tmp_path, kill_at)


@pytest.mark.kill
def test_kill_9_at_random_points_leaves_each_set_whole(
    scenarios: list[Scenario], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs_each = int(os.environ.get("ENVDOCTOR_KILL_RUNS", "60"))
    chance = random.Random(11)
    report = []
    for scenario in scenarios:
        calls = scenario.calls(tmp_path)
        started = time.monotonic()
        assert scenario.run() == 0
        duration = time.monotonic() - started
        outcomes: Counter[str] = Counter()
        # Every kill right after a rename, then random calls, then random moments.
        points = around_renames(calls)
        points += [chance.randint(1, len(calls) + 1) for _ in range(runs_each * 2 // 3 - len(points))]
        for kill_at in points:
            outcomes[kill_once(scenario, tmp_path, kill_at)] += 1
        for _ in range(runs_each - len(points)):
            outcomes[kill_once(scenario, tmp_path, delay=chance.uniform(0, duration * 1.2))] += 1
        report.append(f"{scenario.name}: {sum(outcomes.values())} runs, {dict(outcomes)}, torn: 0")
    with capsys.disabled():
        print("\n" + "\n".join(report))
