"""Every recorded paste under tests/fixtures/hosts imports to what a person reads off it.

Each fixture is a real output (``SLUG.txt|xml|json|yaml``) with ``SLUG.toml`` beside it: where
it was found, and the values written down by reading the paste, not by running envdoctor.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envdoctor.host.importers import import_host
from envdoctor.host.profile import NoNvidia, Nvidia, normalize_arch

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

FIXTURES = Path(__file__).parent / "fixtures" / "hosts"
FORMAT_OF_FOLDER = {
    "smi-table": ("nvidia-smi-table", "nvidia-smi-error"),
    "smi-q": ("nvidia-smi-q",),
    "smi-xml": ("nvidia-smi-xml",),
    "smi-csv": ("nvidia-smi-csv",),
    "procfs": ("proc-driver-nvidia-version",),
    "collect-env": ("torch-collect-env",),
    "k8s-node": ("kubernetes-node",),
}


def _fixtures() -> list[tuple[Path, Path]]:
    pairs = []
    for meta in sorted(FIXTURES.glob("*/*.toml")):
        data = [p for p in meta.parent.glob(meta.stem + ".*") if p.suffix != ".toml"]
        assert len(data) == 1, f"{meta}: expected one data file beside it, found {data}"
        pairs.append((meta, data[0]))
    return pairs


FIXTURE_PAIRS = _fixtures()


def test_there_are_enough_real_pastes() -> None:
    assert len(FIXTURE_PAIRS) >= 20
    assert {meta.parent.name for meta, _ in FIXTURE_PAIRS} == set(FORMAT_OF_FOLDER)


@pytest.mark.parametrize(("meta", "data"), FIXTURE_PAIRS, ids=[f"{m.parent.name}/{m.stem}" for m, _ in FIXTURE_PAIRS])
def test_fixture_imports_as_read_by_a_person(meta: Path, data: Path) -> None:
    record = tomllib.loads(meta.read_text(encoding="utf-8"))
    assert record["source"].startswith(("https://", "recorded by ")), "every fixture says where it came from"
    expect = record["expect"]
    text = data.read_bytes().decode("utf-8")
    profile = import_host(text, str(data))

    assert profile.import_format is not None
    assert profile.import_format.split("+")[0] in FORMAT_OF_FOLDER[meta.parent.name]

    if "error" in expect:
        assert isinstance(profile.nvidia, NoNvidia)
        assert expect["error"].lower() in profile.reasons["nvidia"].lower()
        return
    for key in ("os", "python"):
        if key in expect:
            assert getattr(profile, key) == expect[key]
    if "arch" in expect:
        assert profile.arch in (normalize_arch(expect["arch"]), "arm64" if expect["arch"] == "arm64" else None)
    if "libc" in expect:
        assert profile.libc is not None
        assert f"{profile.libc.name}-{profile.libc.version}" == expect["libc"]
    if "torch" in expect:
        assert profile.python_packages["torch"] == expect["torch"]

    gpus_expected = expect.get("gpus", [])
    if "driver" not in expect and "cuda" not in expect and not gpus_expected:
        assert not isinstance(profile.nvidia, Nvidia) or not profile.nvidia.gpus
        return
    assert isinstance(profile.nvidia, Nvidia)
    assert profile.nvidia.driver == expect.get("driver")
    assert profile.nvidia.cuda == expect.get("cuda")
    if "gpu_count" not in expect:
        assert profile.nvidia.gpus is None, "a paste that shows no GPUs leaves them unknown"
        return
    gpus = profile.nvidia.gpus or ()
    assert len(gpus) == expect["gpu_count"]
    for gpu, wanted in zip(gpus, gpus_expected, strict=True):
        assert gpu.name == wanted.get("name")
        for key in ("memory_mib", "compute_capability", "mig"):
            if key in wanted:
                assert getattr(gpu, key) == wanted[key], key
