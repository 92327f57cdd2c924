"""A real Docker engine for the image tests, started the way DESIGN.md says one runs here.

dockerd runs with its data under a temporary folder, no bridge and no iptables; the base image is
a Debian bookworm made by debootstrap (with Python, cached between runs), imported into Docker and
served by a local registry, so that FROM can be pinned by digest. When something needed is
missing, the tests are skipped with the reason, except under CI=true, where they must run.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

DOCKER = "/usr/bin/docker"  # the Debian client: the newer one on PATH has no buildx
TOOLS = ("dockerd", DOCKER, "debootstrap", "docker-registry", "buildah")
CACHE = Path(os.environ.get("ENVDOCTOR_TEST_CACHE", Path.home() / ".cache" / "envdoctor-tests"))
ROOTFS_CACHE = CACHE / "bookworm-python"
_PUSHED = re.compile(r"digest: (?P<digest>sha256:[0-9a-f]{64})")


class DockerEnv(NamedTuple):
    host: str  # DOCKER_HOST
    base: str  # the base image, pinned: localhost:PORT/debian-python:bookworm@sha256:...
    registry: str  # localhost:PORT
    scratch: Path

    def docker(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}
        return subprocess.run(
            [DOCKER, *args], capture_output=True, text=True, env=environment, timeout=timeout, check=False
        )


def unavailable() -> str | None:
    """Why no engine can be started here, or None."""
    if os.geteuid() != 0:
        return "the Docker engine needs root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (apt-get install docker.io debootstrap docker-registry buildah)"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"image build tests must run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.2)
    return False


def _rootfs() -> Path:
    """Debian bookworm, minimal, with Python 3.11 and CA certificates; made once and kept.

    Test runs on one machine share the cache: a file lock makes a second run wait for the first
    one's debootstrap (then use its result) instead of deleting it half-way, and only the run
    holding the lock removes what a killed run left."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "bookworm-python.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (ROOTFS_CACHE / "usr/bin/python3").exists():
            return ROOTFS_CACHE
        for leftover in [ROOTFS_CACHE, *CACHE.glob(f"{ROOTFS_CACHE.name}*.partial")]:
            shutil.rmtree(leftover, ignore_errors=True)
        building = Path(tempfile.mkdtemp(prefix=f"{ROOTFS_CACHE.name}.", suffix=".partial", dir=CACHE))
        try:
            _debootstrap(building)
            building.rename(ROOTFS_CACHE)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return ROOTFS_CACHE


def _debootstrap(folder: Path) -> None:
    """Run debootstrap; when it fails, say why with its own output and log, not only its exit code."""
    argv = ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm",
            str(folder), "http://deb.debian.org/debian"]  # fmt: skip
    try:
        made = subprocess.run(argv, capture_output=True, timeout=1200, check=False)
        failure, output = (f"exit {made.returncode}", made.stdout + made.stderr) if made.returncode else ("", b"")
    except subprocess.TimeoutExpired as exc:
        failure, output = "no result within 1200 s", (exc.stdout or b"") + (exc.stderr or b"")
    if failure:
        log = folder / "debootstrap" / "debootstrap.log"
        logged = log.read_bytes()[-2000:] if log.is_file() else b""
        text = (output[-2000:] + b"\n" + logged).decode(errors="replace").strip()
        skip_or_fail(f"debootstrap (needs the Debian mirror http://deb.debian.org/debian) failed, {failure}:\n{text}")


@contextmanager
def docker_env() -> Iterator[DockerEnv]:
    scratch = Path(tempfile.mkdtemp(prefix="envdoctor-docker-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        sock = scratch / "docker.sock"
        dockerd = subprocess.Popen(
            ["dockerd", "--data-root", str(scratch / "data"), "--exec-root", str(scratch / "exec"),
             "--pidfile", str(scratch / "docker.pid"), "--host", f"unix://{sock}", "--bridge=none",
             "--iptables=false"],
            stdout=subprocess.DEVNULL, stderr=(scratch / "dockerd.log").open("wb"),
        )  # fmt: skip
        processes.append(dockerd)
        if not _wait_for(sock, 60):
            skip_or_fail(f"dockerd did not start: {(scratch / 'dockerd.log').read_text()[-500:]}")
        port = _free_port()
        config = scratch / "registry.yml"
        config.write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {scratch / 'registry'}\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        processes.append(subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))  # fmt: skip
        registry = f"localhost:{port}"
        env = DockerEnv(f"unix://{sock}", "", registry, scratch)
        rootfs = _rootfs()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [DOCKER, "import", "-", f"{registry}/debian-python:bookworm"],
            stdin=tar.stdout, capture_output=True, text=True, env={**os.environ, "DOCKER_HOST": env.host}, check=False,
        )  # fmt: skip
        tar.wait()
        if imported.returncode != 0:
            skip_or_fail(f"docker import failed: {imported.stderr[-300:]}")
        for _ in range(50):
            pushed = env.docker("push", f"{registry}/debian-python:bookworm")
            if pushed.returncode == 0:
                break
            time.sleep(0.2)
        match = _PUSHED.search(pushed.stdout)
        if match is None:
            skip_or_fail(f"pushing the base image to the local registry failed: {pushed.stderr[-300:]}")
        assert match is not None
        yield env._replace(base=f"{registry}/debian-python:bookworm@{match.group('digest')}")
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def buildah(scratch: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """buildah with its own storage under the scratch folder (vfs: it runs anywhere)."""
    argv = ["buildah", "--root", str(scratch / "buildah-root"), "--runroot", str(scratch / "buildah-run"),
            "--storage-driver", "vfs", *args]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
