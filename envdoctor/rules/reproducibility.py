"""ED401-ED404 not-reproducible: what would install differently next time."""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.utils import NormalizedName
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.requirements.model import Form, Requirement
from envdoctor.rules.context import AuditContext

_COMMIT = re.compile(r"@[0-9a-f]{40}(?:[#&]|$)")
# How many names a grouped finding's message lists; its packages list them all.
_SHOWN = 6


# A requirement and the version it pins exactly (None for a range): read once, as every check asks.
_Line = tuple[Requirement, Version | None]


def check(ctx: AuditContext) -> Iterator[Finding]:
    lines = [(r, r.pinned_version) for r in ctx.requirements.requirements]
    # A range beside a pin of the same package elsewhere in the set (numpy<2 and numpy==1.26.4) is pinned.
    pinned = {r.name for r, version in lines if version is not None}
    named = [line for line in lines if not line[0].constraint]
    inputs = ctx.requirements.inputs
    # Asked of each file, not of each of its lines: a large set has thousands of lines in a few files.
    projects = {item.path for item in inputs if item.kind == "pyproject"}
    unlocked_projects = projects - {item.path for item in inputs if item.locked_by}
    # A .in file is the input of a lock, where hashless pins belong (see _input_of_lock).
    hashed = {item.path for item in inputs if item.kind in ("requirements", "pylock") and not _input_of_lock(item.path)}
    outside = [line for line in named if line[0].location.path not in projects] if projects else named
    yield from _unpinned(ctx, outside, pinned)
    ranged = [r for r, version in named if version is None and r.location.path in unlocked_projects]
    yield from _pyproject_ranges(ctx, ranged)
    yield from _hashes(ctx, [r for r, version in named if version is not None and r.location.path in hashed])
    yield from _index_builds(ctx, named)
    for requirement, _ in named:
        if requirement.form is Form.VCS and not _COMMIT.search(requirement.url or ""):
            yield ctx.finding(
                "ED403",
                f"{requirement.text} names a branch or tag, not a commit: it can install other code tomorrow",
                requirement=requirement,
                fix="pin the full 40-character commit: ...@<commit>",
            )
        elif requirement.form is Form.PATH and not _in_the_project(requirement):
            yield ctx.finding(
                "ED404",
                f"{requirement.text} installs from a local path that exists on this machine only",
                requirement=requirement,
                fix="build it into a versioned wheel and pin that wheel with --hash",
            )
        elif requirement.form is Form.URL and not requirement.hashes:
            yield ctx.finding(
                "ED404",
                f"{requirement.text} installs from a URL without a hash: the URL can serve other bytes",
                requirement=requirement,
                fix="add --hash=sha256:<digest> for the file",
            )


def _unpinned(ctx: AuditContext, lines: list[_Line], pinned: set[NormalizedName | None]) -> Iterator[Finding]:
    """One finding per file, naming what is loose in it: fifty lines of "X is not pinned" hide the
    findings that matter. A ``.in`` file is the input of a lock, where ranges belong. ``pinned``:
    the packages pinned somewhere in the set."""
    by_file: dict[str, list[Requirement]] = {}
    for requirement, version in lines:
        if requirement.form is not Form.NAMED or version is not None or requirement.name in pinned:
            continue
        if "ED401" in requirement.ignored or _input_of_lock(requirement.location.path):
            continue
        by_file.setdefault(requirement.location.path, []).append(requirement)
    for path, loose in by_file.items():
        if len(loose) == 1:
            (requirement,) = loose
            what = f"is ranged ({requirement.specifier})" if requirement.specifier else "is not pinned"
            message = f"{requirement.name} {what}: each install can pick another version"
        else:
            shown = ", ".join(r.describe() for r in loose[:_SHOWN])
            more = f" and {len(loose) - _SHOWN} more" if len(loose) > _SHOWN else ""
            message = (
                f"{len(loose)} requirements in {path} are not pinned or are ranges ({shown}{more}): each "
                "install can pick other versions"
            )
        yield ctx.finding(
            "ED401",
            message,
            requirement=loose[0],
            packages=tuple(r.describe() for r in loose),
            fix="lock the set (envdoctor lock) and install from the lockfile, or pin name==version",
        )


def _input_of_lock(path: str) -> bool:
    """A ``.in`` file: the input of a lock (pip-compile's and uv's convention), where ranges and
    hashless pins are what belongs."""
    return path.endswith(".in")


def _pyproject_ranges(ctx: AuditContext, requirements: list[Requirement]) -> Iterator[Finding]:
    """``requirements``: a project's unpinned dependencies, the lock beside it left out."""
    ranged = [r for r in requirements if r.form is Form.NAMED]
    if not ranged:
        return
    yield ctx.finding(
        "ED401",
        f"{len(ranged)} dependencies in {ranged[0].location.path} are ranges, as a project's should be; an "
        "environment built from them alone is not reproducible",
        requirement=ranged[0],
        packages=tuple(r.describe() for r in ranged[:10]),
        fix="install from a lockfile made from them (envdoctor lock)",
        severity=Severity.INFO,
    )


def _hashes(ctx: AuditContext, pins: list[Requirement]) -> Iterator[Finding]:
    """``pins``: the exact pins of requirements files and pylock files that are no lock's input."""
    by_file: dict[str, list[Requirement]] = {}
    for requirement in pins:
        by_file.setdefault(requirement.location.path, []).append(requirement)
    for path, pinned in by_file.items():
        unhashed = [r for r in pinned if not r.hashes]
        if not unhashed:
            continue
        yield ctx.finding(
            "ED402",
            f"{len(unhashed)} of {len(pinned)} pinned requirements in {path} have no hash: the same version "
            "can be another file (another build, a re-upload, a mirror's copy)",
            requirement=unhashed[0],
            packages=tuple(r.describe() for r in unhashed[:10]),
            fix="generate a hash-pinned lockfile: envdoctor lock (or uv pip compile --generate-hashes)",
        )


def _index_builds(ctx: AuditContext, lines: list[_Line]) -> Iterator[Finding]:
    from envdoctor.kb import facts

    urls = [ctx.requirements.indexes.index_url or "", *ctx.requirements.indexes.extra_index_urls]
    indexes = ctx.requirements.indexes
    # An index option that could not be read may be the one that serves the build: not judged.
    has_pytorch_index = any(map(facts.pytorch_index_variant, urls)) or bool(indexes.find_links) or indexes.unknown
    for requirement, version in lines:
        if version is None or not version.local or has_pytorch_index or requirement.source is not None:
            continue  # no label, or an index that serves it: the set's, or the line's own (a uv source)
        if not facts.has_variant_builds(requirement.name or "", version.local):
            continue
        yield ctx.finding(
            "ED406",
            f"{requirement.text} is a build only the PyTorch wheel index serves, and no --index-url or "
            "--extra-index-url names it: pip install fails on a fresh machine",
            requirement=requirement,
            fix=f"add --extra-index-url {facts.pytorch_index_url(version.local)} to the file",
        )


def _in_the_project(requirement: Requirement) -> bool:
    """Whether a local path is part of the project that names it (".", "./packages/client", a uv
    workspace member): it travels with the project's files. A path outside it (an absolute path,
    "../x", file:///home/me/x.whl) exists on one machine only."""
    target = (requirement.url or requirement.text).split("[", 1)[0].strip()
    if target.startswith("file:"):
        return False
    return not (target.startswith(("/", "~", "..")) or (len(target) > 1 and target[1] == ":"))
