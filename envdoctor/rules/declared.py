"""What the set's packages declare in their metadata, read from the knowledge base's ``dependencies``
topic: the GPU packages they pull in, what they ask of the rest of the set, and where that cannot
be met.

It reads the set through the narrow view a context hands it (the set's lines, what they ask, the
versions known exactly, how a package's candidates are found), so it never calls back into the
context that owns it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from envdoctor.kb import releases as kb_releases
from envdoctor.kb.releases import Dependency
from envdoctor.requirements.model import Form, Requirement
from envdoctor.rules.candidates import Candidates, HostFacts, Origin, candidates, nearest
from envdoctor.rules.markers import Markers

# How many levels of what a package pulls in are followed (accelerate -> torch -> nvidia-*).
_DEPTH = 3
# The empty range, shared (a SpecifierSet is never changed in place here: & makes a new one).
_ANY = SpecifierSet()
# One package to read while following: the set's line it started from, the package (as a
# requirement: what asked for it), and how the set's own package is named, once past it.
_Step = tuple[Requirement, Requirement, str | None]


class Unmet(NamedTuple):
    """A requirement a package declares that the rest of the set rules out."""

    declared: Pep508
    others: SpecifierSet  # what the rest of the set asks of that package
    askers: tuple[str, ...]  # "the set", or the packages that require it
    fitting: Version | None  # the newest release of the package that would fit, if any
    # The oldest release judged, where older ones the set admits do not install on the host.
    oldest: Version | None = None


class Rejudged(NamedTuple):
    """A fix re-judged: the set's pins it moves, those it still clashes with, and whether any
    release it admits has a wheel for the host at all."""

    moves: tuple[str, ...] = ()
    clashes: tuple[str, ...] = ()
    installs: bool = True


class Pull(NamedTuple):
    """A requirement the release of a package that would be installed here declares."""

    line: Requirement  # the set's line the chain starts from
    parent: NormalizedName  # the package whose release declares it
    dependency: Pep508
    # Who asks it, as a message names it: the release it was read from ("tensorflow 2.20.0", or the
    # set's pin "tensorflow==2.15.0"), and the set's package it came through ("torch 2.9.1 via accelerate 1.13.0").
    by: str


@dataclass(frozen=True, eq=False)
class Declared:
    """What the packages of one set declare, on one host."""

    # The set's named lines that apply here.
    direct: tuple[Requirement, ...]
    # Everything the set's own lines ask of each package, constraints included.
    asked: Mapping[NormalizedName, SpecifierSet]
    # Versions known exactly (pins, the resolver's picks) and where they come from.
    exact: Mapping[NormalizedName, tuple[Version, Origin]]
    facts: HostFacts
    markers: Markers
    # The releases a package can become within a specifier (the owner's narrowing by index and pins).
    candidates_for: Callable[[NormalizedName, SpecifierSet], Candidates]
    # Whether a release comes from PyPI, whose wheels' requirements the base records.
    from_pypi: Callable[[str, Version, frozenset[str]], bool]
    _meets_cache: dict[tuple[str, NormalizedName, bool], bool] = field(default_factory=dict, init=False, repr=False)
    _pinned_cache: dict[NormalizedName, SpecifierSet] = field(default_factory=dict, init=False, repr=False)

    @functools.cached_property
    def _first_line(self) -> dict[NormalizedName, Requirement]:
        """The set's first applying line of each package: a lookup, not a scan of every line."""
        found: dict[NormalizedName, Requirement] = {}
        for requirement in self.direct:
            if requirement.name is not None:
                found.setdefault(requirement.name, requirement)
        return found

    @functools.cached_property
    def pulls(self) -> tuple[Pull, ...]:
        """What the release of each package of the set that would be installed here declares, for
        every package the base knows the dependencies of, followed a few levels deep."""
        found: list[Pull] = []
        seen: set[NormalizedName] = set()
        # Only packages whose requirements the base records pull anything in: few of a large set.
        frontier: list[_Step] = [
            (r, r, None) for r in self.direct if r.name is not None and kb_releases.declared_requirements(r.name)
        ]
        for _depth in range(_DEPTH):
            following: list[_Step] = []
            for line, parent, via in frontier:
                assert parent.name is not None
                if parent.name in seen:
                    continue
                seen.add(parent.name)
                pulls = self._pulls_of(line, parent, via)
                found += pulls
                # What comes in further down is named through the set's own package.
                following += [(line, _as_parent(parent, pull.dependency), via or pull.by) for pull in pulls]
            frontier = following
        return tuple(found)

    @functools.cached_property
    def _pulls_by_dependency(self) -> dict[NormalizedName, tuple[Pull, ...]]:
        """The pulls by the package they ask for: each package asks for its own, not every pull."""
        found: dict[NormalizedName, list[Pull]] = {}
        for pull in self.pulls:
            found.setdefault(canonicalize_name(pull.dependency.name), []).append(pull)
        return {name: tuple(pulls) for name, pulls in found.items()}

    def _pulls_of(self, line: Requirement, parent: Requirement, via: str | None) -> list[Pull]:
        """What the release of ``parent`` that would be installed here declares."""
        assert parent.name is not None
        rows = kb_releases.declared_requirements(parent.name)
        version = self._parent_version(parent, rows) if rows else None
        if version is None or not self.from_pypi(parent.name, version, parent.extras):
            return []
        by = _release_of(parent, version) + (f" via {via}" if via else "")
        return [Pull(line, parent.name, dependency, by) for dependency in self._dependencies_of(parent, version)]

    def _dependencies_of(self, parent: Requirement, version: Version) -> list[Pep508]:
        """The GPU requirements release ``version`` of ``parent`` declares that hold here."""
        assert parent.name is not None
        wanted = []
        for row in kb_releases.declared_by(parent.name, version):
            if _for_other_extras(row.requires, parent.extras):
                continue
            marker = row.requirement.marker
            if marker is not None and not self.markers.holds(marker, parent.extras):
                continue
            if marker is not None and not self.markers.certain(marker, parent.extras):
                # It holds for some Python or machine the host leaves open, not for all: the package
                # comes in, but what this line asks of it is not known to apply.
                wanted.append(_named_only(row.requirement))
                continue
            wanted.append(row.requirement)
        return wanted

    def _parent_version(self, parent: Requirement, rows: tuple[Dependency, ...]) -> Version | None:
        """The release of a package that pulls in others: exact if known, else the newest candidate
        (within what the set, or the package that pulled it in, asks) whose requirements the set's
        own lines can meet (torchvision beside torch==2.1.0 is the torchvision of torch 2.1.0, as a
        resolver would pick)."""
        name = canonicalize_name(parent.name or "")
        if name in self.exact:
            return self.exact[name][0]
        asked = self.asked.get(name, SpecifierSet()) & parent.specifier
        for version in self.candidates_for(name, asked).versions:
            if not self.unmet_of(parent, rows, version, pins_only=True):
                return version
        return None

    def pulled_in(self) -> list[Requirement]:
        """A requirement for each GPU package the set does not name but its packages pull in,
        written where the package that pulls it in was."""
        named = {r.name for r in self.direct}
        pulled: dict[NormalizedName, Requirement] = {}
        for line, _parent, dependency, by in self.pulls:
            name = canonicalize_name(dependency.name)
            if name in named or name in pulled:
                continue
            pulled[name] = Requirement(
                name=name,
                form=Form.NAMED,
                location=line.location,
                text=str(dependency),
                specifier=dependency.specifier,
                extras=frozenset(dependency.extras),
                ignored=line.ignored,
                required_by=by,
            )
        return list(pulled.values())

    def inherited(self, name: NormalizedName, moving: frozenset[str]) -> SpecifierSet:
        """What the packages of the set ask of ``name`` through their own requirements, but for
        those in ``moving`` (companions that would move with it)."""
        specifier = _ANY
        for _line, parent, dependency, _by in self._pulls_by_dependency.get(name, ()):
            if parent not in moving:
                specifier &= dependency.specifier
        return specifier

    def fitting(self, found: Candidates) -> Candidates:
        """The candidates whose own declared requirements the rest of the set lets them meet, as
        a resolver would keep (torch>=2.0.1 beside triton==2.0.0 is torch 2.0.1, the release that
        asks for that triton); all of them when none does (the clash is ED204's to report)."""
        if found.exact or len(found.versions) < 2:
            return found
        requirement = self._first_line.get(found.name)
        rows = kb_releases.declared_requirements(found.name) if requirement is not None else ()
        if requirement is None or not rows:
            return found  # what the set pulls in is narrowed by what asks for it, not searched again
        fitting = tuple(v for v in found.versions if not self.unmet_of(requirement, rows, v, pins_only=True))
        return found._replace(versions=fitting) if fitting else found

    def unmet(self, requirement: Requirement) -> Unmet | None:
        """When no release of ``requirement`` the set allows can have its declared requirements
        met beside the rest of the set: what its oldest such release requires, what the rest of the
        set asks of that package instead and who asks it, and the newest release of the package
        that would fit. None when some release fits, or the base cannot tell."""
        name = requirement.name
        rows = kb_releases.declared_requirements(name) if name else ()
        if not rows or name is None:
            return None
        allowed = self.candidates_for(name, self.asked.get(name, SpecifierSet())).versions
        unmet = [self.unmet_of(requirement, rows, version) for version in allowed]
        if not unmet or not all(unmet):
            return None
        declared = unmet[-1][0]
        every = candidates(name, SpecifierSet(), self.facts).versions
        fitting = next((v for v in every if not self.unmet_of(requirement, rows, v)), None)
        admitted = self.candidates_for(name, self.asked.get(name, SpecifierSet()))
        oldest = allowed[-1] if any(e.version < allowed[-1] for e in admitted.excluded) else None
        return Unmet(declared, self._others_ask(declared, name), self._askers(declared, name), fitting, oldest)

    def unmet_of(
        self, requirement: Requirement, rows: tuple[Dependency, ...], version: Version, *, pins_only: bool = False
    ) -> list[Pep508]:
        """What ``version`` of the package declares that the rest of the set does not let it meet
        (``pins_only``: the set's own lines and what its exact pins declare, not what ranged
        packages' newest releases would ask)."""
        assert requirement.name is not None and rows
        if not self.from_pypi(requirement.name, version, requirement.extras):
            return []  # an index's build (torch 2.8.0+cu126) declares other wheels than PyPI's, unrecorded
        declared = [
            row.requirement
            for row in kb_releases.declared_by(requirement.name, version)
            if not _for_other_extras(row.requires, requirement.extras)
        ]
        declared = [d for d in declared if d.marker is None or self.markers.certain(d.marker, requirement.extras)]
        return [d for d in declared if not self._meets(d, requirement.name, pins_only=pins_only)]

    def declared_on(self, package: str, version: Version, other: str) -> SpecifierSet:
        """What release ``version`` of ``package`` declares of ``other`` in its metadata (as the
        base records it; empty when it records nothing): pandas 2.1.4 declares numpy<2."""
        wanted = canonicalize_name(other)
        # The set's own line for the package: this is asked while what the set pulls in is worked out.
        line = self._first_line.get(canonicalize_name(package))
        extras = line.extras if line is not None else frozenset()
        declared = SpecifierSet()
        for row in kb_releases.declared_by(package, version):
            if row.name != wanted or _for_other_extras(row.requires, extras):
                continue
            marker = row.requirement.marker
            if marker is None or self.markers.certain(marker, extras):
                declared &= row.requirement.specifier
        return declared

    def rejudged(self, fix: Pep508) -> Rejudged:
        """A fix (numpy<2) re-judged on this host and against the set's pins. A pin whose declared
        requirement on the fixed package admits no release the fix does (opencv-python==4.12.0.88
        asks numpy>=2) moves to its newest release here that does, or is a clash."""
        name = canonicalize_name(fix.name)
        found = candidates(name, fix.specifier, self.facts)
        if not found.tracked:
            return Rejudged()
        # A fix that makes pip build the package from source (or try an sdist that fails) is no fix.
        excluded = {exclusion.version for exclusion in found.excluded}
        known = [v for v in found.versions if v not in excluded]
        if not known:
            return Rejudged(installs=False)
        moves: list[str] = []
        clashes: list[str] = []
        for parent, (version, _origin) in self.exact.items():
            if parent == name or self._admits_one(parent, version, name, known):
                continue
            fitting = nearest(
                (
                    v
                    for v in candidates(parent, SpecifierSet(), self.facts).versions
                    if str(self.declared_on(parent, v, name)) and self._admits_one(parent, v, name, known)
                ),
                Version(version.public),
            )
            if fitting is not None:
                moves.append(f"{parent}=={fitting}")
            else:
                clashes.append(f"{parent}=={version}")
        if len(known) == 1:
            own_moves, own_clashes = self._what_it_declares(name, known[0])
            moves += own_moves
            clashes += own_clashes
        return Rejudged(tuple(moves), tuple(clashes))

    def _what_it_declares(self, name: NormalizedName, version: Version) -> tuple[list[str], list[str]]:
        """The set's pins that what one release declares rules out (torch 2.2.0 pins triton==2.2.0
        beside the set's triton==2.0.0): each moved to the nearest release it allows, or a clash."""
        moves: list[str] = []
        clashes: list[str] = []
        for other, (pinned, _origin) in self.exact.items():
            declared = _public(self.declared_on(name, version, other))
            if other == name or not str(declared) or declared.contains(Version(pinned.public), True):
                continue
            allowed = [v for v in candidates(other, declared, self.facts).versions if declared.contains(v, True)]
            fitting = nearest(allowed, Version(pinned.public))
            if fitting is not None:
                moves.append(f"{other}=={fitting}")
            else:
                clashes.append(f"{other}=={pinned}")
        return moves, clashes

    def _admits_one(self, parent: str, version: Version, name: str, releases: list[Version]) -> bool:
        declared = _public(self.declared_on(parent, Version(version.public), name))
        return not str(declared) or any(declared.contains(v, True) for v in releases)

    def _others_ask(self, declared: Pep508, parent: NormalizedName) -> SpecifierSet:
        """What the set, but for ``parent``, asks of the package ``declared`` names."""
        name = canonicalize_name(declared.name)
        return self.asked.get(name, SpecifierSet()) & self.inherited(name, frozenset({parent}))

    def _askers(self, declared: Pep508, parent: NormalizedName) -> tuple[str, ...]:
        """Who, but ``parent``, asks something of the package ``declared`` names: "the set" for
        its own lines, else the packages that require it."""
        name = canonicalize_name(declared.name)
        askers = ["the set"] if str(self.asked.get(name, SpecifierSet())) else []
        askers += [str(p) for _line, p, _d, _by in self._pulls_by_dependency.get(name, ()) if p != parent]
        return tuple(dict.fromkeys(askers))

    def _meets(self, declared: Pep508, parent: NormalizedName, *, pins_only: bool = False) -> bool:
        """Whether some release meets ``declared`` and what the rest of the set asks (unknown: yes)."""
        key = (str(declared), parent, pins_only)
        if key not in self._meets_cache:
            self._meets_cache[key] = self._meets_now(declared, parent, pins_only=pins_only)
        return self._meets_cache[key]

    def _meets_now(self, declared: Pep508, parent: NormalizedName, *, pins_only: bool) -> bool:
        name = canonicalize_name(declared.name)
        if pins_only:
            others = _public(self.asked.get(name, SpecifierSet()) & self.pinned_declare(name))
        else:
            others = _public(self._others_ask(declared, parent))
        known = kb_releases.releases(declared.name)
        if not str(others) or not known:
            return True
        # A pin to a release no index lists (an NGC image's torch 2.10.0a0+b4e4ee81d3) is a version
        # all the same: pip keeps an installed pre-release that meets a range.
        pinned = [Version(s.version) for s in others if s.operator in ("==", "===") and "*" not in s.version]
        versions = [*(r.version for r in known), *pinned]
        return any(others.contains(v, True) and declared.specifier.contains(v, True) for v in versions)

    def pinned_declare(self, name: NormalizedName) -> SpecifierSet:
        """What the packages pinned exactly in the set declare of ``name`` (torch==2.7.1 declares
        nvidia-nccl-cu12==2.26.2): a resolver must meet it too."""
        if name not in self._pinned_cache:
            specifier = SpecifierSet()
            for parent, version in self._declaring_pins:
                if parent != name:
                    specifier &= _public(self.declared_on(parent, version, name))
            self._pinned_cache[name] = specifier
        return self._pinned_cache[name]

    @functools.cached_property
    def _declaring_pins(self) -> tuple[tuple[NormalizedName, Version], ...]:
        """The set's exact pins (public releases) of packages whose requirements the base records:
        the few of a large set that can declare anything, found once, not once a package asked."""
        return tuple(
            (parent, Version(version.public))
            for parent, (version, _origin) in self.exact.items()
            if kb_releases.declared_requirements(parent)
        )


