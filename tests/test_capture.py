"""``envdoctor capture``: a real virtual environment, installed from the local index
(tests/local_index.py), frozen into a folder, and rebuilt from its lockfile into a second one
whose ``pip freeze`` is the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor.capture import Frozen, _top_level, not_locked
from envdoctor.cli import main
from envdoctor.host.profile import HostProfile
from envdoctor.requirements.installed import Installed


def _venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return folder / "bin" / "python"


def _pip(python: Path, *args: str) -> str:
    done = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def working(tmp_path_factory: pytest.TempPathFactory, local_index: Path) -> Path:
    """A virtual environment with requests and jinja2 (and what they require) from the local index."""
    python = _venv(tmp_path_factory.mktemp("working") / "venv")
    _pip(python, "install", "--no-index", "--find-links", str(local_index), "requests", "jinja2")
    return python


def test_a_captured_environment_rebuilds_to_the_same_freeze(
    working: Path,
    local_index: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "captured"
    argv = ["capture", "--python-executable", str(working), "--os", "linux", "--arch", "x86_64",
            "--no-index", "--find-links", str(local_index), "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert said.startswith("captured 7 distribution(s), 2 at the top")
    # The top-level packages, every version held by the constraints, the host's Python the interpreter's.
    assert [line for line in (out / "requirements.in").read_text().splitlines() if not line.startswith(("#", "-"))] == [
        "jinja2",
        "requests",
    ]
    assert "requests==2.34.2" in (out / "constraints.txt").read_text().splitlines()
    assert json.loads((out / "host.json").read_text())["python"] == "3.11"
    (lock,) = sorted((out / "lockfiles").glob("requirements.*.txt"))
    assert (out / "image" / "Dockerfile").is_file()
    rebuilt = _venv(tmp_path / "rebuilt")
    _pip(rebuilt, "install", "--require-hashes", "--no-deps", "-r", str(lock))
    assert _pip(rebuilt, "freeze") == _pip(working, "freeze")
    # lock --check agrees with the captured folder.
    monkeypatch.chdir(out)
    assert main(["lock", "requirements.in", "--host", "host.json", "-o", "lockfiles", "--check"]) == 0


def test_a_distribution_from_a_vcs_checkout_is_reported_not_locked(
    working: Path, local_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What pip writes (PEP 610) for a package installed from a git checkout.
    (info,) = working.parent.parent.glob("lib/python3*/site-packages/jinja2-*.dist-info")
    direct = {"url": "https://github.com/pallets/jinja", "vcs_info": {"vcs": "git", "commit_id": "0" * 40}}
    (info / "direct_url.json").write_text(json.dumps(direct))
    try:
        out = tmp_path / "captured"
        argv = ["capture", "--python-executable", str(working), "--os", "linux", "--arch", "x86_64",
                "--no-index", "--find-links", str(local_index), "-o", str(out), "--format", "json"]  # fmt: skip
        main(argv)
        document = json.loads(capsys.readouterr().out)
        assert document["not_captured"] == [
            {"name": "Jinja2", "version": "3.1.6", "why": "installed from a VCS checkout"}
        ]
        assert "jinja2==3.1.6" not in document["pinned"] and "markupsafe==3.0.4" in document["pinned"]
        assert "Jinja2 3.1.6: installed from a VCS checkout" in (out / "README.md").read_text()
    finally:
        (info / "direct_url.json").unlink()


_LINUX = {"sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11"}


def _dist(name: str, *requires: str) -> Installed:
    return Installed(name, "1.0", requires, None)


@pytest.mark.parametrize(
    ("installed", "top"),
    [
        # tqdm names requests only under its "telegram" extra, and colorama only on Windows.
        (
            [_dist("tqdm", 'requests; extra == "telegram"', 'colorama; platform_system == "Windows"'),
             _dist("requests"), _dist("colorama")],
            ["colorama", "requests", "tqdm"],
        ),
        # An extra asked for by something installed counts, and what that extra asks for in turn.
        (
            [_dist("app", "lib[fast]"), _dist("lib", 'speedup[simd]; extra == "fast"'),
             _dist("speedup", 'simdlib; extra == "simd"'), _dist("simdlib")],
            ["app"],
        ),
        # A requirement on something not installed, or a line that is not a requirement, is passed over.
        ([_dist("a", "missing>=1", "not a requirement ;;"), _dist("b", "a")], ["b"]),
        # A cycle: neither is at the top.
        ([_dist("a", "b"), _dist("b", "a"), _dist("c")], ["c"]),
        # A marker that does not hold for the interpreter's Python: no dependency there.
        ([_dist("a", 'b; python_version < "3.8"'), _dist("b")], ["a", "b"]),
    ],
)  # fmt: skip
def test_the_top_level_is_what_nothing_installed_requires_under_its_markers(
    installed: list[Installed], top: list[str]
) -> None:
    assert list(_top_level(installed, _LINUX)) == top


def test_a_pin_the_lock_leaves_out_is_named(tmp_path: Path) -> None:
    pylock = tmp_path / "pylock.linux-x86_64-py3.11.toml"
    pylock.write_text('lock-version = "1.0"\n[[packages]]\nname = "Requests"\nversion = "2.32.3"\n')
    frozen = Frozen(tmp_path, HostProfile(), ("requests",), ("pywin32==306", "requests==2.32.3"), ())
    assert not_locked(frozen, [pylock, tmp_path / "requirements.linux-x86_64-py3.11.txt"]) == ("pywin32==306",)
