"""ED203 known-incompatibility: conflicts the packages' metadata does not declare."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.kb import facts
from envdoctor.requirements.model import Requirement
from envdoctor.rules.candidates import span
from envdoctor.rules.context import AuditContext

CODE = "ED203"


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from _clashes(ctx)
    groups: dict[tuple[str, str], list[facts.Conflict]] = {}
    for conflict in facts.known_conflicts():
        if conflict.declared_clash:
            continue
        groups.setdefault((conflict.package, str(conflict.breaks_with)), []).append(conflict)
    seen: set[tuple[str, str]] = set()
    # Of several groups about one pair (transformers' import-time torch floors, one row per floor),
    # the one holding the release a fresh install gets is judged first: it is the one that speaks.
    for (package, _breaks), rows in sorted(groups.items(), key=lambda item: not _holds_newest(ctx, item[1])):
        requirement = ctx.find(package)
        other = rows[0].breaks_with
        other_requirement = ctx.find(other.name)
        if requirement is None or other_requirement is None or (package, other.name) in seen:
            continue
        if not set(other.extras) <= set(other_requirement.extras):
            continue
        if _avoided(ctx, rows[0]):
            continue  # the set already installs what the row's fix adds (tf-keras beside Keras 3)
        theirs = ctx.candidates(other.name)
        breaking = [v for v in theirs.versions if other.specifier.contains(v, prereleases=True)]
        if theirs.versions and not breaking:
            continue
        # The releases of the package any row of the group says break (torch's NumPy 1.x builds are
        # one row a minor) and whose own metadata lets a breaking release in (pandas 2.1.4 caps numpy<2).
        hit = [
            v
            for v in ctx.candidates(package).versions
            if _row_for(rows, v) is not None and (not breaking or _lets_in(ctx, package, v, other.name, breaking))
        ]
        if not hit:
            continue
        breaking = [w for w in breaking if any(_lets_in(ctx, package, v, other.name, [w]) for v in hit)]
        if not theirs.versions and not _may_meet(ctx.requirements.specifier_of(other.name), other.specifier):
            continue  # the set already keeps it out of the breaking range (numpy<2 beside torch 2.2)
        mine = ctx.candidates(package)
        if not mine.exact and hit[0] != mine.newest and not mine.bounded:
            continue  # a fresh install works, and only an unbounded name admits the old releases that break
        seen.add((package, other.name))
        newest_row = _row_for(rows, hit[0]) or rows[0]
        yield _finding(ctx, newest_row, (requirement, other_requirement), hit, breaking)


def _clashes(ctx: AuditContext) -> Iterator[Finding]:
    """Pins the packages' metadata declare and no pair of releases escapes (torch<2.4 beside
    tensorflow[and-cuda]>=2.16: every pair asks two cuDNNs). A resolver backtracks out of any
    pair that clashes, so only a set where every pair clashes is a finding."""
    groups: dict[tuple[str, str], list[facts.Conflict]] = {}
    for conflict in facts.known_conflicts():
        if conflict.declared_clash:
            groups.setdefault((conflict.package, conflict.breaks_with.name), []).append(conflict)
    for (package, other_name), rows in groups.items():
        requirement, other_requirement = ctx.find(package), ctx.find(other_name)
        if requirement is None or other_requirement is None:
            continue
        mine, theirs = ctx.candidates(package).versions, ctx.candidates(other_name).versions
        extras = set(other_requirement.extras)
        applying = [row for row in rows if set(row.breaks_with.extras) <= extras]
        if not mine or not theirs or not applying:
            continue
        clashing = {
            v: {
                w
                for row in applying
                if row.versions.contains(Version(v.public), True)
                for w in theirs
                if row.breaks_with.specifier.contains(w, prereleases=True)
            }
            for v in mine
        }
        if any(len(clashing[v]) < len(theirs) for v in mine):
            continue  # some pair installs together: the resolver finds it
        # The row of the newest pair, so the message names the pins that clash there (torch 2.4
        # beside tensorflow[and-cuda] 2.21 is the 2.21 row, not the first torch 2.4 row).
        row = _pair_row(applying, mine[0], theirs[0]) or _row_for(applying, mine[0]) or applying[0]
        if len(mine) == len(theirs) == 1:
            said = f"{package} {mine[0]} and {other_name} {theirs[0]} cannot be installed together"
        else:
            said = (
                f"no release {requirement.describe()} admits installs beside any release "
                f"{other_requirement.describe()} admits"
            )
        yield ctx.finding(
            CODE,
            f"{said}: {row.message}",
            requirement=other_requirement,
            packages=(requirement.describe(), other_requirement.describe()),
            fix=ctx.rejudged_fix(row.fix) + (f" (or upgrade: {package}{row.upgrade})" if row.upgrade else ""),
            references=tuple(dict.fromkeys(r.source for r in applying)),
        )


def _avoided(ctx: AuditContext, conflict: facts.Conflict) -> bool:
    """Whether the set names the third package a keras3 row's fix adds: transformers' TensorFlow
    models use tf-keras when it is installed, so TensorFlow's Keras 3 no longer matters."""
    if conflict.kind != "keras3":
        return False
    return ctx.find(Pep508(conflict.fix).name) is not None


