"""The ci/ scripts as a user runs them: the main job (ci/example) sets up envdoctor's runtime alone.

ci/lock-deps locks three sets of envdoctor's own dependencies per target of lockfiles/targets/: the
test tool-chain (lockfiles/), the Action's (lockfiles/action/) and the runtime (lockfiles/runtime/),
which ci/example installs with `ci/setup runtime`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.tomlcompat import tomllib

ROOT = Path(__file__).parent.parent
TARGETS = sorted(path.stem for path in (ROOT / "lockfiles" / "targets").glob("*.json"))
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
# What the test suite runs and the runtime must never bring; the dev extra names the rest.
TOOLS = {"pytest", "ruff", "mypy", "hypothesis", "setuptools", "pip", "pip-tools", "pre-commit", "zizmor"}


def pins(lockfile: Path) -> dict[str, str]:
    """The name and version of each package a hash-pinned requirements lockfile installs."""
    lines = lockfile.read_text().splitlines()
    found: dict[str, str] = {}
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if match := _PIN.match(line):
            # Every package carries its hashes: `pip install --require-hashes` refuses the file otherwise.
            assert line.endswith(" \\") and following.strip().startswith("--hash=sha256:"), (lockfile, line)
            found[canonicalize_name(match["name"])] = match["version"]
    assert found, lockfile
    return found


def target_environment(target: str) -> dict[str, str]:
    """The marker environment of a lockfiles/targets/ host profile (Linux x86_64, one Python)."""
    host = json.loads((ROOT / "lockfiles" / "targets" / f"{target}.json").read_text())
    assert (host["os"], host["arch"]) == ("linux", "x86_64"), target
    python = host["python"]
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


def project() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return data


def runtime_requirements(target: str) -> dict[str, Requirement]:
    """pyproject's [project] dependencies that apply on the target, by name."""
    environment = target_environment(target)
    wanted = [Requirement(line) for line in project()["dependencies"]]
    return {canonicalize_name(r.name): r for r in wanted if r.marker is None or r.marker.evaluate(environment)}


def test_every_target_has_a_runtime_lock() -> None:
    assert TARGETS
    for target in TARGETS:
        for name in (f"requirements.{target}.txt", f"pylock.{target}.toml"):
            assert (ROOT / "lockfiles" / "runtime" / name).is_file(), name


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_lock_holds_pyprojects_dependencies_and_nothing_else(target: str) -> None:
    locked = pins(ROOT / "lockfiles" / "runtime" / f"requirements.{target}.txt")
    wanted = runtime_requirements(target)
    # envdoctor's runtime dependencies bring none of their own; one that does adds its own here.
    assert set(locked) == set(wanted)
    for name, requirement in wanted.items():
        assert requirement.specifier.contains(Version(locked[name]), prereleases=True), (name, locked[name])
    dev = {canonicalize_name(Requirement(line).name) for line in project()["optional-dependencies"]["dev"]}
    assert not set(locked) & (TOOLS | (dev - set(wanted)))


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_lock_pins_the_versions_the_tests_run(target: str) -> None:
    """The main job runs the very versions ci/test tested, not a resolution of its own."""
    runtime = pins(ROOT / "lockfiles" / "runtime" / f"requirements.{target}.txt")
    tested = pins(ROOT / "lockfiles" / f"requirements.{target}.txt")
    assert {name: tested.get(name) for name in runtime} == runtime


def lock_deps_copy(tmp_path: Path) -> Path:
    """A checkout holding what ci/lock-deps reads, with the test's own environment as .venv."""
    copy = tmp_path / "checkout"
    (copy / "ci").mkdir(parents=True)
    shutil.copy2(ROOT / "ci" / "lock-deps", copy / "ci" / "lock-deps")
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(ROOT / "lockfiles", copy / "lockfiles")
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "envdoctor").exists():
        pytest.skip(f"no envdoctor command beside {sys.executable}")
    (copy / ".venv").symlink_to(venv)
    return copy


def lock_deps_check(copy: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(copy / "ci" / "lock-deps"), "--check"], capture_output=True, text=True, timeout=60, check=False
    )


def test_lock_deps_check_passes_on_all_three_sets(tmp_path: Path) -> None:
    result = lock_deps_check(lock_deps_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("lockfiles match their inputs") == 3, result.stdout


def test_lock_deps_check_fails_when_a_runtime_lock_is_missing(tmp_path: Path) -> None:
    copy = lock_deps_copy(tmp_path)
    (copy / "lockfiles" / "runtime" / f"requirements.{TARGETS[-1]}.txt").unlink()
    result = lock_deps_check(copy)
    assert result.returncode == 1
    assert f"lockfiles/runtime/requirements.{TARGETS[-1]}.txt: missing" in result.stdout


def test_example_runs_the_runtime_set_alone() -> None:
    """ci/example sets up the runtime venv, never the test tool-chain's."""
    script = (ROOT / "ci" / "example").read_text()
    assert "ci/setup runtime" in script
    assert ".venv/" not in script


def test_setup_refuses_an_unknown_set() -> None:
    result = subprocess.run(["bash", str(ROOT / "ci" / "setup"), "tools"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "usage: ci/setup [test|runtime]\n"


def fresh_checkout(tmp_path: Path) -> Path:
    """The files of this working tree that git would carry (tracked or not ignored), as a clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    copy = tmp_path / "clone"
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if name.startswith(".venv") or not source.is_file():
            continue
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy / name)
    return copy


@pytest.mark.network
def test_example_on_a_fresh_checkout_installs_the_runtime_and_says_each_step(tmp_path: Path) -> None:
    copy = fresh_checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PYTHON"] = sys.executable  # a Python with a lock in lockfiles/runtime/, as python3 is on CI
    run = [str(copy / "ci" / "example")]
    first = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    steps = first.stderr.splitlines()
    assert steps[0] == f"ci/setup: creating venv .venv-runtime ({sys.executable})"
    assert re.fullmatch(r"ci/setup: installing [45] packages from lockfiles/runtime/requirements\.\S+\.txt", steps[-3])
    assert steps[-2:-1] == ["ci/setup: adding envdoctor from this checkout to .venv-runtime"]
    assert re.fullmatch(r"ci/setup: ready in \d+s", steps[-1])
    readme = (ROOT / "README.md").read_text()
    shown = [line for line in first.stdout.splitlines() if line.startswith("examples/icarus/requirements.txt:6:")]
    assert shown and all(line in readme for line in shown)
    # The venv holds the runtime lock's packages and nothing else (not even pip).
    installed = subprocess.run(
        [str(copy / ".venv-runtime" / "bin" / "python"), "-c",
         "import importlib.metadata as m; print('\\n'.join(sorted(d.metadata['Name'] for d in m.distributions())))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    lockfile = re.sub(r"^.* from ", "", steps[-3])
    assert {canonicalize_name(name) for name in installed} == set(pins(copy / lockfile))
    # A second run sets up nothing and says nothing, and the diagnosis is the same bytes.
    second = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert (second.returncode, second.stderr, second.stdout) == (0, "", first.stdout)
