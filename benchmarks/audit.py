"""How fast the audit runs, against floors measured in the same run.

1. The offline audit of the Icarus example against the time a bare interpreter takes to import
   packaging.requirements and tomllib. Target: within 2.5x of that floor.
2. A 2,000-line requirements set spread over 20 included files. Target: under 1 s, cost growing
   linearly with size (500, 1,000 and 2,000 lines are measured).

    python benchmarks/audit.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from timing import interleaved, report

ROOT = Path(__file__).resolve().parent.parent
FLOOR_RATIO_TARGET = 2.5
LARGE_TARGET_S = 1.0
HOST = ROOT / "examples/icarus/prod-host.json"


def write_set(folder: Path, lines: int, files: int = 20) -> Path:
    """``lines`` pinned requirements over ``files`` files, each included from the top file."""
    per_file = lines // files
    names = [f"part{n:02d}.txt" for n in range(files)]
    for index, name in enumerate(names):
        body = [f"package-{index}-{line}=={1 + line % 7}.{line % 13}.0" for line in range(per_file)]
        (folder / name).write_text("\n".join(body) + "\n")
    top = folder / f"requirements-{lines}.txt"
    top.write_text("".join(f"-r {name}\n" for name in names))
    return top


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    python = sys.executable
    floor = [python, "-c", "import packaging.requirements, tomllib"]
    icarus = [python, "-m", "envdoctor", "audit", "examples/icarus/requirements.txt", "--host", str(HOST)]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sets = {}
        for size in (500, 1000, 2000):
            (folder / str(size)).mkdir()
            sets[size] = write_set(folder / str(size), size)
        large = {
            size: [python, "-m", "envdoctor", "audit", str(path), "--os", "linux", "--python", "3.11"]
            for size, path in sets.items()
        }
        cases = {"floor: import packaging.requirements, tomllib": floor, "audit examples/icarus": icarus}
        cases.update({f"audit {size} lines in 20 files": argv for size, argv in large.items()})
        samples = interleaved(cases, runs, ROOT)
    medians = report(samples, f"{runs} runs each, interleaved")
    ratio = medians["audit examples/icarus"] / medians["floor: import packaging.requirements, tomllib"]
    big = medians["audit 2000 lines in 20 files"]
    growth = (medians["audit 2000 lines in 20 files"] - medians["audit 1000 lines in 20 files"]) / (
        medians["audit 1000 lines in 20 files"] - medians["audit 500 lines in 20 files"]
    )
    ratio_ok, big_ok = ratio <= FLOOR_RATIO_TARGET, big <= LARGE_TARGET_S
    print(f"icarus audit / floor: {ratio:.2f}x (target <= {FLOOR_RATIO_TARGET}x) {'ok' if ratio_ok else 'MISSED'}")
    print(f"2,000 lines: {big * 1000:.0f}ms (target < {LARGE_TARGET_S * 1000:.0f}ms) {'ok' if big_ok else 'MISSED'}")
    print(f"growth from 1,000 to 2,000 lines vs 500 to 1,000: {growth:.2f}x (linear: about 2x)")
    return 0 if ratio_ok and big_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
