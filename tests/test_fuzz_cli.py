"""The CLI fuzz suite (tests/cli_fuzzer.py) over every reader: damaged real files through
``envdoctor audit``, ``envdoctor dockerfile``, ``envdoctor probe --import`` (every paste format) and
``envdoctor probe --host``. Each input must exit 0, 1 or 2, print exactly one line on stderr when it
exits 2, and raise nothing out of ``main``; a profile ``--import`` printed as JSON reads back with ``--host``.

A slice runs by default; the long run (10,000 inputs per reader) is ``pytest -m fuzz``, and
``python benchmarks/fuzz.py`` prints its figures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from envdoctor.errors import UsageError
from tests.cli_fuzzer import (
    HOSTILE,
    MUTATIONS,
    ROOT,
    Case,
    Tally,
    _json_field,
    cases,
    fuzz,
    readers,
    run_case,
    shown,
    signature,
)

READERS = readers()
LONG = 10_000
HOST_READERS = {name for name in READERS if name == "host-profile" or name.startswith("import:")}


def slice_of(name: str) -> int:
    """Inputs of a reader in the default suite: the host readers are eight, and a pasted profile is
    read twice (--import, then --host), so theirs is smaller to keep them to a few seconds together."""
    return 50 if name in HOST_READERS else 150


def describe(tally: Tally) -> str:
    """One line per distinct failure: what broke, how often, and the first input that did it."""
    first: dict[tuple[str, ...], tuple[int, str, str]] = {}
    counts: dict[tuple[str, ...], int] = {}
    for case, outcome in tally.failures:
        key = signature(outcome)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, (case.number, case.seed, shown(case.target[1], 200)))
    lines = [f"{tally.reader}: {len(tally.failures)} of {tally.inputs} inputs broke the promise"]
    for key, (number, seed, text) in first.items():
        lines.append(f"  {' / '.join(key)} x{counts[key]}: input #{number} from {seed}: {text}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_slice_of_damaged_inputs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tally = fuzz(READERS[name], slice_of(name), tmp_path)
    assert tally.inputs == slice_of(name)
    assert not tally.failures, describe(tally)
    # Some inputs get past the parser into the audit or the image plan: the fuzzer reaches the rules.
    assert tally.codes["0"] + tally.codes["1"] > 0, tally.codes


@pytest.mark.fuzz
@pytest.mark.parametrize("name", sorted(READERS))
def test_ten_thousand_damaged_inputs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Past the default slice: the long run adds to it rather than repeating it.
    tally = fuzz(READERS[name], LONG, tmp_path, start=slice_of(name))
    assert not tally.failures, describe(tally)


def test_every_reader_has_real_seeds() -> None:
    names = {"requirements", "pyproject", "tool.envdoctor", "pylock", "dockerfile", "lock", "lock+pylock"}
    formats = {path.name for path in (ROOT / "tests/fixtures/hosts").iterdir()}
    assert set(READERS) == names | {f"import:{name}" for name in formats} | {"host-profile"} == names | HOST_READERS
    for reader in READERS.values():
        assert reader.seeds, reader.name
        assert all(seed.text for seed in reader.seeds)
    assert len(READERS["lock"].seeds) >= 4 and len(READERS["pylock"].seeds) >= 4
    # Every real paste, and no note about one, as text and as JSON output.
    pastes = [path for path in (ROOT / "tests/fixtures/hosts").glob("*/*") if path.suffix != ".toml"]
    assert sum(len(READERS[name].seeds) for name in HOST_READERS - {"host-profile"}) == 2 * len(pastes) >= 40


def test_inputs_are_reproducible_by_number() -> None:
    """Input N of a reader is the same bytes on every run: a failure is reported by its number."""
    reader = READERS["pyproject"]
    again = list(cases(reader, 5, start=40))
    assert list(cases(reader, 5, start=40)) == again
    assert next(cases(reader, 1, start=42)) == again[2]
    assert len({case.target for case in again}) == 5


def test_the_lock_mark_survives_mutation() -> None:
    """Without its first line a lock would be resolved as requirements, which needs the network."""
    for case in cases(READERS["lock"], 200):
        assert case.target[1].startswith(b"# Written by `envdoctor lock`")


def test_hostile_tokens_are_used() -> None:
    rng = random.Random(0)
    texts = [case.target[1] for case in cases(READERS["requirements"], 300)]
    assert sum(b"1" * 4301 in text for text in texts) > 10
    assert sum(b"[" * 1000 in text or b"(" * 1000 in text for text in texts) > 3
    assert rng.choice(HOSTILE)


def test_host_mutations_are_used() -> None:
    """Digits that are not ASCII, and a JSON value replaced by one of another shape."""
    profiles = [case.target[1].decode("utf-8", "replace") for case in cases(READERS["host-profile"], 300)]
    assert sum(any(digit in text for digit in "²³⁰\u0663\u0661\u096f\uff10") for text in profiles) > 10
    assert _json_field in MUTATIONS
    seed, rng = READERS["host-profile"].seeds[0].text, random.Random(0)
    assert all(json.loads(_json_field(seed, rng, [])) != json.loads(seed) for _ in range(20))


def test_what_probe_import_prints_must_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra check of the import readers: the JSON ``probe --import`` prints, ``probe --host`` reads."""
    monkeypatch.chdir(tmp_path)
    case = next(case for case in cases(READERS["import:smi-csv"], 50) if case.argv[-1] == "json")
    paste = next(seed.text for seed in READERS["import:smi-csv"].seeds if seed.label == case.seed)
    case = Case(case.reader, case.number, case.seed, (("paste.txt", paste.encode()),), case.argv)
    assert run_case(case, tmp_path).problems() == []

    def refuse(path: str) -> None:
        raise UsageError("refused")

    monkeypatch.setattr("envdoctor.commands.probe.load_hosts", refuse)
    outcome = run_case(case, tmp_path)
    assert outcome.code == 0 and "refused" in outcome.unread
    assert outcome.problems() == ["probe --host did not read back what probe --import printed"]
