"""A seeded mutation fuzzer for every reader of the project, driven through the CLI entry point.

One implementation, shared by tests/test_fuzz_cli.py (a fast slice in the default suite, a long
run under ``-m fuzz``) and benchmarks/fuzz.py (the figures). Every input starts from a real file
of this repository (tests/fixtures, examples/, images/*/lock, lockfiles/, the project's own
pyproject.toml, the pastes of tests/fixtures/hosts, host profiles), is damaged by a few stacked
mutations (bytes, lines, splices from other seeds, numbers made huge or written in digits that are
not ASCII, JSON values of another shape, hostile tokens: digit runs past Python's int limit, deep
brackets, control characters, ``-r`` lines, include-group entries), and is run as a user would run
it, from inside a scratch folder:

    envdoctor audit FILE --os linux --arch x86_64 --python 3.11
    envdoctor dockerfile LOCK -o out --os linux --arch x86_64 --python 3.11
    envdoctor probe --import PASTE --format text|json      (one reader per folder of tests/fixtures/hosts)
    envdoctor probe --host PROFILE --format text|json

The promise checked: exit 0, 1 or 2; on exit 2, exactly one ``envdoctor: error:`` line on stderr;
no exception out of ``main``; no input runs for more than a few seconds; and a profile that
``probe --import`` printed as JSON is read back unchanged by ``probe --host`` (what ``probe -o``
writes, ``--host`` reads). Input ``i`` of a reader depends only on (seed, reader, i), so any
failure is reproduced by its number.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOSTS = ROOT / "tests/fixtures/hosts"
HOST_FLAGS = ("--os", "linux", "--arch", "x86_64", "--python", "3.11")
LOCK_MARK = "# Written by `envdoctor lock`"
# Past this an input counts as a hang (the default suite's inputs take milliseconds).
HANG_S = 10.0
DEFAULT_SEED = 11

_BIG = "1" * 5000
HOSTILE = (
    # Numbers past Python's 4,300-digit int conversion limit, and long versions.
    _BIG,
    "9" * 4301,
    ".1" * 3000,
    "1." + _BIG,
    # Counts past any machine, and digits that are not ASCII ("²".isdigit() is true, int("²") fails).
    "100000000",
    "4294967296",
    "-1",
    "\u0668.\u0666",
    f"torch=={_BIG}",
    f"numpy>={_BIG},<2",
    f"numpy<{_BIG}",
    f"x==1.0+{_BIG}",
    f"y~=1.{_BIG}",
    f"z==1.0a{_BIG}",
    f"w==={_BIG}",
    f"torch=={'1.' * 3000}0",
    f"a; python_version > '{_BIG}'",
    f"b; python_full_version == '3.11.{_BIG}'",
    f'version = "{_BIG}"',
    f'requires-python = ">={_BIG}"',
    f'requires-python = ">=3.{_BIG}"',
    f"marker = \"python_version >= '{_BIG}'\"",
    f"x = {_BIG}",
    # The same, as entries of a TOML list of requirements (valid TOML where a list goes on).
    f'"torch=={_BIG}",',
    f'"tensorflow==2.16.{_BIG}",',
    f'"torch>=2,<{_BIG}",',
    f'"jax==0.4.1+{_BIG}",',
    f"\"numpy; python_version > '{_BIG}'\",",
    # Depth.
    "[" * 5000,
    "]" * 5000,
    "{" * 3000,
    "(" * 3000,
    "a = " + "[" * 5000 + "]" * 5000,
    "b = " + "{c = " * 2000 + "1" + "}" * 2000,
    "d = " + "[" * 60 + "]" * 60,
    "c; " + "(" * 2000 + "python_version > '3'" + ")" * 2000,
    "RUN " + "[" * 3000 + "]" * 3000,
    '{"a":' * 3000,
    "<a>" * 3000,
    # Control characters and line breaks of other kinds.
    "\x00",
    "\x1b]0;title\x07",
    "\x1b[31m",
    "\x1b[2J",
    "\x9b31m",
    "\n::error::forged\n",
    "\r",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "\\\n",
    "\t",
    "²",
    # Includes and options.
    "-r extra.txt",
    "-r extra.txt\n-r extra.txt",
    "-c extra.txt",
    "-r requirements.txt",
    "-r /etc/hostname",
    "-r ../../outside.txt",
    "-r " + "n" * 300,
    "-r " + "sub/" * 100 + "x.txt",
    "-r \x00x",
    "-r",
    "--hash=sha256:" + "0" * 64,
    "--index-url",
    "--extra-index-url https://pypi.org/simple\n--find-links /tmp",
    "-e .",
    "-e git+https://example.org/o/r@v1#egg=z",
    "./local",
    "https://example.org/x-1.0-py3-none-any.whl",
    "name @ file:///etc/passwd",
    # pyproject and [tool.envdoctor] shapes.
    '{include-group = "dev"}',
    '{include-group = "all"}',
    '{include-group = "test"}, {include-group = "test"}',
    "{include-group = 1}",
    "tool = 1",
    "[tool.envdoctor]\n",
    "[tool]\nenvdoctor = 1\n",
    'tool.envdoctor = "x"',
    "ignore = 5",
    'ignore = ["ED101", 1]',
    'fail-on = "bogus"',
    "host = [1]",
    'host = "nowhere.json"',
    'host = ["host.json", "host.json"]',
    "[project]\n",
    "project = 1",
    "dependencies = 1",
    'dependencies = ["a", 1]',
    "optional-dependencies = []",
    "[dependency-groups]\n",
    "dev = 1",
    'all = [{include-group = "all"}]',
    '{include-group = "all"},',
    '{include-group = "dev"}, {include-group = "dev"},',
    '{include-group = "g0"},\n{include-group = "d0"},',
    # A 2,000-deep chain and a diamond of 40 (each group includes the next twice), as lines of
    # [dependency-groups]: reached when an include of g0 or d0 lands in a requested group.
    "".join(f'g{n} = ["p{n}", {{include-group = "g{n + 1}"}}]\n' for n in range(2000)) + "g2000 = []",
    "".join(f'd{n} = [{{include-group = "d{n + 1}"}}, {{include-group = "d{n + 1}"}}]\n' for n in range(40))
    + 'd40 = ["six"]',
    # pylock shapes.
    "[[packages]]\n",
    'name = "a"',
    "packages = 1",
    'lock-version = "2.0"',
    "wheels = [{}]",
    'wheels = [{ name = "x-1-py3-none-any.whl", hashes = { sha256 = "00" } }]',
    'sdist = { name = "x.tar.gz", hashes = {} }',
    'marker = "os_name ==',
    'vcs = { type = "git", url = "x", commit-id = "0" }',
    'directory = { path = "." }',
    # Dockerfile shapes.
    f'RUN ["pip", "install", "torch=={_BIG}"]',
    f"ARG V={_BIG}",
    "RUN pip install torch==${V}",
    "FROM ",
    "FROM scratch AS ",
    "FROM python:3.11@sha256:",
    "ENV A=${A}${A}${A}",
    "COPY requirements.txt /r.txt\nRUN pip install -r /r.txt",
    "RUN pip install -r extra.txt",
    'RUN ["pip", "install", "--extra-index-url", "x\\ny"]',
    "RUN pip install --extra-index-url 'a b' c",
    "RUN apt-get install -y " + "libcudnn8=" + _BIG,
    # Lockfile header lines.
    "# target: linux x86_64, Python 3." + _BIG,
    "# target: linux x86_64, Python 3.11 (x86_64-unknown-linux-gnu); NVIDIA driver " + _BIG,
    "# inputs: sha256:" + "0" * 64 + " (\x00)",
    "--index-url https://pypi.org/simple",
    "--find-links /tmp",
    # Pasted host outputs (nvidia-smi, collect_env, /proc, Kubernetes nodes).
    "<!ENTITY x 'y'>",
    "<!DOCTYPE x SYSTEM 'file:///etc/passwd'>",
    "nvidia.com/gpu.count: 100000000",
    '"nvidia.com/gpu.count": "100000000"',
    "nvidia.com/gpu.memory: " + _BIG,
    "NVIDIA-SMI 1.0 Driver Version: " + _BIG + " CUDA Version: 1²",
    "|   0  " + " " * 3000 + "On  | 00000000:01:00.0 Off |",
    "| N/A 30C P0 1W / 1W | " + _BIG + "MiB / " + _BIG + "MiB |",
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  " + _BIG + ".1  x",
    "Failed to initialize NVML: \x1b]0;x\x07",
    "GPU 0: " + "A" * 5000,
    "Model: " + " " * 5000 + "x",
    "Python version: 3.11.²",
    "Libc version: glibc-2.x",
    "[pip3] torch==2.0\x1b[31m",
    "index, name, memory.total [MiB]\n², a, " + _BIG + " MiB",
    '"' * 3000,
    "," * 5000,
    " :" * 3000,
    "a" * 20000,
)
UNICODE_DIGITS = ("²", "³", "⁰", "\u0663", "\u0661", "\u096f", "\uff10", "\U0001d7d7")
# Values of every JSON shape, put where a profile or a Kubernetes paste holds another.
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
    _BIG,
    "²",
    [],
    {},
    [{}] * 300,
    ["x"],
    {"name": 1},
    {"a": {"b": {"c": []}}},
)
_ALPHABET = "[]{}()=\"'<>;~!,.*@#\\\n\t +-_:/$`|&%^?" + "0123456789" + "abcxyzMiB" + "é²\u0663\x00\x1b\u2028"


@dataclass(frozen=True)
class Seed:
    """A starting point: the file the mutations damage, and the files beside it, kept whole."""

    label: str
    target: str
    text: str
    siblings: tuple[tuple[str, str], ...] = ()
    # Flags a user would pass for this file (--extra, --group).
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reader:
    name: str
    seeds: tuple[Seed, ...]
    argv: Callable[[Seed], list[str]]
    # Text that must stay at the start of the target (the lock mark: without it `dockerfile`
    # would resolve the file as requirements, which needs the network).
    keep_prefix: str = ""


@dataclass(frozen=True)
class Case:
    reader: str
    number: int
    seed: str
    files: tuple[tuple[str, bytes], ...]
    argv: tuple[str, ...]

    @property
    def target(self) -> tuple[str, bytes]:
        return self.files[0]


@dataclass(frozen=True)
class Crash:
    """An exception that escaped ``main``: where it was raised, and where envdoctor was."""

    kind: str
    site: str  # the innermost frame
    envdoctor_site: str  # the innermost frame in envdoctor/
    message: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.envdoctor_site)


@dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    crash: Crash | None = None
    hang: bool = False
    # What ``probe --host`` answered to the profile ``probe --import`` printed, when it did not read it back.
    unread: str = ""

    def problems(self) -> list[str]:
        """How this run broke the promise; empty when it kept it."""
        found = []
        if self.hang:
            found.append(f"ran for more than {HANG_S:.0f} s")
        if self.crash is not None:
            found.append(f"traceback: {self.crash.kind} at {self.crash.envdoctor_site} ({self.crash.site})")
        if self.code is not None and self.code not in (0, 1, 2):
            found.append(f"exit code {self.code}")
        if self.code == 2 and not re.fullmatch("envdoctor: error: [^\n]*\n", self.stderr):
            found.append(f"exit 2 with {self.stderr.count(chr(10))} lines on stderr, not one `envdoctor: error:`")
        if self.unread:
            found.append("probe --host did not read back what probe --import printed")
        if "Traceback (most recent call last)" in self.stderr + self.stdout:
            found.append("a traceback printed")
        return found


# Seeds: real files of the repository.


def _read(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def _glob(pattern: str) -> list[str]:
    return sorted(str(path.relative_to(ROOT)) for path in ROOT.glob(pattern))


def _requirements_seeds() -> tuple[Seed, ...]:
    files = [
        "examples/icarus/requirements.txt",
        *_glob("images/*/requirements.in"),
        *_glob("tests/fixtures/images/*/requirements.in"),
        *_glob("lockfiles/requirements.*.txt")[:1],
        *_glob("lockfiles/action/requirements.*.txt")[:1],
        *_glob("tests/fixtures/images/*/requirements.*.txt"),
    ]
    extra = _read("images/cpu/requirements.in")
    return tuple(
        Seed(name, "requirements.txt", "-r extra.txt\n" + _read(name), (("extra.txt", extra),)) for name in files
    )


_GROUPS = """
[dependency-groups]
test = [
    "pytest",
    "hypothesis>=6",
]
lint = ["ruff", "mypy"]
dev = [
    {include-group = "test"},
    {include-group = "lint"},
    "pre-commit",
]
all = [
    {include-group = "dev"},
    {include-group = "test"},
]
"""


def _pyproject_seeds() -> tuple[Seed, ...]:
    own = _read("pyproject.toml")
    with_groups = own + _GROUPS
    return (
        Seed("pyproject.toml", "pyproject.toml", own),
        Seed("pyproject.toml --extra dev", "pyproject.toml", own, options=("--extra", "dev")),
        Seed("pyproject.toml --extra action", "pyproject.toml", own, options=("--extra", "action")),
        Seed("pyproject.toml + groups --group dev", "pyproject.toml", with_groups, options=("--group", "dev")),
        Seed(
            "pyproject.toml + groups --group all --extra dev",
            "pyproject.toml",
            with_groups,
            options=("--group", "all", "--extra", "dev"),
        ),
    )


_TOOL_TABLES = (
    '\n[tool.envdoctor]\nignore = ["ED101", "reproducibility"]\nfail-on = "warning"\n',
    '\n[tool.envdoctor]\nhost = "host.json"\n',
    '\n[tool.envdoctor]\nhost = ["host.json"]\nignore = ["not-judged"]\nfail-on = "error"\n',
)


def _tool_seeds() -> tuple[Seed, ...]:
    own = _read("pyproject.toml")
    siblings = (
        ("requirements.txt", _read("examples/icarus/requirements.txt")),
        ("host.json", _read("examples/icarus/prod-host.json")),
    )
    return tuple(
        Seed(f"pyproject.toml + [tool.envdoctor] #{n}", "pyproject.toml", own + table, siblings)
        for n, table in enumerate(_TOOL_TABLES)
    )


def _pylock_seeds() -> tuple[Seed, ...]:
    files = [
        *_glob("lockfiles/pylock.*.toml")[:1],
        *_glob("lockfiles/action/pylock.*.toml")[:1],
        *_glob("images/*/lock/pylock.*.toml"),
        *_glob("tests/fixtures/images/*/pylock.*.toml"),
    ]
    return tuple(Seed(name, "pylock.toml", _read(name)) for name in files)


_DOCKERFILES = (
    # Hand-written, in the shapes the reader was built for (the image Dockerfiles are our own output).
    "FROM nvidia/cuda:11.8.0-devel-ubuntu22.04 AS build\nARG V=2.2.0\n"
    "RUN pip install torch==${V} --index-url https://download.pytorch.org/whl/cu118 \\\n && apt-get install -y gcc\n"
    "FROM python:3.11-slim\nENV LD_LIBRARY_PATH=/usr/local/cuda/lib64\nCOPY --from=build /x /x\n",
    "FROM python:3.11-slim\nCOPY requirements.txt /tmp/requirements.txt\n"
    'RUN ["pip", "install", "--no-cache-dir", "-r", "/tmp/requirements.txt"]\n'
    "RUN pip install -r extra.txt 'numpy<2; python_version < \"3.12\"'\n",
)


def _dockerfile_seeds() -> tuple[Seed, ...]:
    siblings = (
        ("requirements.txt", _read("examples/icarus/requirements.txt")),
        ("extra.txt", _read("images/cpu/requirements.in")),
    )
    real = [Seed(name, "Dockerfile", _read(name), siblings) for name in _glob("images/*/Dockerfile")]
    written = [Seed(f"Dockerfile #{n}", "Dockerfile", text, siblings) for n, text in enumerate(_DOCKERFILES)]
    return tuple(real + written)


def _lock_pairs() -> list[tuple[str, str]]:
    """(requirements lock, the pylock beside it) for every envdoctor lockfile in the repository."""
    locks = [
        *_glob("images/*/lock/requirements.*.txt"),
        *_glob("lockfiles/requirements.*.txt")[:1],
        *_glob("lockfiles/action/requirements.*.txt")[:1],
        *_glob("tests/fixtures/images/*/requirements.*.txt"),
    ]
    pairs = []
    for lock in locks:
        pylock = lock.replace("/requirements.", "/pylock.").removesuffix(".txt") + ".toml"
        pairs.append((lock, pylock))
    return pairs


def _lock_seeds() -> tuple[Seed, ...]:
    seeds = []
    for lock, pylock in _lock_pairs():
        name, pylock_name = Path(lock).name, Path(pylock).name
        siblings = ((pylock_name, _read(pylock)),) if (ROOT / pylock).is_file() else ()
        seeds.append(Seed(lock, name, _read(lock), siblings))
    return tuple(seeds)


def _pylock_beside_seeds() -> tuple[Seed, ...]:
    seeds = []
    for lock, pylock in _lock_pairs():
        if (ROOT / pylock).is_file():
            seeds.append(Seed(pylock, Path(pylock).name, _read(pylock), ((Path(lock).name, _read(lock)),)))
    return tuple(seeds)


def _formats(label: str, target: str, text: str) -> tuple[Seed, ...]:
    """A host input, printed as text (escapes shown) and as JSON (then read back with --host)."""
    return tuple(
        Seed(f"{label} --format {form}", target, text, options=("--format", form)) for form in ("text", "json")
    )


def _paste_seeds(folder: str) -> tuple[Seed, ...]:
    """The real pastes of one --import format (the .toml beside each says where it came from)."""
    names = [name for name in _glob(f"tests/fixtures/hosts/{folder}/*") if not name.endswith(".toml")]
    return tuple(seed for name in names for seed in _formats(name, "paste.txt", _read(name)))


def _profile_seeds() -> tuple[Seed, ...]:
    names = ["examples/icarus/prod-host.json", "tests/fixtures/device-h200/probe.json", *_glob("images/*/host.json")]
    return tuple(seed for name in names for seed in _formats(name, "host.json", _read(name)))


def _audit(seed: Seed) -> list[str]:
    return ["audit", seed.target, *seed.options, *HOST_FLAGS]


def _audit_requirements(seed: Seed) -> list[str]:
    return ["audit", "requirements.txt", *HOST_FLAGS]


def _dockerfile_of_lock(seed: Seed) -> list[str]:
    return ["dockerfile", seed.target, "-o", "out", *HOST_FLAGS]


def _dockerfile_beside(seed: Seed) -> list[str]:
    return ["dockerfile", seed.siblings[0][0], "-o", "out", *HOST_FLAGS]


def _import(seed: Seed) -> list[str]:
    return ["probe", "--import", seed.target, *seed.options]


def _host(seed: Seed) -> list[str]:
    return ["probe", "--host", seed.target, *seed.options]


def readers() -> dict[str, Reader]:
    """Every reader, by name, with its seeds and the command that reads it."""
    found = [
        Reader("requirements", _requirements_seeds(), _audit),
        Reader("pyproject", _pyproject_seeds(), _audit),
        Reader("tool.envdoctor", _tool_seeds(), _audit_requirements),
        Reader("pylock", _pylock_seeds(), _audit),
        Reader("dockerfile", _dockerfile_seeds(), _audit),
        Reader("lock", _lock_seeds(), _dockerfile_of_lock, keep_prefix=LOCK_MARK),
        Reader("lock+pylock", _pylock_beside_seeds(), _dockerfile_beside),
        *(Reader(f"import:{path.name}", _paste_seeds(path.name), _import) for path in sorted(HOSTS.iterdir())),
        Reader("host-profile", _profile_seeds(), _host),
    ]
    return {reader.name: reader for reader in found}


# Mutations: each takes the text and a random source, and returns new text.


def _position(text: str, rng: random.Random) -> int:
    if not text:
        return 0
    if rng.random() < 0.5:  # at the start of a line, where most syntax begins
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        return rng.choice(starts)
    return rng.randrange(len(text) + 1)


def _insert_hostile(text: str, rng: random.Random, pool: list[str]) -> str:
    at = _position(text, rng)
    token = rng.choice(HOSTILE)
    return text[:at] + token + ("\n" if rng.random() < 0.5 else "") + text[at:]


def _replace_number(text: str, rng: random.Random, pool: list[str]) -> str:
    """A number already there (a version, a count, a GPU index), or one digit of it, made thousands of
    digits long, past any machine, negative, or written in digits that are not ASCII."""
    runs = list(re.finditer("[0-9]+" if rng.random() < 0.5 else "[0-9]", text))
    if not runs:
        return _insert_hostile(text, rng, pool)
    run = rng.choice(runs)
    other = rng.choice(UNICODE_DIGITS)
    new = rng.choice(("1" * 4301, "1" * 5000, "1" * 40, "1" * 200, "100000000", "-1", other, other * 3))
    return text[: run.start()] + new + text[run.end() :]


def _json_field(text: str, rng: random.Random, pool: list[str]) -> str:
    """For JSON text: one value, anywhere in the document, replaced by one of another shape."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past what json can read
        return _insert_hostile(text, rng, pool)
    containers: list[Any] = [data]
    places: list[tuple[Any, Any]] = []
    while containers:
        value = containers.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            places.append((value, key))
            containers.append(item)
    if not places:
        return _insert_hostile(text, rng, pool)
    parent, key = rng.choice(places)
    parent[key] = rng.choice(JSON_HOSTILE)
    try:
        return json.dumps(data, indent=rng.choice((None, 2)), ensure_ascii=rng.random() < 0.5)
    except RecursionError:
        return text


