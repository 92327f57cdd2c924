"""How much envdoctor adds to the resolver it drives, in one run with a warm cache.

Locks the Icarus stack (its torch pinned without the +cu121 label, so that PyPI alone serves
it) for Linux x86_64 and Python 3.11 with ``envdoctor lock``, with a raw
``uv pip compile --generate-hashes`` of the same input, and with
``pip-compile --generate-hashes``. Target: envdoctor at most 15% slower than raw uv; the
pip-compile ratio is reported. Needs the package index.

    python benchmarks/lock.py [--runs N] [--without-pip-compile]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from timing import interleaved, report

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.15
STACK = [
    "numpy==1.26.4", "pandas==2.2.1", "scikit-learn==1.4.2", "torch==2.2.0", "tensorflow==2.16.1",
    "protobuf==4.25.3", "grpcio==1.62.1", "joblib==1.3.2", "transformers==4.38.2", "xgboost==2.0.3",
    "optuna==3.6.1",
]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--without-pip-compile", action="store_true", help="only envdoctor and raw uv (faster)")
    arguments = parser.parse_args()
    runs = arguments.runs
    from uv import find_uv_bin

    uv = str(find_uv_bin())
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "requirements.in").write_text("\n".join(STACK) + "\n")
        platform = ["--python-version", "3.11", "--python-platform", "x86_64-unknown-linux-gnu"]
        cases = {
            "envdoctor lock": [sys.executable, "-m", "envdoctor", "lock", "requirements.in", "--os", "linux",
                               "--arch", "x86_64", "--python", "3.11", "-o", "out"],
            "uv pip compile --generate-hashes": [uv, "pip", "compile", "requirements.in", "--generate-hashes",
                                                  "--quiet", "-o", "uv.txt", *platform],
            "pip-compile --generate-hashes": [sys.executable, "-m", "piptools", "compile", "--generate-hashes",
                                              "--quiet", "--output-file", "pip-tools.txt", "requirements.in"],
        }  # fmt: skip
        os.environ.setdefault("PYTHONPATH", str(ROOT))
        if arguments.without_pip_compile:
            del cases["pip-compile --generate-hashes"]
        samples = interleaved(cases, runs, folder, check=True)
    medians = report(samples, f"{runs} runs each, interleaved, warm cache", milliseconds=False)
    ratio = medians["envdoctor lock"] / medians["uv pip compile --generate-hashes"]
    ok = ratio <= TARGET_RATIO
    print(f"envdoctor lock / raw uv: {ratio:.2f}x (target <= {TARGET_RATIO}x) {'ok' if ok else 'MISSED'}")
    pip_compile = medians.get("pip-compile --generate-hashes")
    if pip_compile is not None:
        print(f"pip-compile / envdoctor lock: {pip_compile / medians['envdoctor lock']:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
