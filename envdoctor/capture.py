"""``envdoctor capture``'s inputs: a working environment frozen into a folder that rebuilds it.

From an interpreter's installed distributions: the host profile, a ``requirements.in`` of the
top-level packages (those no other installed one requires), a ``constraints.txt`` holding every
distribution at the version installed, hash-pinned lockfiles made from the two by the lock model
``envdoctor lock`` uses (so the versions are exactly those installed, and the hashes the index's
for those files), and the Dockerfile that rebuilds it for that host. A distribution installed from
a path, a VCS checkout or as an editable has no index release to pin: it is reported, not locked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import canonicalize_name

from envdoctor.errors import Refused
from envdoctor.fsio import write_output_set
from envdoctor.host.profile import HostProfile, profile_to_json
from envdoctor.requirements.installed import Installed, installed_distributions
from envdoctor.requirements.model import IndexOptions
from envdoctor.safety import one_line, one_token

# What a virtual environment brings itself, and pip freeze leaves out: not the project's.
_BOOTSTRAP = frozenset({"pip", "setuptools", "wheel", "distribute"})


class Unpinnable(NamedTuple):
    name: str
    version: str
    why: str


class Frozen(NamedTuple):
    """The captured folder's inputs: what ``envdoctor.api.capture`` then locks and builds an image for."""

    output_dir: Path
    host: HostProfile
    top_level: tuple[str, ...]
    pinned: tuple[str, ...]  # name==version, every distribution the lock takes
    unpinnable: tuple[Unpinnable, ...]


_FROM_PYPI = IndexOptions()


def freeze(python: str, host: HostProfile, output_dir: Path, index: IndexOptions = _FROM_PYPI) -> Frozen:
    """Write into ``output_dir`` the host profile (its Python the interpreter's), requirements.in,
    constraints.txt and a README for what ``python`` has installed."""
    listing = installed_distributions(python)
    version = listing.python
    host = host._replace(python=".".join(version.split(".")[:2]))
    kept = [dist for dist in listing.distributions if canonicalize_name(dist.name) not in _BOOTSTRAP]
    unpinnable = tuple(_unpinnable(kept))
    skipped = {canonicalize_name(u.name) for u in unpinnable}
    pinnable = [dist for dist in kept if canonicalize_name(dist.name) not in skipped]
    if not pinnable:
        raise Refused([f"{python} has no distribution installed from an index to capture"])
    top = _top_level(pinnable, listing.environment)
    pins = tuple(sorted(f"{canonicalize_name(dist.name)}=={dist.version}" for dist in pinnable))
    texts = {
        "host.json": profile_to_json(host),
        "requirements.in": _requirements_in(top, index),
        "constraints.txt": "".join(f"{one_line(pin, 'a pin')}\n" for pin in pins),
        "README.md": _readme(python, version, unpinnable),
    }
    write_output_set(output_dir, texts)
    return Frozen(output_dir, host, top, pins, unpinnable)


def not_locked(frozen: Frozen, lockfiles: Sequence[Path]) -> tuple[str, ...]:
    """The pins the lock left out: a package the host's markers do not take, or one no top-level
    package brings in. Read from the lock's pylock.toml, which names every package it installs."""
    from envdoctor.tomlcompat import tomllib

    locked: set[str] = set()
    for path in lockfiles:
        if path.name.startswith("pylock.") and path.suffix == ".toml":
            with path.open("rb") as handle:
                packages = tomllib.load(handle).get("packages", [])
            locked |= {f"{canonicalize_name(p['name'])}=={p['version']}" for p in packages if "version" in p}
    return tuple(pin for pin in frozen.pinned if pin not in locked)