def _deepen(text: str, rng: random.Random, pool: list[str]) -> str:
    """A value wrapped in thousands of brackets."""
    values = list(re.finditer(r"= *", text))
    depth = rng.choice((65, 1000, 5000))
    opening, closing = rng.choice((("[", "]"), ("{a = ", "}"), ("(", ")")))
    if not values:
        return opening * depth + text + closing * depth
    value = rng.choice(values)
    end = text.find("\n", value.end())
    end = len(text) if end < 0 else end
    return text[: value.end()] + opening * depth + text[value.end() : end] + closing * depth + text[end:]


def _delete(text: str, rng: random.Random, pool: list[str]) -> str:
    at = _position(text, rng)
    return text[:at] + text[at + rng.randint(1, 200) :]


def _duplicate(text: str, rng: random.Random, pool: list[str]) -> str:
    at = _position(text, rng)
    piece = text[at : at + rng.randint(1, 300)]
    # Up to hundreds of times: many GPU rows, a long line.
    return text[:at] + piece * rng.choice((2, 3, 4, 300)) + text[at:]


def _noise(text: str, rng: random.Random, pool: list[str]) -> str:
    at = _position(text, rng)
    return text[:at] + "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 12))) + text[at:]


def _lines(text: str, rng: random.Random, pool: list[str]) -> str:
    lines = text.split("\n")
    if len(lines) < 2:
        return _noise(text, rng, pool)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    action = rng.randrange(4)
    if action == 0:
        del lines[i]
    elif action == 1:
        lines.insert(j, lines[i])
    elif action == 2:
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    return "\n".join(lines)


