"""Whatever text arrives, the importers answer with a profile or a clean InputError; through the
CLI, every ``--import`` format and every host profile answers with exit 0, 1 or 2, exactly one
line on stderr with 2, and never a traceback. (The long run: benchmarks/fuzz_host.py.)"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.cli import main
from envdoctor.errors import InputError
from envdoctor.host.profile import HostProfile, profile_from_json, profile_to_json
from envdoctor.importers import import_host
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


# --- through the CLI entry point, as a user runs it ------------------------------------------

ROOT = Path(__file__).parent.parent
PASTES_BY_FORMAT = {
    folder.name: sorted(path.read_text(encoding="utf-8") for path in folder.iterdir() if path.suffix != ".toml")
    for folder in sorted((FIXTURES / "hosts").iterdir())
}
REAL_PROFILES = sorted(
    path.read_text(encoding="utf-8")
    for path in [
        ROOT / "examples/icarus/prod-host.json",
        FIXTURES / "device-h200/probe.json",
        *(ROOT / "images").glob("*/host.json"),
    ]
)
BIG = "9" * 5000
HOSTILE = st.sampled_from(
    [
        BIG,
        "1." + BIG,
        "²",
        "\u0663.\u0661",
        "\x00",
        "\x1b]0;title\x07",
        "\n::error::x\n",
        "\u2028",
        "\r",
        "[" * 5000,
        '{"a":' * 3000,
        '"nvidia.com/gpu.count": "100000000"',
        "nvidia.com/gpu.count: 99999999",
        "<!ENTITY x 'y'>",
        "NVIDIA-SMI 1 Driver Version: " + BIG,
        "|   0  " + " " * 2000 + "On  | 00000000:01:00.0 Off |",
    ]
)
CLI_FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def _damaged(data: st.DataObject, seed: str) -> str:
    start = data.draw(st.integers(0, len(seed)))
    end = data.draw(st.integers(start, min(len(seed), start + 200)))
    noise = data.draw(HOSTILE | st.text(max_size=40))
    return seed[:start] + noise + seed[end:]


def _run(folder: Path, option: str, text: str, output: str = "text") -> tuple[int, str]:
    """``envdoctor probe OPTION FILE`` on ``text``: the promise of every reader, checked."""
    path = folder / "input"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))  # a lone surrogate makes bytes that are not UTF-8
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["probe", option, str(path), "--format", output])
    assert code in (0, 1, 2)
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert err.getvalue().startswith("envdoctor: error: ") and err.getvalue().count("\n") == 1, err.getvalue()
    return code, out.getvalue()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENVDOCTOR_DEBUG", "1")  # an internal error raises: hypothesis shows where
        yield tmp_path_factory.mktemp("fuzz-host")


@pytest.mark.parametrize("reader", sorted(PASTES_BY_FORMAT))
@CLI_FUZZ
@given(data=st.data())
def test_cli_import_of_each_format(scratch: Path, reader: str, data: st.DataObject) -> None:
    text = _damaged(data, data.draw(st.sampled_from(PASTES_BY_FORMAT[reader])))
    code, out = _run(scratch, "--import", text, "json")
    if code == 0:
        # What --import made, written as probe -o writes it, --host reads back.
        again = _run(scratch, "--host", out, "json")
        assert again == (0, out)


@CLI_FUZZ
@given(data=st.data())
def test_cli_host_profiles(scratch: Path, data: st.DataObject) -> None:
    _run(scratch, "--host", _damaged(data, data.draw(st.sampled_from(REAL_PROFILES))))


@CLI_FUZZ
@given(st.sampled_from(REAL_PROFILES), st.lists(st.sampled_from(PROFILE_KEYS), min_size=1, max_size=3), JSON_VALUES)
def test_cli_host_profiles_with_a_field_replaced(scratch: Path, profile: str, keys: list[str], value: object) -> None:
    data = json.loads(profile)
    target = data
    for key in keys[:-1]:
        target = target.setdefault(key, {}) if isinstance(target.get(key), dict) else target
    target[keys[-1]] = value
    _run(scratch, "--host", json.dumps(data))


def _benchmark() -> types.ModuleType:
    """benchmarks/fuzz_host.py, the seeded mutation fuzzer, as a module."""
    spec = importlib.util.spec_from_file_location("fuzz_host", ROOT / "benchmarks/fuzz_host.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.fuzz
@pytest.mark.parametrize("reader", ["host-profile", *(f"import:{name}" for name in sorted(PASTES_BY_FORMAT))])
def test_ten_thousand_damaged_inputs_per_host_reader(reader: str, tmp_path: Path) -> None:
    fuzz_host = _benchmark()
    tally = fuzz_host.fuzz(fuzz_host.readers()[reader], 10_000, tmp_path)
    assert not tally.failures, tally.failures[:5]
