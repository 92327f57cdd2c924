"""ED204 unsatisfiable: no set of versions satisfies the requirements. With --resolve, the
resolver's explanation is the message; offline, the packages' own declared requirements tell it
(pandas 2.1.4 declares numpy<2; the set asks numpy==2.0.0)."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.findings import Finding
from envdoctor.kb import releases as kb_releases
from envdoctor.requirements.model import Form, Requirement
from envdoctor.resolve.explain import unsatisfiable
from envdoctor.rules.context import AuditContext
from envdoctor.rules.installable import gpu_fix

CODE = "ED204"
_LOCK_KINDS = frozenset({"uvlock", "poetrylock", "pylock"})


def check(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.resolver_error is None:
        if not ctx.resolved:
            yield from _contradicting_lines(ctx)
            yield from _declared(ctx)
        return
    said = unsatisfiable(ctx.resolver_error)
    yield ctx.finding(CODE, said.message, packages=said.packages, fix=said.fix)


def _contradicting_lines(ctx: AuditContext) -> Iterator[Finding]:
    """The set's own lines for one package that no one release meets (torch>=2.12 beside a
    constraint torch==2.10.0, or beside an NGC image whose constraint file holds pip to its own
    torch): pip stops with ResolutionImpossible before it installs anything."""
    # A lockfile's several pins of one package are forks its installer chooses between (a Poetry 1.x
    # lock keeps numpy 1.26.4 and 2.0.2 for different Pythons), never lines pip would read together.
    locks = {item.path for item in ctx.requirements.inputs if item.kind in _LOCK_KINDS}
    first: dict[str, Requirement] = {}
    # Only packages with several lines can contradict themselves: most have one.
    lines: dict[str, list[Requirement]] = {}
    for requirement in ctx.requirements.requirements:
        if requirement.name is None or requirement.form is not Form.NAMED or requirement.required_by is not None:
            continue
        if requirement.location.path in locks:
            continue
        marker = requirement.marker
        if marker is None or (ctx.applies(requirement) and ctx.markers.certain(marker, frozenset())):
            earlier = first.setdefault(requirement.name, requirement)
            if earlier is not requirement:
                lines.setdefault(requirement.name, [earlier]).append(requirement)
    for name, asked in lines.items():
        if len({str(line.specifier) for line in asked}) < 2:
            continue
        versions = [release.version for release in kb_releases.releases(name)]
        versions += [pinned for line in asked if (pinned := line.pinned_version) is not None]
        combined = SpecifierSet()
        for line in asked:
            combined &= line.specifier
        if any(combined.contains(v, prereleases=True) for v in versions):
            continue
        if not all(any(line.specifier.contains(v, prereleases=True) for v in versions) for line in asked):
            continue  # a line no release meets alone is another finding's (an unknown release)
        main = next((line for line in asked if not line.constraint), asked[0])
        others = ", ".join(_written(line) for line in asked if line is not main)
        yield ctx.finding(
            CODE,
            f"{main.describe()} and {others} ask {name} releases no one release meets: pip stops "
            "(ResolutionImpossible) before it installs anything",
            requirement=main,
            packages=tuple(line.describe() for line in asked),
            fix=f"make the lines for {name} agree: change {main.describe()} to a range that {_the_others(asked, main)} "
            "meets, or change or remove that line",
        )


def _the_others(asked: list[Requirement], main: Requirement) -> str:
    return " and ".join(line.describe() for line in asked if line is not main)


def _written(line: Requirement) -> str:
    """A line for messages, with where it was written: "torch==2.10.0 (constraints.txt:1)"."""
    where = line.source or f"{line.location.path}:{line.location.line}" if line.location.line else line.location.path
    kind = "a constraint, " if line.constraint else ""
    return f"{line.describe()} ({kind}{where})"


def _declared(ctx: AuditContext) -> Iterator[Finding]:
    """A package every release of which the set admits requires another at a version the rest of
    the set rules out (torchvision==0.16.0 needs torch==2.1.0 beside torch>=2.3): no install can
    satisfy both, as the packages' own metadata says. A clash between two such packages is told once."""
    told: set[frozenset[str]] = set()
    for requirement in ctx.wanted():
        if requirement.required_by is not None or requirement.name is None:
            continue
        unmet = ctx.unmet(requirement)
        if unmet is None or frozenset({requirement.name, *unmet.askers}) in told:
            continue
        told.add(frozenset({requirement.name, *unmet.askers}))
        if _a_conflict_row_tells(ctx, requirement.name, unmet.askers):
            continue  # ED203 tells this pin clash with the curated fix (torch 2.10 beside tensorflow[and-cuda] 2.21)
        if _companions_tell(ctx, requirement.name, unmet.declared):
            continue  # ED202 tells a companion out of step with the release it goes with (torchaudio beside torch)
        name = unmet.declared.name
        declared = f"{name}{unmet.declared.specifier}"
        who = " and ".join(unmet.askers) or "the rest of the set"
        fits = f"{requirement.name}=={unmet.fitting}, whose requirement fits, or " if unmet.fitting else ""
        asks = f"{who} {'asks' if len(unmet.askers) < 2 else 'ask'} {name}{unmet.others}"
        if ctx.candidates(requirement.name).exact:
            said = f"{requirement.name} {ctx.version_of(requirement.name)} requires {declared}, but {asks}"
        else:
            oldest = (
                f"{unmet.oldest}, the oldest that installs on {ctx.facts.describe()}," if unmet.oldest else "the oldest"
            )
            said = (
                f"{requirement.describe()} admits no release that goes with the rest of the set: even {oldest} "
                f"requires {declared}, but {asks}"
            )
        together = f"{fits}{declared}" if fits else _together(ctx, unmet.declared)
        yield ctx.finding(
            CODE,
            said,
            requirement=requirement,
            packages=(requirement.describe(), f"{name}{unmet.others}"),
            fix=f"move them together: {together}",
        )


