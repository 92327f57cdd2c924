"""The CLI fuzz run over every reader (tests/cli_fuzzer.py): requirements, pyproject,
[tool.envdoctor], pylock, Dockerfile, lockfiles, every ``probe --import`` format and host profiles.
Prints inputs, exit codes, tracebacks, broken promises, hangs and seconds per reader, then each
distinct failure with a shrunk reproducer.

The promise: 0 tracebacks, exit 0, 1 or 2, exactly one line on stderr with exit 2, no hang, and
what ``probe --import`` prints as JSON reads back with ``probe --host``.

    python benchmarks/fuzz.py [--count 10000] [--seed 11] [--reader NAME ...] [--no-shrink]

Exits 1 when any input broke the promise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cli_fuzzer import (  # noqa: E402
    DEFAULT_SEED,
    Case,
    Outcome,
    Tally,
    fuzz,
    readers,
    run_case,
    shown,
    shrink,
    signature,
)


def main() -> int:
    every = readers()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="inputs per reader (default: 10000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reader", action="append", choices=sorted(every), help="only these readers")
    parser.add_argument("--no-shrink", action="store_true", help="do not shrink failing inputs")
    args = parser.parse_args()
    tallies: list[Tally] = []
    with tempfile.TemporaryDirectory(prefix="envdoctor-fuzz-") as scratch:
        folder = Path(scratch).resolve()
        for name in args.reader or list(every):
            tally = fuzz(every[name], args.count, folder, args.seed)
            tallies.append(tally)
            print(_row(tally), flush=True)
        total = Tally("total", sum(t.inputs for t in tallies), sum((t.codes for t in tallies), Counter()))
        total.failures = [failure for tally in tallies for failure in tally.failures]
        total.seconds = sum(t.seconds for t in tallies)
        print(_row(total))
        _failures(tallies, folder, shrinking=not args.no_shrink)
    return 1 if any(t.failures for t in tallies) else 0


def _row(tally: Tally) -> str:
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(tally.codes.items()))
    return (
        f"{tally.reader:18} {tally.inputs:6} inputs  exit codes {{{codes}}}  "
        f"tracebacks {tally.tracebacks}  broken {len(tally.failures)}  hangs {tally.hangs}  {tally.seconds:.1f} s"
    )


def _failures(tallies: list[Tally], folder: Path, shrinking: bool) -> None:
    """One line per distinct failure (reader, exception, site), with its count and a reproducer."""
    import os

    for tally in tallies:
        groups: dict[tuple[str, ...], list[int]] = {}
        first: dict[tuple[str, ...], tuple[Case, Outcome]] = {}
        for case, outcome in tally.failures:
            key = signature(outcome)
            groups.setdefault(key, []).append(case.number)
            first.setdefault(key, (case, outcome))
        for key, numbers in groups.items():
            case, outcome = first[key]
            if shrinking:
                previous = Path.cwd()
                os.chdir(folder)
                try:
                    case = shrink(case, folder, lambda o, key=key: signature(o) == key)  # type: ignore[misc]
                    outcome = run_case(case, folder)
                finally:
                    os.chdir(previous)
            detail = outcome.crash.message if outcome.crash else outcome.unread or outcome.stderr.strip()[:160]
            first_seen = f"first #{numbers[0]}, seed {case.seed}"
            print(f"\n[{tally.reader}] {' / '.join(key)}: {len(numbers)} inputs ({first_seen})")
            print(f"  argv: envdoctor {' '.join(case.argv)}")
            print(f"  {case.target[0]}: {shown(case.target[1])}")
            print(f"  says: {detail!r}")


if __name__ == "__main__":
    sys.exit(main())
