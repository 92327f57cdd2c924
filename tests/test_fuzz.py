"""Whatever text arrives, the importers answer with a profile or a clean InputError, and a profile
reads back unchanged. (Through the CLI, every ``--import`` format and host profiles are fuzzed with
the other readers: tests/test_fuzz_cli.py, and the long run benchmarks/fuzz.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.errors import InputError
from envdoctor.host.importers import import_host
from envdoctor.host.profile import HostProfile, profile_from_json, profile_to_json
from tests.fakes import FIXTURES

REAL_PASTES = sorted(
    path.read_text(encoding="utf-8") for path in (FIXTURES / "hosts").glob("*/*") if path.suffix != ".toml"
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _import(text: str) -> HostProfile | None:
    try:
        profile = import_host(text, "paste.txt")
    except InputError as exc:
        assert str(exc).startswith("paste.txt")
        assert "\n" not in str(exc)
        return None
    # Whatever was read must serialise to the contract and read back unchanged.
    assert profile_from_json(profile_to_json(profile), "again.json") == profile
    return profile


@FUZZ
@given(st.text())
def test_any_text(text: str) -> None:
    _import(text)


@FUZZ
@given(st.sampled_from(REAL_PASTES), st.data())
def test_damaged_real_pastes(paste: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(paste)))
    end = data.draw(st.integers(start, len(paste)))
    noise = data.draw(st.text(max_size=40))
    _import(paste[:start] + noise + paste[end:])


@FUZZ
@given(st.lists(st.sampled_from(REAL_PASTES), min_size=2, max_size=3))
def test_several_pastes_in_one(pastes: list[str]) -> None:
    _import("\n".join(pastes))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
PROFILE_KEYS = [
    "schema",
    "os",
    "arch",
    "libc",
    "python",
    "wsl",
    "container",
    "nvidia",
    "cuda_toolkit",
    "env",
    "sources",
    "reasons",
    "python_packages",
    "import_format",
]


@FUZZ
@given(st.dictionaries(st.sampled_from(PROFILE_KEYS), JSON_VALUES, max_size=8))
def test_any_profile_json(data: dict[str, object]) -> None:
    data.setdefault("schema", "envdoctor.host/1")
    try:
        profile_from_json(json.dumps(data), "host.json")
    except InputError as exc:
        assert str(exc).startswith("host.json")


def test_the_real_pastes_are_all_here() -> None:
    assert len(REAL_PASTES) >= 20
    assert all(Path(FIXTURES).exists() for _ in REAL_PASTES)
