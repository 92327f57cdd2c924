"""A requirement set, whatever file it came from: what is asked for, and where it was asked."""

from __future__ import annotations

import enum
import functools
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from envdoctor.artifacts.read import Artifact
    from envdoctor.requirements.image_inspect import InspectedImage
    from envdoctor.requirements.k8s_manifest import Workload

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

# A real requirement set, a full ML freeze included, is hundreds of lines; generated monorepo sets
# reach tens of thousands (issue 15 audits 100,000). Past this bound a file is hostile or a
# mistake: it is refused, which keeps the time and memory of a read bounded (a few seconds,
# well under a GiB).
MAX_REQUIREMENTS = 200_000


class Form(enum.Enum):
    """How a requirement names what it wants."""

    NAMED = "named"  # name, extras, specifier (PEP 508)
    URL = "url"  # name @ https://.../file.whl, or a bare archive URL
    VCS = "vcs"  # git+https://...@ref
    PATH = "path"  # a local folder or archive


class Location(NamedTuple):
    """Where a requirement was written: a file and, where it has lines, a line."""

    path: str
    line: int | None = None


class Requirement(NamedTuple):
    name: NormalizedName | None
    form: Form
    location: Location
    text: str
    specifier: SpecifierSet = SpecifierSet()
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None
    url: str | None = None
    editable: bool = False
    hashes: tuple[str, ...] = ()
    # True for lines that only constrain (-c files), never add a package.
    constraint: bool = False
    # Codes silenced on this line with "# envdoctor: ignore[ED101]".
    ignored: frozenset[str] = frozenset()
    # For a package the set does not name but one of its packages pulls in (torch for
    # accelerate): who requires it, as messages name it: the release that declares it
    # ("tensorflow 2.21.0", or the set's pin as written), with "via" the set's own package when
    # it came in further down ("torch 2.15.0 via deepspeed 0.18.4"); "the resolution" for
    # --resolve. Such requirements exist only in the audit.
    required_by: str | None = None
    # The build variant (cpu, cu121) a source other than PyPI fixes for this package: the variant
    # of the PyTorch index a uv source names, conda's pytorch-cuda=12.1. None: the set's indexes
    # decide, as for any line.
    variant: str | None = None
    # Where the package comes from when not the set's indexes, for messages: "the pytorch-cu121
    # index (tool.uv.sources)", "conda channel pytorch". None: the set's indexes.
    source: str | None = None
    # The wheel files a lockfile offers for it (uv.lock's wheels), and whether it offers an sdist:
    # what the installer can take, whatever the index holds. Empty: the lock does not say.
    wheels: tuple[str, ...] = ()
    sdist: bool = False

    @property
    def pinned_version(self) -> Version | None:
        """The version an ``==`` pin names exactly (no wildcard), else None."""
        if len(self.specifier) != 1:
            return None
        (spec,) = self.specifier
        return _pinned(spec.operator, spec.version)

    def describe(self) -> str:
        """name==version as a user would write it, for messages."""
        if self.name is None:
            return self.text
        described = f"{self.name}{self.specifier}" if self.specifier else str(self.name)
        return f"{described} (required by {self.required_by})" if self.required_by else described


@functools.cache
def _pinned(operator: str, version: str) -> Version | None:
    """The version of one ``operator version`` specifier if it pins one exactly. Cached, as the
    rules read every pin many times: by its text, so that ==1.0 stays 1.0, never 1.0.0."""
    if operator not in ("==", "===") or version.endswith(".*"):
        return None
    try:
        return Version(version)
    except InvalidVersion:
        return None


class IndexOptions(NamedTuple):
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    # An index option could not be read (--extra-index-url ${UNSET}): which indexes serve the set
    # is not known.
    unknown: bool = False


class Input(NamedTuple):
    path: str
    kind: str
    # A lockfile beside a project file (uv.lock, pylock.toml, lockfiles/): the project's ranges
    # are the input of that lock, and installs come from the lock.
    locked_by: str | None = None
    # The Dockerfile that installs this file (pip install -r), whose image it is judged for.
    installed_by: str | None = None


class RequirementSet(NamedTuple):
    requirements: tuple[Requirement, ...]
    inputs: tuple[Input, ...]
    indexes: IndexOptions = IndexOptions()
    # The index options of the inputs installed on the host, a Dockerfile's left out (its RUN
    # lines' --extra-index-url applies in its image only); None: the same as ``indexes``.
    host_indexes: IndexOptions | None = None
    # Facts from a Dockerfile: base images and environment, audited as one more layer.
    images: tuple[BaseImage, ...] = ()
    environment: tuple[tuple[str, str, Location], ...] = ()
    system_packages: tuple[tuple[str, Location], ...] = ()
    # RUN commands of a Dockerfile, after ARG and ENV substitution.
    commands: tuple[tuple[str, Location], ...] = ()
    # A project's own requires-python (pyproject.toml), where it was written.
    requires_python: tuple[tuple[SpecifierSet, Location], ...] = ()
    # What an input holds that could not be read (a variable without a value, a shell construct),
    # each with why: reported as one not-judged note each, never a failed audit.
    unread: tuple[tuple[str, Location], ...] = ()
    # The Python an environment file brings (conda's python=3.10): the set installs into it, not
    # into the host's. "" where the file gives a range (conda picks it): not known here.
    interpreters: tuple[tuple[str, Location], ...] = ()
    # The CUDA an environment file installs for what loads it from the system (conda's
    # cudatoolkit=11.8, cuda-version=12.4), where it says so.
    system_cuda: tuple[tuple[str, Location], ...] = ()
    # The only environments a lockfile holds a resolution for (uv.lock's supported-markers).
    supported: tuple[tuple[Marker, Location], ...] = ()
    # conda specs of packages built for some platforms only (pytorch-cuda=11.8: linux-64, win-64):
    # the spec, the conda platforms it has files for, the page that says so, and where it was written.
    conda_platforms: tuple[tuple[str, tuple[str, ...], str, Location], ...] = ()
    # Model files named with the set (envdoctor.artifacts.read.Artifact), judged against it.
    artifacts: tuple[Artifact, ...] = ()
    # Kubernetes workloads named with the set: their images judged on the node classes they may land on.
    workloads: tuple[Workload, ...] = ()
    # Built images (docker image inspect): the workloads' images by name, or judged on the host alone.
    inspected: tuple[InspectedImage, ...] = ()

    def final_base(self) -> BaseImage | None:
        """The image the final stage of a Dockerfile runs on, through any stages it is built FROM."""
        if not self.images:
            return None
        image = self.images[-1]
        for _ in self.images:  # a FROM chain is no longer than the stages
            earlier = next((i for i in reversed(self.images) if i.stage and i.stage == image.reference), None)
            if earlier is None or earlier is image:
                break
            image = earlier
        return image

    def named(self) -> list[Requirement]:
        return [r for r in self.requirements if r.name is not None and not r.constraint]

    def specifier_of(self, name: str) -> SpecifierSet:
        """Everything the set asks of a package, constraint files included."""
        specifier = SpecifierSet()
        for requirement in self.requirements:
            if requirement.name == name:
                specifier &= requirement.specifier
        return specifier


class BaseImage(NamedTuple):
    """A FROM line: the image reference and what it is pinned to."""

    reference: str
    repository: str
    tag: str | None
    digest: str | None
    stage: str | None
    location: Location
    final: bool = False
