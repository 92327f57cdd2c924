"""``envdoctor lock`` takes PyPI's own torch build wherever it runs on the target, and binds a
PyTorch variant index only where the target needs a build PyPI does not serve (issue 15).

Hermetic: the local index (tests/local_index.py) stands in for PyPI, the recorded PyTorch index
for download.pytorch.org; an index that "cannot be reached" is a closed port on this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from envdoctor.cli import main
from envdoctor.host.profile import Gpu, HostProfile, NoNvidia, Nvidia
from envdoctor.lock.steering import Steering, SteeringError, steer, steer_resolved
from envdoctor.requirements import SourceOptions, load_requirement_set

LINUX = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
# Nothing listens there: a PyTorch index that a run must not need, or that cannot be reached.
UNREACHABLE = "http://127.0.0.1:9/whl"


@pytest.fixture(autouse=True)
def _no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # uv retries a refused connection for seconds; once says the same.
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")


def project(folder: Path, index: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.in").write_text(f"--no-index\n--find-links {index}\n{body}")
    return folder


def lock(folder: Path, pytorch_index: str | Path, *args: str) -> int:
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        return main(["lock", "requirements.in", "--pytorch-index", str(pytorch_index), *LINUX, *args])
    finally:
        os.chdir(cwd)


def lockfiles(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "lockfiles").iterdir())}


def test_a_gpu_host_whose_driver_runs_pypis_build_locks_with_no_pytorch_index(
    tmp_path: Path, local_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's reproducer: torch 2.2.0 from PyPI is the cu121 build, which driver 535 and an
    A100 run; the PyTorch index is never asked (it cannot be reached here)."""
    folder = project(tmp_path, local_index, "torch==2.2.0\nnumpy\nrequests\n")
    host = ["--driver", "535.104.05", "--gpu", "8.0"]
    assert lock(folder, UNREACHABLE, *host) == 0
    first = lockfiles(folder)
    assert sorted(first) == ["pylock.linux-x86_64-py3.11.toml", "requirements.linux-x86_64-py3.11.txt"]
    text = first["requirements.linux-x86_64-py3.11.txt"].decode()
    assert "#   note: torch 2.2.0: PyPI's build (CUDA 12.1) runs on driver 535.104.05 and sm_80" in text
    assert "torch==2.2.0 \\" in text and "nvidia-cuda-runtime-cu12==12.1.105 \\" in text
    assert "127.0.0.1" not in text and "#   index" not in text
    assert [line for line in text.splitlines() if line.startswith("--")] == [
        f"--find-links {local_index}",
        "--no-index",
    ]
    # The same inputs give the same bytes, and --check sees them current.
    assert lock(folder, UNREACHABLE, *host) == 0
    assert lockfiles(folder) == first
    capsys.readouterr()
    assert lock(folder, UNREACHABLE, *host, "--check") == 0
    # Another driver is another choice: the lock no longer matches.
    assert lock(folder, UNREACHABLE, "--driver", "520.61.05", "--gpu", "8.0", "--check") == 1


def test_a_host_without_a_gpu_locks_pypis_build(tmp_path: Path, local_index: Path) -> None:
    host = tmp_path / "cpu-host.json"
    host.write_text('{"schema": "envdoctor.host/1", "os": "linux", "arch": "x86_64", "python": "3.11", "nvidia": null}')
    folder = project(tmp_path / "p", local_index, "torch==2.2.0\nnumpy\n")
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        assert main(["lock", "requirements.in", "--pytorch-index", UNREACHABLE, "--host", str(host)]) == 0
    finally:
        os.chdir(cwd)
    text = lockfiles(folder)["requirements.linux-x86_64-py3.11.txt"].decode()
    assert "runs on a target without an NVIDIA GPU (torch==2.2.0+cpu asks the smaller CPU-only build)" in text
    assert "torch==2.2.0 \\" in text


def test_a_driver_older_than_pypis_build_gets_the_variant_index(
    tmp_path: Path, local_index: Path, pytorch_index: Path
) -> None:
    folder = project(tmp_path, local_index, "torch==2.7.0\nnumpy\n")
    assert lock(folder, pytorch_index, "--driver", "520.61.05", "--gpu", "8.0") == 0
    text = lockfiles(folder)["requirements.linux-x86_64-py3.11-cu118.txt"].decode()
    assert (
        f"#   index {pytorch_index}/cu118 for torch only: torch 2.7.0: PyPI's cu126 build needs driver >= 525.60.13; "
        "the cu118 build is the newest whose CUDA (11.8) driver 520.61.05 runs and carries kernels for sm_80"
    ) in text
    assert "torch==2.7.0+cu118 \\" in text


