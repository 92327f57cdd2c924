"""The Python API (envdoctor.api) and the seams' registries (envdoctor.seams): what the command
line does, as functions returning typed values, and every name the command line offers backed
by an implementation."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from envdoctor import api
from envdoctor.host.profile import HostProfile, profile_from_dict
from envdoctor.seams import INPUT_KINDS, REPORT_FORMATS, RESOLVERS, load

ROOT = Path(__file__).resolve().parent.parent
ICARUS = ROOT / "examples" / "icarus"
IMAGES = ROOT / "images"


@pytest.mark.parametrize("entry", [*INPUT_KINDS.values(), *REPORT_FORMATS.values(), *RESOLVERS.values()])
def test_every_registered_name_is_backed_by_an_implementation(entry: str) -> None:
    assert callable(load(entry))


def test_the_command_line_offers_exactly_the_registered_names() -> None:
    from envdoctor.cli import build_parser
    from envdoctor.report import OutputFormat

    def choices(command: str, option: str) -> tuple[str, ...]:
        parser = build_parser()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        action = next(a for a in commands.choices[command]._actions if option in a.option_strings)
        assert action.choices is not None
        return tuple(action.choices)

    assert choices("audit", "--kind") == tuple(INPUT_KINDS)
    assert choices("audit", "--format") == tuple(REPORT_FORMATS)
    assert choices("lock", "--backend") == tuple(RESOLVERS)
    assert tuple(output.value for output in OutputFormat) == tuple(REPORT_FORMATS)


def test_audit_returns_the_report_the_command_prints() -> None:
    host = api.load_host(ICARUS / "prod-host.json")
    report = api.audit([ICARUS / "requirements.txt"], hosts=[("prod", host)])
    assert isinstance(report, api.AuditReport)
    assert [name for name, _ in report.hosts] == ["prod"]
    # The post-mortem's breakage: torch's CUDA 12.1 build on a driver that runs CUDA 11.8 at most.
    assert any(f.code == "ED101" and "torch" in f.message for f in report.findings)
    ignored = api.audit([ICARUS / "requirements.txt"], hosts=[host], ignore=frozenset({"ED101"}))
    assert not any(f.code == "ED101" for f in ignored.findings)


def test_an_unknown_code_to_ignore_is_refused_as_on_the_command_line() -> None:
    with pytest.raises(api.UsageError, match="ED999"):
        api.audit([ICARUS / "requirements.txt"], hosts=[HostProfile(os="linux")], ignore=frozenset({"ED999"}))


def test_fix_without_write_gives_the_diff_and_changes_nothing(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    original = (ICARUS / "requirements.txt").read_text()
    requirements.write_text(original)
    result = api.fix([requirements], hosts=[api.load_host(ICARUS / "prod-host.json")], write=False)
    assert result.diff().startswith("--- ")
    assert requirements.read_text() == original
    assert any(f.code == "ED101" for f in result.before.findings)


def test_bad_input_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "requirements.txt"
    bad.write_text("numpy===\n")
    with pytest.raises(api.InputError) as raised:
        api.audit([bad], hosts=[HostProfile(os="linux")])
    assert raised.value.path == str(bad)
    assert raised.value.line == 1


def test_lock_writes_the_set_and_says_so(tmp_path: Path, local_index: Path) -> None:
    (tmp_path / "requirements.in").write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    host = HostProfile(os="linux", arch="x86_64", python="3.11")
    options = api.LockOptions(output_dir=tmp_path / "lockfiles")
    result = api.lock([tmp_path / "requirements.in"], hosts=[host], options=options)
    assert not result.unresolved and not result.refused
    assert sorted(path.name for path in result.written) == [
        "pylock.linux-x86_64-py3.11.toml",
        "requirements.linux-x86_64-py3.11.txt",
    ]
    checked = api.check_locks([tmp_path / "requirements.in"], hosts=[host], options=options)
    assert checked.stale == () and checked.refused == ()
    (tmp_path / "requirements.in").write_text(f"--no-index\n--find-links {local_index}\nsix\npackaging\n")
    assert api.check_locks([tmp_path / "requirements.in"], hosts=[host], options=options).stale


def test_dockerfile_builds_the_reference_context_byte_for_byte(tmp_path: Path) -> None:
    stack = IMAGES / "cpu"
    (lock,) = sorted((stack / "lock").glob("requirements.*.txt"))
    options = api.ImageOptions(tag="envdoctor/cpu:1")
    context = api.dockerfile([lock], tmp_path / "out", host=api.load_host(stack / "host.json"), options=options)
    assert context.plan.base.repository == "python"
    assert (tmp_path / "out" / "Dockerfile").read_bytes() == (stack / "Dockerfile").read_bytes()
    assert set(context.files) >= {"Dockerfile", ".dockerignore", "build.sh", "requirements.lock"}


def test_dockerfile_refuses_with_its_reasons_and_writes_nothing(tmp_path: Path) -> None:
    stack = IMAGES / "blackwell-torch"
    (lock,) = sorted((stack / "lock").glob("requirements.*.txt"))
    # The same lock for a host whose driver (R470, CUDA 11.4) runs no CUDA 12 build.
    old = profile_from_dict(
        {
            "schema": "envdoctor.host/1",
            "os": "linux",
            "arch": "x86_64",
            "python": "3.12",
            "nvidia": {"driver": "470.82.01", "cuda": "11.4", "gpus": [{"compute_capability": "7.0"}]},
        },
        "old-host.json",
    )
    with pytest.raises(api.Refused) as refused:
        api.dockerfile([lock], tmp_path / "out", host=old)
    assert refused.value.reasons and all("driver" in why for why in refused.value.reasons)
    assert not (tmp_path / "out").exists()