def _splice(text: str, rng: random.Random, pool: list[str]) -> str:
    """Lines of another real file, put in the middle of this one."""
    donor = rng.choice(pool).split("\n")
    start = rng.randrange(len(donor))
    piece = "\n".join(donor[start : start + rng.randint(1, 8)])
    at = _position(text, rng)
    return text[:at] + piece + "\n" + text[at:]


MUTATIONS: tuple[Callable[[str, random.Random, list[str]], str], ...] = (
    _insert_hostile,
    _insert_hostile,
    _replace_number,
    _replace_number,
    _deepen,
    _delete,
    _duplicate,
    _noise,
    _noise,
    _lines,
    _lines,
    _splice,
    _json_field,
)


def _damage_bytes(data: bytes, rng: random.Random) -> bytes:
    """A byte flipped or a byte sequence that is not UTF-8."""
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", bytes([rng.randrange(256)]))) + data[at + 1 :]


def mutate(seed: Seed, reader: Reader, rng: random.Random, pool: list[str]) -> bytes:
    """The seed's target, damaged by one to four stacked mutations."""
    prefix = reader.keep_prefix if seed.text.startswith(reader.keep_prefix) else ""
    text = seed.text[len(prefix) :]
    for _ in range(rng.randint(1, 4)):
        text = rng.choice(MUTATIONS)(text, rng, pool)
    data = (prefix + text).encode("utf-8", "surrogatepass")
    if rng.random() < 0.03:
        data = prefix.encode() + _damage_bytes(data[len(prefix) :], rng)
    return data


