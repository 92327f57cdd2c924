"""What each requirement can become on a host: the releases the knowledge base knows, filtered by
everything the set asks of the package, the host's Python and platform, and the index in effect.

A fresh install takes the newest candidate; the rules judge that one, and the rest of the range
for warnings. An exact pin is its own candidate even where the base does not know the release.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from envdoctor.host.profile import HostProfile
from envdoctor.kb import facts
from envdoctor.kb import releases as kb_releases


class Origin(enum.Enum):
    """Where the version a rule judges comes from, which its message must say."""

    RESOLVED = "resolved"  # the resolver's pick for this host (--resolve)
    PINNED = "pinned"  # an exact == pin in the set
    NEWEST = "newest"  # the newest release the base knows that the set and the host admit


class Why(enum.Enum):
    """Why a release the specifier admits does not install on the host."""

    PYTHON = "python"  # no wheel for the host's Python, and no sdist it may build
    PLATFORM = "platform"  # no wheel for the host's OS, arch or libc, and no sdist
    FROM_SOURCE = "from-source"  # no wheel, but an sdist pip would try to build
    INDEX = "index"  # not on the only index in use


class Exclusion(NamedTuple):
    version: Version
    why: Why
    text: str
    # pip takes the release's sdist all the same and fails to build it (source_build rows): the
    # release is still the one pip picks, and no older one is tried.
    failing_sdist: bool = False


class Candidates(NamedTuple):
    name: NormalizedName
    # Everything the set asks of the package: its lines, constraint files, the packages that pull it in.
    specifier: SpecifierSet
    # Newest first. Empty: the base knows no release that installs here (see ``excluded``), or
    # does not track the package (``tracked`` is False).
    versions: tuple[Version, ...]
    origin: Origin
    tracked: bool = True
    # Releases the specifier admits that the host cannot install from a wheel, and why (newest
    # first); those that build from an sdist (Why.FROM_SOURCE) are candidates all the same. For a
    # pin, its own release when it does not install here from a wheel.
    excluded: tuple[Exclusion, ...] = ()

    def builds_from_source(self, version: Version) -> bool:
        """Whether installing ``version`` here means building its sdist."""
        return any(e.version == version and e.why is Why.FROM_SOURCE for e in self.excluded)

    @property
    def newest(self) -> Version | None:
        return self.versions[0] if self.versions else None

    # What the set's own lines ask (not what other packages ask of it); None: the same as ``specifier``.
    written: SpecifierSet | None = None

    @property
    def bounded(self) -> bool:
        """Whether the set's own lines write a range for the package. A bare name admits every old
        release, and a warning about those would be noise: only a written range is judged in part."""
        return bool(str(self.written if self.written is not None else self.specifier))

    @property
    def exact(self) -> bool:
        """Whether one version is known to be installed (a pin, or the resolver's pick)."""
        return self.origin is not Origin.NEWEST


class HostFacts(NamedTuple):
    """The facts of a host that decide which releases install on it; None where unknown."""

    python: str | None  # major.minor
    os: str | None
    arch: str | None
    libc: tuple[str, str] | None
    # For a Dockerfile judged by its final image: that image's reference.
    image: str | None = None

    @classmethod
    def of(cls, host: HostProfile) -> HostFacts:
        python = ".".join(host.python.split(".")[:2]) if host.python else None
        libc = (host.libc.name, host.libc.version) if host.libc and host.libc.name and host.libc.version else None
        return cls(python, host.os, host.arch, libc)

    def describe(self) -> str:
        """ "Linux x86_64, Python 3.12", for messages; unknown facts are left out."""
        platform = " ".join(part for part in (_OS_TITLE.get(self.os or ""), self.arch) if part)
        python = f"Python {self.python}" if self.python else ""
        described = ", ".join(part for part in (platform, python) if part) or "this host"
        return f"the image {self.image} ({described})" if self.image else described


_OS_TITLE = {"linux": "Linux", "macos": "macOS", "windows": "Windows"}


def pinned(
    name: NormalizedName, specifier: SpecifierSet, version: Version, origin: Origin, host: HostFacts
) -> Candidates:
    """A version known exactly is the one judged, installable or not; if the base knows that it
    does not install here, ``excluded`` says why."""
    tracked = kb_releases.tracked(name)
    release = kb_releases.release(name, version) if tracked else None
    exclusion = _exclusion(release, host, None) if release is not None else None
    exclusion = exclusion or _no_such_build(name, version, host)
    excluded = (exclusion,) if exclusion is not None else ()
    return Candidates(name, specifier, (version,), origin, tracked, excluded)


def no_such_build(name: str, version: Version, os_name: str | None) -> bool:
    """Whether ``version`` names a CUDA build (+cu128) that no index serves for the OS (torch on macOS)."""
    local = version.local
    if not local:
        return False  # most versions: no build label at all
    from envdoctor.kb import builds, facts

    cuda_label = builds.is_variant_label(local) and local.startswith("cu")
    return bool(cuda_label and os_name and facts.no_cuda_builds(name, os_name, version))


def _no_such_build(name: NormalizedName, version: Version, host: HostFacts) -> Exclusion | None:
    if not no_such_build(name, version, host.os):
        return None
    system = os_title(host.os)
    return Exclusion(
        version, Why.PLATFORM, f"no +{version.local} build for {system}: no index serves CUDA builds there"
    )


def os_title(os_name: str | None) -> str:
    """An OS as messages write it: macOS, not macos."""
    return _OS_TITLE.get(os_name or "", os_name or "")


def candidates(
    name: NormalizedName, specifier: SpecifierSet, host: HostFacts, allowed: frozenset[Version] | None = None
) -> Candidates:
    """The releases of ``name`` that ``specifier`` admits and that install on ``host``.

    ``allowed``: where only some releases can be reached (an index that serves only some, such as
    a PyTorch variant index given as the only index), the versions it serves.
    """
    known = kb_releases.releases(name)
    if not known:
        return Candidates(name, specifier, (), Origin.NEWEST, tracked=False)
    admitted = [r for r in reversed(known) if specifier.contains(r.version)]
    if not admitted and any(specifier.contains(r.version, prereleases=True) for r in known):
        admitted = [r for r in reversed(known) if specifier.contains(r.version, prereleases=True)]
    versions: list[Version] = []
    excluded: list[Exclusion] = []
    for release in admitted:
        exclusion = _exclusion(release, host, allowed)
        if exclusion is None or exclusion.why is Why.FROM_SOURCE or exclusion.failing_sdist:
            # pip takes the newest release it has any file for, an sdist it must build included.
            versions.append(release.version)
        if exclusion is not None:
            excluded.append(exclusion)
    return Candidates(name, specifier, tuple(versions), Origin.NEWEST, True, tuple(excluded))


def _exclusion(release: kb_releases.Release, host: HostFacts, allowed: frozenset[Version] | None) -> Exclusion | None:
    """Why a release cannot be installed from a wheel on the host, or None when it can."""
    if allowed is not None and release.version not in allowed:
        return Exclusion(release.version, Why.INDEX, "not on the index in use")
    if not release.platforms and release.sdist:
        return None  # a package that publishes only sdists builds from source everywhere, as it is meant to
    native = _native_elsewhere(release, host)
    if native is not None:
        return native
    python_ok = kb_releases.has_wheel_for_python(release, host.python) if host.python else True
    platform_ok = (
        kb_releases.has_wheel_for_platform(release, host.os, host.arch, host.libc) if host.os and host.arch else True
    )
    # Both exist, but perhaps not in one wheel (torch 2.5.0: cp313 wheels, macOS wheels, no cp313 one for macOS).
    both_apart = (
        python_ok is not False
        and platform_ok
        and host.python
        and host.os
        and host.arch
        and kb_releases.lacks_wheel_for(release, host.python, host.os, host.arch, host.libc)
    )
    if both_apart:
        python_ok = False
    if python_ok is not False and platform_ok:
        return None
    requires = release.requires_python
    # Without a wheel for the platform, no Python would do: the platform is the cause to name.
    missing = f"{host.os}-{host.arch}" if not platform_ok else f"Python {host.python}"
    if release.sdist and (host.python is None or requires is None or requires.contains(host.python, True)):
        fails = facts.failing_source_build(release.package, release.version, host.python) if host.python else None
        if fails is None:
            return Exclusion(release.version, Why.FROM_SOURCE, f"no wheel for {missing}, only an sdist to build")
        # An sdist known not to build here (numba 0.57's setup.py refuses Python 3.12): nothing installs.
        why = Why.PYTHON if platform_ok else Why.PLATFORM
        text = f"no wheel for {missing}, and an sdist that fails to build: {fails['note']}"
        return Exclusion(release.version, why, text, failing_sdist=True)
    if platform_ok:
        return Exclusion(release.version, Why.PYTHON, f"no distribution for Python {host.python}{_pythons(release)}")
    return Exclusion(release.version, Why.PLATFORM, f"no distribution for {host.os}-{host.arch}")


def _native_elsewhere(release: kb_releases.Release, host: HostFacts) -> Exclusion | None:
    """A release whose wheels install anywhere but whose bundled libraries run on some platforms
    only (bitsandbytes < 0.43: Linux .so files in a py3-none-any wheel): none installs here."""
    native = facts.native_code(release.package, release.version) if host.os and host.arch else None
    if native is None or kb_releases.platform_name(host.os or "", host.arch or "") in native.platforms:
        return None
    built_for = ", ".join(native.platforms)
    text = f"a wheel whose libraries are built for {built_for} only (pip installs it, and it fails at import)"
    return Exclusion(release.version, Why.PLATFORM, text)


def _pythons(release: kb_releases.Release) -> str:
    """The Pythons a release does have wheels for, for messages."""
    if release.pythons:
        return f" (its wheels are for Python {', '.join(sorted(release.pythons, key=Version))})"
    if release.requires_python is not None:
        return f" (it requires Python {release.requires_python})"
    return ""


def nearest(versions: Iterable[Version], to: Version) -> Version | None:
    """The release closest to ``to`` that a fix can move a pin to: the oldest at or above it,
    else the newest below it. The smallest move keeps the API the set was written against."""
    ordered = sorted(versions)
    above = [v for v in ordered if v >= to]
    if above:
        return above[0]
    return ordered[-1] if ordered else None


def span(versions: tuple[Version, ...] | list[Version], among: tuple[Version, ...] | list[Version] = ()) -> str:
    """Releases as short ranges for messages: "2.0.0 to 2.6.0", "2.1.0". With ``among`` (all the
    candidates), each run of consecutive candidates is one range: "2.8.0 to 2.11.1, 2.14.0"."""
    ordered = sorted(versions)
    if not ordered:
        return ""
    if not among:
        return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]} to {ordered[-1]}"
    picked = set(ordered)
    runs: list[list[Version]] = []
    for version in sorted(among):
        if version in picked:
            if runs and runs[-1][-1] == _previous(version, among):
                runs[-1].append(version)
            else:
                runs.append([version])
    return ", ".join(span(run) for run in runs)


def _previous(version: Version, among: tuple[Version, ...] | list[Version]) -> Version | None:
    older = [v for v in among if v < version]
    return max(older) if older else None
