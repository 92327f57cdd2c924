"""Hostile and broken input on the host side (issue 11): host profiles, every ``--import`` format,
the probe's own sources (NVML, nvidia-smi, /proc and /sys), ``--python-executable`` and ``kb show``.

The promise everywhere: a correct result, or one line naming the input and exit 2; never a
traceback, never a control character from input on a terminal, and never a profile written
that ``--host`` would refuse."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.cli import main
from envdoctor.console import Style
from envdoctor.errors import InputError
from envdoctor.host import probe as probe_module
from envdoctor.host import system as system_module
from envdoctor.host.nvml import NvmlFailure, NvmlGpu, NvmlReading
from envdoctor.host.probe import probe_host
from envdoctor.host.profile import (
    MAX_GPUS,
    Gpu,
    HostProfile,
    Nvidia,
    is_dotted_version,
    profile_from_json,
    profile_problem,
    profile_to_dict,
    profile_to_json,
)
from envdoctor.host.render import render_text
from envdoctor.host.system import CommandResult, LocalSystem
from envdoctor.safety import UnsafeValue
from tests.fakes import LINUX_X86, NVML_NOT_FOUND, RecordedSystem, fixture_text

BIG = "9" * 5000
CONTROL = "\n::error::x\x1b]0;title\x07"
# The same, without the line break: for pastes, where a line break starts another line.
ESCAPES = "::error::x\x1b]0;title\x07\x9b"
SMI = "/usr/bin/nvidia-smi"
QUERY = "index,name,driver_version,memory.total,compute_cap,mig.mode.current"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, names: str) -> None:
    assert code == 2, err
    assert err.startswith("envdoctor: error: ") and err.count("\n") == 1, err
    assert names in err
    assert "Traceback" not in err


def assert_no_control(text: str) -> None:
    """No escape, bell or other control character, nor a line break of another kind."""
    assert not any((ord(char) < 0x20 and char != "\n") or 0x7F <= ord(char) <= 0x9F for char in text), repr(text)
    assert "\u2028" not in text and "\u2029" not in text


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def profile_json(**fields: Any) -> str:
    return json.dumps({"schema": "envdoctor.host/1", **fields})


# --- 1. JSON nested 5,000 deep or holding a 5,000-digit integer ------------------------------


DEEP = "[" * 5000 + "]" * 5000
HOSTILE_JSON = {
    "profile-deep": '{"schema": "envdoctor.host/1", "env": ' + DEEP + "}",
    "profile-deep-objects": '{"schema": "envdoctor.host/1", "nvidia": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
    "profile-big-int": '{"schema": "envdoctor.host/1", "wsl": ' + BIG + "}",
    "profile-big-memory": '{"schema": "envdoctor.host/1", "nvidia": {"gpus": [{"memory_mib": ' + BIG + "}]}}",
    "k8s-deep": '{"metadata": {"labels": {"nvidia.com/gpu.count": "1"}}, "spec": ' + DEEP + "}",
    "k8s-big-int": '{"metadata": {"labels": {"nvidia.com/gpu.product": "T4"}}, "x": ' + BIG + "}",
}


# A Kubernetes node is read by --import only; a host profile by both.
JSON_CASES = [("--import", case) for case in sorted(HOSTILE_JSON)]
JSON_CASES += [("--host", case) for case in sorted(HOSTILE_JSON) if case.startswith("profile")]


@pytest.mark.parametrize(("option", "case"), JSON_CASES)
def test_hostile_json_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, case: str
) -> None:
    path = write(tmp_path, f"{case}.json", HOSTILE_JSON[case])
    code, _, err = cli(capsys, "probe", option, path)
    assert_one_line_error(code, err, path)


def test_every_command_reads_host_profiles_with_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = write(tmp_path, "host.json", HOSTILE_JSON["profile-deep"])
    requirements = write(tmp_path, "requirements.txt", "requests==2.31.0\n")
    code, _, err = cli(capsys, "audit", requirements, "--host", host)
    assert_one_line_error(code, err, host)


# --- 2. A field of the wrong shape or grammar is refused where the profile is read -----------


WRONG_FIELDS: dict[str, dict[str, Any]] = {
    "libc version 2.x": {"libc": {"name": "glibc", "version": "2.x"}},
    "libc name with a space": {"libc": {"name": "glibc 2.35"}},
    "python with a final newline": {"python": "3.11.9\n"},
    "python of superscript digits": {"python": "3.¹¹"},
    "python of 5,000 digits": {"python": "3." + BIG},
    "driver with a final newline": {"nvidia": {"driver": "535.104.05\n"}},
    "driver of 5,000 digits": {"nvidia": {"driver": BIG}},
    "cuda 12.x": {"nvidia": {"cuda": "12.x"}},
    "kernel module with a newline": {"nvidia": {"driver": "535.104.05", "kernel_module": "535.1\nx"}},
    "compute capability with a newline": {"nvidia": {"gpus": [{"compute_capability": "8.6\n"}]}},
    "compute capability of Arabic-Indic digits": {"nvidia": {"gpus": [{"compute_capability": "٨.٦"}]}},
    "gpu name with escapes": {"nvidia": {"gpus": [{"name": CONTROL}]}},
    "gpu name of a megabyte": {"nvidia": {"gpus": [{"name": "A" * 1_000_000}]}},
    "negative memory": {"nvidia": {"gpus": [{"memory_mib": -1}]}},
    "memory of a float": {"nvidia": {"gpus": [{"memory_mib": 1.5}]}},
    "memory past any GPU": {"nvidia": {"gpus": [{"memory_mib": 2**62}]}},
    "too many gpus": {"nvidia": {"gpus": [{}] * (MAX_GPUS + 1)}},
    "wsl 1.0": {"wsl": 1.0},
    "wsl true": {"wsl": True},
    "env name with a newline": {"env": {"A\nB": "x"}},
    "env value with an escape": {"env": {"LD_LIBRARY_PATH": "/x\x1b[2J"}},
    "source with a newline": {"sources": {"nvidia.driver": "file\n::error::x"}},
    "reason with a newline": {"reasons": {"nvidia": "gone\n::add-mask::x"}},
    "reason key with a space": {"reasons": {"nvidia driver": "gone"}},
    "package version with a newline": {"python_packages": {"torch": "2.2.0\nevil==1"}},
    "library path with a newline": {"cuda_toolkit": {"libraries": [{"name": "libcudnn", "path": "/x\n/y"}]}},
    "import format with a space": {"import_format": "nvidia smi"},
    "schema of a megabyte": {"schema": "x" * 1_000_000},
}


@pytest.mark.parametrize("case", sorted(WRONG_FIELDS))
def test_a_field_of_the_wrong_grammar_is_refused_at_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path = write(tmp_path, "host.json", profile_json(**WRONG_FIELDS[case]))
    code, out, err = cli(capsys, "probe", "--host", path, "--format", "json")
    assert_one_line_error(code, err, path)
    assert out == ""
    assert_no_control(err)
    assert len(err) < 400, "the error quotes a short prefix of the value, not all of it"


def test_libc_2x_was_read_and_crashed_later_now_it_is_refused() -> None:
    with pytest.raises(InputError, match=r"libc\.version: '2\.x' is not a version"):
        profile_from_json(profile_json(libc={"name": "glibc", "version": "2.x"}), "host.json")


def test_a_valid_profile_still_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).parent.parent
    for path in [root / "examples/icarus/prod-host.json", *sorted((root / "images").glob("*/host.json"))]:
        code, out, err = cli(capsys, "probe", "--host", str(path), "--format", "json")
        assert code == 0, err
        assert profile_from_json(out, "again.json") == profile_from_json(path.read_text(), str(path))
    prerelease = write(tmp_path, "rc.json", profile_json(python="3.13.0rc1", libc={"name": "musl", "version": "1.2.4"}))
    code, _, err = cli(capsys, "probe", "--host", prerelease)
    assert code == 0, err


# --- 3. Pasted numbers of 5,000 digits or of Unicode digits, in every --import format --------


def _paste(relative: str, old: str, new: str) -> str:
    text = fixture_text(f"hosts/{relative}")
    assert old in text, (relative, old)
    return text.replace(old, new, 1)


HOSTILE_PASTES = {
    "smi-table memory 5,000 digits": ("smi-table/b200-x8-575-modal.txt", "183359MiB", BIG + "MiB"),
    "smi-table memory superscript": ("smi-table/b200-x8-575-modal.txt", "183359MiB", "¹⁸³MiB"),
    "smi-table driver superscript": (
        "smi-table/b200-x8-575-modal.txt",
        "Driver Version: 575.57.08",
        "Driver Version: 5⁷5.57.08",
    ),
    "smi-table index superscript": ("smi-table/b200-x8-575-modal.txt", "|   0  NVIDIA B200", "|   ⁰  NVIDIA B200"),
    "smi-q memory 5,000 digits": ("smi-q/h200-580-device.txt", "143771 MiB", BIG + " MiB"),
    "smi-q memory Arabic-Indic": ("smi-q/h200-580-device.txt", "143771 MiB", "١٤٣ MiB"),
    "smi-q driver 5,000 digits": ("smi-q/h200-580-device.txt", "580.159.04", BIG + ".1"),
    "smi-xml memory 5,000 digits": ("smi-xml/h200-580-device.xml", "143771 MiB", BIG + " MiB"),
    "smi-xml memory superscript": ("smi-xml/h200-580-device.xml", "143771 MiB", "²³ MiB"),
    "smi-xml cuda superscript": ("smi-xml/h200-580-device.xml", "<cuda_version>13.0", "<cuda_version>1³.0"),
    "smi-csv memory 5,000 digits": ("smi-csv/h200-580-device.txt", "143771 MiB", BIG + " MiB"),
    "smi-csv index superscript": ("smi-csv/h200-580-device.txt", "0, NVIDIA H200", "², NVIDIA H200"),
    "smi-csv index 5,000 digits": ("smi-csv/h200-580-device.txt", "0, NVIDIA H200", BIG + ", NVIDIA H200"),
    "smi-csv capability superscript": ("smi-csv/h200-580-device.txt", ", 9.0,", ", ⁹.0,"),
    "procfs version 5,000 digits": ("procfs/h200-580-open-device.txt", "580.159.04", BIG + ".04"),
    "procfs version superscript": ("procfs/h200-580-open-device.txt", "580.159.04", "5⁸0.159.04"),
    "collect-env python superscript": (
        "collect-env/h200-torch211-device.txt",
        "Python version: 3.12.3",
        "Python version: 3.12.³",
    ),
    "collect-env libc 5,000 digits": ("collect-env/h200-torch211-device.txt", "glibc-2.39", "glibc-2." + BIG),
    "collect-env cudnn superscript": (
        "collect-env/h200-torch211-device.txt",
        "libcudnn.so.9.14.0",
        "libcudnn.so.⁹.14.0",
    ),
    "collect-env cuda runtime superscript": (
        "collect-env/h200-torch211-device.txt",
        "CUDA runtime version: 13.0.88",
        "CUDA runtime version: 1³.0.88",
    ),
    "k8s count superscript": (
        "k8s-node/t4-g4dn-gfd-labels-gpu-operator-334.yaml",
        'nvidia.com/gpu.count: "1"',
        'nvidia.com/gpu.count: "²"',
    ),
    "k8s memory 5,000 digits": (
        "k8s-node/t4-g4dn-gfd-labels-gpu-operator-334.yaml",
        'nvidia.com/gpu.memory: "15109"',
        f'nvidia.com/gpu.memory: "{BIG}"',
    ),
    "k8s json count superscript": (
        "k8s-node/a16-4q-vgpu-rke2-edgexr.json",
        '"nvidia.com/gpu.count": "1"',
        '"nvidia.com/gpu.count": "²"',
    ),
    "k8s json compute 5,000 digits": (
        "k8s-node/a16-4q-vgpu-rke2-edgexr.json",
        '"nvidia.com/gpu.compute.major": "8"',
        f'"nvidia.com/gpu.compute.major": "{BIG}"',
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PASTES))
def test_hostile_numbers_in_every_import_format(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    relative, old, new = HOSTILE_PASTES[case]
    path = write(tmp_path, Path(relative).name, _paste(relative, old, new))
    code, out, err = cli(capsys, "probe", "--import", path, "--format", "json")
    if code == 2:
        assert_one_line_error(code, err, path)
        return
    assert code == 0, err
    # What was read is a correct profile: the hostile number is not in it, and --host reads it back.
    assert BIG[:100] not in out and not any(char in out for char in "⁰¹²³⁴⁵⁶⁷⁸⁹٨٦١٤٣"), out
    saved = write(tmp_path, "saved.json", out)
    code, again, err = cli(capsys, "probe", "--host", saved, "--format", "json")
    assert (code, again) == (0, out), err


def test_unicode_digits_are_not_versions() -> None:
    assert "²".isdigit()
    for text in ("²", "1.²", "٨.٦", "535.104.05\n", "1." + BIG):
        assert not is_dotted_version(text), text


# --- 4. The probe's own sources: a fake nvidia-smi, NVML names that are not UTF-8 ------------


HOSTILE_SMI_CSV = (
    "index, name, driver_version, memory.total [MiB], compute_cap, mig.mode.current\n"
    f"², NVIDIA H200{ESCAPES}, 580.159.04, {BIG} MiB, ⁹.0, Disabled\n"
)
HOSTILE_SMI_Q = (
    "==============NVSMI LOG==============\n"
    "Driver Version : 580.159.04\nCUDA Version : 1³.0\x1b[2J\n\nAttached GPUs : 1\n"
)


def test_a_fake_nvidia_smi_on_path_printing_hostile_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "csv.txt").write_text(HOSTILE_SMI_CSV, encoding="utf-8")
    (tmp_path / "q.txt").write_text(HOSTILE_SMI_Q, encoding="utf-8")
    script = tmp_path / "bin" / "nvidia-smi"
    script.parent.mkdir()
    script.write_text(
        f'#!/bin/sh\ncase "$1" in\n  --query-gpu=*) cat {tmp_path}/csv.txt ;;\n  -q) cat {tmp_path}/q.txt ;;\nesac\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(system_module, "read_nvml", lambda: NVML_NOT_FOUND)
    saved = str(tmp_path / "host.json")
    code, out, err = cli(capsys, "probe", "--format", "json", "-o", saved)
    assert code == 0, err
    data = json.loads(Path(saved).read_text(encoding="utf-8"))
    assert data["nvidia"]["driver"] == "580.159.04"
    gpu = data["nvidia"]["gpus"][0]
    assert "name" not in gpu and "memory_mib" not in gpu, gpu
    assert "cuda" not in data["nvidia"]
    # What probe -o wrote, probe --host reads.
    code, out, err = cli(capsys, "probe", "--host", saved)
    assert code == 0, err
    assert_no_control(out)


class _FakeNvmlError(Exception):
    value = 999


def _fake_pynvml(name: bytes, driver: bytes = b"580.159.04") -> types.ModuleType:
    """nvidia-ml-py as far as read_nvml uses it; like the real one, it decodes C strings as UTF-8."""
    module = types.ModuleType("pynvml")
    module.NVMLError = _FakeNvmlError  # type: ignore[attr-defined]
    calls: dict[str, Any] = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": driver.decode,
        "nvmlSystemGetCudaDriverVersion_v2": lambda: 13000,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda index: index,
        "nvmlDeviceGetName": lambda handle: name.decode(),
        "nvmlDeviceGetCudaComputeCapability": lambda handle: (9, 0),
        "nvmlDeviceGetMemoryInfo": lambda handle: types.SimpleNamespace(total=143771 * 1024 * 1024),
        "nvmlDeviceGetMigMode": lambda handle: (0, 0),
    }
    for attribute, call in calls.items():
        setattr(module, attribute, call)
    return module


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """Exceptions that escaped a thread (each would print a traceback)."""
    seen: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


def test_an_nvml_gpu_name_that_is_not_utf8(
    monkeypatch: pytest.MonkeyPatch, thread_errors: list[BaseException | None]
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(name=b"NVIDIA H\xff200"))
    reading = LocalSystem().nvml(5.0)
    assert not thread_errors
    assert isinstance(reading, NvmlReading), reading
    assert reading.driver == "580.159.04"
    assert reading.gpus[0].name is None and reading.gpus[0].compute_capability == "9.0"
    assert reading.gpus[0].error is not None and "UTF-8" in reading.gpus[0].error
    profile = probe_host(RecordedSystem(nvml_answer=reading))
    assert "UTF-8" in profile.reasons["nvidia.gpus[0]"]
    profile_from_json(profile_to_json(profile), "again.json")


def test_an_nvml_failure_is_reported_for_what_it_is_not_as_a_timeout(
    monkeypatch: pytest.MonkeyPatch, thread_errors: list[BaseException | None]
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(name=b"x", driver=b"\xff"))
    started = time.monotonic()
    reading = LocalSystem().nvml(5.0)
    assert time.monotonic() - started < 2
    assert not thread_errors
    assert isinstance(reading, NvmlFailure)
    assert "did not answer" not in reading.reason
    assert "UnicodeDecodeError" in reading.reason


# --- 5. nvidia.com/gpu.count: "100000000" ----------------------------------------------------


def test_a_huge_gpu_count_in_a_kubernetes_node_is_capped_and_said(tmp_path: Path) -> None:
    path = write(tmp_path, "node.json", '{"metadata":{"labels":{"nvidia.com/gpu.count":"100000000"}}}')
    assert len(Path(path).read_bytes()) < 70
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "envdoctor", "probe", "--import", path, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert len(data["nvidia"]["gpus"]) == MAX_GPUS
    assert "100000000" in data["reasons"]["nvidia.gpus"]


# --- 6. Fixed paths under /proc and /sys are read inside the probe's time budget --------------


class _WedgedDriver(RecordedSystem):
    """A machine whose NVIDIA /proc and /sys files block, as they do when the driver is wedged."""

    release = threading.Event()

    def read_text(self, path: str) -> str | None:
        if path.startswith(("/proc/driver/nvidia", "/sys/module/nvidia")):
            self.release.wait(20)
        return super().read_text(path)

    def listdir(self, path: str) -> list[str] | None:
        if path.startswith("/proc/driver/nvidia"):
            self.release.wait(20)
        return super().listdir(path)


def test_a_wedged_driver_behind_proc_costs_the_budget_not_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "PROBE_BUDGET_S", 1.5)
    machine = _WedgedDriver(
        files={"/sys/module/nvidia/version": "580.159.04\n"},
        folders={"/proc/driver/nvidia/gpus": ["0000:00:06.0"]},
        nvml_answer=NvmlFailure("NVML: Driver Not Loaded", 9),
    )
    started = time.monotonic()
    try:
        profile = probe_host(machine)
    finally:
        _WedgedDriver.release.set()
    assert time.monotonic() - started < 4
    # A driver that hangs is there: its state is unknown, not "no driver".
    assert profile.nvidia is None
    assert "/sys/module/nvidia/version" in profile.reasons["nvidia"]
    assert profile_problem(profile) is None


def test_a_wedged_proc_file_leaves_that_fact_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "PROBE_BUDGET_S", 1.0)
    release = threading.Event()

    class Stuck(RecordedSystem):
        def read_text(self, path: str) -> str | None:
            if path == "/proc/sys/kernel/osrelease":
                release.wait(20)
            return super().read_text(path)

    started = time.monotonic()
    try:
        profile = probe_host(Stuck())
    finally:
        release.set()
    assert time.monotonic() - started < 4
    assert profile.wsl is None and "/proc/sys/kernel/osrelease" in profile.reasons["wsl"]


# --- 7. NVML and nvidia-smi values pass the same check as file values ------------------------


def test_an_nvml_driver_string_with_a_newline_never_reaches_a_profile(capsys: pytest.CaptureFixture[str]) -> None:
    reading = NvmlReading("535.104.05\n# evil line", 12020, (NvmlGpu(f"A100{CONTROL}", "8.0\n", 40960 * 2**20, 0),))
    profile = probe_host(RecordedSystem(nvml_answer=reading))
    nvidia = profile_to_dict(profile)["nvidia"]
    assert "driver" not in nvidia and nvidia["cuda"] == "12.2"
    assert nvidia["gpus"] == [{"memory_mib": 40960, "mig": False}]
    assert "not a version" in profile.reasons["nvidia.driver"]
    assert profile_problem(profile) is None
    assert_no_control(profile_to_json(profile).replace("\n", ""))


def test_nvidia_smi_values_pass_the_same_check() -> None:
    machine = RecordedSystem(
        programs={"nvidia-smi": SMI},
        commands={
            (SMI, f"--query-gpu={QUERY}", "--format=csv"): CommandResult(0, HOSTILE_SMI_CSV),
            (SMI, "-q", "-d", "COMPUTE"): CommandResult(0, HOSTILE_SMI_Q),
        },
    )
    profile = probe_host(machine)
    assert profile.driver is not None and profile.driver.gpus is not None
    assert profile.driver.driver == "580.159.04" and profile.driver.cuda is None
    assert profile.driver.gpus[0] == Gpu(None, None, None, False)
    assert profile_problem(profile) is None


def test_a_failing_nvidia_smi_is_quoted_as_one_printable_line() -> None:
    machine = RecordedSystem(
        programs={"nvidia-smi": SMI},
        commands={(SMI, f"--query-gpu={QUERY}", "--format=csv"): CommandResult(9, f"bad{CONTROL}" + "x" * 5000)},
    )
    profile = probe_host(machine)
    assert_no_control(profile.reasons["nvidia"])
    assert len(profile.reasons["nvidia"]) < 1000
    profile_from_json(profile_to_json(profile), "again.json")


def test_a_profile_that_fails_the_check_is_never_written() -> None:
    with pytest.raises(UnsafeValue):
        profile_to_json(HostProfile(nvidia=Nvidia(driver="535.104.05\n")))
    with pytest.raises(UnsafeValue):
        profile_to_json(HostProfile(env={"CUDA_HOME": "/x\n::error::y"}))


@pytest.mark.parametrize("flag", ["--driver", "--cuda", "--python"])
def test_a_flag_value_with_a_final_newline_is_refused(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    code, out, err = cli(capsys, "probe", "--os", "linux", flag, "12.2\n", "--format", "json")
    assert_one_line_error(code, err, flag)
    assert out == ""


_HOSTILE_TEXT = st.sampled_from(["", "535.104.05", "12.2", "9.0", BIG, "²", "1.²", CONTROL, "A\n", "x" * 300, "\u2028"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    driver=_HOSTILE_TEXT,
    name=_HOSTILE_TEXT,
    capability=_HOSTILE_TEXT,
    memory=st.integers(-(2**70), 2**70),
    cuda=st.integers(-(2**70), 2**70),
    text=_HOSTILE_TEXT,
    python=_HOSTILE_TEXT,
)
def test_whatever_the_machine_says_probe_writes_what_host_reads(
    *, driver: str, name: str, capability: str, memory: int, cuda: int, text: str, python: str
) -> None:
    reading = NvmlReading(driver, cuda, (NvmlGpu(name, capability, memory, 1),))
    machine = RecordedSystem(
        facts=dataclasses.replace(LINUX_X86, python_version=python, gnu_libc=f"glibc {text}"),
        files={
            "/sys/module/nvidia/version": text,
            "/proc/driver/nvidia/gpus/0/information": f"Model: {text}\n",
            "/proc/sys/kernel/osrelease": text,
        },
        folders={"/proc/driver/nvidia/gpus": ["0"], "/opt/lib": [f"libcudnn.so.{text}", "libcudart.so.12"]},
        env={"LD_LIBRARY_PATH": f"/opt/lib:{text}", "CUDA_HOME": text},
        nvml_answer=reading,
        packages={"torch": text, text: "1.0"},
    )
    profile = probe_host(machine)
    assert profile_problem(profile) is None
    assert profile_from_json(profile_to_json(profile), "again.json") == profile


# --- 8. Terminal escapes: everything the host side prints is printable -----------------------


def test_render_shows_control_characters_as_escapes() -> None:
    profile = HostProfile(
        os="linux",
        nvidia=Nvidia(driver="535.104.05", gpus=(Gpu(name=CONTROL),)),
        env={"CUDA_HOME": "/opt/\x1b[31mred"},
        reasons={"nvidia.cuda": "nvidia-smi said \x1b]0;title\x07"},
        python_packages={"torch": "2.2.0\x9b"},
    )
    for style in (Style(False), Style(True)):
        text = render_text(profile, style)
        assert "\\x0a::error::x\\x1b]0;title\\x07" in text
        assert "\\x1b[31mred" in text and "\\x9b" in text
        assert not any(line.startswith("::") for line in text.splitlines())
        if not style.enabled:
            assert_no_control(text)


def test_pasted_text_reaches_the_terminal_as_escapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "smi.txt", f"Failed to initialize NVML: Unknown Error{CONTROL}\n")
    code, out, err = cli(capsys, "--color", "always", "probe", "--import", path)
    assert code == 0, err
    assert "Unknown Error" in out
    assert not any(line.startswith("::") for line in out.splitlines())
    assert "\x07" not in out and "]0;title" not in out
    path = write(tmp_path, "smi2.txt", "Failed to initialize NVML: Unknown \x1b]0;title\x07 Error\n")
    code, out, err = cli(capsys, "probe", "--import", path)
    assert code == 0, err
    assert "Unknown \\x1b]0;title\\x07 Error" in out
    assert_no_control(out)


def test_a_hostile_gpu_name_in_a_host_file_is_refused_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "host.json", profile_json(nvidia={"gpus": [{"name": CONTROL}]}))
    code, _, err = cli(capsys, "probe", "--host", path)
    assert_one_line_error(code, err, path)
    assert "x1b]0;title" in err
    assert_no_control(err.rstrip("\n"))


# --- 9. --python-executable printing something unexpected ------------------------------------


UNEXPECTED_LISTINGS = {
    "a list": b"[1, 2]\n",
    "a number": b"5\n",
    "missing keys": b'{"python": "3.11"}\n',
    "packages of another shape": b'{"python": "3.11", "packages": [["a"]]}\n',
    "a package name with a newline": b'{"python": "3.11", "packages": [["a\\nb", "1"]]}\n',
    "not JSON": b"hello\n",
    "not UTF-8": b"\xff\xfe\n",
    "deep JSON": DEEP.encode() + b"\n",
    "a 5,000-digit number": BIG.encode() + b"\n",
}


@pytest.mark.parametrize("case", sorted(UNEXPECTED_LISTINGS))
def test_python_executable_printing_unexpected_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    (tmp_path / "listing").write_bytes(UNEXPECTED_LISTINGS[case])
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\ncat {tmp_path}/listing\n")
    python.chmod(0o755)
    code, _, err = cli(capsys, "audit", "--installed", "--python-executable", str(python), "--os", "linux")
    assert_one_line_error(code, err, str(python))


# --- 10. kb show with odd keys ---------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["9" * 5000, "1." * 3000 + "0", "1" * 4000, "\u0663.\u0661\u0661", "1.0\n", "\x1b]0;title\x07", ""]
)
def test_kb_show_with_odd_keys(capsys: pytest.CaptureFixture[str], key: str) -> None:
    code, out, err = cli(capsys, "kb", "show", "torch", key)
    assert code == 0, err
    assert_no_control(out)
    assert len(out) < 200_000


def test_kb_show_with_an_odd_topic(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "kb", "show", "\x1b]0;title\x07" + "x" * 5000)
    assert_one_line_error(code, err, "no topic")
    assert_no_control(err.rstrip("\n"))
    assert len(err) < 400