def cases(reader: Reader, count: int, seed: int = DEFAULT_SEED, start: int = 0) -> Iterator[Case]:
    """Inputs ``start`` to ``start + count`` of a reader; each depends only on (seed, reader, number)."""
    pool = [s.text for s in reader.seeds]
    for number in range(start, start + count):
        rng = random.Random(f"{seed}:{reader.name}:{number}")
        chosen = rng.choice(reader.seeds)
        target = (chosen.target, mutate(chosen, reader, rng, pool))
        files = (target, *((name, text.encode()) for name, text in chosen.siblings))
        yield Case(reader.name, number, chosen.label, files, tuple(reader.argv(chosen)))


# Running one input.


class _Hang(BaseException):
    """Raised by the timer in the middle of a run that took too long (not an Exception, so
    that no ``except Exception`` in envdoctor swallows it)."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: Any) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _debug() -> Iterator[None]:
    """ENVDOCTOR_DEBUG=1: main lets an internal error's exception out (it would otherwise print one
    line and exit 3), so that the fuzzer can say where it was raised."""
    saved = os.environ.get("ENVDOCTOR_DEBUG")
    os.environ["ENVDOCTOR_DEBUG"] = "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["ENVDOCTOR_DEBUG"]
        else:
            os.environ["ENVDOCTOR_DEBUG"] = saved


def _no_network(*args: Any, **kwargs: Any) -> Any:
    raise OSError("the network is off in the fuzzer")


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """No name lookups and no connections: an sdist the pylock points at fails fast, as offline."""
    saved = (socket.getaddrinfo, socket.create_connection, socket.socket.connect)
    socket.getaddrinfo = _no_network
    socket.create_connection = _no_network
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.getaddrinfo, socket.create_connection, socket.socket.connect = saved  # type: ignore[method-assign]


def _crash(exc: BaseException) -> Crash:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if f"{os.sep}envdoctor{os.sep}" in frame.filename]
    last = frames[-1] if frames else None
    mine = ours[-1] if ours else last

    def where(frame: traceback.FrameSummary | None) -> str:
        if frame is None:
            return "?"
        name = frame.filename
        for marker in (f"{os.sep}envdoctor{os.sep}", f"{os.sep}site-packages{os.sep}", f"{os.sep}lib{os.sep}python"):
            if marker in name:
                name = name[name.index(marker) + 1 :]
                break
        return f"{name}:{frame.lineno}"

    return Crash(type(exc).__name__, where(last), where(mine), str(exc)[:160])


def _clear(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run_case(case: Case, folder: Path) -> Outcome:
    """Write the case's files into ``folder`` (the current directory) and run the command there."""
    from envdoctor.cli import main

    _clear(folder)
    for name, data in case.files:
        (folder / name).write_bytes(data)
    stdout, stderr = io.StringIO(), io.StringIO()
    code: int | None = None
    crash: Crash | None = None
    hang = False
    unread = ""
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), _debug(), _deadline(HANG_S):
            code = main(list(case.argv))
            if code == 0 and case.argv[:2] == ("probe", "--import") and case.argv[-2:] == ("--format", "json"):
                unread = _read_back(stdout.getvalue(), folder)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    except _Hang:
        hang = True
    except Exception as exc:
        crash = _crash(exc)
    return Outcome(code, stdout.getvalue(), stderr.getvalue(), time.perf_counter() - started, crash, hang, unread)


