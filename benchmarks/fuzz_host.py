"""A seeded mutation fuzzer for the host side: every ``--import`` format and host profiles, run
in-process through the CLI entry point as a user runs them:

    envdoctor probe --import FILE [--format json]      (one reader per folder of tests/fixtures/hosts)
    envdoctor probe --host FILE [--format json]        (the host-profile reader)

Every input starts from a real paste or profile of this repository and is damaged by one to four
stacked mutations: cut, repeated or swapped spans and lines, splices from other seeds, hostile
tokens (5,000-digit numbers, superscript and Arabic-Indic digits, control characters, deep
brackets, huge GPU counts), bytes that are not UTF-8, and for JSON a field replaced by a value of
another shape. Input ``i`` of a reader depends only on (seed, reader, i).

The promise checked: exit 0, 1 or 2; exactly one line on stderr with exit 2; no exception out of
``main`` (a traceback, which ENVDOCTOR_DEBUG=1 lets through instead of exit 3); no input running
past HANG_S; and a profile that ``--import`` printed as JSON is read back by ``--host`` (what
``probe -o`` writes, ``--host`` reads).

    python benchmarks/fuzz_host.py [--count 10000] [--seed 11] [--reader NAME ...]
    python benchmarks/fuzz_host.py --dump READER NUMBER    (writes that input to ./fuzz-input)

Prints one line per reader (inputs, exit codes, tracebacks, broken promises, hangs, seconds) and
the first failures; exits 1 when any input broke the promise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envdoctor.cli import main as envdoctor_main  # noqa: E402

HOSTS = ROOT / "tests/fixtures/hosts"
HANG_S = 10
DEFAULT_SEED = 11
BIG = "9" * 5000
UNICODE_DIGITS = ("²", "³", "⁰", "\u0663", "\u0661", "\u096f", "\uff10", "\U0001d7d7")
HOSTILE = (
    BIG,
    "1." + BIG,
    "9" * 4301,
    "100000000",
    "4294967296",
    "-1",
    "²",
    "٨.٦",
    "\x00",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "\x9b31m",
    "\n::error::forged\n",
    "\u2028",
    "\u2029",
    "\r",
    "\x85",
    "\ufeff",
    "\t",
    "[" * 5000,
    "{" * 3000,
    '{"a":' * 3000,
    "<a>" * 3000,
    "<!ENTITY x 'y'>",
    "<!DOCTYPE x SYSTEM 'file:///etc/passwd'>",
    "nvidia.com/gpu.count: 100000000",
    '"nvidia.com/gpu.count": "100000000"',
    "nvidia.com/gpu.memory: " + BIG,
    "NVIDIA-SMI 1.0 Driver Version: " + BIG + " CUDA Version: 1²",
    "|   0  " + " " * 3000 + "On  | 00000000:01:00.0 Off |",
    "| N/A 30C P0 1W / 1W | " + BIG + "MiB / " + BIG + "MiB |",
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  " + BIG + ".1  x",
    "Failed to initialize NVML: \x1b]0;x\x07",
    "GPU 0: " + "A" * 5000,
    "Model: " + " " * 5000 + "x",
    "Python version: 3.11.²",
    "Libc version: glibc-2.x",
    "[pip3] torch==2.0\x1b[31m",
    "index, name, memory.total [MiB]\n², a, " + BIG + " MiB",
    '"' * 3000,
    "," * 5000,
    " :" * 3000,
    "a" * 20000,
)
JSON_HOSTILE: tuple[Any, ...] = (
    None,
    True,
    -1,
    1.5,
    2**70,
    "",
    "2.x",
    "535.104.05\n",
    "\x1b]0;title\x07",
    BIG,
    "²",
    [],
    {},
    [{}] * 300,
    ["x"],
    {"name": 1},
    {"a": {"b": {"c": []}}},
)


@dataclass(frozen=True)
class Reader:
    name: str
    option: str
    seeds: tuple[str, ...]


@dataclass
class Tally:
    reader: str
    inputs: int = 0
    codes: Counter[int] = field(default_factory=Counter)
    tracebacks: int = 0
    broken: int = 0
    hangs: int = 0
    seconds: float = 0.0
    failures: list[tuple[int, str]] = field(default_factory=list)


def readers() -> dict[str, Reader]:
    found = {}
    for folder in sorted(HOSTS.iterdir()):
        seeds = tuple(p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.suffix != ".toml")
        found[f"import:{folder.name}"] = Reader(f"import:{folder.name}", "--import", seeds)
    profiles = [ROOT / "examples/icarus/prod-host.json", ROOT / "tests/fixtures/device-h200/probe.json"]
    profiles += sorted((ROOT / "images").glob("*/host.json"))
    found["host-profile"] = Reader("host-profile", "--host", tuple(p.read_text(encoding="utf-8") for p in profiles))
    return found


# --- mutations -------------------------------------------------------------------------------


def _span(rng: random.Random, text: str) -> tuple[int, int]:
    start = rng.randrange(len(text) + 1)
    return start, min(len(text), start + rng.choice((1, 2, 8, 40, 200)))


def _cut(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    start, end = _span(rng, text)
    return text[:start] + text[end:]


def _insert_hostile(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(HOSTILE) + text[at:]


def _replace_number(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    """A digit of the text replaced by a huge number or by digits that are not ASCII."""
    digits = [i for i, char in enumerate(text) if "0" <= char <= "9"]
    if not digits:
        return _insert_hostile(rng, text, seeds)
    at = rng.choice(digits)
    new = rng.choice((BIG, "100000000", rng.choice(UNICODE_DIGITS), rng.choice(UNICODE_DIGITS) * 3, "-1"))
    return text[:at] + new + text[at + 1 :]


def _repeat(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    """A span or a line repeated, up to hundreds of times (many GPU rows, a long line)."""
    lines = text.splitlines(keepends=True)
    if lines and rng.random() < 0.5:
        at = rng.randrange(len(lines))
        return "".join(lines[:at] + [lines[at]] * rng.choice((2, 10, 300)) + lines[at:])
    start, end = _span(rng, text)
    return text[:start] + text[start:end] * rng.choice((2, 50, 2000)) + text[end:]


def _splice(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    other = rng.choice(seeds)
    start, end = _span(rng, other)
    at = rng.randrange(len(text) + 1)
    return text[:at] + other[start : end * rng.choice((1, 1, 20))] + text[at:]


def _swap_lines(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        return text
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return "".join(lines)


def _noise(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    alphabet = "[]{}()=\"'<>;:,./\\|-_ \t\n0123456789abcxyzMiB²٣\x00\x1b\u2028é"
    at = rng.randrange(len(text) + 1)
    return text[:at] + "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))) + text[at:]


def _json_field(rng: random.Random, text: str, seeds: tuple[str, ...]) -> str:
    """For JSON text: one value, anywhere in the document, replaced by one of another shape."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past what json can read
        return _insert_hostile(rng, text, seeds)
    containers: list[Any] = [data]
    paths: list[tuple[Any, Any]] = []
    while containers:
        value = containers.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            paths.append((value, key))
            containers.append(item)
    if not paths:
        return _insert_hostile(rng, text, seeds)
    parent, key = rng.choice(paths)
    parent[key] = rng.choice(JSON_HOSTILE)
    try:
        return json.dumps(data, indent=rng.choice((None, 2)), ensure_ascii=rng.random() < 0.5)
    except RecursionError:
        return text


