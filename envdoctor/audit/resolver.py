"""``audit --resolve``: the versions uv would install for each host, asked of the lock's own
resolver backend (``envdoctor.lock.backends``: the same timeout, index options and errors as
``envdoctor lock``), with the inputs' indexes as they are given and nothing steered.

Where the host does not give a fact the resolver needs, the audit resolves under a stated
assumption rather than refusing (a lock never guesses: ``target_of`` alone stays strict): Linux
when no OS is given, the OS's usual architecture, and the newest CPython for which every package
of the set that the knowledge base tracks has a wheel. The assumptions come back with the
resolution, for the audit to report.
"""

from __future__ import annotations

from typing import NamedTuple

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName

from envdoctor import console
from envdoctor.audit.result import Resolution
from envdoctor.console import Progress
from envdoctor.host.profile import HostProfile
from envdoctor.lock.backends import LockRequest, backend
from envdoctor.lock.steering import Steering
from envdoctor.requirements.model import Requirement, RequirementSet
from envdoctor.resolve.target import ASSUMED_PYTHONS, assumed_platform, target_of
from envdoctor.safety import printable

# A resolution that takes longer than this shows progress on stderr (console.Progress).
PROGRESS_AFTER_S = 1.0


class Assumed(NamedTuple):
    """A host with what the resolver needs filled in, and a sentence saying what was assumed ('' when nothing)."""

    host: HostProfile
    statement: str


def assumed_host(requirements: RequirementSet, host: HostProfile) -> Assumed:
    """The host as ``audit --resolve`` resolves for it: each fact it lacks replaced by an assumption."""
    from envdoctor.rules.candidates import HostFacts

    facts_given = (("OS", host.os), ("architecture", host.arch), ("Python", host.python))
    missing = [fact for fact, value in facts_given if not value]
    if not missing:
        return Assumed(host, "")
    completed = assumed_platform(host)
    why = ""
    if completed.python is None:
        python, why = _newest_python(requirements, completed)
        completed = completed._replace(python=python)
    facts = HostFacts.of(completed)._replace(libc=None).describe()
    said = f"{', '.join(missing[:-1])} or {missing[-1]}" if len(missing) > 1 else missing[0]
    statement = f"the host profile does not give its {said}: --resolve assumed {facts}{f' ({why})' if why else ''}"
    return Assumed(completed, statement)


def _newest_python(requirements: RequirementSet, host: HostProfile) -> tuple[str, str]:
    """The newest CPython minor for which every package of the set the base tracks has a release
    with a wheel for the host's platform, and why it was chosen. Failing that, the newest that
    serves the most of them, naming those it does not serve."""
    best: tuple[int, str, list[str]] | None = None
    for python in ASSUMED_PYTHONS:
        unserved = _unserved(requirements, host._replace(python=python))
        if not unserved:
            return python, "the newest Python every tracked requirement has wheels for"
        if best is None or len(unserved) < best[0]:
            best = (len(unserved), python, unserved)
    assert best is not None
    _, python, unserved = best
    lowest = ASSUMED_PYTHONS[-1]
    return python, (
        f"no Python from {lowest} to {ASSUMED_PYTHONS[0]} has wheels for every tracked requirement; {python} has "
        f"them for the most, all but {', '.join(unserved)}"
    )


def _unserved(requirements: RequirementSet, host: HostProfile) -> list[str]:
    """The packages of the set, tracked by the base, that have no release with a wheel for the host."""
    from envdoctor.rules.candidates import HostFacts, candidates
    from envdoctor.rules.context import AuditContext

    context = AuditContext(requirements, host, "host")
    applying = [r for r in requirements.requirements if r.url is None and context.applies(r)]
    # A constraint adds no package: it narrows one the set names.
    asked: dict[NormalizedName, SpecifierSet] = {}
    for requirement in applying:
        if requirement.name is not None and not requirement.constraint:
            asked[requirement.name] = SpecifierSet()
    for requirement in applying:
        if requirement.name is not None and requirement.name in asked:
            asked[requirement.name] &= _public(requirement)
    facts = HostFacts.of(host)
    unserved = []
    for name, specifier in asked.items():
        found = candidates(name, specifier, facts, None)
        # A release pip would build from its sdist does not count: the point is a wheel for that Python.
        if found.tracked and all(found.builds_from_source(version) for version in found.versions):
            unserved.append(printable(name))
    return unserved


def _public(requirement: Requirement) -> SpecifierSet:
    """A requirement's specifier, a pin's local label (+cu121) left out: the base knows public releases."""
    version = requirement.pinned_version
    if version is not None and version.local:
        return SpecifierSet(f"=={version.public}")
    return requirement.specifier


def resolve_for_host(
    requirements: RequirementSet, host: HostProfile, name: str = "host", *, progress: Progress | None = None
) -> Resolution:
    """What uv installs for the host, under stated assumptions where the host does not say."""
    from envdoctor.rules.candidates import HostFacts

    assumed = assumed_host(requirements, host)
    target = target_of(assumed.host, name)
    inputs = ", ".join(printable(item.path) for item in requirements.inputs) or "the requirements"
    described = HostFacts(target.python, target.os, target.arch, None).describe()
    shown = progress or console.progress()
    with shown.step(f"Resolving {inputs} for host {printable(name)} ({described}) with uv", after=PROGRESS_AFTER_S):
        resolved = backend("uv").resolve(LockRequest(requirements, target, Steering(), as_given=True))
    pins = resolved.lock.versions() if resolved.lock is not None else {}
    return Resolution(pins, resolved.error, (assumed.statement,) if assumed.statement else ())
