"""The command line as a user meets it: output, exit codes, files, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor import __version__
from envdoctor.cli import main
from tests.fakes import FIXTURES

H200_TABLE = str(FIXTURES / "hosts/smi-table/h200-580-device.txt")
EXAMPLE = str(Path(__file__).parent.parent / "examples/hosts/h100-x8-nvidia-smi.txt")


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envdoctor", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_version() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"envdoctor {__version__}\n")


def test_version_is_answered_before_argparse_is_imported() -> None:
    # Version checks run in every hook and CI job: the entry point answers them importing no parser.
    probe = "import sys; from envdoctor.cli import main; main(['--version']); print(sorted(sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = result.stdout.splitlines()[-1]
    assert result.stdout.startswith(f"envdoctor {__version__}\n")
    assert "'argparse'" not in loaded and "'packaging" not in loaded and "'envdoctor.console'" not in loaded


def test_the_config_module_does_not_import_the_requirement_readers() -> None:
    probe = "import sys, envdoctor.config; print(sorted(m for m in sys.modules if m.startswith('envdoctor')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "envdoctor.requirements" not in result.stdout and "envdoctor.findings" not in result.stdout


def test_an_audit_of_requirements_loads_neither_the_locker_nor_the_conda_reader(tmp_path: Path) -> None:
    # What an audit imports and never uses is paid on every commit hook (issue 15).
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n", encoding="utf-8")
    probe = (
        "import sys; from envdoctor.cli import main\n"
        "try:\n    main(['audit', 'requirements.txt', '--os', 'linux', '--python', '3.11', '-q'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('envdoctor', 'packaging'))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path)
    loaded = result.stdout.splitlines()[-1]
    assert "'envdoctor.rules'" in loaded  # the audit did run
    for module in ("envdoctor.lock", "envdoctor.resolve.uv", "envdoctor.requirements.conda", "packaging.pylock"):
        assert f"'{module}'" not in loaded, module


@pytest.mark.parametrize("command", [[], ["probe"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: envdoctor" in result.stdout


def test_import_json_is_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--import", H200_TABLE, "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["schema"] == "envdoctor.host/1"
    assert profile["nvidia"] == {
        "driver": "580.159.04",
        "cuda": "13.0",
        "gpus": [{"name": "NVIDIA H200", "compute_capability": "9.0", "memory_mib": 143771, "mig": False}],
    }
    assert profile["sources"]["nvidia.gpus[0].compute_capability"] == "kb"
    assert "os" not in profile, "a paste that does not show the OS leaves it unknown"


def test_import_from_stdin_and_text_output() -> None:
    result = run_cli("probe", "--import", "-", stdin=Path(EXAMPLE).read_text())
    assert result.returncode == 0, result.stderr
    assert "nvidia driver: 550.90.07 (file)" in result.stdout
    assert "gpus: 8" in result.stdout
    assert "gpu 7: NVIDIA H100 80GB HBM3, compute capability 9.0 (from the GPU name, kb), 81559 MiB, MIG off" in (
        result.stdout
    )


def test_output_file_round_trips_through_host(tmp_path: Path) -> None:
    saved = tmp_path / "prod.json"
    assert main(["probe", "--import", EXAMPLE, "--format", "json", "-o", str(saved)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prod.json"], "no temporary file is left behind"
    again = tmp_path / "again.json"
    assert main(["probe", "--host", str(saved), "--format", "json", "-o", str(again)]) == 0
    assert again.read_bytes() == saved.read_bytes()


def test_same_input_same_bytes_wherever_it_runs(tmp_path: Path) -> None:
    first = run_cli("probe", "--import", EXAMPLE, "--format", "json")
    (tmp_path / "copy.txt").write_text(Path(EXAMPLE).read_text())
    second = subprocess.run(
        [sys.executable, "-m", "envdoctor", "probe", "--import", "copy.txt", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        check=False,
    )
    assert first.stdout == second.stdout
    assert str(tmp_path) not in second.stdout


def test_flags_override_and_only_given_facts_are_known(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["probe", "--driver", "470.86", "--gpu", "6.1", "--gpu", "8.6", "--os", "Linux", "--format", "json"]) == 0
    )
    profile = json.loads(capsys.readouterr().out)
    assert profile["os"] == "linux"
    assert profile["nvidia"] == {
        "driver": "470.86",
        "cuda": "11.4",  # what the knowledge base says driver 470.86 supports: sourced as kb, below
        "gpus": [{"compute_capability": "6.1"}, {"compute_capability": "8.6"}],
    }
    for unknown in ("arch", "python", "libc", "container", "cuda_toolkit"):
        assert unknown not in profile, f"{unknown} must not be filled in from this machine"
    assert profile["sources"] == {
        "nvidia.cuda": "kb",
        "nvidia.driver": "override",
        "nvidia.gpus": "override",
        "os": "override",
    }


def test_flags_override_an_imported_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--import", EXAMPLE, "--cuda", "12.2", "--python", "3.11", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert (profile["nvidia"]["driver"], profile["nvidia"]["cuda"], profile["python"]) == ("550.90.07", "12.2", "3.11")
    assert len(profile["nvidia"]["gpus"]) == 8


def test_gpu_flag_takes_a_model_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--gpu", "GeForce GTX 1080 Ti", "--format", "json"]) == 0
    gpus = json.loads(capsys.readouterr().out)["nvidia"]["gpus"]
    assert gpus == [{"name": "GeForce GTX 1080 Ti", "compute_capability": "6.1"}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe", "--driver", "latest"], "--driver 'latest': expected a version like 535.104.05"),
        (["probe", "--gpu", "Voodoo 3"], "--gpu 'Voodoo 3': expected a compute capability"),
        (["probe", "--os", "beos"], "--os 'beos': expected one of linux, macos, windows"),
        (["probe", "--wsl", "3"], "--wsl '3': expected 0, 1 or 2"),
        (["probe", "--import", "missing.txt"], "missing.txt: No such file or directory"),
        (["probe", "--format", "yaml"], "invalid choice: 'yaml'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # argparse adds its usage line


def test_unrecognised_paste_names_file_and_line(tmp_path: Path) -> None:
    paste = tmp_path / "notes.txt"
    paste.write_text("my GPU is fast\n")
    result = run_cli("probe", "--import", str(paste))
    assert result.returncode == 2
    assert result.stderr.startswith(f"envdoctor: error: {paste}:1: not a host description envdoctor can read")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "envdoctor.host/1",\n "os": }', "not valid JSON"),
        ('{"schema": "envdoctor.host/1", "nvidia": {"gpus": [{"compute_capability": "sm_86"}]}}', "nvidia.gpus[0]"),
        ('{"schema": "envdoctor.host/9"}', "schema is 'envdoctor.host/9'"),
        ('["envdoctor.host/1"]', "expected an object"),
    ],
)
def test_bad_profile_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "host.json"
    bad.write_text(content)
    result = run_cli("probe", "--host", str(bad))
    assert result.returncode == 2
    assert message in result.stderr and str(bad) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_binary_input_is_refused_cleanly(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"NVIDIA-SMI\n\xff\xfe\x00")
    result = run_cli("probe", "--import", str(blob))
    assert result.returncode == 2
    assert f"{blob}:2: not UTF-8 text" in result.stderr


def test_colour_follows_no_color_and_the_flag() -> None:
    forced = run_cli("--color", "always", "probe", "--import", H200_TABLE)
    assert "\x1b[" in forced.stdout
    plain = run_cli("probe", "--import", H200_TABLE, env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout
    never = run_cli("--color", "never", "probe", "--import", H200_TABLE)
    assert never.stdout == plain.stdout


def test_failed_write_leaves_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "host.json"
    target.write_text("previous\n")
    result = run_cli("probe", "--host", str(tmp_path / "nope.json"), "-o", str(target))
    assert result.returncode == 2
    assert target.read_text() == "previous\n"


def test_a_bug_is_exit_3_on_one_line_never_the_1_of_findings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from envdoctor import github_action
    from envdoctor.commands import audit

    def broken(*_: object, **__: object) -> int:
        raise KeyError("\x1b]0;not printed raw\x07")

    monkeypatch.setattr(audit, "run", broken)
    assert main(["audit", "requirements.txt"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("envdoctor: internal error: KeyError: ") and err.count("\n") == 1 and "\x1b" not in err
    monkeypatch.setattr(github_action.api, "fix", broken)
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    monkeypatch.chdir(tmp_path)
    assert github_action.main(["audit"]) == 3
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("::error title=envdoctor::internal error: KeyError") and "\x1b" not in line
    monkeypatch.setenv("ENVDOCTOR_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["audit", "requirements.txt"])


# --- global options, before or after the command ------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["probe", "--import", H200_TABLE],
        ["explain", "ED101"],
    ],
)
def test_color_is_taken_after_the_command_too(args: list[str]) -> None:
    before = run_cli("--color", "always", *args)
    after = run_cli(*args, "--color", "always")
    assert before.returncode == after.returncode == 0, after.stderr
    assert "\x1b[" in after.stdout and after.stdout == before.stdout
    assert "\x1b[" not in run_cli(*args, "--color", "never", env={"NO_COLOR": ""}).stdout


def test_the_last_color_given_wins_and_a_bad_one_is_refused() -> None:
    assert "\x1b[" not in run_cli("--color", "always", "probe", "--import", H200_TABLE, "--color", "never").stdout
    result = run_cli("audit", "requirements.txt", "--color", "sometimes")
    assert result.returncode == 2 and "invalid choice: 'sometimes'" in result.stderr
    # A command's own command (kb list) takes them too.
    assert run_cli("kb", "list", "--color", "never", "-q").stdout == run_cli("kb", "list").stdout


def test_audit_takes_color_and_quiet_after_its_files(tmp_path: Path) -> None:
    # Refused before: "unrecognized arguments: --color never".
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    files = str(tmp_path / "requirements.txt")
    result = run_cli("audit", files, "--os", "linux", "--color", "never", "-q")
    assert result.returncode == 0 and "0 errors" in result.stdout, result.stderr
    assert run_cli("-q", "audit", files, "--os", "linux").stdout == result.stdout


# --- host flags that say everything --------------------------------------------------------------


def test_no_gpu_is_nvidia_null(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--no-gpu", "--os", "linux", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["nvidia"] is None
    assert profile["sources"] == {"nvidia": "override", "os": "override"}
    assert profile["reasons"] == {"nvidia": "given as --no-gpu: no usable NVIDIA driver"}


def test_no_gpu_replaces_the_driver_of_a_saved_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--import", EXAMPLE, "--no-gpu", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["nvidia"] is None
    assert not [key for key in profile["sources"] if key.startswith("nvidia.")]


@pytest.mark.parametrize("flag", [["--driver", "535.104.05"], ["--cuda", "12.2"], ["--gpu", "8.6"]])
def test_no_gpu_with_a_driver_fact_is_refused(flag: list[str]) -> None:
    result = run_cli("probe", "--no-gpu", *flag)
    assert result.returncode == 2
    assert result.stderr == (
        f"envdoctor: error: --no-gpu says the host has no usable NVIDIA driver: it cannot go with {flag[0]}\n"
    )


def test_no_gpu_in_an_audit_says_a_cuda_build_cannot_use_a_gpu(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torch==2.2.0+cu121\n")
    result = run_cli("audit", str(tmp_path / "requirements.txt"), "--no-gpu", "--os", "linux", "--format", "json")
    report = json.loads(result.stdout)
    assert "ED103" in [finding["code"] for finding in report["findings"]]


def test_driver_alone_brings_the_cuda_it_supports_from_the_knowledge_base(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--driver", "470.82.01", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    # kb/data: CUDA 11.4.x's Linux driver floor is 470.82.01 (kb show cuda), so nvidia-smi shows 11.4.
    assert profile["nvidia"] == {"driver": "470.82.01", "cuda": "11.4"}
    assert profile["sources"] == {"nvidia.driver": "override", "nvidia.cuda": "kb"}
    assert main(["probe", "--driver", "470.82.01"]) == 0
    assert "cuda supported by the driver: 11.4 (kb)" in capsys.readouterr().out


def test_cuda_given_wins_over_the_knowledge_base(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--driver", "470.82.01", "--cuda", "11.2", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert (profile["nvidia"]["cuda"], profile["sources"]["nvidia.cuda"]) == ("11.2", "override")


def test_a_new_driver_replaces_the_cuda_of_the_old_one(capsys: pytest.CaptureFixture[str]) -> None:
    # The pasted profile's CUDA 12.4 was its driver 550.90.07's: driver 470.82.01 supports 11.4.
    assert main(["probe", "--import", EXAMPLE, "--driver", "470.82.01", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert (profile["nvidia"]["driver"], profile["nvidia"]["cuda"]) == ("470.82.01", "11.4")
    assert profile["sources"]["nvidia.cuda"] == "kb"


def test_a_driver_older_than_every_cuda_leaves_cuda_unknown_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--import", EXAMPLE, "--driver", "300.10", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert "cuda" not in profile["nvidia"] and "nvidia.cuda" not in profile["sources"]
    assert profile["reasons"]["nvidia.cuda"] == "the knowledge base knows no CUDA release that driver 300.10 supports"


def test_a_gpu_model_name_records_its_capability_as_from_the_knowledge_base(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["probe", "--gpu", "A100", "--gpu", "8.6", "--format", "json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["nvidia"]["gpus"] == [{"name": "A100", "compute_capability": "8.0"}, {"compute_capability": "8.6"}]
    assert profile["sources"] == {"nvidia.gpus": "override", "nvidia.gpus[0].compute_capability": "kb"}


def test_every_command_that_takes_a_host_takes_a_gpu_model_and_no_gpu(
    tmp_path: Path, local_index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    monkeypatch.chdir(tmp_path)
    platform = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
    gpu = ["--driver", "550.54.14", "--gpu", "RTX 4090"]
    for hosts in (gpu, ["--no-gpu"]):
        assert main(["audit", "requirements.txt", *platform, *hosts]) in (0, 1)
        assert main(["lock", "requirements.txt", *platform, *hosts]) == 0
        assert main(["lock", "requirements.txt", "--check", *platform, *hosts]) == 0
        assert main(["dockerfile", "requirements.txt", "-o", f"out{len(hosts)}", *platform, *hosts]) == 0
    assert "error:" not in capsys.readouterr().err


# --- --ignore and [tool.envdoctor] ignore name real codes and categories ------------------------


@pytest.mark.parametrize("value", ["ED999", "driver-too-young", "ED10"])
def test_an_unknown_ignore_is_refused_in_one_line(tmp_path: Path, value: str) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    result = run_cli("audit", str(tmp_path / "requirements.txt"), "--os", "linux", "--ignore", value)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"envdoctor: error: --ignore '{value}' is not a code (ED101) or category (driver-too-old): "
        "envdoctor explain lists them\n"
    )


def test_a_code_in_any_case_and_a_category_are_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("torch==2.2.0+cu121\n")
    files = [str(tmp_path / "requirements.txt"), "--no-gpu", "--os", "linux", "--format", "json"]
    assert main(["audit", *files]) == 1
    assert {"ED103", "ED406"} <= {f["code"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert main(["audit", *files, "--ignore", "ed103", "--ignore", "not-reproducible"]) in (0, 1)
    codes = {f["code"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert "ED103" not in codes and not codes & {"ED401", "ED402", "ED406"}


def test_an_unknown_ignore_in_the_configuration_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    (tmp_path / "pyproject.toml").write_text('[tool.envdoctor]\nignore = ["ED402", "ED999"]\n')
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "requirements.txt", "--os", "linux"]) == 2
    assert capsys.readouterr().err == (
        "envdoctor: error: pyproject.toml: [tool.envdoctor] ignore: 'ED999' is not a code (ED101) or category "
        "(driver-too-old): envdoctor explain lists them\n"
    )
    (tmp_path / "pyproject.toml").write_text('[tool.envdoctor]\nignore = ["ed402", "not-judged"]\n')
    assert main(["audit", "requirements.txt", "--os", "linux"]) == 0
