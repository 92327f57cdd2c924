from __future__ import annotations

from pathlib import Path

import pytest

from tests.local_index import build_index


@pytest.fixture(scope="session")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links folder of real-shaped wheels (tests/local_index.py)."""
    return build_index(tmp_path_factory.mktemp("index"))
