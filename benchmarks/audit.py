"""How fast the audit runs, against floors measured in the same run.

1. The offline audit of the Icarus example against the time a bare interpreter takes to import
   packaging.requirements and tomllib. Target: within 2.5x of that floor.
2. Large requirements sets, each spread over 20 included files, against the time a bare
   interpreter takes to parse the same lines with packaging.requirements (issue 15). Targets: the
   audit of the largest set within 2.5x of parsing it, and its cost linear with that of parsing
   (the audit/parse ratio does not grow with the size); 2,000 lines under 1 s.

The sizes default to those issue 15 names (20,000 and 100,000 lines) and 2,000; --sizes measures
others, up to what the readers accept (MAX_REQUIREMENTS). Each audit is run once first and must
judge its set (exit 0 or 1): an audit that refuses the set (exit 2) would time a refusal.

    python benchmarks/audit.py [--runs N] [--sizes 2000,20000,100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import installed_environment, interleaved, report

ROOT = Path(__file__).resolve().parent.parent
FLOOR_RATIO_TARGET = 2.5
PARSE_RATIO_TARGET = 2.5
# The audit/parse ratio of the largest set over that of the smallest: about 1 when linear.
LINEAR_SLACK = 1.25
LARGE_TARGET_S = 1.0
HOST = ROOT / "examples/icarus/prod-host.json"
FLOOR = "floor: import packaging.requirements, tomllib"
DEFAULT_SIZES = (2000, 20_000, 100_000)
# Parses every requirement line of the files named, as a reader with no rules would.
PARSE = (
    "import sys\n"
    "from packaging.requirements import Requirement\n"
    "for name in sys.argv[1:]:\n"
    "    with open(name) as file:\n"
    "        [Requirement(line) for line in map(str.strip, file) if line and not line.startswith('-')]\n"
)


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


def _judged(name: str, argv: list[str]) -> None:
    """Stop the benchmark where an audit does not judge its set: a refusal is no timing of an audit."""
    done = subprocess.run(argv, cwd=ROOT, env=installed_environment(), capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{name}: exit {done.returncode}, not judged: {done.stderr.strip()[-300:]}")


def _sizes(text: str | None) -> tuple[int, ...]:
    return tuple(sorted({int(part) for part in text.split(",")})) if text else DEFAULT_SIZES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sizes", metavar="N,N,...", help="requirement lines per large set")
    options = parser.parse_args()
    runs, sizes = options.runs, _sizes(options.sizes)
    python = sys.executable
    icarus = [python, "-m", "envdoctor", "audit", "examples/icarus/requirements.txt", "--host", str(HOST)]
    with tempfile.TemporaryDirectory() as scratch:
        cases = {FLOOR: [python, "-c", "import packaging.requirements, tomllib"], "audit examples/icarus": icarus}
        for size in sizes:
            folder = Path(scratch) / str(size)
            folder.mkdir()
            top = write_set(folder, size)
            parts = sorted(str(path) for path in folder.glob("part*.txt"))
            cases[f"parse {size} lines (packaging)"] = [python, "-c", PARSE, *parts]
            # Against a whole host (OS, arch, libc, Python, driver, GPU), so that every rule runs.
            cases[f"audit {size} lines in 20 files"] = [
                python, "-m", "envdoctor", "audit", str(top), "--host", str(HOST), "-q"
            ]  # fmt: skip
        for name, argv in cases.items():
            if name.startswith("audit"):
                _judged(name, argv)
        samples = interleaved(cases, runs, ROOT)
    medians = report(samples, f"{runs} runs each, interleaved")
    ratio = medians["audit examples/icarus"] / medians[FLOOR]
    ratio_ok = ratio <= FLOOR_RATIO_TARGET
    print(f"icarus audit / floor: {ratio:.2f}x (target <= {FLOOR_RATIO_TARGET}x) {'ok' if ratio_ok else 'MISSED'}")
    parse_ratios = {
        size: medians[f"audit {size} lines in 20 files"] / medians[f"parse {size} lines (packaging)"] for size in sizes
    }
    for size, parsed in parse_ratios.items():
        print(f"{size:,} lines: audit / parse {parsed:.2f}x")
    largest, smallest = sizes[-1], sizes[0]
    parse_ok = parse_ratios[largest] <= PARSE_RATIO_TARGET
    verdict = "ok" if parse_ok else "MISSED"
    print(f"{largest:,} lines: audit / parse {parse_ratios[largest]:.2f}x (target <= {PARSE_RATIO_TARGET}x) {verdict}")
    growth = parse_ratios[largest] / parse_ratios[smallest]
    linear_ok = len(sizes) < 2 or growth <= LINEAR_SLACK
    print(
        f"audit / parse at {largest:,} over at {smallest:,} lines: {growth:.2f}x "
        f"(linear: about 1, target <= {LINEAR_SLACK}x) {'ok' if linear_ok else 'MISSED'}"
    )
    big_ok = True
    if 2000 in sizes:
        big = medians["audit 2000 lines in 20 files"]
        big_ok = big <= LARGE_TARGET_S
        verdict = "ok" if big_ok else "MISSED"
        print(f"2,000 lines: {big * 1000:.0f}ms (target < {LARGE_TARGET_S * 1000:.0f}ms) {verdict}")
    return 0 if ratio_ok and parse_ok and linear_ok and big_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
