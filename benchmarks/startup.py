"""How fast envdoctor starts, against a bare interpreter measured in the same run.

Targets (issue 2): ``envdoctor --version`` within 3x a bare ``python -c pass``; ``envdoctor
probe`` on a machine without a GPU within 0.3 s.

    python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys

from timing import interleaved, report

VERSION_TARGET_RATIO = 3.0
PROBE_TARGET_S = 0.3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    python = sys.executable
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "envdoctor --version": [python, "-m", "envdoctor", "--version"],
        "envdoctor probe": [python, "-m", "envdoctor", "probe", "--format", "json"],
    }
    medians = report(interleaved(cases, runs), f"{runs} runs each, interleaved")
    ratio = medians["envdoctor --version"] / medians["python -c pass"]
    probe = medians["envdoctor probe"]
    version_ok, probe_ok = ratio <= VERSION_TARGET_RATIO, probe <= PROBE_TARGET_S
    verdict = "ok" if version_ok else "MISSED"
    print(f"--version / bare interpreter: {ratio:.2f}x (target <= {VERSION_TARGET_RATIO}x) {verdict}")
    print(f"probe: {probe * 1000:.0f}ms (target <= {PROBE_TARGET_S * 1000:.0f}ms) {'ok' if probe_ok else 'MISSED'}")
    return 0 if version_ok and probe_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