@pytest.mark.parametrize(
    ("pytorch_index", "trouble"),
    [
        (UNREACHABLE, f"from {UNREACHABLE}/cu118, which cannot be reached ("),
        # A folder of PyPI's wheels given as the PyTorch index (no cu118/ in it), and an index whose
        # cu118 serves no torch: before, an "unsatisfiable" naming envdoctor's own project.
        ("{local_index}", "/cu118, which cannot be read:"),
        ("{mirror}", "/cu118, which serves no such build of torch (a mirror of PyPI serves PyPI's builds only)"),
    ],
)
def test_a_variant_index_that_cannot_be_reached_is_one_line_exit_2(
    tmp_path: Path, local_index: Path, capsys: pytest.CaptureFixture[str], pytorch_index: str, trouble: str
) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "cu118").mkdir(parents=True)  # a folder for the variant that serves no torch
    for wheel in local_index.glob("six-*.whl"):
        (mirror / "cu118" / wheel.name).write_bytes(wheel.read_bytes())
    folder = project(tmp_path / "p", local_index, "torch==2.7.0\nnumpy\n")
    given = pytorch_index.format(local_index=local_index, mirror=mirror)
    capsys.readouterr()
    assert lock(folder, given, "--driver", "520.61.05", "--gpu", "8.0") == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(
        "envdoctor: error: the target (linux x86_64, Python 3.11) needs the cu118 build of torch 2.7.0 "
        "(PyPI's cu126 build needs driver >= 525.60.13), from "
    ), err
    assert trouble in err
    assert err.rstrip().endswith(
        "give a mirror of the PyTorch wheel index with --pytorch-index URL (URL/cu118 must serve its cu118 builds; "
        "a local folder holding cu118/ with its wheels will do too)"
    )
    assert "unsatisfiable" not in err and "envdoctor-lock-input" not in err
    assert not (folder / "lockfiles").exists()


def test_an_unsatisfiable_set_names_the_users_requirements_not_envdoctors_project(
    tmp_path: Path, local_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path, local_index, "six==99\n")
    capsys.readouterr()
    assert lock(folder, UNREACHABLE) == 1
    out = capsys.readouterr().out
    assert "ED204 (unsatisfiable)" in out and "your requirements ask for six==99" in out
    assert "envdoctor-lock-input" not in out


@pytest.mark.parametrize(
    ("driver", "gpu", "variant", "said"),
    [
        # PyPI's torch 2.7.0 is the cu126 build, which needs driver 525.60.13 or later.
        ("520.61.05", "8.0", "cu118", "#   index {index}/cu118 for torch only: torch 2.7.0: PyPI's cu126 build needs"),
        (
            "550.54.15",
            "8.0",
            None,
            "#   note: torch 2.7.0: PyPI's build (CUDA 12.6) runs on driver 550.54.15 and sm_80",
        ),
    ],
)
def test_a_torch_brought_by_another_package_is_steered(  # noqa: PLR0917 - a column of the table each
    tmp_path: Path, local_index: Path, pytorch_index: Path, driver: str, gpu: str, variant: str | None, said: str
) -> None:
    """torchmetrics 1.9.0 requires torch>=2.0.0 (its recorded METADATA, tests/fixtures/index); the
    set names no torch, only a bound from a constraint file, so the judged release is 2.7.0."""
    folder = project(tmp_path, local_index, "torchmetrics==1.9.0\n-c constraints.txt\n")
    (folder / "constraints.txt").write_text("torch<2.7.1\n")
    assert lock(folder, pytorch_index, "--driver", driver, "--gpu", gpu) == 0
    suffix = f"-{variant}" if variant else ""
    text = lockfiles(folder)[f"requirements.linux-x86_64-py3.11{suffix}.txt"].decode()
    assert said.format(index=pytorch_index) in text
    assert (
        "#   constraint torch==2.7.0: torch is brought by torchmetrics 1.9.0, not named in the inputs: "
        "the newest release the set admits whose build runs on the target"
    ) in text
    assert f"torch==2.7.0{'+' + variant if variant else ''} \\" in text
    runtime = "nvidia-cuda-runtime-cu11==11.8.89" if variant else "nvidia-cuda-runtime-cu12==12.6.77"
    assert f"{runtime} \\" in text
    assert lock(folder, pytorch_index, "--driver", driver, "--gpu", gpu, "--check") == 0


