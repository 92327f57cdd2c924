"""How much envdoctor adds to the resolver it drives, measured side by side in one run.

Two requirement sets, each locked for Linux x86_64 and Python 3.11 by ``envdoctor lock`` and by a
raw ``uv pip compile --generate-hashes`` with the same resolution flags and output format (the
uv binary envdoctor runs, pylock.toml out, the same ``--exclude-newer`` so that the sets do not
drift), interleaved:

- ``small``: three packages; target: envdoctor at most 1.15x raw uv;
- ``ml``: forty packages of a typical ML project, torch among them, for a host with an A100 and
  driver 535.104.05 (PyPI's own CUDA build of torch runs there, so no other index is needed);
  target: at most 1.05x.

Wall clock is measured online with a warm cache (what a user waits for). envdoctor's own CPU is
measured with ``UV_OFFLINE=1`` on both sides, so that the index's answers do not count: the CPU
(user + system, children included) of ``envdoctor lock`` minus that of raw uv; target <= 0.1 s
on the small set. Needs the package index.

    python benchmarks/lock.py [--runs N] [--without-pip-compile]

With pip-tools installed, ``pip-compile --generate-hashes`` of the small set is reported beside
them (not judged). So is a floor: a bare interpreter importing ``packaging.requirements``, the
least any Python front end pays before it can read a requirement and start uv. The floor's time
added to raw uv's is the lowest ratio such a front end could reach on this machine, printed beside
each target; its CPU is printed beside envdoctor's own.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import installed_environment, interleaved, report

ROOT = Path(__file__).resolve().parent.parent
EXCLUDE_NEWER = "2026-10-01"
SMALL = ["numpy", "requests", "pandas"]
ML = [
    "torch==2.2.0", "numpy<2", "pandas", "scipy", "scikit-learn", "transformers", "tokenizers", "datasets",
    "accelerate", "sentencepiece", "safetensors", "huggingface-hub", "matplotlib", "seaborn", "tqdm", "pyyaml",
    "requests", "protobuf", "tensorboard", "pillow", "opencv-python-headless", "einops", "xgboost", "lightgbm",
    "optuna", "fastapi", "uvicorn", "pydantic", "jsonschema", "rich", "typer", "click", "sqlalchemy", "joblib",
    "numba", "polars", "pyarrow", "onnx", "onnxruntime", "evaluate",
]  # fmt: skip
SETS = {"small": (SMALL, 1.15, ["--no-gpu"]), "ml": (ML, 1.05, ["--gpu", "A100", "--driver", "535.104.05"])}
CPU_TARGET_S = 0.1
RUNS_CPU = 7
FLOOR = "floor: import packaging.requirements"
FLOOR_ARGV = [sys.executable, "-c", "import packaging.requirements"]


def commands(folder: Path, name: str, uv: str) -> dict[str, list[str]]:
    packages, _, host = SETS[name]
    (folder / f"{name}.in").write_text("\n".join(packages) + "\n", encoding="utf-8")
    target = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
    same = ["--python-version", "3.11", "--python-platform", "x86_64-unknown-linux-gnu"]
    return {
        f"envdoctor lock ({name})": [sys.executable, "-m", "envdoctor", "lock", f"{name}.in", *target, *host,
                                     "--exclude-newer", EXCLUDE_NEWER, "-o", f"out-{name}", "-q"],
        f"uv pip compile ({name})": [uv, "pip", "compile", f"{name}.in", "--generate-hashes", "--quiet",
                                     "--format", "pylock.toml", "--exclude-newer", EXCLUDE_NEWER, *same,
                                     "-o", f"pylock.uv{name}.toml"],
    }  # fmt: skip


def cpu_seconds(argv: list[str], cwd: Path) -> float:
    """User + system CPU of one run of ``argv`` and its children, offline."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    environment = {**installed_environment(), "UV_OFFLINE": "1"}
    subprocess.run(argv, cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--without-pip-compile", action="store_true", help="only envdoctor and raw uv")
    arguments = parser.parse_args()
    from uv import find_uv_bin

    uv = str(find_uv_bin())
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        cases = {label: argv for name in SETS for label, argv in commands(folder, name, uv).items()}
        cases[FLOOR] = FLOOR_ARGV
        if not arguments.without_pip_compile:
            cases["pip-compile --generate-hashes (small)"] = [
                sys.executable, "-m", "piptools", "compile", "--generate-hashes", "--quiet", "--no-header",
                "--output-file", "pip-tools.txt", "small.in",
            ]  # fmt: skip
        samples = interleaved(cases, arguments.runs, folder, check=True)
        medians = report(samples, f"{arguments.runs} runs each, interleaved, warm cache, online", milliseconds=False)
        for name, (_, target, _) in SETS.items():
            ratio = medians[f"envdoctor lock ({name})"] / medians[f"uv pip compile ({name})"]
            verdict = "ok" if ratio <= target else "MISSED"
            ok = ok and ratio <= target
            bound = (medians[f"uv pip compile ({name})"] + medians[FLOOR]) / medians[f"uv pip compile ({name})"]
            print(
                f"{name}: envdoctor lock / raw uv {ratio:.2f}x (target <= {target}x) {verdict}; "
                f"raw uv after the floor: {bound:.2f}x"
            )
        small = {**commands(folder, "small", uv), FLOOR: FLOOR_ARGV}
        cpu = {label: [cpu_seconds(argv, folder) for _ in range(RUNS_CPU)] for label, argv in small.items()}
    own = statistics.median(cpu["envdoctor lock (small)"]) - statistics.median(cpu["uv pip compile (small)"])
    verdict = "ok" if own <= CPU_TARGET_S else "MISSED"
    print(
        f"small, UV_OFFLINE=1: envdoctor {statistics.median(cpu['envdoctor lock (small)']):.3f}s CPU, raw uv "
        f"{statistics.median(cpu['uv pip compile (small)']):.3f}s: envdoctor's own {own:.3f}s "
        f"(target <= {CPU_TARGET_S}s) {verdict}; the floor alone: {statistics.median(cpu[FLOOR]):.3f}s"
    )
    return 0 if ok and own <= CPU_TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
