"""Generated Dockerfiles built for real: with Docker, run as their user, and rebuilt bit for bit.

The stacks are in tests/fixtures/images: locks made by envdoctor and the real files they pin, built
from a wheelhouse with no network at all. `small` is wheels only; `from-source` locks
antlr4-python3-runtime 4.9.3, which PyPI has as an sdist only, so its image builds that wheel in a
wheels stage first.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from envdoctor.cli import main
from tests import docker_env as engine
from tests.docker_env import DockerEnv, buildah

STACKS = Path(__file__).parent / "fixtures" / "images"


def generate(folder: Path, base: str, stack: str = "small") -> Path:
    out = folder / "context"
    lock = STACKS / stack / "requirements.linux-x86_64-py3.11.txt"
    shutil.copy(STACKS / stack / "pylock.linux-x86_64-py3.11.toml", folder / "pylock.linux-x86_64-py3.11.toml")
    shutil.copy(lock, folder / lock.name)
    code = main(["dockerfile", str(folder / lock.name), "-o", str(out), "--base-image", base,
                 "--wheelhouse", str(STACKS / stack / "wheelhouse")])  # fmt: skip
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


def test_an_sdist_is_built_into_a_recorded_wheel_and_installed_hash_checked(
    docker_env: DockerEnv, tmp_path: Path
) -> None:
    context = generate(tmp_path, docker_env.base, "from-source")
    built = docker_env.docker("build", "--network", "none", "--build-arg", "SOURCE_DATE_EPOCH=0",
                              "-t", "envdoctor-test/from-source:1", str(context))  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    probe = (
        "import os, antlr4, importlib.metadata as m; print(os.getuid(), m.version('antlr4-python3-runtime')); "
        "print(open('/opt/venv/built-wheels.lock').read().strip())"
    )
    ran = docker_env.docker("run", "--rm", "--network", "none", "envdoctor-test/from-source:1", "python3", "-c", probe)
    assert ran.returncode == 0, ran.stderr
    identity, record = ran.stdout.strip().splitlines()
    assert identity.split() == ["10001", "4.9.3"]
    assert re.fullmatch(r"antlr4_python3_runtime==4\.9\.3 --hash=sha256:[0-9a-f]{64}", record)
    # No compiler, sdist or build requirement reaches the final image beyond what the lock pins.
    leftovers = docker_env.docker("run", "--rm", "--network", "none", "envdoctor-test/from-source:1",
                                  "sh", "-c", "ls /tmp; command -v gcc || true")  # fmt: skip
    assert leftovers.stdout.strip() == ""


@pytest.mark.parametrize("stack", ["small", "from-source"])
def test_rebuild_from_scratch_gives_the_same_image(docker_env: DockerEnv, tmp_path: Path, stack: str) -> None:
    context = generate(tmp_path, docker_env.base, stack)
    ids = []
    for attempt in (1, 2):
        # chroot isolation shares the host network; the wheelhouse build uses none of it.
        built = buildah(
            docker_env.scratch, "bud", "--tls-verify=false", "--isolation", "chroot", "--timestamp", "0",
            "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=0", "--iidfile", str(tmp_path / f"id{attempt}"),
            "-t", f"{stack}-{attempt}", str(context),
        )  # fmt: skip
        assert built.returncode == 0, built.stderr[-2000:]
        ids.append((tmp_path / f"id{attempt}").read_text().strip())
    assert ids[0] == ids[1]


# The base image's cache: a stand-in debootstrap (arguments: options, suite, folder, mirror).
FAKE_DEBOOTSTRAP = """#!/bin/sh
echo run >> "$FAKE_DEBOOTSTRAP_RUNS"
sleep 1
if [ -n "${FAKE_DEBOOTSTRAP_FAILS:-}" ]; then
  mkdir -p "$4/debootstrap" && echo "W: see the log detail here" > "$4/debootstrap/debootstrap.log"
  echo "E: Failed getting release file http://deb.debian.org/debian/dists/bookworm/Release" >&2
  exit 1
fi
mkdir -p "$4/usr/bin" && touch "$4/usr/bin/python3"
"""


@pytest.fixture
def fake_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A debootstrap that takes a second, and a cache of the tests' own: returns the runs log."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "debootstrap").write_text(FAKE_DEBOOTSTRAP)
    (tmp_path / "bin" / "debootstrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DEBOOTSTRAP_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(engine, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(engine, "ROOTFS_CACHE", tmp_path / "cache" / "bookworm-python")
    return tmp_path / "runs"


def test_two_test_runs_share_one_debootstrap_and_neither_breaks_the_other(fake_debootstrap: Path) -> None:
    made: list[Path] = []
    first = threading.Thread(target=lambda: made.append(engine._rootfs()))
    first.start()
    time.sleep(0.3)  # the second run starts while the first one's debootstrap works
    made.append(engine._rootfs())
    first.join()
    assert made == [engine.ROOTFS_CACHE, engine.ROOTFS_CACHE]
    assert (engine.ROOTFS_CACHE / "usr/bin/python3").is_file()
    assert fake_debootstrap.read_text() == "run\n"
    assert sorted(path.name for path in engine.CACHE.iterdir()) == ["bookworm-python", "bookworm-python.lock"]


def test_a_failed_debootstrap_says_why(fake_debootstrap: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DEBOOTSTRAP_FAILS", "1")
    with pytest.raises(pytest.skip.Exception, match="Failed getting release file") as skipped:
        engine._rootfs()
    assert "see the log detail here" in str(skipped.value)
    assert sorted(path.name for path in engine.CACHE.iterdir()) == ["bookworm-python.lock"]