def _together(ctx: AuditContext, declared: Pep508) -> str:
    """The release the clash asks for, with what moves with it; where that release does not run on
    the host's GPUs, the one the driver and GPU-architecture rules offer instead."""
    pins = [spec.version for spec in declared.specifier if spec.operator == "=="]
    if len(pins) == 1 and "*" not in pins[0]:
        offered = gpu_fix(ctx, canonicalize_name(declared.name), Version(pins[0]))
        if offered is not None:
            return offered
    return ctx.rejudged_fix(str(declared))


def _a_conflict_row_tells(ctx: AuditContext, name: str, askers: tuple[str, ...]) -> bool:
    """Whether a curated pin-clash row (cudnn-pin-clash, nccl-pin-clash) covers the package and one
    of those that ask otherwise, at the versions judged: its finding (ED203), with a fix that
    installs, stands for this one."""
    from envdoctor.kb import facts

    for row in facts.known_conflicts():
        if not row.declared_clash:
            continue
        pair = {
            canonicalize_name(row.package): row.versions,
            canonicalize_name(row.breaks_with.name): row.breaks_with.specifier,
        }
        others = [canonicalize_name(asker.split("[")[0]) for asker in askers]
        if canonicalize_name(name) not in pair or not any(other in pair for other in others):
            continue
        judged = [(package, ctx.version_of(package)) for package in pair]
        if all(v is not None and pair[p].contains(Version(v.public), prereleases=True) for p, v in judged):
            return True
    return False


def _companions_tell(ctx: AuditContext, name: str, declared: Pep508) -> bool:
    """Whether the clash is a companion out of step with the pinned package it moves with
    (torchaudio 2.11.1 requires torch>=2.11 beside torch==2.10.0): ED202 says it, with its fix."""
    from envdoctor.kb import facts

    other, mine = canonicalize_name(declared.name), canonicalize_name(name)
    version, theirs = ctx.exact_version(other), ctx.exact_version(mine)
    if version is None or theirs is None:
        return False
    # Either side's rows may name the pair: torch's name torchaudio, tensorflow's its tensorboard.
    return any(canonicalize_name(step.companion) == mine for step in facts.lockstep(other, version)) or any(
        canonicalize_name(step.companion) == other for step in facts.lockstep(mine, theirs)
    )
