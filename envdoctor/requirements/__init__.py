"""Requirement sources: every kind of file that says what a project installs, read into one
RequirementSet."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, NamedTuple

from envdoctor.errors import InputError, UsageError
from envdoctor.requirements.model import (
    MAX_REQUIREMENTS,
    BaseImage,
    IndexOptions,
    Input,
    Location,
    Requirement,
    RequirementSet,
)
from envdoctor.seams import INPUT_KINDS, load

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet

    from envdoctor.artifacts.read import Artifact
    from envdoctor.requirements.image_inspect import InspectedImage
    from envdoctor.requirements.k8s_manifest import Workload

KINDS = tuple(INPUT_KINDS)
# conda's environment files and `conda list` output, by the names projects give them.
_CONDA_NAMES = ("environment.yml", "environment.yaml", "environment[-_]*.y*ml", "env.yml", "conda*.y*ml")
_CONDA_LIST_NAMES = ("conda-*.lock", "spec-file.txt", "package-list.txt")
_DOCKERFILE_NAMES = ("Dockerfile", "Containerfile", "*.Dockerfile", "*.dockerfile", "Dockerfile.*", "Containerfile.*")


def detect_kind(path: str) -> str:
    """The kind of a requirement source, from its file name."""
    name = PurePath(path).name
    if name == "pyproject.toml":
        return "pyproject"
    from envdoctor.artifacts import SNIFFED_SUFFIXES, is_artifact_name, sniffs_as_model

    if is_artifact_name(name) or (path != "-" and os.path.isdir(path)):
        return "artifact"
    if name.endswith(SNIFFED_SUFFIXES) and path != "-" and sniffs_as_model(path):
        return "artifact"  # an XGBoost model.json, a LightGBM model.txt
    if name == "uv.lock":
        return "uvlock"
    if name == "poetry.lock":
        return "poetrylock"
    if name == "pylock.toml" or fnmatch.fnmatch(name, "pylock.*.toml"):
        return "pylock"
    if any(fnmatch.fnmatch(name, pattern) for pattern in _DOCKERFILE_NAMES):
        return "dockerfile"
    if any(fnmatch.fnmatch(name, pattern) for pattern in _CONDA_NAMES):
        return "conda"
    if any(fnmatch.fnmatch(name, pattern) for pattern in _CONDA_LIST_NAMES):
        return "conda-list"
    if name.endswith((".yml", ".yaml")) and path != "-" and _sniff_manifest(path):
        return "k8s"
    if name.endswith(".json") and path != "-" and _sniff_inspect(path):
        return "image-inspect"
    if name.endswith((".yml", ".yaml")) or (name.endswith(".txt") and path != "-"):
        sniffed = _sniff_conda(path)
        if sniffed is not None:
            return sniffed
    if name.endswith((".txt", ".in")) or name.startswith(("requirements", "constraints")) or path == "-":
        return "requirements"
    raise InputError(path, f"cannot tell what kind of file this is; say it with --kind ({', '.join(KINDS)})")


def _sniff_manifest(path: str) -> bool:
    """A Kubernetes workload (kind: Deployment, Pod, Job...), from its first 64 KiB."""
    from envdoctor.fsio import file_head
    from envdoctor.requirements.k8s_manifest import looks_like_manifest

    head = file_head(path, 1 << 16)
    return head is not None and looks_like_manifest(head.decode("utf-8", "replace"))


def _sniff_inspect(path: str) -> bool:
    """``docker image inspect`` output, from its first 64 KiB."""
    from envdoctor.fsio import file_head
    from envdoctor.requirements.image_inspect import looks_like_inspect

    head = file_head(path, 1 << 16)
    return head is not None and looks_like_inspect(head.decode("utf-8", "replace"))


class SourceOptions(NamedTuple):
    kind: str | None = None
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    installed_python: str | None = None
    # The stage of each Dockerfile to judge (docker build --target); None: the last.
    target: str | None = None
    # A uv project's default groups (dev) apply unless --no-default-groups; --no-group drops one.
    default_groups: bool = True
    without_groups: tuple[str, ...] = ()


def source_options(args: Any, **more: Any) -> SourceOptions:
    """The source options the command line gave (audit and lock share them)."""
    without = (*(args.no_group or ()), *(("dev",) if args.no_dev else ()))
    return SourceOptions(
        kind=args.kind,
        extras=tuple(args.extra or ()),
        groups=tuple(args.group or ()),
        default_groups=not args.no_default_groups,
        without_groups=without,
        **more,
    )


def _groups(options: SourceOptions) -> dict[str, Any]:
    return {"default_groups": options.default_groups, "without": options.without_groups}


def load_requirement_set(paths: list[str], options: SourceOptions) -> RequirementSet:
    """Read every input into one RequirementSet; bad input raises InputError naming file and line."""
    if options.kind is not None and options.kind not in KINDS:
        raise UsageError(f"--kind {options.kind!r}: expected one of {', '.join(KINDS)}")
    found = Found()
    readers = {}
    for path in paths:
        kind = options.kind or detect_kind(path)
        if kind not in readers:
            readers[kind] = load(INPUT_KINDS[kind])
        readers[kind](path, options, found)
    if len(found.requirements) > MAX_REQUIREMENTS:
        where = found.inputs[-1].path if found.inputs else "the inputs"
        raise InputError(where, f"more than {MAX_REQUIREMENTS:,} requirements in all: not judged")
    if options.installed_python is not None:
        from envdoctor.requirements.installed import installed_requirements

        installed, _python = installed_requirements(options.installed_python)
        found.requirements += installed
        found.inputs.append(Input(f"<installed: {options.installed_python}>", "installed"))
    return found.requirement_set()


@dataclass
class Found:
    """What the inputs read so far say, gathered into one set."""

    requirements: list[Requirement] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    index: IndexOptions = field(default_factory=IndexOptions)
    # The index options of the files the host installs (not a Dockerfile's).
    host_index: IndexOptions = field(default_factory=IndexOptions)
    pythons: list[tuple[SpecifierSet, Location]] = field(default_factory=list)
    interpreters: list[tuple[str, Location]] = field(default_factory=list)
    system_cuda: list[tuple[str, Location]] = field(default_factory=list)
    supported: list[tuple[Marker, Location]] = field(default_factory=list)
    conda_platforms: list[tuple[str, tuple[str, ...], str, Location]] = field(default_factory=list)
    images: list[BaseImage] = field(default_factory=list)
    environment: list[tuple[str, str, Location]] = field(default_factory=list)
    system_packages: list[tuple[str, Location]] = field(default_factory=list)
    commands: list[tuple[str, Location]] = field(default_factory=list)
    unread: list[tuple[str, Location]] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    inspected: list[InspectedImage] = field(default_factory=list)

    def on_host(self, index: IndexOptions) -> None:
        self.index = _merge_index(self.index, index)
        self.host_index = _merge_index(self.host_index, index)

    def requirement_set(self) -> RequirementSet:
        return RequirementSet(
            requirements=_each_once(self.requirements),
            inputs=_unique_inputs(self.inputs),
            indexes=self.index,
            host_indexes=self.host_index,
            requires_python=tuple(self.pythons),
            images=tuple(self.images),
            environment=tuple(self.environment),
            system_packages=tuple(self.system_packages),
            commands=tuple(self.commands),
            unread=tuple(self.unread),
            interpreters=tuple(self.interpreters),
            system_cuda=tuple(self.system_cuda),
            supported=tuple(self.supported),
            conda_platforms=tuple(self.conda_platforms),
            artifacts=tuple(self.artifacts),
            workloads=tuple(self.workloads),
            inspected=tuple(self.inspected),
        )


def gather_requirements(path: str, options: SourceOptions, found: Found) -> None:
    from envdoctor.requirements.requirements_txt import read_requirements

    read = read_requirements(path)
    found.requirements += read.requirements
    found.inputs += read.inputs
    found.unread += read.unread
    found.on_host(read.indexes)


def gather_pyproject(path: str, options: SourceOptions, found: Found) -> None:
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.pyproject import parse_pyproject, requires_python, uv_indexes

    text = read_text_input(path)
    found.requirements += parse_pyproject(text, path, options.extras, options.groups, **_groups(options))
    if (pythons := requires_python(text, path)) is not None:
        found.pythons.append(pythons)
    found.on_host(uv_indexes(text, path))
    found.inputs.append(Input(path, "pyproject", _lockfile_beside(path)))


def gather_uvlock(path: str, options: SourceOptions, found: Found) -> None:
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements import uvlock

    text = read_text_input(path)
    found.requirements += uvlock.parse_uv_lock(text, path, options.extras, options.groups, **_groups(options))
    if (pythons := uvlock.requires_python(text, path)) is not None:
        found.pythons.append(pythons)
    found.supported += uvlock.supported_markers(text, path)
    found.inputs.append(Input(path, "uvlock"))


def gather_poetrylock(path: str, options: SourceOptions, found: Found) -> None:
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.poetrylock import parse_poetry_lock, requires_python

    text = read_text_input(path)
    found.requirements += parse_poetry_lock(text, path, options.extras, options.groups)
    # [metadata] python-versions: poetry install refuses any other Python, as uv sync does uv.lock's requires-python.
    if (pythons := requires_python(text, path)) is not None:
        found.pythons.append(pythons)
    found.inputs.append(Input(path, "poetrylock"))


def gather_conda(path: str, options: SourceOptions, found: Found) -> None:
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.conda import parse_conda_list, parse_environment_yml

    text = read_text_input(path)
    kind = options.kind or detect_kind(path)
    env = parse_environment_yml(text, path) if kind == "conda" else parse_conda_list(text, path)
    found.requirements += env.requirements
    found.inputs += env.inputs or (Input(path, kind),)
    found.unread += env.unread
    found.on_host(env.indexes)  # the environment is on the host
    if env.python is not None and env.python_at is not None:
        found.interpreters.append((env.python, env.python_at))
    elif env.python_at is not None:
        # A range (python>=3.8): conda picks the Python, not the host; which one is not known here.
        found.interpreters.append(("", env.python_at))
    if env.system_cuda is not None and env.system_cuda_at is not None:
        found.system_cuda.append((env.system_cuda, env.system_cuda_at))
    found.conda_platforms += env.platforms


def gather_pylock(path: str, options: SourceOptions, found: Found) -> None:
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.pylock import parse_pylock

    found.requirements += parse_pylock(read_text_input(path), path)
    found.inputs.append(Input(path, "pylock"))


def gather_artifact(path: str, options: SourceOptions, found: Found) -> None:
    """A model file, or a folder of them, read as data (never loaded)."""
    from envdoctor.artifacts.read import read_artifacts

    found.artifacts += read_artifacts(path)
    found.inputs.append(Input(path, "artifact"))


def gather_k8s(path: str, options: SourceOptions, found: Found) -> None:
    """Kubernetes workloads: their images, GPUs and node affinity."""
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.k8s_manifest import parse_manifest

    found.workloads += parse_manifest(read_text_input(path), path)
    found.inputs.append(Input(path, "k8s"))


def gather_image_inspect(path: str, options: SourceOptions, found: Found) -> None:
    """Built images (``docker image inspect``): what the container runtime reads of each."""
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.image_inspect import parse_inspect

    found.inspected += parse_inspect(read_text_input(path), path)
    found.inputs.append(Input(path, "image-inspect"))


def gather_dockerfile(path: str, options: SourceOptions, found: Found) -> None:
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.dockerfile import parse_dockerfile

    dockerfile = parse_dockerfile(read_text_input(path), path, options.target)
    found.inputs.append(Input(path, "dockerfile"))
    found.inputs += [item._replace(installed_by=path) for item in dockerfile.inputs]
    found.requirements += dockerfile.requirements
    found.images += dockerfile.images
    found.environment += dockerfile.environment
    found.system_packages += dockerfile.system_packages
    found.commands += dockerfile.commands
    found.unread += dockerfile.unread
    found.interpreters += dockerfile.interpreters
    # The image's index options apply in the image only: not the host's.
    image_index = IndexOptions(extra_index_urls=tuple(dockerfile.index_urls), find_links=tuple(dockerfile.find_links))
    found.index = _merge_index(found.index, image_index)


# Lockfiles a project keeps beside its pyproject.toml: uv's, PEP 751's, and envdoctor's own folder.
_LOCKFILES = ("uv.lock", "pylock.toml", "poetry.lock", "pdm.lock", "lockfiles")


def _sniff_conda(path: str) -> str | None:
    """A .yml with a top-level dependencies list is a conda environment; a .txt that is `conda
    list` output (its @EXPLICIT or export header) is conda-list. Read from the first 4 KiB."""
    from envdoctor.fsio import file_head

    raw = file_head(path, 4096)
    if raw is None:
        return None  # a FIFO or device is never opened here: the reader refuses it by name
    head = raw.decode("utf-8", "replace")
    if path.endswith((".yml", ".yaml")):
        return "conda" if looks_like_environment_yml(head) else None
    return "conda-list" if looks_like_conda_list(head) else None


def looks_like_environment_yml(text: str) -> bool:
    """Whether a YAML file's text is a conda environment: a top-level ``dependencies:`` key. Here,
    not in the conda reader: every .txt and .yml is sniffed, and most are not conda's."""
    return re.search(r"(?m)^dependencies\s*:", text) is not None