def _read_back(profile: str, folder: Path) -> str:
    """What ``probe --host`` says of a profile ``probe --import`` printed (what ``probe -o`` writes,
    ``--host`` reads): nothing when it prints the same profile back."""
    from envdoctor.cli import main

    (folder / "again.json").write_text(profile, encoding="utf-8", errors="surrogatepass")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["probe", "--host", "again.json", "--format", "json"])
    return "" if (code, stdout.getvalue()) == (0, profile) else f"exit {code}: {stderr.getvalue()[:160]}"


# Shrinking a failing input to a small reproducer.


def shrink(case: Case, folder: Path, same: Callable[[Outcome], bool], budget: int = 400) -> Case:
    """A smaller target file that still fails the same way: lines, then chunks, then characters removed."""
    name, data = case.target
    text = data.decode("utf-8", "surrogateescape")
    runs = 0

    def still(candidate: str) -> bool:
        nonlocal runs
        runs += 1
        files = ((name, candidate.encode("utf-8", "surrogateescape")), *case.files[1:])
        return same(run_case(Case(case.reader, case.number, case.seed, files, case.argv), folder))

    for unit in ("lines", "chunks"):
        pieces = text.split("\n") if unit == "lines" else re.findall(r"(?s).{1,64}", text)
        joiner = "\n" if unit == "lines" else ""
        size = max(1, len(pieces) // 2)
        while size >= 1 and runs < budget:
            i, changed = 0, False
            while i < len(pieces) and runs < budget:
                candidate = pieces[:i] + pieces[i + size :]
                if candidate != pieces and still(joiner.join(candidate)):
                    pieces, changed = candidate, True
                else:
                    i += size
            if not changed:
                size //= 2
        text = joiner.join(pieces)
    files = ((name, text.encode("utf-8", "surrogateescape")), *case.files[1:])
    return Case(case.reader, case.number, case.seed, files, case.argv)


def shown(data: bytes, limit: int = 300) -> str:
    """An input for a report: runs of one character written as ``<'1'x5000>``, escapes visible."""
    text = data.decode("utf-8", "backslashreplace")
    text = re.sub(r"(.)\1{19,}", lambda m: f"<{m.group(1)!r}x{len(m.group(0))}>", text, flags=re.S)
    text = text.encode("unicode_escape").decode("ascii")
    return text[:limit] + ("..." if len(text) > limit else "")


# A whole run.


@dataclass
class Tally:
    reader: str
    inputs: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[Case, Outcome]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tracebacks(self) -> int:
        return sum(1 for _, outcome in self.failures if outcome.crash is not None)

    @property
    def hangs(self) -> int:
        return sum(1 for _, outcome in self.failures if outcome.hang)


def fuzz(reader: Reader, count: int, folder: Path, seed: int = DEFAULT_SEED, start: int = 0) -> Tally:
    """Run ``count`` inputs of one reader with ``folder`` as the current directory."""
    tally = Tally(reader.name)
    previous = Path.cwd()
    os.chdir(folder)
    started = time.perf_counter()
    try:
        with offline():
            for case in cases(reader, count, seed, start):
                outcome = run_case(case, folder)
                tally.inputs += 1
                key = "hang" if outcome.hang else "crash" if outcome.crash else str(outcome.code)
                tally.codes[key] += 1
                if outcome.problems():
                    tally.failures.append((case, outcome))
    finally:
        os.chdir(previous)
    tally.seconds = time.perf_counter() - started
    return tally


def signature(outcome: Outcome) -> tuple[str, ...]:
    """What makes two failures the same: the exception and where envdoctor was, or the broken promise."""
    if outcome.crash is not None:
        return outcome.crash.key
    return tuple(outcome.problems())
