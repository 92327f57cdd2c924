"""What every rule reads: the requirement set, one host, the versions that would be installed."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from envdoctor.findings import Edit, Finding, Severity
from envdoctor.host.profile import HostProfile
from envdoctor.kb.facts import normalized
from envdoctor.requirements.model import Form, Location, Requirement, RequirementSet
from envdoctor.rules.candidates import Candidates, HostFacts, Origin, candidates, pinned
from envdoctor.rules.declared import Declared, Unmet
from envdoctor.rules.markers import Markers

if TYPE_CHECKING:
    from envdoctor.kb.builds import Where
    from envdoctor.kb.facts import ImageFacts

_PYTHON_IMAGES = ("python", "docker.io/library/python", "library/python")
# The empty range, shared (never changed in place: & makes a new one).
_ANY = SpecifierSet()
_NO_PINS: frozenset[Version] = frozenset()
_NOT_VERDICTS = ("not-reproducible", "not-judged", "image-bloat")
# python3.10 as apt, dnf or apk name it: the Python a Dockerfile installs on a base without one.
_SYSTEM_PYTHON = re.compile(r"^python(3\.\d{1,2})(?:-dev|-full|-venv)?$")
_PYTHON_TAG = re.compile(r"^(?P<version>3\.\d+(?:\.\d+)?)(?:-|$)")


@dataclass(frozen=True)
class AuditContext:
    """The facade the rules call. It owns what the set asks and knows exactly on this host; markers
    (rules/markers.py) and what the set's packages declare (rules/declared.py) are worked out by
    the modules it hands that to, which never call back into it."""

    requirements: RequirementSet
    host: HostProfile
    host_name: str
    # Versions a resolver chose for this host (--resolve); empty when auditing offline.
    resolved: Mapping[NormalizedName, Version] = field(default_factory=dict)
    resolver_error: str | None = None

    @functools.cached_property
    def markers(self) -> Markers:
        """PEP 508 markers evaluated where the set installs."""
        return Markers(self.facts, self.host.python)

    def marker_environment(self) -> dict[str, str] | None:
        """The PEP 508 environment where the set installs (the host, or a Dockerfile's image), or
        None if its OS is unknown."""
        environment = self.markers.environment
        return dict(environment) if environment is not None else None

    def applies(self, requirement: Requirement) -> bool:
        """Whether the requirement's marker can hold on this host (see ``Markers.applies``)."""
        return self.markers.applies(requirement.marker)

    @functools.cached_property
    def _declared(self) -> Declared:
        """What the set's packages declare; it reads this context's narrowing, never the context."""
        return Declared(
            self._direct, self._asked, self._exact, self.facts, self.markers, self._candidates_for, self._from_pypi
        )

    def unmet(self, requirement: Requirement) -> Unmet | None:
        """When no release of ``requirement`` the set allows can have its declared requirements met
        beside the rest of the set: why (see ``Declared.unmet``). None when some release fits."""
        return self._declared.unmet(requirement)

    def declared_on(self, package: str, version: Version, other: str) -> SpecifierSet:
        """What release ``version`` of ``package`` declares of ``other``: pandas 2.1.4 declares numpy<2."""
        return self._declared.declared_on(package, version, other)

    def rejudged_fix(self, fix: str, why: str = "") -> str:
        """A requirement-style fix ("numpy<2", then ``why`` it) with what it moves among the set's
        pins, or the pins it still clashes with (see ``Declared.rejudged``)."""
        from envdoctor.requirements.conda_fix import speak
        from envdoctor.rules import edits

        try:
            wanted = Pep508(fix)
        except InvalidRequirement:
            return f"{fix}{why}"
        moves, clashes, installs = self._declared.rejudged(wanted)
        # For a package read from a conda spec, the fix is a conda spec (pytorch<2.5, not torch<2.5).
        fix = speak(fix, self.find(wanted.name))
        if not installs:
            return f"{fix}{why} (but no release it admits has a wheel for {self.facts.describe()})"
        moved = f", with {' '.join(moves)} (the nearest release that allows it)" if moves else ""
        clash = f" (but {', '.join(clashes)} asks otherwise, and no release of it here allows it)" if clashes else ""
        text = f"{fix}{why}{moved}{clash}"
        if not clashes:  # what --fix writes: the fix and the pins it moves
            edits.note(self, text, edits.pins_edits(self, [str(wanted), *moves]))
        return text

    def wanted(self) -> list[Requirement]:
        """Named requirements (not constraints) that apply to this host, then the GPU packages
        they pull in that the set does not name (each with ``required_by``)."""
        return [*self._direct, *self._pulled_in]

    @functools.cached_property
    def _direct(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements.named() if r.marker is None or self.applies(r))

    @functools.cached_property
    def _first_direct(self) -> dict[NormalizedName | None, Requirement]:
        """The set's first applying line of each package: looked up once per package, not scanned."""
        found: dict[NormalizedName | None, Requirement] = {}
        for requirement in self._direct:
            found.setdefault(requirement.name, requirement)
        return found

    @functools.cached_property
    def _first_direct_variant(self) -> dict[NormalizedName | None, Requirement]:
        """The set's first applying line of each package whose own source fixes its build variant."""
        found: dict[NormalizedName | None, Requirement] = {}
        for requirement in self._direct:
            if requirement.variant is not None:
                found.setdefault(requirement.name, requirement)
        return found

    @functools.cached_property
    def _by_name(self) -> dict[NormalizedName, Requirement]:
        found: dict[NormalizedName, Requirement] = {}
        for requirement in self.wanted():
            if requirement.name is None:
                continue
            # Of several lines of one package, the one whose own source fixes its build (a uv
            # source's index) decides it, as uv takes the package from that index for all.
            if requirement.name not in found or (requirement.variant and not found[requirement.name].variant):
                found[requirement.name] = requirement
        return found

    @functools.cached_property
    def _applying(self) -> tuple[tuple[Requirement, NormalizedName, Version | None], ...]:
        """The set's named lines that apply here, constraints included, each with its name and the
        version it pins exactly (None for a range): read once, as every question below asks."""
        return tuple(
            (requirement, requirement.name, requirement.pinned_version)
            for requirement in self.requirements.requirements
            if requirement.name is not None and (requirement.marker is None or self.applies(requirement))
        )

    @functools.cached_property
    def _asked(self) -> dict[NormalizedName, SpecifierSet]:
        """Everything the set's lines that apply here ask of each package, constraints included."""
        asked: dict[NormalizedName, SpecifierSet] = {}
        for requirement, name, _ in self._applying:
            # A line for only some of the Pythons an unknown host could have (numpy==1.22.0 for
            # python_version <= "3.10" beside numpy>=1.24.3 for newer) may not be the one that applies.
            specifier = requirement.specifier if requirement.marker is None or self._certain(requirement) else _ANY
            earlier = asked.get(name)
            # Joined only where a package has several lines: a SpecifierSet is costly to make.
            asked[name] = specifier if earlier is None else earlier & specifier
        return asked

    def _certain(self, requirement: Requirement) -> bool:
        """Whether the line applies whatever the facts the host leaves unknown turn out to be."""
        return requirement.marker is None or self.markers.certain(requirement.marker, frozenset())

    @functools.cached_property
    def _exact(self) -> dict[NormalizedName, tuple[Version, Origin]]:
        """Versions known exactly: the resolver's picks, else == pins (a named line's over a constraint's)."""
        from_constraints: dict[NormalizedName, tuple[Version, Origin]] = {}
        from_lines: dict[NormalizedName, tuple[Version, Origin]] = {}
        for requirement, name, version in self._applying:
            if version is None:
                continue
            if requirement.marker is not None and not self._certain(requirement) and len(self._forks(name)) != 1:
                continue  # a pin for some of the Pythons an unknown host could have, unless all agree
            chosen = from_constraints if requirement.constraint else from_lines
            chosen.setdefault(name, (version, Origin.PINNED))
        resolved = {name: (version, Origin.RESOLVED) for name, version in self.resolved.items()}
        return {**from_constraints, **from_lines, **resolved}

    def _forks(self, name: NormalizedName) -> frozenset[Version]:
        """For a package every applying line of which is an exact pin (a lock forked by Python
        version where the host's Python is unknown): the versions it can be, one per fork. Empty
        where a line is a range, or the package has no line of its own (only constraints)."""
        first, several = self._line_pins
        if name in several:
            pins = several[name]
            return _NO_PINS if None in pins else frozenset(pin for pin in pins if pin is not None)
        pin = first.get(name)
        return frozenset((pin,)) if pin is not None else _NO_PINS

    @functools.cached_property
    def _line_pins(
        self,
    ) -> tuple[dict[NormalizedName, Version | None], dict[NormalizedName, set[Version | None]]]:
        """What each package's applying lines (not constraints) pin exactly, None for a range: the
        first line's, and for the few packages with several lines, all of theirs: a set for every
        package of a large set would cost time and memory that only those few need."""
        first: dict[NormalizedName, Version | None] = {}
        several: dict[NormalizedName, set[Version | None]] = {}
        for requirement, name, version in self._applying:
            if requirement.constraint:
                continue
            if name in first:
                several.setdefault(name, {first[name]}).add(version)
            else:
                first[name] = version
        return first, several

    def _from_pypi(self, name: str, version: Version, extras: frozenset[str]) -> bool:
        """Whether the release comes from PyPI, whose wheels' requirements the base records (a
        torch from the PyTorch CPU index declares no nvidia-* wheels)."""
        from envdoctor.kb import builds

        # The set's own line, not find(): this is asked while what the set pulls in is worked out.
        line = self._first_direct.get(normalized(name))
        where = self.where_of(line)._replace(extras=extras) if line is not None else self.where(extras)
        build = builds.build_of(name, version, where)
        return build is None or build.from_pypi or (build.variant is None and not build.unknown)

    def where(self, extras: frozenset[str] = frozenset()) -> Where:
        """Where the set installs, as the build model asks it: the OS and arch of the host (or the
        Dockerfile's image), the PyTorch variant index in use, and the extras asked for."""
        from envdoctor.kb.builds import Where

        return Where(self.facts.os, self.facts.arch, self.index_variant(), extras)

    def where_of(self, requirement: Requirement | None) -> Where:
        """Where one requirement installs: with its extras, and from the build its own source fixes
        (a uv source's PyTorch index, conda's pytorch-cuda) over the set's indexes."""
        if requirement is None:
            return self.where()
        where = self.where(requirement.extras)
        if requirement.variant:
            return where._replace(index_variant=requirement.variant, variant_certain=True)
        # A source of its own with no variant the base reads from it (an index that is not PyTorch's).
        if requirement.source is None or requirement.form is not Form.NAMED:
            return where
        return where._replace(unknown_source=requirement.source)

    def index_variant(self) -> str | None:
        """The build variant of a PyTorch wheel index the requirement set uses, if any."""
        return self._index_variant

    @functools.cached_property
    def _index_variant(self) -> str | None:
        from envdoctor.kb import facts

        urls = [self.requirements.indexes.index_url or "", *self.requirements.indexes.extra_index_urls]
        return next((variant for url in urls if (variant := facts.pytorch_index_variant(url))), None)

    @functools.cached_property
    def _pulled_in(self) -> tuple[Requirement, ...]:
        """A requirement for each package the set does not name but its packages pull in, then, with
        --resolve, one for every other package the resolver picked, however it came in."""
        named = {r.name for r in self._direct}
        pulled = {r.name: r for r in self._declared.pulled_in()}
        anchor = self.anchor()
        for name, version in sorted(self.resolved.items()):
            if name in named or name in pulled or anchor is None:
                continue
            pulled[name] = Requirement(
                name=name,
                form=Form.NAMED,
                location=anchor,
                text=f"{name}=={version}",
                specifier=SpecifierSet(f"=={version}"),
                required_by="the resolution",
            )
        return tuple(pulled.values())

    def find(self, name: str) -> Requirement | None:
        return self._by_name.get(normalized(name))

    def _candidates_for(self, name: NormalizedName, specifier: SpecifierSet) -> Candidates:
        from envdoctor.kb import facts

        if name in self._exact:
            version, origin = self._exact[name]
            return pinned(name, specifier, version, origin, self.facts)
        allowed = facts.index_serves(name, self.requirements.indexes)
        forked = self._forks(name)
        if len(forked) > 1:
            # Only the forks' pins can be installed, whichever fork the host turns out to be.
            public = frozenset(Version(v.public) for v in forked)
            allowed = public if allowed is None else allowed & public
        # The set's own lines, not find(): this is asked while what the set pulls in is worked out.
        own = self._first_direct_variant.get(name)
        if own is not None and own.variant is not None:
            # The line's own source (a uv index) serves only the releases it has a build of; where
            # the base knows none (conda's cu111 of torch 1.9), nothing is narrowed.
            allowed = facts.variant_serves(name, own.variant) or allowed
        found = candidates(name, specifier, self.facts, allowed)
        # A fork's pin keeps its build label (torch==2.6.0+cu126): the release judged is that build.
        labelled = {Version(v.public): v for v in forked if v.local} if len(forked) > 1 else {}
        return found._replace(versions=tuple(labelled.get(v, v) for v in found.versions)) if labelled else found

    @functools.cached_property
    def facts(self) -> HostFacts:
        """The facts that decide what installs: the host's; for a Dockerfile, its final image's:
        Linux on the host's architecture, with the image's Python where the image says it
        (an official python:X.Y image), else an unknown Python, never the host's."""
        host = HostFacts.of(self.host)
        if self.requirements.interpreters:
            # A conda environment brings its own interpreter: the set installs into it.
            interpreter = self.requirements.interpreters[-1][0]
            host = host._replace(python=".".join(interpreter.split(".")[:2]) or None)
        if not self.requirements.images:
            return host
        arch = "aarch64" if host.arch == "arm64" else host.arch
        image = self.image_python()
        image_minor = ".".join(image[0].split(".")[:2]) if image else None
        base = self.base_facts
        libc = ("glibc", base.glibc) if base is not None and base.glibc else None
        return HostFacts(image_minor, "linux", arch, libc, self.requirements.images[-1].reference)

    @functools.cached_property
    def base_facts(self) -> ImageFacts | None:
        """What the image the final stage runs on carries, as the base knows it."""
        from envdoctor.kb import facts

        base = self.requirements.final_base()
        return facts.image_facts(base.repository, base.tag) if base is not None else None

    def image_python(self) -> tuple[str, str] | None:
        """(the Python version, the image) of a Dockerfile's final image: an official python:X.Y
        image's, or the python3.X the Dockerfile installs with its system package manager."""
        images = self.requirements.images
        if not images:
            return None
        conda = [version for version, at in self.requirements.interpreters if at.path == images[-1].location.path]
        if conda:  # conda's python=3.10 in the Dockerfile, in the environment its pips install into
            return (conda[-1], images[-1].reference) if conda[-1] else None
        if images[-1].repository in _PYTHON_IMAGES:
            match = _PYTHON_TAG.match(images[-1].tag or "")
            return (match.group("version"), images[-1].reference) if match else None
        installed = [m.group(1) for name, _ in self.requirements.system_packages if (m := _SYSTEM_PYTHON.match(name))]
        if installed:
            return installed[-1], images[-1].reference
        base = self.base_facts
        return (base.python, images[-1].reference) if base is not None and base.python else None

    def image_may_carry(self) -> bool:
        """Whether the final stage runs on a base image the knowledge base knows nothing of, which
        may already carry what the Dockerfile's packages pull in (a torch that pip then keeps)."""
        from envdoctor.kb import facts

        base = self.requirements.final_base()
        if base is None or base.repository in (*_PYTHON_IMAGES, *facts.CUDA_IMAGE_REPOSITORIES):
            return False
        return self.base_facts is None

    def _image_unknowns(self, requirement: Requirement | None) -> str | None:
        """What an image leaves unknown that a judgement of ``requirement``'s newest release rests
        on: the Python it installs into, or packages its base may already carry."""
        if requirement is None or requirement.name is None or not self.requirements.images:
            return None
        if self.candidates(requirement.name).exact:
            return None
        from envdoctor.kb import facts

        base = self.requirements.images[-1].repository
        if base not in (*_PYTHON_IMAGES, *facts.CUDA_IMAGE_REPOSITORIES):
            return f"the base image {self.requirements.images[-1].reference} may already carry another release"
        if self.facts.python is None:
            return "the image's Python is unknown"
        return None

    def candidates(self, name: str, moving: Collection[str] = ()) -> Candidates:
        """What a requirement of ``name`` can become on this host (see ``rules/candidates.py``).
        ``moving``: packages whose requirements on it do not count, since a fix moves them with it
        (torchvision, which pins its torch, moves with torch)."""
        wanted = normalized(name)
        key = (wanted, frozenset(moving))
        cached = self._candidate_cache.get(key)
        if cached is None:
            written = self._asked.get(wanted, _ANY)
            inherited = self._declared.inherited(wanted, key[1])
            asked = written & inherited if inherited else written
            found = self._declared.fitting(self._candidates_for(wanted, asked))
            if not found.versions and not found.exact:
                # What ranged packages' newest releases ask clashes: a resolver takes older releases
                # of them. Only what the set's pins declare still holds.
                pinned = written & self._declared.pinned_declare(wanted)
                found = self._declared.fitting(self._candidates_for(wanted, pinned))
            cached = self._candidate_cache[key] = found._replace(written=written)
        return cached

    @functools.cached_property
    def memo(self) -> dict[tuple[str, ...], object]:
        """Answers the rules' shared helpers computed once per context (the build of a package)."""
        return {}

    @functools.cached_property
    def fix_edits(self) -> dict[str, tuple[Edit, ...]]:
        """The edits of each fix text computed here (envdoctor/rules/edits.py), for findings to carry."""
        return {}

    @functools.cached_property
    def _candidate_cache(self) -> dict[tuple[NormalizedName, frozenset[str]], Candidates]:
        return {}

    def version_of(self, name: str) -> Version | None:
        """The version a rule judges: the resolver's choice, else an exact pin (of a line or a
        constraint), else the newest candidate: what a fresh install gets today."""
        return self.candidates(name).newest

    def exact_version(self, name: str) -> Version | None:
        """The version installed if it is known exactly (a pin or the resolver's pick), else None."""
        found = self._exact.get(normalized(name))
        return found[0] if found else None

    def subject(self, name: str, version: Version | None = None) -> str:
        """How a message names the version judged: "torch 2.1.0" for a pin; for a range, what
        was considered: "torch>=2.0 on Linux x86_64, Python 3.12 resolves today to 2.15.0"."""
        found = self.candidates(name)
        version = version or found.newest
        requirement = self.find(name)
        if found.exact or requirement is None:
            return f"{normalized(name)} {version}"
        where = self.facts.describe()
        return f"{requirement.describe()} on {where} resolves today to {version}"

    def anchor(self) -> Location | None:
        """Where findings about the host alone are shown: the first line of the first input."""
        first = next((item for item in self.requirements.inputs if not item.path.startswith("<")), None)
        return Location(first.path, 1) if first else None

    def finding(
        self,
        code: str,
        message: str,
        *,
        requirement: Requirement | None = None,
        location: Location | None = None,
        packages: tuple[str, ...] = (),
        fix: str | None = None,
        references: tuple[str, ...] = (),
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of ``code`` about this host; category and default severity from the catalogue."""
        from envdoctor.codes import doc

        entry = doc(code)
        if requirement is not None and not packages:
            packages = (requirement.describe(),)
        severity = severity if severity is not None else entry.severity
        # Only a verdict about what installs rests on it, not a note on how the set is written.
        unknown = self._image_unknowns(requirement) if entry.category not in _NOT_VERDICTS else None
        if unknown:
            # Judged as a fresh install of the newest release, which the image may not get.
            severity = min(severity, Severity.WARNING)
            message = f"{message} (judged as a fresh install; {unknown})"
        return Finding(
            code=code,
            category=entry.category,
            severity=severity,
            message=message,
            packages=packages,
            location=location or (requirement.location if requirement else None) or self.anchor(),
            fix=fix,
            references=tuple(dict.fromkeys(references)),
            host=self.host_name,
            edits=self._edits_of(fix),
        )

    def _edits_of(self, fix: str | None) -> tuple[Edit, ...]:
        from envdoctor.rules.edits import offered

        return offered(self, fix) if fix and self.fix_edits else ()