def looks_like_conda_list(text: str) -> bool:
    """Whether a text file is conda list output: '@EXPLICIT', conda's export header, or its table."""
    head = text[:4096]
    return (
        re.search(r"(?m)^@EXPLICIT\s*$", head) is not None
        or "# $ conda create --name <env> --file <this file>" in head
        or head.startswith("# packages in environment at")
    )


def _lockfile_beside(path: str) -> str | None:
    """The lockfile kept beside a project file, if any (its name, relative to the project file)."""
    from pathlib import Path

    folder = Path(path).parent
    for name in _LOCKFILES:
        if (folder / name).exists():
            return name
    named = sorted(p.name for p in folder.glob("pylock.*.toml"))
    return named[0] if named else None


def _each_once(requirements: list[Requirement]) -> tuple[Requirement, ...]:
    """The requirements, each once: a file both named and installed by a named Dockerfile is read
    twice. Only those of one line and text are compared, as hashing every field of each
    requirement of a large set costs more than reading it."""
    by_line: dict[tuple[Location, str], list[Requirement]] = {}
    kept = []
    for requirement in requirements:
        same_line = by_line.setdefault((requirement.location, requirement.text), [])
        if requirement not in same_line:
            same_line.append(requirement)
            kept.append(requirement)
    return tuple(kept)


def _unique_inputs(inputs: list[Input]) -> tuple[Input, ...]:
    """Each input once, with the Dockerfile that installs it where one does."""
    found: dict[tuple[str, str], Input] = {}
    for item in inputs:
        key = (item.path, item.kind)
        if key not in found or (item.installed_by and not found[key].installed_by):
            found[key] = item
    return tuple(found.values())


def _merge_index(first: IndexOptions, second: IndexOptions) -> IndexOptions:
    return IndexOptions(
        index_url=second.index_url or first.index_url,
        extra_index_urls=tuple(dict.fromkeys(first.extra_index_urls + second.extra_index_urls)),
        find_links=tuple(dict.fromkeys(first.find_links + second.find_links)),
        no_index=first.no_index or second.no_index,
        unknown=first.unknown or second.unknown,
    )