_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _for_other_extras(requires: str, extras: frozenset[str]) -> bool:
    """Whether a declared requirement's marker names only extras the set does not ask for: most
    of a package's rows (transformers' dozens of extras), told without parsing the requirement."""
    named = _EXTRA.findall(requires)
    asked = {canonicalize_name(e) for e in extras}
    return bool(named) and " or " not in requires and not any(canonicalize_name(e) in asked for e in named)


def _public(specifier: SpecifierSet) -> SpecifierSet:
    """The specifier with each pin's local label dropped (==2.7.1+cu128 is ==2.7.1): the base knows
    public releases, and a local build of a release is that release to every other requirement."""
    kept = [f"{s.operator}{Version(s.version).public}" if "+" in s.version else str(s) for s in specifier]
    return SpecifierSet(",".join(kept))


def _as_parent(parent: Requirement, dependency: Pep508) -> Requirement:
    """What ``parent`` declares, as a requirement whose own declared requirements are followed in turn."""
    return parent._replace(
        name=canonicalize_name(dependency.name), extras=frozenset(dependency.extras), specifier=dependency.specifier
    )


def _release_of(parent: Requirement, version: Version) -> str:
    """The release a package's requirements were read from, as a message names it: the set's own
    pin as written, else the release (a range's newest fitting one, or the resolver's pick)."""
    return parent.describe() if parent.pinned_version == version else f"{parent.name} {version}"


def _named_only(requirement: Pep508) -> Pep508:
    """The requirement without its version specifier or marker: the package, whatever its version."""
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return Pep508(f"{requirement.name}{extras}")
