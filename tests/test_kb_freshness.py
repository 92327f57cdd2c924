"""Freshness: the knowledge base knows every final release the package index has of the tracked GPU
packages. Live (marked ``network``, deselected by default): run it with ``-m network``; a failure
names each package and release, which ``ci/kb-releases`` (the releases table) or ``ci/kb-refresh``
(drafts for the curated topics) brings in.
"""

from __future__ import annotations

import pytest

from envdoctor.kb import refresh

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def statuses() -> list[refresh.Status]:
    return list(refresh.statuses(refresh.GPU_TRACKED))


def test_the_releases_table_knows_every_final_release_of_the_tracked_gpu_packages(
    statuses: list[refresh.Status],
) -> None:
    behind = {found.package: [str(v) for v in found.missing] for found in statuses if found.missing}
    assert not behind, f"the index has releases the releases table lacks (run ci/kb-releases): {behind}"


def test_the_curated_topics_know_the_newest_release_of_each_tracked_gpu_package(
    statuses: list[refresh.Status],
) -> None:
    behind = {found.package: str(found.newest) for found in statuses if found.has_curated and found.curated is None}
    assert not behind, f"no curated row knows the newest release (draft them with ci/kb-refresh): {behind}"