def _lets_in(ctx: AuditContext, package: str, version: Version, other: str, breaking: list[Version]) -> bool:
    """Whether release ``version`` of ``package`` admits one of the ``breaking`` releases of ``other``."""
    declared = ctx.declared_on(package, Version(version.public), other)
    return any(declared.contains(w, prereleases=True) for w in breaking)


def _pair_row(rows: list[facts.Conflict], version: Version, other: Version) -> facts.Conflict | None:
    """The row that says ``version`` breaks beside release ``other`` of the other package."""
    return next(
        (
            row
            for row in rows
            if row.versions.contains(Version(version.public), prereleases=True)
            and row.breaks_with.specifier.contains(other, prereleases=True)
        ),
        None,
    )


def _row_for(rows: list[facts.Conflict], version: Version) -> facts.Conflict | None:
    return next((row for row in rows if row.versions.contains(Version(version.public), prereleases=True)), None)


def _finding(
    ctx: AuditContext,
    conflict: facts.Conflict,
    lines: tuple[Requirement, Requirement],
    hit: list[Version],
    breaking: list[Version],
) -> Finding:
    """An error when what a fresh install gets today breaks; a warning when only part of the
    ranges does, or the other package's release is unknown."""
    requirement, other_requirement = lines
    other = conflict.breaks_with
    mine, theirs = ctx.candidates(conflict.package), ctx.candidates(other.name)
    mine_text = ctx.subject(conflict.package, mine.newest) if mine.newest in hit else None
    theirs_text = ctx.subject(other.name, theirs.newest) if theirs.newest in breaking else None
    # A package the set only pulls in, or a range beside an exact pin of the other: cap it, the smaller move.
    capped = requirement.required_by or (theirs.exact and not mine.exact)
    cap = _cap(conflict, theirs.newest) if capped and theirs.newest in breaking else None
    fixed = ctx.rejudged_fix(
        cap or conflict.fix,
        f" (the releases whose import-time floor {other.name} {theirs.newest} meets)" if cap else "",
    )
    fix = fixed + (f" (or upgrade: {conflict.package}{conflict.upgrade})" if conflict.upgrade and not cap else "")
    packages = (f"{conflict.package}=={hit[0]}" if mine.exact else requirement.describe(), other_requirement.describe())
    if mine_text and theirs_text:
        message = f"{mine_text} and {theirs_text}; the two break together: {conflict.message}"
        severity = Severity.ERROR
        anchor = other_requirement if theirs.exact else requirement
    elif not theirs.versions:
        # Not tracked and not pinned: the installer may pick the breaking release.
        message = (
            f"{ctx.subject(conflict.package, hit[0])} breaks with {other}, and {other.name} is not pinned: "
            f"{conflict.message}"
        )
        severity, anchor = Severity.WARNING, requirement
    else:
        message = (
            f"{requirement.describe()} and {other_requirement.describe()} admit {conflict.package} "
            f"{span(hit, mine.versions)} with {other.name} {span(breaking, theirs.versions)}, which break together, "
            "though a fresh install today gets a working "
            f"pair: {conflict.message}"
        )
        severity, anchor = Severity.WARNING, requirement
        newer = [v for v in mine.versions if v > max(hit)]
        if newer:
            fix = f"raise the floor: {conflict.package}>={min(newer)}, or {fixed}"
    return ctx.finding(
        CODE,
        message,
        requirement=anchor,
        packages=packages,
        fix=fix,
        references=(conflict.source,),
        severity=severity,
    )


def _holds_newest(ctx: AuditContext, rows: list[facts.Conflict]) -> bool:
    newest = ctx.candidates(rows[0].package).newest
    return newest is not None and _row_for(rows, newest) is not None


def _cap(conflict: facts.Conflict, other: Version | None) -> str | None:
    """For a package the set only pulls in (transformers, required by vllm) whose newest releases
    enforce a floor the set's other package is below: the cap that keeps the releases that still
    take it ("transformers<5.15.0" beside torch 2.4.0), from every row of that floor's kind."""
    if conflict.kind != "undeclared-floor" or other is None:
        return None
    rows = [
        row
        for row in facts.known_conflicts()
        if row.kind == conflict.kind
        and row.package == conflict.package
        and row.breaks_with.specifier.contains(other, prereleases=True)
    ]
    lows = [Version(spec.version) for row in rows for spec in row.versions if spec.operator == ">="]
    return f"{conflict.package}<{min(lows)}" if lows else None


def _may_meet(asked: SpecifierSet, breaking: SpecifierSet) -> bool:
    """Whether some release may satisfy both specifiers. Each admits an interval around the
    versions it names, so trying those versions and the releases just past them answers it."""
    if not asked:
        return True
    named = [Version(spec.version.removesuffix(".*")) for spec in (*asked, *breaking) if _is_version(spec.version)]
    probes = {Version("0")}
    for version in named:
        major, minor, micro = (*version.release, 0, 0)[:3]
        probes |= {
            version,
            Version(f"{major}.{minor}.{micro + 1}"),
            Version(f"{major}.{minor + 1}"),
            Version(f"{major + 1}"),
        }
    return any(asked.contains(probe) and breaking.contains(probe) for probe in probes)


def _is_version(text: str) -> bool:
    try:
        Version(text.removesuffix(".*"))
    except ValueError:
        return False
    return True
