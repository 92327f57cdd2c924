"""The gpu_packages [[kernels]] rows: well-formed, one row per release, and the sourced values."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.kb import load_topic
from envdoctor.kb.facts import kernels_run_on


def _rows() -> tuple[dict[str, Any], ...]:
    return load_topic("gpu_packages", "kernels")


def _capability(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _row(package: str, version: str) -> dict[str, Any]:
    """The one kernels row covering this release (pre-releases count, as for an installed one)."""
    wanted = Version(version)
    matches = [
        row
        for row in _rows()
        if row["package"] == package and SpecifierSet(row["versions"]).contains(wanted, prereleases=True)
    ]
    assert len(matches) == 1, f"{package} {version}: {len(matches)} rows"
    return matches[0]


def test_there_are_kernels_rows_for_the_main_gpu_packages() -> None:
    packages = {row["package"] for row in _rows()}
    expected = {"flash-attn", "xformers", "bitsandbytes", "vllm", "jax-cuda12-plugin", "cupy-cuda12x", "tensorrt"}
    assert expected <= packages


def test_each_row_gives_either_an_arch_list_or_a_minimum() -> None:
    for row in _rows():
        has_sm, has_min = "sm" in row, "min_capability" in row
        assert has_sm != has_min, f"{row['package']} {row['versions']}: give sm (+ptx) or min_capability"
        if has_sm:
            assert row["sm"], f"{row['package']} {row['versions']}: empty sm"
            assert "ptx" in row, f"{row['package']} {row['versions']}: sm without ptx (write ptx = [] for none)"


def test_capability_lists_are_sorted_and_unique() -> None:
    for row in _rows():
        for field in ("sm", "ptx"):
            values = [_capability(v) for v in row.get(field, [])]
            assert values == sorted(set(values)), f"{row['package']} {row['versions']}: {field} not sorted"


def test_package_names_are_canonical() -> None:
    for row in _rows():
        assert row["package"] == canonicalize_name(row["package"])


def test_no_release_is_covered_by_two_rows() -> None:
    """Probe each package at every bound its rows name (and the post release of it)."""
    by_package: dict[str, list[SpecifierSet]] = defaultdict(list)
    for row in _rows():
        by_package[row["package"]].append(SpecifierSet(row["versions"]))
    for package, specs in by_package.items():
        bounds = {Version(s.version) for spec in specs for s in spec}
        probes = bounds | {Version(f"{b.base_version}.post1") for b in bounds if not b.is_postrelease}
        for probe in probes:
            hits = [str(spec) for spec in specs if spec.contains(probe, prereleases=True)]
            assert len(hits) <= 1, f"{package} {probe} is in {hits}"


@pytest.mark.parametrize(
    ("package", "version", "sm", "ptx"),
    [
        ("flash-attn", "1.0.9", ["7.5", "8.0", "9.0"], []),
        ("flash-attn", "2.2.4", ["8.0"], []),
        ("flash-attn", "2.2.4.post1", ["8.0", "9.0"], []),
        ("flash-attn", "2.7.4.post1", ["8.0", "9.0"], []),
        ("flash-attn", "2.8.3", ["8.0", "9.0", "10.0", "12.0"], []),
        ("xformers", "0.0.16", ["5.0", "6.0", "6.1", "7.0", "7.5", "8.0", "8.6"], ["5.0"]),
        ("xformers", "0.0.28.post3", ["6.0", "7.0", "7.5", "8.0", "9.0"], ["6.0", "8.0"]),
        ("xformers", "0.0.33", ["7.5", "8.0", "9.0", "10.0", "10.3", "11.0", "12.0", "12.1"], ["8.0"]),
        ("xformers", "0.0.33.post1", ["7.5", "8.0", "9.0"], ["8.0"]),
        ("jax-cuda12-plugin", "0.4.30", ["5.0", "6.0", "7.0", "8.0", "9.0"], ["9.0"]),
        ("jax-cuda13-plugin", "0.8.0", ["7.5", "8.0", "9.0", "10.0", "12.0"], ["12.0"]),
        ("cupy-cuda12x", "13.3.0", ["5.0", "5.2", "6.0", "6.1", "7.0", "7.5", "8.0", "8.6", "8.9", "9.0"], ["9.0"]),
        ("faiss-gpu-cu12", "1.8.0.2", ["6.0", "7.0", "8.0", "9.0"], []),
        ("faiss-gpu-cu12", "1.10.0", ["7.0", "8.0"], []),
    ],
)
def test_sourced_arch_lists(package: str, version: str, sm: list[str], ptx: list[str]) -> None:
    row = _row(package, version)
    assert (row["sm"], row["ptx"]) == (sm, ptx)
    assert row["source"].startswith("https://github.com/")


@pytest.mark.parametrize(
    ("package", "version", "minimum"),
    [
        ("bitsandbytes", "0.44.1", "5.0"),
        ("bitsandbytes", "0.47.0", "5.0"),
        ("bitsandbytes", "0.48.0", "6.0"),
        ("vllm", "0.6.3", "7.0"),
        ("vllm", "0.21.0", "7.5"),
        ("tensorrt", "10.0.0b6", "7.0"),
        ("tensorrt", "10.4.0.26", "7.0"),
        ("tensorrt-cu12", "10.5.0.18", "7.5"),
    ],
)
def test_sourced_minimums(package: str, version: str, minimum: str) -> None:
    assert _row(package, version)["min_capability"] == minimum


@pytest.mark.parametrize(
    ("package", "version", "gpu", "runs"),
    [
        ("flash-attn", "2.6.3", "7.5", False),  # FlashAttention 2 has no Turing code (T4)
        ("flash-attn", "2.6.3", "8.9", True),  # sm_80 cubin runs on Ada (L4)
        ("flash-attn", "2.7.4", "12.0", False),  # no Blackwell code in the 2.7 wheels, no PTX
        ("flash-attn", "1.0.9", "7.5", True),
        ("xformers", "0.0.32.post2", "12.0", True),  # through the compute_80 PTX
        ("xformers", "0.0.32.post2", "7.0", False),  # Volta dropped at 0.0.31
        ("faiss-gpu-cu12", "1.10.0", "9.0", False),  # 70-real;80-real: no Hopper
        ("cupy-cuda13x", "14.0.0", "7.0", False),
    ],
)
def test_rows_answer_whether_a_gpu_is_covered(package: str, version: str, gpu: str, runs: bool) -> None:
    row = _row(package, version)
    assert kernels_run_on(gpu, list(row["sm"]), list(row["ptx"])) is runs


def test_the_kernels_and_prebuilt_indexes_hold_every_row_of_a_scan() -> None:
    # Built once by normalised name (issue 15: every package of a set scanned every row): the
    # rows a package gets are exactly those a scan of the table finds, in the table's order.
    from envdoctor.kb import facts

    rows = load_topic("gpu_packages", "kernels")
    for name in {row["package"] for row in rows}:
        scanned = [row["source"] for row in rows if canonicalize_name(row["package"]) == canonicalize_name(name)]
        assert [kernels.source for _, kernels in facts.kernels_ranges(name.upper())] == scanned
    assert facts.kernels_ranges("no-such-package") == ()
    prebuilt = load_topic("gpu_packages", "prebuilt")
    for name in {row["package"] for row in prebuilt}:
        scanned = [row["source"] for row in prebuilt if row["package"] == name]
        assert [built.source for _, built in facts._prebuilt_rows(name)] == scanned


def test_a_pin_reads_as_written_and_is_parsed_once() -> None:
    from envdoctor.requirements.model import Form, Location, Requirement

    pin = Requirement("numpy", Form.NAMED, Location("r.txt", 1), "numpy==1.0", SpecifierSet("==1.0"))
    same = pin._replace(location=Location("r.txt", 2))
    assert str(pin.pinned_version) == "1.0" and pin.pinned_version is same.pinned_version
    assert pin._replace(specifier=SpecifierSet("==1.0.0")).pinned_version.__str__() == "1.0.0"
    assert pin._replace(specifier=SpecifierSet("==1.*")).pinned_version is None
    assert pin._replace(specifier=SpecifierSet(">=1,<2")).pinned_version is None
