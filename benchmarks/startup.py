"""How fast envdoctor starts, against a bare interpreter measured in the same run.

Targets (issue 2): ``envdoctor --version`` within 3x a bare ``python -c pass``; ``envdoctor
probe`` on a machine without a GPU within 0.3 s. Issue 15: ``--version`` imports no argparse (it
is answered before a parser is built); the audit of a small file is shown against the import floor
of any audit (a bare interpreter importing packaging.requirements and tomllib).

    python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import installed_environment, interleaved, report

VERSION_TARGET_RATIO = 3.0
PROBE_TARGET_S = 0.3
SMALL_SET = "numpy==1.26.4\nrequests==2.31.0\ntorch==2.2.0\n"
SMALL_HOST = ("--os", "linux", "--python", "3.11", "-q")
IMPORT_FLOOR = "import packaging.requirements, tomllib"


def version_imports_argparse(python: str) -> bool:
    """Whether answering ``--version`` imports argparse (it should not)."""
    probe = "import sys; from envdoctor.cli import main; main(['--version']); print('argparse' in sys.modules)"
    done = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, check=True, env=installed_environment()
    )
    return done.stdout.strip().endswith("True")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        small = Path(scratch) / "requirements.txt"
        small.write_text(SMALL_SET)
        cases = {
            "python -c pass": [python, "-c", "pass"],
            "envdoctor --version": [python, "-m", "envdoctor", "--version"],
            "envdoctor probe": [python, "-m", "envdoctor", "probe", "--format", "json"],
            f"floor: {IMPORT_FLOOR}": [python, "-c", IMPORT_FLOOR],
            "envdoctor audit (3 lines)": [python, "-m", "envdoctor", "audit", str(small), *SMALL_HOST],
        }
        medians = report(interleaved(cases, runs), f"{runs} runs each, interleaved")
    ratio = medians["envdoctor --version"] / medians["python -c pass"]
    probe = medians["envdoctor probe"]
    small_ratio = medians["envdoctor audit (3 lines)"] / medians[f"floor: {IMPORT_FLOOR}"]
    argparse_imported = version_imports_argparse(python)
    version_ok, probe_ok = ratio <= VERSION_TARGET_RATIO and not argparse_imported, probe <= PROBE_TARGET_S
    verdict = "ok" if version_ok else "MISSED"
    print(f"--version / bare interpreter: {ratio:.2f}x (target <= {VERSION_TARGET_RATIO}x) {verdict}")
    print(f"--version imports argparse: {'yes (MISSED)' if argparse_imported else 'no (ok)'}")
    print(f"probe: {probe * 1000:.0f}ms (target <= {PROBE_TARGET_S * 1000:.0f}ms) {'ok' if probe_ok else 'MISSED'}")
    print(f"audit of 3 lines / import floor: {small_ratio:.2f}x")
    return 0 if version_ok and probe_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
