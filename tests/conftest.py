from __future__ import annotations

from pathlib import Path

import pytest

from tests.local_index import build_index, build_pytorch_index


@pytest.fixture(scope="session")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links folder of real-shaped wheels (tests/local_index.py)."""
    return build_index(tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def pytorch_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in PyTorch wheel index: a flat folder per build variant."""
    return build_pytorch_index(tmp_path_factory.mktemp("pytorch-index"))