def _unpinnable(distributions: Sequence[Installed]) -> list[Unpinnable]:
    """Distributions installed from somewhere other than an index (PEP 610's direct_url.json)."""
    found = []
    for dist in distributions:
        if dist.direct_url is None:
            continue
        try:
            direct = json.loads(dist.direct_url)
        except ValueError:
            direct = {}
        if not isinstance(direct, dict):
            direct = {}
        if "vcs_info" in direct:
            why = "installed from a VCS checkout"
        elif isinstance(direct.get("dir_info"), dict) and direct["dir_info"].get("editable"):
            why = "installed as an editable checkout"
        elif "dir_info" in direct:
            why = "installed from a local folder"
        else:
            why = "installed from a URL or a file"
        found.append(Unpinnable(dist.name, dist.version, why))
    return found


def _top_level(distributions: Sequence[Installed], environment: Mapping[str, str]) -> tuple[str, ...]:
    """The distributions no other one requires, as pip's ``list --not-required`` sees it: a
    requirement counts where its marker holds in the interpreter's environment, and one under an
    extra only where something installed asks for that extra (tqdm's ``requests; extra ==
    "telegram"`` does not make requests a dependency)."""
    installed = {canonicalize_name(dist.name): dist for dist in distributions}
    parsed = {name: _parsed(dist.requires) for name, dist in installed.items()}
    extras: dict[str, set[str]] = {name: set() for name in installed}
    required: set[str] = set()
    changed = True
    while changed:  # an extra asked for can bring in more requirements, which can ask for more extras
        changed = False
        for name, requirements in parsed.items():
            for requirement in requirements:
                wanted = canonicalize_name(requirement.name)
                if wanted not in installed or not _holds(requirement, environment, extras[name]):
                    continue
                asked = {canonicalize_name(extra) for extra in requirement.extras}
                if wanted not in required or not asked <= extras[wanted]:
                    required.add(wanted)
                    extras[wanted] |= asked
                    changed = True
    return tuple(sorted(name for name in installed if name not in required))


def _parsed(lines: Sequence[str]) -> list[Pep508]:
    parsed = []
    for line in lines:
        try:
            parsed.append(Pep508(line))
        except InvalidRequirement:
            continue
    return parsed


def _holds(requirement: Pep508, environment: Mapping[str, str], extras: set[str]) -> bool:
    """Whether the requirement applies, with no extra or with one of those asked for."""
    if requirement.marker is None:
        return True
    try:
        return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *sorted(extras)))
    except (ValueError, KeyError, TypeError):  # an undefined name or an uncomparable value: not applied
        return False


def _requirements_in(top: Sequence[str], index: IndexOptions) -> str:
    lines = ["# What was installed at the top: nothing else there requires these. envdoctor capture wrote it."]
    if index.index_url:
        lines.append(f"--index-url {one_token(index.index_url, '--index-url')}")
    lines += [f"--extra-index-url {one_token(url, '--extra-index-url')}" for url in index.extra_index_urls]
    lines += [f"--find-links {one_token(link, '--find-links')}" for link in index.find_links]
    if index.no_index:
        lines.append("--no-index")
    lines.append("# Every distribution at the version installed: the lock takes exactly those.")
    lines.append("-c constraints.txt")
    lines += list(top)
    return "\n".join(lines) + "\n"


def _readme(python: str, version: str, unpinnable: Sequence[Unpinnable]) -> str:
    lines = [
        "# A captured environment",
        "",
        f"Captured by `envdoctor capture` from the interpreter `{one_line(python, 'a path')}` (Python {version}).",
        "`lockfiles/` rebuilds it exactly",
        "(`pip install --require-hashes --no-deps -r lockfiles/requirements.*.txt`), `image/` as an image",
        "(`image/build.sh`); `envdoctor lock requirements.in --host host.json -o lockfiles --check` says whether",
        "the lockfiles still match.",
    ]
    if unpinnable:
        lines += ["", "Not captured (no release on an index to pin):", ""]
        lines += [f"- {one_line(u.name, 'a name')} {one_line(u.version, 'a version')}: {u.why}" for u in unpinnable]
    return "\n".join(lines) + "\n"
