"""How fast envdoctor starts, against a bare interpreter measured in the same run.

Targets (issue 2): ``envdoctor --version`` within 3x a bare ``python -c pass``; ``envdoctor
probe`` on a machine without a GPU within 0.3 s.

    python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

VERSION_TARGET_RATIO = 3.0
PROBE_TARGET_S = 0.3


def wall_times(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return times


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
    wall_times(cases["envdoctor probe"], 2)  # warm the file cache
    medians = {}
    print(f"{'command':<22} {'min':>8} {'median':>8}   ({runs} runs each, interleaved)")
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            samples[name] += wall_times(argv, 1)
    for name, times in samples.items():
        medians[name] = statistics.median(times)
        print(f"{name:<22} {min(times) * 1000:7.1f}ms {medians[name] * 1000:7.1f}ms")
    ratio = medians["envdoctor --version"] / medians["python -c pass"]
    probe = medians["envdoctor probe"]
    version_ok, probe_ok = ratio <= VERSION_TARGET_RATIO, probe <= PROBE_TARGET_S
    verdict = "ok" if version_ok else "MISSED"
    print(f"--version / bare interpreter: {ratio:.2f}x (target <= {VERSION_TARGET_RATIO}x) {verdict}")
    print(f"probe: {probe * 1000:.0f}ms (target <= {PROBE_TARGET_S * 1000:.0f}ms) {'ok' if probe_ok else 'MISSED'}")
    return 0 if version_ok and probe_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
