"""ED401-ED404 not-reproducible: what would install differently next time."""

from __future__ import annotations

import re
from collections.abc import Iterator

from envdoctor.findings import Finding, Severity
from envdoctor.requirements.model import Form, Requirement
from envdoctor.rules.context import AuditContext

_COMMIT = re.compile(r"@[0-9a-f]{40}(?:[#&]|$)")
# How many names a grouped finding's message lists; its packages list them all.
_SHOWN = 6


def check(ctx: AuditContext) -> Iterator[Finding]:
    named = [r for r in ctx.requirements.requirements if not r.constraint]
    kinds = {item.path: item.kind for item in ctx.requirements.inputs}
    locked = {item.path for item in ctx.requirements.inputs if item.locked_by}
    yield from _unpinned(ctx, [r for r in named if kinds.get(r.location.path) != "pyproject"])
    yield from _pyproject_ranges(
        ctx, [r for r in named if kinds.get(r.location.path) == "pyproject" and r.location.path not in locked]
    )
    yield from _hashes(ctx, named, kinds)
    yield from _index_builds(ctx, named)
    for requirement in named:
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


def _unpinned(ctx: AuditContext, requirements: list[Requirement]) -> Iterator[Finding]:
    """One finding per file, naming what is loose in it: fifty lines of "X is not pinned" hide the
    findings that matter. A ``.in`` file is the input of a lock, where ranges belong."""
    by_file: dict[str, list[Requirement]] = {}
    # A range beside a pin of the same package elsewhere in the set (numpy<2 and numpy==1.26.4) is pinned.
    pinned = {r.name for r in ctx.requirements.requirements if r.pinned_version is not None}
    for requirement in requirements:
        if requirement.form is not Form.NAMED or requirement.pinned_version is not None or requirement.name in pinned:
            continue
        if "ED401" in requirement.ignored or _locked_later(requirement):
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


def _locked_later(requirement: Requirement) -> bool:
    """A requirement of a ``.in`` file: the input of a lock (pip-compile's and uv's convention),
    where ranges and hashless pins are what belongs."""
    return requirement.location.path.endswith(".in")


def _pyproject_ranges(ctx: AuditContext, requirements: list[Requirement]) -> Iterator[Finding]:
    ranged = [r for r in requirements if r.form is Form.NAMED and r.pinned_version is None]
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


def _hashes(ctx: AuditContext, requirements: list[Requirement], kinds: dict[str, str]) -> Iterator[Finding]:
    by_file: dict[str, list[Requirement]] = {}
    for requirement in requirements:
        if _locked_later(requirement):
            continue
        if kinds.get(requirement.location.path) in ("requirements", "pylock") and requirement.pinned_version:
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


def _index_builds(ctx: AuditContext, requirements: list[Requirement]) -> Iterator[Finding]:
    from envdoctor.kb import facts

    urls = [ctx.requirements.indexes.index_url or "", *ctx.requirements.indexes.extra_index_urls]
    indexes = ctx.requirements.indexes
    # An index option that could not be read may be the one that serves the build: not judged.
    has_pytorch_index = any(map(facts.pytorch_index_variant, urls)) or bool(indexes.find_links) or indexes.unknown
    for requirement in requirements:
        version = requirement.pinned_version
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
