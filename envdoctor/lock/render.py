"""envdoctor's lockfiles: a hash-pinned requirements file and a PEP 751 pylock per target (the
``Lock`` of ``envdoctor.lock.model``, written by its TOML writer), both under one header that says
what made them. Same inputs, same bytes: no times, no machine paths."""

from __future__ import annotations

import re
from collections.abc import Sequence

from envdoctor import __version__
from envdoctor.errors import EnvdoctorError
from envdoctor.lock.model import HASH, NAME, VERSION, LockedPackage, option_line
from envdoctor.lock.steering import Steering
from envdoctor.requirements.model import IndexOptions
from envdoctor.safety import matches, one_line

PYPI = "https://pypi.org/simple"
# The header's first words, by which envdoctor's own lockfiles are known.
LOCK_MARK = "# Written by `envdoctor lock`"
DIGEST_LINE = re.compile(r"^# inputs: (?P<digest>sha256:[0-9a-f]{64})", re.MULTILINE)
_PYTHON_LINE = re.compile(r"^# target: .*Python (?P<python>3\.\d+)", re.MULTILINE)


def header(
    digest: str, inputs: list[str], target: str, steering: Steering, *, resolver: str, exclude_newer: str | None
) -> list[str]:
    from envdoctor.kb import newest_checked

    lines = [
        f"{LOCK_MARK}; do not edit. `envdoctor lock --check` says whether it is current.",
        f"# envdoctor: {__version__}",
        f"# inputs: {digest} ({', '.join(one_line(name, 'an input file name') for name in inputs)})",
        f"# target: {target}",
        f"# resolver: {resolver}",
        f"# knowledge base: facts checked up to {newest_checked()}",
    ]
    if exclude_newer:
        lines.append(f"# exclude-newer: {exclude_newer}")
    if steering.constraints or steering.torch_index or steering.notes or steering.rewrites:
        lines.append("# steering (what the knowledge base added):")
        lines += [f"#   {old} locked as {new}: {why}" for old, new, why in steering.rewrites]
        lines += [f"#   constraint {c.requirement}: {c.reason}" for c in steering.constraints]
        if steering.torch_index is not None:
            index = steering.torch_index
            lines.append(f"#   index {index.url} for {', '.join(index.packages)} only: {index.reason}")
        lines += [f"#   note: {note}" for note in steering.notes]
    # Each is a comment: a line break in any value (a driver string, a file name) would end it.
    return [one_line(line, "a lockfile header line") for line in lines]


def requirements_lock(
    head: list[str], packages: Sequence[LockedPackage], indexes: IndexOptions, steering: Steering
) -> str:
    """The hash-pinned requirements file: every line is an option envdoctor writes, with one
    checked token, or a checked name==version with checked hashes; nothing else can get in."""
    lines = [*head, ""]
    if not (indexes.no_index and indexes.find_links):
        lines.append(option_line("--index-url", indexes.index_url or PYPI))
    lines += [
        option_line("--extra-index-url", url) for url in indexes.extra_index_urls if "download.pytorch.org" not in url
    ]
    if steering.torch_index is not None:
        url = steering.torch_index.url
        lines.append(option_line("--find-links" if not url.startswith("http") else "--extra-index-url", url))
    lines += [option_line("--find-links", link) for link in indexes.find_links]
    if indexes.no_index:
        lines.append("--no-index")
    for package in packages:
        if not package.hashes:
            raise EnvdoctorError(f"{package.name} {package.version}: the resolver gave no hash for any of its files")
        name, version = matches(NAME, package.name, "a package name"), matches(VERSION, package.version, "a version")
        lines.append(f"{name}=={version} \\")
        hashes = [matches(HASH, digest, "a hash") for digest in package.hashes]
        lines += [f"    --hash={digest} \\" for digest in hashes[:-1]]
        lines.append(f"    --hash={hashes[-1]}")
    return "\n".join(lines) + "\n"


def recorded_digest(text: str) -> str | None:
    match = DIGEST_LINE.search(text)
    return match.group("digest") if match else None


def recorded_python(text: str) -> str | None:
    """The target's Python (major.minor) the header names."""
    match = _PYTHON_LINE.search(text)
    return match.group("python") if match else None
