"""``audit --resolve`` always answers: where the host does not give its OS, architecture or Python,
it resolves under stated assumptions (an ED901 finding says which) instead of refusing; a lock
still refuses; an unreachable index is exit 2; progress goes to stderr, never stdout, and not
with -q.

Hermetic: uv resolves against the local index of real-shaped wheels (tests/local_index.py); the
unreachable index is a closed local port.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from envdoctor.audit import resolver as resolve_audit
from envdoctor.audit.resolver import Progress, assumed_host, resolve_for_host
from envdoctor.cli import main
from envdoctor.host.profile import HostProfile, Libc
from envdoctor.requirements import SourceOptions, load_requirement_set
from envdoctor.requirements.model import RequirementSet
from envdoctor.resolve import uv

NEWEST = "the newest Python every tracked requirement has wheels for"
FIX = "give the host's facts: --host FILE from envdoctor probe, or --os/--arch/--python"


def requirement_set(tmp_path: Path, lines: str) -> RequirementSet:
    (tmp_path / "requirements.txt").write_text(lines)
    return load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions())


@pytest.fixture
def project(tmp_path: Path, local_index: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder, as the working folder, whose requirements.txt resolves against the local index."""
    (tmp_path / "requirements.txt").write_text(f"--no-index\n--find-links {local_index}\ntorch==2.2.0\nnumpy\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- the assumptions ----------------------------------------------------------------------------


def test_no_python_is_the_newest_every_tracked_requirement_has_wheels_for(tmp_path: Path) -> None:
    # torch 2.2.0 has wheels for CPython 3.8 to 3.12: 3.13 and 3.14 would have no torch to install.
    assumed = assumed_host(requirement_set(tmp_path, "torch==2.2.0\nnumpy\n"), HostProfile(os="linux", arch="x86_64"))
    assert assumed.host.python == "3.12"
    assert assumed.statement == (
        f"the host profile does not give its Python: --resolve assumed Linux x86_64, Python 3.12 ({NEWEST})"
    )


def test_packages_the_base_does_not_track_do_not_constrain_the_python(tmp_path: Path) -> None:
    lines = "torch>=2.9\nenvdoctor-test-no-such-package==0.1\n"
    assumed = assumed_host(requirement_set(tmp_path, lines), HostProfile(os="linux", arch="x86_64"))
    assert assumed.host.python == "3.14"


def test_a_python_no_release_serves_all_takes_the_one_that_serves_the_most_and_says_so(tmp_path: Path) -> None:
    # torch 1.4.0 has wheels for 3.5 to 3.8 only: no Python from 3.9 serves it.
    assumed = assumed_host(
        requirement_set(tmp_path, "torch==1.4.0\ntorch-envdoctor-untracked\nnumpy==2.1.3\n"),
        HostProfile(os="linux", arch="x86_64"),
    )
    assert assumed.host.python == "3.13"
    assert "no Python from 3.9 to 3.14 has wheels for every tracked requirement" in assumed.statement
    assert "3.13 has them for the most, all but torch" in assumed.statement


def test_a_line_whose_marker_is_false_does_not_constrain_the_python(tmp_path: Path) -> None:
    lines = "torch==2.2.0; sys_platform == 'win32'\nnumpy\n"
    assumed = assumed_host(requirement_set(tmp_path, lines), HostProfile(os="linux", arch="x86_64"))
    assert assumed.host.python == "3.14"


def test_linux_without_an_arch_is_x86_64(tmp_path: Path) -> None:
    assumed = assumed_host(requirement_set(tmp_path, "numpy\n"), HostProfile(os="linux", python="3.11.9"))
    assert (assumed.host.os, assumed.host.arch, assumed.host.python) == ("linux", "x86_64", "3.11.9")
    assert assumed.statement == (
        "the host profile does not give its architecture: --resolve assumed Linux x86_64, Python 3.11"
    )


def test_macos_without_an_arch_is_arm64(tmp_path: Path) -> None:
    assumed = assumed_host(requirement_set(tmp_path, "torch==2.2.0\n"), HostProfile(os="macos"))
    assert (assumed.host.arch, assumed.host.python) == ("arm64", "3.12")
    assert assumed.statement == (
        f"the host profile does not give its architecture or Python: --resolve assumed macOS arm64, Python 3.12 "
        f"({NEWEST})"
    )


def test_windows_without_an_arch_is_x86_64(tmp_path: Path) -> None:
    assumed = assumed_host(requirement_set(tmp_path, "numpy\n"), HostProfile(os="windows", python="3.12"))
    assert assumed.host.arch == "x86_64"


def test_no_os_is_linux(tmp_path: Path) -> None:
    assumed = assumed_host(requirement_set(tmp_path, "torch==2.2.0\n"), HostProfile())
    assert (assumed.host.os, assumed.host.arch, assumed.host.python) == ("linux", "x86_64", "3.12")
    assert assumed.statement.startswith(
        "the host profile does not give its OS, architecture or Python: --resolve assumed Linux x86_64, Python 3.12"
    )


def test_a_host_that_gives_every_fact_assumes_nothing(tmp_path: Path) -> None:
    host = HostProfile(os="linux", arch="aarch64", python="3.10", libc=Libc("glibc", "2.35"))
    assert assumed_host(requirement_set(tmp_path, "torch==2.2.0\n"), host) == (host, "")


def test_resolution_carries_the_assumption(tmp_path: Path, local_index: Path) -> None:
    requirements = requirement_set(tmp_path, f"--no-index\n--find-links {local_index}\ntorch==2.2.0\nnumpy\n")
    resolution = resolve_for_host(requirements, HostProfile(os="linux", python="3.11.9"), "gpu-box")
    assert resolution.error is None and str(resolution.pins[canonicalize_name("torch")]) == "2.2.0"
    assert resolution.assumptions == (
        "the host profile does not give its architecture: --resolve assumed Linux x86_64, Python 3.11",
    )
    complete = resolve_for_host(requirements, HostProfile(os="linux", arch="x86_64", python="3.11"), "gpu-box")
    assert complete.assumptions == ()


# --- through the command line ------------------------------------------------------------------


# What the recording uv answers, as uv writes a pylock (the file names and hashes stand-ins).
PINS = """lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "numpy"
version = "2.1.3"
wheels = [{ url = "https://x.example/numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.whl", hashes = { sha256 = "HASH" } }]

[[packages]]
name = "torch"
version = "2.2.0"
wheels = [{ url = "https://x.example/torch-2.2.0-cp312-cp312-manylinux1_x86_64.whl", hashes = { sha256 = "HASH" } }]
""".replace("HASH", "a" * 64)


@pytest.fixture
def recording_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """uv as a script that records its arguments and answers with fixed pins: the local index
    serves CPython 3.11 wheels only, and an assumed Python is the newest the base allows."""
    script = tmp_path / "bin" / "uv"
    script.parent.mkdir()
    arguments = tmp_path / "uv-arguments"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" >> {arguments}\ncat > pylock.toml <<'EOF'\n{PINS}EOF\n")
    script.chmod(0o755)
    monkeypatch.setattr(uv, "uv_binary", lambda: str(script))
    return arguments


