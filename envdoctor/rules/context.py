"""What every rule reads: the requirement set, one host, the versions that would be installed."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from packaging.markers import Marker
from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import HostProfile
from envdoctor.requirements.model import Form, Location, Requirement, RequirementSet
from envdoctor.rules.candidates import Candidates, HostFacts, Origin, candidates, pinned

if TYPE_CHECKING:
    from envdoctor.kb.builds import Where
    from envdoctor.kb.releases import Dependency

_PYTHON_IMAGES = ("python", "docker.io/library/python", "library/python")
_CUDA_IMAGES = ("nvidia/cuda", "docker.io/nvidia/cuda", "nvcr.io/nvidia/cuda")
# python3.10 as apt, dnf or apk name it: the Python a Dockerfile installs on a base without one.
_SYSTEM_PYTHON = re.compile(r"^python(3\.\d{1,2})(?:-dev|-full|-venv)?$")
_PYTHON_TAG = re.compile(r"^(?P<version>3\.\d+(?:\.\d+)?)(?:-|$)")


class Unmet(NamedTuple):
    """A requirement a package declares that the rest of the set rules out."""

    declared: Pep508
    others: SpecifierSet  # what the rest of the set asks of that package
    askers: tuple[str, ...]  # "the set", or the packages that require it
    fitting: Version | None  # the newest release of the package that would fit, if any


# PEP 508 marker values for each (os, arch) of a host profile.
_SYS_PLATFORM = {"linux": "linux", "macos": "darwin", "windows": "win32"}
_PLATFORM_SYSTEM = {"linux": "Linux", "macos": "Darwin", "windows": "Windows"}
_MACHINE = {
    ("linux", "x86_64"): "x86_64",
    ("linux", "aarch64"): "aarch64",
    ("macos", "arm64"): "arm64",
    ("macos", "x86_64"): "x86_64",
    ("windows", "x86_64"): "AMD64",
    ("windows", "arm64"): "ARM64",
}


@dataclass(frozen=True)
class AuditContext:
    requirements: RequirementSet
    host: HostProfile
    host_name: str
    # Versions a resolver chose for this host (--resolve); empty when auditing offline.
    resolved: Mapping[NormalizedName, Version] = field(default_factory=dict)
    resolver_error: str | None = None

    def marker_environment(self) -> dict[str, str] | None:
        """The PEP 508 environment where the set installs (the host, or a Dockerfile's image), or
        None if its OS is unknown."""
        facts = self.facts
        if facts.os is None:
            return None
        environment = {
            "sys_platform": _SYS_PLATFORM[facts.os],
            "platform_system": _PLATFORM_SYSTEM[facts.os],
            "os_name": "nt" if facts.os == "windows" else "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
        }
        machine = _MACHINE.get((facts.os, facts.arch or ""))
        if machine:
            environment["platform_machine"] = machine
        if facts.python:
            full = self.host.python if self.host.python and facts.image is None else facts.python
            parts = full.split(".")
            environment["python_version"] = ".".join(parts[:2])
            environment["python_full_version"] = full if len(parts) >= 3 else f"{full}.0"
        return environment

    def applies(self, requirement: Requirement) -> bool:
        """Whether the requirement's marker can hold on this host. A fact the host leaves unknown
        (its Python, its machine) takes each value it could have: a line for Windows is not judged
        on Linux even when the host's Python is not given."""
        marker: Marker | None = requirement.marker
        if marker is None:
            return True
        environment = self.marker_environment()
        if environment is None:
            return True
        for candidate in _completions(environment, self.facts.os or ""):
            try:
                if marker.evaluate({**candidate, "extra": ""}):
                    return True
            except Exception:
                return True  # a marker packaging cannot evaluate: judged, as before
        return False

    def wanted(self) -> list[Requirement]:
        """Named requirements (not constraints) that apply to this host, then the GPU packages
        they pull in that the set does not name (each with ``required_by``)."""
        return [*self._direct, *self._pulled_in]

    @functools.cached_property
    def _direct(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements.named() if self.applies(r))

    @functools.cached_property
    def _by_name(self) -> dict[NormalizedName, Requirement]:
        found: dict[NormalizedName, Requirement] = {}
        for requirement in self.wanted():
            if requirement.name is not None:
                found.setdefault(requirement.name, requirement)
        return found

    @functools.cached_property
    def _asked(self) -> dict[NormalizedName, SpecifierSet]:
        """Everything the set's lines that apply here ask of each package, constraints included."""
        asked: dict[NormalizedName, SpecifierSet] = {}
        for requirement in self.requirements.requirements:
            if requirement.name is not None and self.applies(requirement):
                # A line for only some of the Pythons an unknown host could have (numpy==1.22.0 for
                # python_version <= "3.10" beside numpy>=1.24.3 for newer) may not be the one that applies.
                specifier = requirement.specifier if self._certain(requirement) else SpecifierSet()
                asked[requirement.name] = asked.get(requirement.name, SpecifierSet()) & specifier
        return asked

    def _certain(self, requirement: Requirement) -> bool:
        """Whether the line applies whatever the facts the host leaves unknown turn out to be."""
        return requirement.marker is None or self._marker_certain(requirement.marker, frozenset())

    @functools.cached_property
    def _exact(self) -> dict[NormalizedName, tuple[Version, Origin]]:
        """Versions known exactly: the resolver's picks, else == pins (a named line's over a constraint's)."""
        from_constraints: dict[NormalizedName, tuple[Version, Origin]] = {}
        from_lines: dict[NormalizedName, tuple[Version, Origin]] = {}
        for requirement in self.requirements.requirements:
            version = requirement.pinned_version
            if requirement.name is None or version is None or not self.applies(requirement):
                continue
            if not self._certain(requirement):
                continue
            chosen = from_constraints if requirement.constraint else from_lines
            chosen.setdefault(requirement.name, (version, Origin.PINNED))
        resolved = {name: (version, Origin.RESOLVED) for name, version in self.resolved.items()}
        return {**from_constraints, **from_lines, **resolved}

    @functools.cached_property
    def _pulls(self) -> tuple[tuple[Requirement, NormalizedName, Pep508], ...]:
        """(the line of a package in the set, the package that declares it, a GPU requirement its
        chosen release declares), for every package the base knows the dependencies of, followed
        a few levels deep."""
        from envdoctor.kb import releases as kb_releases

        found: list[tuple[Requirement, NormalizedName, Pep508]] = []
        seen: set[NormalizedName] = set()
        frontier = [(r, r) for r in self._direct if r.name is not None]
        for _depth in range(3):
            following: list[tuple[Requirement, Requirement]] = []
            for line, parent in frontier:
                assert parent.name is not None
                if parent.name in seen:
                    continue
                seen.add(parent.name)
                for dependency in self._dependencies_of(parent, kb_releases.declared_requirements(parent.name)):
                    found.append((line, parent.name, dependency))
                    child = canonicalize_name(dependency.name)
                    extras = frozenset(dependency.extras)
                    following.append((line, parent._replace(name=child, extras=extras, specifier=dependency.specifier)))
            frontier = following
        return tuple(found)

    def _dependencies_of(self, parent: Requirement, rows: tuple[Dependency, ...]) -> list[Pep508]:
        """The GPU requirements of the release of ``parent`` that would be installed here."""
        if not rows or parent.name is None:
            return []
        version = self._parent_version(parent, rows)
        if version is None or not self._from_pypi(parent.name, version, parent.extras):
            return []
        wanted = []
        from envdoctor.kb import releases as kb_releases

        for row in kb_releases.declared_by(parent.name, version):
            if _for_other_extras(row.requires, parent.extras):
                continue
            marker = row.requirement.marker
            if marker is not None and not self._marker_holds(marker, parent.extras):
                continue
            if marker is not None and not self._marker_certain(marker, parent.extras):
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
        if name in self._exact:
            return self._exact[name][0]
        asked = self._asked.get(name, SpecifierSet()) & parent.specifier
        for version in self._candidates_for(name, asked).versions:
            if not self._unmet_of(parent, rows, version, pins_only=True):
                return version
        return None

    def unmet(self, requirement: Requirement) -> Unmet | None:
        """When no release of ``requirement`` the set allows can have its declared requirements
        met beside the rest of the set: what its oldest such release requires, what the rest of the
        set asks of that package instead and who asks it, and the newest release of the package
        that would fit. None when some release fits, or the base cannot tell."""
        from envdoctor.kb import releases as kb_releases

        name = requirement.name
        rows = kb_releases.declared_requirements(name) if name else ()
        if not rows or name is None:
            return None
        allowed = self._candidates_for(name, self._asked.get(name, SpecifierSet())).versions
        unmet = [self._unmet_of(requirement, rows, version) for version in allowed]
        if not unmet or not all(unmet):
            return None
        declared = unmet[-1][0]
        fitting = next(
            (
                v
                for v in candidates(name, SpecifierSet(), self.facts).versions
                if not self._unmet_of(requirement, rows, v)
            ),
            None,
        )
        return Unmet(declared, self._others_ask(declared, name), self._askers(declared, name), fitting)

    def _unmet_of(
        self, requirement: Requirement, rows: tuple[Dependency, ...], version: Version, *, pins_only: bool = False
    ) -> list[Pep508]:
        """What ``version`` of the package declares that the rest of the set does not let it meet
        (``pins_only``: the set's own lines and what its exact pins declare, not what ranged
        packages' newest releases would ask)."""
        from envdoctor.kb import releases as kb_releases

        assert requirement.name is not None and rows
        declared = [
            row.requirement
            for row in kb_releases.declared_by(requirement.name, version)
            if not _for_other_extras(row.requires, requirement.extras)
        ]
        declared = [d for d in declared if d.marker is None or self._marker_certain(d.marker, requirement.extras)]
        return [d for d in declared if not self._meets(d, requirement.name, pins_only=pins_only)]

    def declared_on(self, package: str, version: Version, other: str) -> SpecifierSet:
        """What release ``version`` of ``package`` declares of ``other`` in its metadata (as the
        base records it; empty when it records nothing): pandas 2.1.4 declares numpy<2."""
        from envdoctor.kb import releases as kb_releases

        wanted = canonicalize_name(other)
        # The set's own line for the package, not find(): this is asked while what the set pulls in is worked out.
        extras = next((r.extras for r in self._direct if r.name == canonicalize_name(package)), frozenset())
        declared = SpecifierSet()
        for row in kb_releases.declared_by(package, version):
            if row.name != wanted or _for_other_extras(row.requires, extras):
                continue
            marker = row.requirement.marker
            if marker is None or self._marker_certain(marker, extras):
                declared &= row.requirement.specifier
        return declared

    def _others_ask(self, declared: Pep508, parent: NormalizedName) -> SpecifierSet:
        """What the set, but for ``parent``, asks of the package ``declared`` names."""
        name = canonicalize_name(declared.name)
        return self._asked.get(name, SpecifierSet()) & self._inherited(name, frozenset({parent}))

    def _askers(self, declared: Pep508, parent: NormalizedName) -> tuple[str, ...]:
        """Who, but ``parent``, asks something of the package ``declared`` names: "the set" for
        its own lines, else the packages that require it."""
        name = canonicalize_name(declared.name)
        askers = ["the set"] if str(self._asked.get(name, SpecifierSet())) else []
        askers += [str(p) for _line, p, d in self._pulls if canonicalize_name(d.name) == name and p != parent]
        return tuple(dict.fromkeys(askers))

    def _meets(self, declared: Pep508, parent: NormalizedName, *, pins_only: bool = False) -> bool:
        """Whether some release meets ``declared`` and what the rest of the set asks (unknown: yes)."""
        key = ("meets", str(declared), parent, str(pins_only))
        if key not in self.memo:
            self.memo[key] = self._meets_now(declared, parent, pins_only=pins_only)
        return bool(self.memo[key])

    def _meets_now(self, declared: Pep508, parent: NormalizedName, *, pins_only: bool) -> bool:
        from envdoctor.kb import releases as kb_releases

        name = canonicalize_name(declared.name)
        if pins_only:
            others = _public(self._asked.get(name, SpecifierSet()) & self._pinned_declare(name))
        else:
            others = _public(self._others_ask(declared, parent))
        known = kb_releases.releases(declared.name)
        if not str(others) or not known:
            return True
        return any(others.contains(r.version, True) and declared.specifier.contains(r.version, True) for r in known)

    def _pinned_declare(self, name: NormalizedName) -> SpecifierSet:
        """What the packages pinned exactly in the set declare of ``name`` (torch==2.7.1 declares
        nvidia-nccl-cu12==2.26.2): a resolver must meet it too."""
        key = ("pinned-declare", name)
        if key not in self.memo:
            specifier = SpecifierSet()
            for parent, (version, _origin) in self._exact.items():
                if parent != name:
                    specifier &= _public(self.declared_on(parent, Version(version.public), name))
            self.memo[key] = specifier
        found = self.memo[key]
        assert isinstance(found, SpecifierSet)
        return found

    def _from_pypi(self, name: str, version: Version, extras: frozenset[str]) -> bool:
        """Whether the release comes from PyPI, whose wheels' requirements the base records (a
        torch from the PyTorch CPU index declares no nvidia-* wheels)."""
        from envdoctor.kb import builds

        build = builds.build_of(name, version, self.where(extras))
        return build is None or build.from_pypi or (build.variant is None and not build.unknown)

    def where(self, extras: frozenset[str] = frozenset()) -> Where:
        """Where the set installs, as the build model asks it: the OS and arch of the host (or the
        Dockerfile's image), the PyTorch variant index in use, and the extras asked for."""
        from envdoctor.kb.builds import Where

        return Where(self.facts.os, self.facts.arch, self.index_variant(), extras)

    def index_variant(self) -> str | None:
        """The build variant of a PyTorch wheel index the requirement set uses, if any."""
        from envdoctor.kb import facts

        urls = [self.requirements.indexes.index_url or "", *self.requirements.indexes.extra_index_urls]
        return next((variant for url in urls if (variant := facts.pytorch_index_variant(url))), None)

    def _marker_holds(self, marker: Marker, extras: frozenset[str]) -> bool:
        """Whether the marker holds for some value of the facts the host leaves unknown."""
        return any(self._marker_values(marker, extras))

    def _marker_certain(self, marker: Marker, extras: frozenset[str]) -> bool:
        """Whether the marker holds whatever the facts the host leaves unknown turn out to be."""
        values = self._marker_values(marker, extras)
        return bool(values) and all(values)

    def _marker_values(self, marker: Marker, extras: frozenset[str]) -> list[bool]:
        """The marker's value in each completion of the host's environment (for the best extra)."""
        environment = self.marker_environment()
        if environment is None:
            return [] if "extra" in str(marker) else [True]
        values = []
        for candidate in _completions(environment, self.facts.os or ""):
            try:
                values.append(any(marker.evaluate({**candidate, "extra": extra}) for extra in (*extras, "")))
            except Exception:
                return []
        return values

    @functools.cached_property
    def _pulled_in(self) -> tuple[Requirement, ...]:
        """A requirement for each GPU package the set does not name but its packages pull in,
        written where the package that pulls it in was."""
        named = {r.name for r in self._direct}
        pulled: dict[NormalizedName, Requirement] = {}
        for line, _parent, dependency in self._pulls:
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
                required_by=line.describe(),
            )
        # With --resolve, every package the resolver picked is judged, however it came in.
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

    def _inherited(self, name: NormalizedName, moving: frozenset[str]) -> SpecifierSet:
        """What the packages of the set ask of ``name`` through their own requirements, but for
        those in ``moving`` (companions that would move with it)."""
        specifier = SpecifierSet()
        for _line, parent, dependency in self._pulls:
            if canonicalize_name(dependency.name) == name and parent not in moving:
                specifier &= dependency.specifier
        return specifier

    def find(self, name: str) -> Requirement | None:
        return self._by_name.get(canonicalize_name(name))

    def _candidates_for(self, name: NormalizedName, specifier: SpecifierSet) -> Candidates:
        from envdoctor.kb import facts

        if name in self._exact:
            version, origin = self._exact[name]
            return pinned(name, specifier, version, origin, self.facts)
        allowed = facts.index_serves(name, self.requirements.indexes)
        return candidates(name, specifier, self.facts, allowed)

    @functools.cached_property
    def facts(self) -> HostFacts:
        """The facts that decide what installs: the host's; for a Dockerfile, its final image's:
        Linux on the host's architecture, with the image's Python where the image says it
        (an official python:X.Y image), else an unknown Python, never the host's."""
        host = HostFacts.of(self.host)
        if not self.requirements.images:
            return host
        arch = "aarch64" if host.arch == "arm64" else host.arch
        image = self.image_python()
        python = ".".join(image[0].split(".")[:2]) if image else None
        return HostFacts(python, "linux", arch, None, self.requirements.images[-1].reference)

    def image_python(self) -> tuple[str, str] | None:
        """(the Python version, the image) of a Dockerfile's final image: an official python:X.Y
        image's, or the python3.X the Dockerfile installs with its system package manager."""
        images = self.requirements.images
        if not images:
            return None
        if images[-1].repository in _PYTHON_IMAGES:
            match = _PYTHON_TAG.match(images[-1].tag or "")
            return (match.group("version"), images[-1].reference) if match else None
        installed = [m.group(1) for name, _ in self.requirements.system_packages if (m := _SYSTEM_PYTHON.match(name))]
        return (installed[-1], images[-1].reference) if installed else None

    def _image_unknowns(self, requirement: Requirement | None) -> str | None:
        """What an image leaves unknown that a judgement of ``requirement``'s newest release rests
        on: the Python it installs into, or packages its base may already carry."""
        if requirement is None or requirement.name is None or not self.requirements.images:
            return None
        if self.candidates(requirement.name).exact:
            return None
        base = self.requirements.images[-1].repository
        if base not in (*_PYTHON_IMAGES, *_CUDA_IMAGES):
            return f"the base image {self.requirements.images[-1].reference} may already carry another release"
        if self.facts.python is None:
            return "the image's Python is unknown"
        return None

    def candidates(self, name: str, moving: Collection[str] = ()) -> Candidates:
        """What a requirement of ``name`` can become on this host (see ``rules/candidates.py``).
        ``moving``: packages whose requirements on it do not count, since a fix moves them with it
        (torchvision, which pins its torch, moves with torch)."""
        wanted = canonicalize_name(name)
        key = (wanted, frozenset(moving))
        cached = self._candidate_cache.get(key)
        if cached is None:
            written = self._asked.get(wanted, SpecifierSet())
            found = self._fitting(wanted, self._candidates_for(wanted, written & self._inherited(wanted, key[1])))
            cached = self._candidate_cache[key] = found._replace(written=written)
        return cached

    def _fitting(self, name: NormalizedName, found: Candidates) -> Candidates:
        """The candidates whose own declared requirements the rest of the set lets them meet, as
        a resolver would keep (torch>=2.0.1 beside triton==2.0.0 is torch 2.0.1, the release that
        asks for that triton); all of them when none does (the clash is ED204's to report)."""
        from envdoctor.kb import releases as kb_releases

        if found.exact or len(found.versions) < 2:
            return found
        requirement = next((r for r in self._direct if r.name == name), None)
        rows = kb_releases.declared_requirements(name) if requirement is not None else ()
        if requirement is None or not rows:
            return found  # what the set pulls in is narrowed by what asks for it, not searched again
        fitting = tuple(v for v in found.versions if not self._unmet_of(requirement, rows, v, pins_only=True))
        return found._replace(versions=fitting) if fitting else found

    @functools.cached_property
    def memo(self) -> dict[tuple[str, ...], object]:
        """Answers the rules' shared helpers computed once per context (the build of a package)."""
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
        found = self._exact.get(canonicalize_name(name))
        return found[0] if found else None

    def subject(self, name: str, version: Version | None = None) -> str:
        """How a message names the version judged: "torch 2.1.0" for a pin; for a range, what
        was considered: "torch>=2.0 on Linux x86_64, Python 3.12 resolves today to 2.15.0"."""
        found = self.candidates(name)
        version = version or found.newest
        requirement = self.find(name)
        if found.exact or requirement is None:
            return f"{canonicalize_name(name)} {version}"
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
        unknown = self._image_unknowns(requirement)
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


def _named_only(requirement: Pep508) -> Pep508:
    """The requirement without its version specifier or marker: the package, whatever its version."""
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return Pep508(f"{requirement.name}{extras}")


# The values an unknown fact of a host can take, for evaluating markers.
_PYTHONS = tuple(f"3.{minor}" for minor in range(8, 15))
_MACHINES = {"linux": ("x86_64", "aarch64"), "macos": ("arm64", "x86_64"), "windows": ("AMD64", "ARM64")}


def _completions(environment: dict[str, str], os_name: str) -> list[dict[str, str]]:
    """The host's marker environment with each unknown fact filled in every way it could be."""
    pythons = (environment["python_version"],) if "python_version" in environment else _PYTHONS
    machines = (environment["platform_machine"],) if "platform_machine" in environment else _MACHINES[os_name]
    completions = []
    for python in pythons:
        for machine in machines:
            full = environment.get("python_full_version", f"{python}.0")
            completions.append(
                {**environment, "python_version": python, "python_full_version": full, "platform_machine": machine}
            )
    return completions
