"""Generated Dockerfiles built for real: with Docker, run as their user, and rebuilt bit for bit.

The stack is tests/fixtures/images/small: a lock made by envdoctor and the real wheels it pins,
built as a wheelhouse with no network at all.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from envdoctor.cli import main
from tests.docker_env import DockerEnv, buildah

SMALL = Path(__file__).parent / "fixtures" / "images" / "small"


def generate(folder: Path, base: str) -> Path:
    out = folder / "context"
    lock = SMALL / "requirements.linux-x86_64-py3.11.txt"
    shutil.copy(SMALL / "pylock.linux-x86_64-py3.11.toml", folder / "pylock.linux-x86_64-py3.11.toml")
    shutil.copy(lock, folder / lock.name)
    code = main(["dockerfile", str(folder / lock.name), "-o", str(out), "--base-image", base,
                 "--wheelhouse", str(SMALL / "wheelhouse")])  # fmt: skip
    assert code == 0
    return out


def test_image_builds_offline_and_runs_as_its_user(docker_env: DockerEnv, tmp_path: Path) -> None:
    context = generate(tmp_path, docker_env.base)
    built = docker_env.docker("build", "--network", "none", "--build-arg", "SOURCE_DATE_EPOCH=0",
                              "-t", "envdoctor-test/small:1", str(context))  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    probe = "import os, six, packaging; print(os.getuid(), six.__version__, packaging.__version__)"
    ran = docker_env.docker("run", "--rm", "--network", "none", "envdoctor-test/small:1", "python3", "-c", probe)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["10001", "1.17.0", "24.2"]


def test_rebuild_from_scratch_gives_the_same_image(docker_env: DockerEnv, tmp_path: Path) -> None:
    context = generate(tmp_path, docker_env.base)
    ids = []
    for attempt in (1, 2):
        # chroot isolation shares the host network; the wheelhouse build uses none of it.
        built = buildah(
            docker_env.scratch, "bud", "--tls-verify=false", "--isolation", "chroot", "--timestamp", "0",
            "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=0", "--iidfile", str(tmp_path / f"id{attempt}"),
            "-t", f"small-{attempt}", str(context),
        )  # fmt: skip
        assert built.returncode == 0, built.stderr[-2000:]
        ids.append((tmp_path / f"id{attempt}").read_text().strip())
    assert ids[0] == ids[1]