def asked_of_uv(arguments: Path) -> tuple[str, str]:
    """The --python-version and --python-platform the recording uv was last given."""
    words = arguments.read_text().splitlines()
    python = len(words) - 1 - words[::-1].index("--python-version")
    platform = len(words) - 1 - words[::-1].index("--python-platform")
    return words[python + 1], words[platform + 1]


def test_audit_resolve_without_python_or_arch_answers_with_an_ed901_finding(
    project: Path, recording_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["audit", "--resolve", "--os", "linux", "--format", "json", "-q"], capsys)
    assert code in (0, 1), err
    assert asked_of_uv(recording_uv) == ("3.12", "x86_64-unknown-linux-gnu")
    report = json.loads(out)
    [finding] = [f for f in report["findings"] if f["code"] == "ED901"]
    assert finding["category"] == "not-judged" and finding["severity"] == "info"
    assert finding["message"] == (
        "the host profile does not give its architecture or Python: --resolve assumed Linux x86_64, Python 3.12 "
        f"({NEWEST})"
    )
    assert finding["fix"] == FIX
    # Judged on what uv picked for that host: numpy 2 under torch 2.2.0 (built against NumPy 1).
    assert any(f["code"] == "ED203" for f in report["findings"]), report["findings"]


def test_macos_without_an_arch_resolves_for_arm64(
    project: Path, recording_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["audit", "--resolve", "--os", "macos", "-q"], capsys)
    assert code in (0, 1), err
    assert asked_of_uv(recording_uv) == ("3.12", "aarch64-apple-darwin")
    assert "--resolve assumed macOS arm64, Python 3.12" in out


def test_no_os_resolves_for_linux_x86_64(project: Path, recording_uv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["audit", "--resolve", "--gpu", "8.0", "--driver", "550.54.15", "-q"], capsys)
    assert code in (0, 1), err
    assert asked_of_uv(recording_uv) == ("3.12", "x86_64-unknown-linux-gnu")
    assert "does not give its OS, architecture or Python: --resolve assumed Linux x86_64, Python 3.12" in out


def test_linux_without_an_arch_resolved_by_the_real_uv(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["audit", "--resolve", "-q", "--os", "linux", "--python", "3.11", "--format", "json"], capsys)
    assert code == 1, err
    findings = json.loads(out)["findings"]
    [finding] = [f for f in findings if f["code"] == "ED901"]
    assert finding["message"] == (
        "the host profile does not give its architecture: --resolve assumed Linux x86_64, Python 3.11"
    )
    assert any(f["code"] == "ED203" for f in findings), findings