def test_a_torch_the_steering_did_not_see_coming_is_judged_after_the_resolution() -> None:
    """A package whose requirements the base does not record brings torch: PyPI's build that runs
    is said in the header; one that does not is refused, naming what to do."""
    new = HostProfile(os="linux", arch="x86_64", python="3.11", nvidia=Nvidia("550.54.15", gpus=(Gpu(None, "8.0"),)))
    steering = steer_resolved(Steering(), new, Version("2.7.0"), UNREACHABLE)
    assert steering.notes == (
        "torch 2.7.0: PyPI's build (CUDA 12.6) runs on driver 550.54.15 and sm_80 (torch came in through a "
        "package whose requirements the knowledge base does not record)",
    )
    old = new._replace(nvidia=Nvidia("520.61.05", gpus=(Gpu(None, "8.0"),)))
    with pytest.raises(SteeringError, match=r"name torch in the requirements \(torch==2\.7\.0\)"):
        steer_resolved(Steering(), old, Version("2.7.0"), UNREACHABLE)
    # A torch the steering chose, or an index build, is left as it is.
    assert steer_resolved(Steering(torch="2.7.0"), old, Version("2.7.0"), UNREACHABLE) == Steering(torch="2.7.0")
    assert steer_resolved(Steering(), old, Version("2.7.0+cu118"), UNREACHABLE) == Steering()


def _steering(tmp_path: Path, body: str, host: HostProfile) -> Steering:
    (tmp_path / "requirements.in").write_text(body)
    requirements = load_requirement_set([str(tmp_path / "requirements.in")], SourceOptions())
    return steer(requirements, host, "3.11", "https://mirror.example/whl")


def test_a_windows_gpu_target_binds_the_variant_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PyPI's Windows wheels are CPU builds: a GPU target needs the variant index."""
    gpu = HostProfile(os="windows", arch="x86_64", python="3.11", nvidia=Nvidia("552.22", gpus=(Gpu(None, "8.6"),)))
    steering = _steering(tmp_path, "torch==2.7.0\n", gpu)
    assert steering.torch_index is not None
    assert (steering.torch_index.variant, steering.torch_index.url) == ("cu128", "https://mirror.example/whl/cu128")
    assert steering.torch_index.reason.startswith("torch 2.7.0: PyPI's Windows wheels are CPU builds; the cu128 build")
    # Without a GPU, PyPI's CPU build is the one.
    cpu = _steering(tmp_path, "torch==2.7.0\n", gpu._replace(nvidia=NoNvidia.NONE))
    assert cpu.torch_index is None
    assert cpu.notes == ("torch 2.7.0: PyPI's build (CPU) runs on a target without an NVIDIA GPU",)
    # Through the CLI: the plan names the variant's lockfiles (--check resolves nothing).
    windows = ["--os", "windows", "--arch", "x86_64", "--python", "3.11", "--driver", "552.22", "--gpu", "8.6"]
    capsys.readouterr()
    assert main(["lock", str(tmp_path / "requirements.in"), "-o", str(tmp_path / "out"), *windows, "--check"]) == 1
    assert "requirements.windows-x86_64-py3.11-cu128.txt: missing" in capsys.readouterr().out


@pytest.mark.network
def test_the_issues_reproducer_locks_torch_from_pypi(tmp_path: Path) -> None:
    """Live: torch 2.2.0, numpy, requests 2.31.0 for driver 535.104.05 and an A100, with the
    PyTorch index out of reach, locks PyPI's cu121 build from PyPI."""
    (tmp_path / "requirements.in").write_text("torch==2.2.0\nnumpy\nrequests==2.31.0\n")
    argv = ["lock", "requirements.in", *LINUX, "--driver", "535.104.05", "--gpu", "8.0", "--pytorch-index", UNREACHABLE]
    completed = subprocess.run(
        [sys.executable, "-m", "envdoctor", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    text = (tmp_path / "lockfiles" / "requirements.linux-x86_64-py3.11.txt").read_text()
    assert "--index-url https://pypi.org/simple" in text and "download.pytorch.org" not in text
    assert "torch==2.2.0 \\" in text and "nvidia-cudnn-cu12==8.9.2.26 \\" in text
    assert "PyPI's build (CUDA 12.1) runs on driver 535.104.05 and sm_80" in text
