"""envdoctor's lockfiles: a hash-pinned requirements file and a PEP 751 pylock per target, both
under one header that says what made them. Same inputs, same bytes: no times, no machine paths."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import unquote, urlparse

from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError

from envdoctor import __version__
from envdoctor.errors import EnvdoctorError, InputError
from envdoctor.lock.steering import Steering
from envdoctor.requirements.model import IndexOptions
from envdoctor.safety import UnsafeValue, matches, one_line, one_token, quote, snippet
from envdoctor.structured import parse_toml

PYPI = "https://pypi.org/simple"
# The header's first words, by which envdoctor's own lockfiles are known.
LOCK_MARK = "# Written by `envdoctor lock`"
DIGEST_LINE = re.compile(r"^# inputs: (?P<digest>sha256:[0-9a-f]{64})", re.MULTILINE)
_PYTHON_LINE = re.compile(r"^# target: .*Python (?P<python>3\.\d+)", re.MULTILINE)
_FILE_URL = re.compile(r'url = "(?P<url>file://[^"]+)"')
# What a lockfile line may hold, in full: PEP 503 names, PEP 440 versions, sha256 digests.
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9.+!_-]{1,128}")
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
# The options a requirements lockfile holds, each with one value (and --no-index alone).
LOCK_OPTIONS = ("--index-url", "--extra-index-url", "--find-links")


class LockedPackage(NamedTuple):
    name: str
    version: str
    hashes: tuple[str, ...]


def header(
    digest: str, inputs: list[str], target: str, steering: Steering, *, resolver: str, exclude_newer: str | None
) -> list[str]:
    from envdoctor.kb.check import newest_checked

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


def parse_pylock(text: str) -> list[LockedPackage]:
    """The packages of a pylock the resolver wrote, validated, each with the sha256 of its files."""
    try:
        data = parse_toml(text, "pylock.toml")
        Pylock.from_dict(data)
    except (InputError, PylockValidationError, PylockUnsupportedVersionError) as exc:
        raise EnvdoctorError(
            f"the resolver wrote a pylock.toml that does not validate: {snippet(str(exc), 120)}"
        ) from None
    packages = []
    for package in data.get("packages", []):
        hashes = [
            f"sha256:{wheel['hashes']['sha256']}"
            for wheel in package.get("wheels", [])
            if "sha256" in wheel.get("hashes", {})
        ]
        sdist = package.get("sdist")
        if sdist and "sha256" in sdist.get("hashes", {}):
            hashes.append(f"sha256:{sdist['hashes']['sha256']}")
        packages.append(LockedPackage(package["name"], str(package["version"]), tuple(sorted(set(hashes)))))
    return sorted(packages, key=lambda p: p.name)


def requirements_lock(head: list[str], packages: list[LockedPackage], indexes: IndexOptions, steering: Steering) -> str:
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
        name, version = matches(_NAME, package.name, "a package name"), matches(_VERSION, package.version, "a version")
        lines.append(f"{name}=={version} \\")
        hashes = [matches(_HASH, digest, "a hash") for digest in package.hashes]
        lines += [f"    --hash={digest} \\" for digest in hashes[:-1]]
        lines.append(f"    --hash={hashes[-1]}")
    return "\n".join(lines) + "\n"


def option_line(option: str, value: str) -> str:
    """``--option value``, the value one token that cannot be read as another option."""
    token = one_token(value, f"{option} value")
    if token.startswith("-"):
        raise UnsafeValue(f"{option} value {quote(token)} would read as an option")
    return f"{option} {token}"


def pylock_file(head: list[str], pylock_text: str, lock_folder: Path, locations: list[str]) -> str:
    """The resolver's pylock under envdoctor's header, with local files as paths: absolute where
    their folder was given as an absolute path, else relative to the lockfile (PEP 751)."""

    def path(match: re.Match[str]) -> str:
        target = Path(unquote(urlparse(match.group("url")).path))
        given_absolute = any(
            Path(location).is_absolute() and target.is_relative_to(Path(location).resolve()) for location in locations
        )
        shown = target if given_absolute else Path(os.path.relpath(target, lock_folder.resolve()))
        # A TOML basic string: JSON's escapes are TOML's, and a control character is refused.
        return f"path = {json.dumps(one_line(str(PurePosixPath(shown)), 'a local file path'), ensure_ascii=False)}"

    body = _FILE_URL.sub(path, pylock_text)
    body = "\n".join(line for line in body.splitlines() if not line.startswith("#")).strip()
    return "\n".join(head) + "\n" + body + "\n"


def recorded_digest(text: str) -> str | None:
    match = DIGEST_LINE.search(text)
    return match.group("digest") if match else None


def recorded_python(text: str) -> str | None:
    """The target's Python (major.minor) the header names."""
    match = _PYTHON_LINE.search(text)
    return match.group("python") if match else None