MUTATIONS: tuple[Callable[[random.Random, str, tuple[str, ...]], str], ...] = (
    _cut,
    _insert_hostile,
    _insert_hostile,
    _replace_number,
    _replace_number,
    _repeat,
    _splice,
    _swap_lines,
    _noise,
    _json_field,
)


def make_input(reader: Reader, seed: int, number: int) -> bytes:
    """Input ``number`` of ``reader``: a real seed under one to four mutations, as bytes."""
    rng = random.Random(f"{seed}:{reader.name}:{number}")
    text = rng.choice(reader.seeds)
    for _ in range(rng.randint(1, 4)):
        text = rng.choice(MUTATIONS)(rng, text, reader.seeds)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.02:  # a byte that is not UTF-8
        at = rng.randrange(len(data) + 1)
        data = data[:at] + b"\xff" + data[at:]
    return data


# --- running ---------------------------------------------------------------------------------


class Hang(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = envdoctor_main(argv)
    return code, out.getvalue(), err.getvalue()


def run_one(reader: Reader, data: bytes, folder: Path, output: str) -> tuple[int | None, str | None]:
    """(exit code, what broke the promise, or None)."""
    path = folder / "input"
    path.write_bytes(data)
    signal.alarm(HANG_S)
    try:
        code, out, err = _cli(["probe", reader.option, str(path), "--format", output])
        if code not in (0, 1, 2):
            return code, f"exit code {code}"
        if code == 2 and (not err.startswith("envdoctor: error: ") or err.count("\n") != 1):
            return code, f"exit 2 with stderr {err[:200]!r}"
        if code == 0 and output == "json":
            (folder / "again.json").write_text(out, encoding="utf-8")
            again = _cli(["probe", "--host", str(folder / "again.json"), "--format", "json"])
            if again[:2] != (0, out):
                return code, f"--host refused what --import printed: {again[2][:200]!r}"
        return code, None
    except Hang:
        return None, f"hang: no answer within {HANG_S} s"
    except BaseException as exc:  # a traceback: the one thing the promise forbids
        return None, f"traceback: {type(exc).__name__} at {_site(exc)}: {str(exc)[:120]}"
    finally:
        signal.alarm(0)


def _site(exc: BaseException) -> str:
    """Where in envdoctor the exception was raised (its innermost frame in this repository)."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.startswith(str(ROOT))]
    frame = frames[-1] if frames else traceback.extract_tb(exc.__traceback__)[-1]
    return f"{Path(frame.filename).resolve().relative_to(ROOT) if frames else frame.filename}:{frame.lineno}"


def fuzz(reader: Reader, count: int, folder: Path, seed: int = DEFAULT_SEED) -> Tally:
    """Inputs 0 to ``count - 1`` of ``reader``, run in ``folder``."""
    tally = Tally(reader.name)
    started = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    # An internal error then raises out of main, where its site is counted as a traceback.
    debug = os.environ.get("ENVDOCTOR_DEBUG")
    os.environ["ENVDOCTOR_DEBUG"] = "1"
    try:
        for number in range(count):
            code, problem = run_one(reader, make_input(reader, seed, number), folder, ("text", "json")[number % 2])
            tally.inputs += 1
            if code is not None:
                tally.codes[code] += 1
            if problem is not None:
                tally.tracebacks += problem.startswith("traceback")
                tally.hangs += problem.startswith("hang")
                tally.broken += not problem.startswith(("traceback", "hang"))
                tally.failures.append((number, problem))
    finally:
        signal.signal(signal.SIGALRM, previous)
        if debug is None:
            os.environ.pop("ENVDOCTOR_DEBUG", None)
        else:
            os.environ["ENVDOCTOR_DEBUG"] = debug
    tally.seconds = time.perf_counter() - started
    return tally


def _row(tally: Tally) -> str:
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(tally.codes.items()))
    return (
        f"{tally.reader:20} {tally.inputs:6} inputs  exit codes {{{codes}}}  tracebacks {tally.tracebacks}  "
        f"broken {tally.broken}  hangs {tally.hangs}  {tally.seconds:7.1f} s"
    )


def main() -> int:
    every = readers()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="inputs per reader (default: 10000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reader", action="append", choices=sorted(every), help="only these readers")
    parser.add_argument("--dump", nargs=2, metavar=("READER", "NUMBER"), help="write one input to ./fuzz-input")
    args = parser.parse_args()
    if args.dump:
        Path("fuzz-input").write_bytes(make_input(every[args.dump[0]], args.seed, int(args.dump[1])))
        return 0
    tallies = []
    with tempfile.TemporaryDirectory(prefix="envdoctor-fuzz-host-") as scratch:
        for name in args.reader or list(every):
            tally = fuzz(every[name], args.count, Path(scratch), args.seed)
            tallies.append(tally)
            print(_row(tally), flush=True)
    total = Tally("total")
    for tally in tallies:
        total.inputs += tally.inputs
        total.codes.update(tally.codes)
        total.tracebacks += tally.tracebacks
        total.broken += tally.broken
        total.hangs += tally.hangs
        total.seconds += tally.seconds
    print(_row(total))
    for tally in tallies:
        for number, problem in tally.failures[:5]:
            print(f"  {tally.reader} #{number}: {problem}")
    return 1 if any(t.failures for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