def test_a_host_with_every_fact_gets_no_ed901(
    project: Path, recording_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["audit", "--resolve", "-q", "--os", "linux", "--arch", "x86_64", "--python", "3.11", "--format", "json"],
        capsys,
    )
    assert code in (0, 1), err
    assert asked_of_uv(recording_uv) == ("3.11", "x86_64-unknown-linux-gnu")
    assert not [f for f in json.loads(out)["findings"] if f["code"] == "ED901"]


def test_ed901_once_per_host_that_lacks_facts(
    project: Path, recording_uv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "bare.json").write_text(json.dumps({"schema": "envdoctor.host/1", "os": "macos"}))
    full = {"schema": "envdoctor.host/1", "os": "linux", "arch": "x86_64", "python": "3.11.9"}
    (project / "full.json").write_text(json.dumps(full))
    code, out, err = run(
        ["audit", "--resolve", "-q", "--host", "bare.json", "--host", "full.json", "--format", "json"], capsys
    )
    assert code in (0, 1), err
    assumed = [f for f in json.loads(out)["findings"] if f["code"] == "ED901"]
    assert len(assumed) == 1, assumed
    assert "--resolve assumed macOS arm64, Python 3.12" in assumed[0]["message"]


def test_explain_ed901(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "ED901"], capsys)
    assert code == 0
    assert out.startswith("ED901 not-judged (info by default): Judged under stated assumptions")


def test_lock_still_refuses_a_host_without_its_facts(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["lock", "requirements.txt", "--os", "linux"], capsys)
    assert code == 2
    assert err.strip().endswith("cannot resolve without its arch, python (give --os, --arch, --python)"), err
    assert not list(project.glob("lockfiles/*"))


def test_an_unreachable_index_is_exit_2_not_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "requirements.txt").write_text(f"--index-url http://127.0.0.1:{port}/simple\nrequests==2.31.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = run(["audit", "requirements.txt", "--resolve", "-q", "--os", "linux"], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(
        f"envdoctor: error: cannot reach the package index: Failed to fetch: http://127.0.0.1:{port}/"
    )


# --- progress ------------------------------------------------------------------------------------


def test_progress_goes_to_stderr_never_stdout(
    project: Path, recording_uv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(resolve_audit, "PROGRESS_AFTER_S", 0.0)
    code, out, err = run(["audit", "--resolve", "--os", "linux"], capsys)
    assert code in (0, 1), err
    # Not a terminal (a CI log): one plain line, after the resolution.
    [line] = [line for line in err.splitlines() if line.startswith("Resolving")]
    assert line.startswith("Resolving requirements.txt for host flags (Linux x86_64, Python 3.12) with uv: done in ")
    assert line.endswith(" s")
    assert "Resolving" not in out and "ED901" in out


def test_quiet_shows_no_progress(
    project: Path, recording_uv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(resolve_audit, "PROGRESS_AFTER_S", 0.0)
    for flag in ("-q", "--quiet"):
        code, out, err = run(["audit", "--resolve", flag, "--os", "linux"], capsys)
        assert code in (0, 1) and err == "", err
        assert "ED901" in out


def test_a_quick_resolution_shows_nothing() -> None:
    for terminal in (True, False):
        stream = io.StringIO()
        with Progress(stream, terminal, after=5.0).step("Resolving requirements.txt for host h"):
            pass
        assert stream.getvalue() == ""


def test_on_a_terminal_one_line_appears_after_the_delay_and_is_finished_in_place() -> None:
    stream = io.StringIO()
    with Progress(stream, terminal=True, after=0.05).step("Resolving requirements.txt for host h (Linux x86_64)"):
        time.sleep(0.3)
    text = stream.getvalue()
    assert text.startswith("Resolving requirements.txt for host h (Linux x86_64)… done in 0.")
    assert text.endswith(" s\n") and text.count("\n") == 1


def test_a_failed_resolution_says_so_and_the_error_follows_on_its_own_line() -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress(stream, terminal=True, after=0.0).step("Resolving r for host h"):
        time.sleep(0.1)
        raise RuntimeError("index down")
    assert stream.getvalue().startswith("Resolving r for host h… failed after ")
    assert stream.getvalue().endswith(" s\n")
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress(stream, terminal=False, after=0.0).step("Resolving r for host h"):
        raise RuntimeError("index down")
    assert stream.getvalue().startswith("Resolving r for host h: failed after ")


def test_the_timer_leaves_no_thread_behind() -> None:
    before = threading.active_count()
    with Progress(io.StringIO(), terminal=True, after=5.0).step("Resolving"):
        pass
    assert threading.active_count() <= before


def test_a_terminal_that_cannot_write_an_ellipsis_gets_three_dots() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    with Progress(stream, terminal=True, after=0.0).step("Resolving r for host h"):
        time.sleep(0.1)
    stream.flush()
    assert raw.getvalue().decode().startswith("Resolving r for host h... done in ")
