"""The CLI fuzz suite (tests/cli_fuzzer.py) over every project reader: damaged real files through
``envdoctor audit`` and ``envdoctor dockerfile``. Each input must exit 0, 1 or 2, print exactly one
line on stderr when it exits 2, and raise nothing out of ``main``.

A slice runs by default; the long run (10,000 inputs per reader) is ``pytest -m fuzz``, and
``python benchmarks/fuzz.py`` prints its figures."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.cli_fuzzer import HOSTILE, Tally, cases, fuzz, readers, shown, signature

READERS = readers()
SLICE = 150
LONG = 10_000


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
    tally = fuzz(READERS[name], SLICE, tmp_path)
    assert tally.inputs == SLICE
    assert not tally.failures, describe(tally)
    # Some inputs get past the parser into the audit or the image plan: the fuzzer reaches the rules.
    assert tally.codes["0"] + tally.codes["1"] > 0, tally.codes


@pytest.mark.fuzz
@pytest.mark.parametrize("name", sorted(READERS))
def test_ten_thousand_damaged_inputs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Past the default slice: the long run adds to it rather than repeating it.
    tally = fuzz(READERS[name], LONG, tmp_path, start=SLICE)
    assert not tally.failures, describe(tally)


def test_every_reader_has_real_seeds() -> None:
    names = {"requirements", "pyproject", "tool.envdoctor", "pylock", "dockerfile", "lock", "lock+pylock"}
    assert set(READERS) == names
    for reader in READERS.values():
        assert reader.seeds, reader.name
        assert all(seed.text for seed in reader.seeds)
    assert len(READERS["lock"].seeds) >= 4 and len(READERS["pylock"].seeds) >= 4


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
