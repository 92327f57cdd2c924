"""What the benchmarks share: wall-clock samples of commands, taken interleaved, and their table.

Commands run in the environment a user's install has. pip writes bytecode (.pyc) when it
installs a package, so a user's envdoctor never compiles its own source at start-up; a shell
that sets PYTHONDONTWRITEBYTECODE (as some sandboxes and CI images do) would make every run here
pay for that compilation, so the variable is dropped for the measured commands.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path


def installed_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def wall(argv: list[str], cwd: Path | None = None, check: bool = False) -> float:
    """Seconds one run of ``argv`` takes; with ``check``, a failed run stops the benchmark (an
    audit exits 1 on findings, so its status is not judged by default)."""
    started = time.perf_counter()
    quiet = subprocess.DEVNULL
    subprocess.run(argv, cwd=cwd, env=installed_environment(), stdout=quiet, stderr=quiet, check=check)
    return time.perf_counter() - started


def interleaved(
    cases: dict[str, list[str]], runs: int, cwd: Path | None = None, check: bool = False
) -> dict[str, list[float]]:
    """``runs`` samples of each case, one case after the other, after one warm-up run of each
    (caches, .pyc files): a machine that slows down for a while slows every case alike."""
    for argv in cases.values():
        wall(argv, cwd, check)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            samples[name].append(wall(argv, cwd, check))
    return samples


def report(samples: dict[str, list[float]], note: str, milliseconds: bool = True) -> dict[str, float]:
    """Print min and median of each case; return the medians."""
    width = max(len(name) for name in samples) + 2
    print(f"{'case':<{width}} {'min':>9} {'median':>9}   ({note})")
    scale, unit = (1000, "ms") if milliseconds else (1, "s")
    for name, times in samples.items():
        print(f"{name:<{width}} {min(times) * scale:7.{1 if milliseconds else 2}f}{unit} "
              f"{statistics.median(times) * scale:7.{1 if milliseconds else 2}f}{unit}")  # fmt: skip
    return {name: statistics.median(times) for name, times in samples.items()}
