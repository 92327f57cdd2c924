from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_env import DockerEnv, skip_or_fail, unavailable
from tests.docker_env import docker_env as start_docker
from tests.local_index import build_index, build_pytorch_index


@pytest.fixture(scope="session")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links folder of real-shaped wheels (tests/local_index.py)."""
    return build_index(tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def pytorch_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in PyTorch wheel index: a flat folder per build variant."""
    return build_pytorch_index(tmp_path_factory.mktemp("pytorch-index"))


@pytest.fixture(scope="session")
def docker_env() -> Iterator[DockerEnv]:
    """A running Docker engine and a digest-pinned local base image (tests/docker_env.py)."""
    reason = unavailable()
    if reason:
        skip_or_fail(reason)
    with start_docker() as env:
        yield env
