"""Requirement sources: every kind of file that says what a project installs, read into one
RequirementSet."""

from __future__ import annotations

import fnmatch
from pathlib import PurePath
from typing import TYPE_CHECKING, NamedTuple

from envdoctor.errors import InputError, UsageError
from envdoctor.requirements.model import (
    MAX_REQUIREMENTS,
    IndexOptions,
    Input,
    Location,
    Requirement,
    RequirementSet,
)

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

KINDS = ("requirements", "pyproject", "pylock", "dockerfile")
_DOCKERFILE_NAMES = ("Dockerfile", "Containerfile", "*.Dockerfile", "*.dockerfile", "Dockerfile.*", "Containerfile.*")


def detect_kind(path: str) -> str:
    """The kind of a requirement source, from its file name."""
    name = PurePath(path).name
    if name == "pyproject.toml":
        return "pyproject"
    if name == "pylock.toml" or fnmatch.fnmatch(name, "pylock.*.toml"):
        return "pylock"
    if any(fnmatch.fnmatch(name, pattern) for pattern in _DOCKERFILE_NAMES):
        return "dockerfile"
    if name.endswith((".txt", ".in")) or name.startswith(("requirements", "constraints")) or path == "-":
        return "requirements"
    raise InputError(path, f"cannot tell what kind of file this is; say it with --kind ({', '.join(KINDS)})")


class SourceOptions(NamedTuple):
    kind: str | None = None
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    installed_python: str | None = None


def load_requirement_set(paths: list[str], options: SourceOptions) -> RequirementSet:
    """Read every input into one RequirementSet; bad input raises InputError naming file and line."""
    from envdoctor.fsio import read_text_input

    if options.kind is not None and options.kind not in KINDS:
        raise UsageError(f"--kind {options.kind!r}: expected one of {', '.join(KINDS)}")
    requirements: list[Requirement] = []
    inputs: list[Input] = []
    index = IndexOptions()
    project_pythons: list[tuple[SpecifierSet, Location]] = []
    host_index = IndexOptions()  # the index options of the files the host installs (not a Dockerfile's)
    images, environment, system_packages, commands = [], [], [], []
    unread: list[tuple[str, Location]] = []
    for path in paths:
        kind = options.kind or detect_kind(path)
        if kind == "requirements":
            from envdoctor.requirements.requirements_txt import parse_requirements

            found, found_inputs, found_index = parse_requirements(path)
            requirements += found
            inputs += found_inputs
            index = _merge_index(index, found_index)
            host_index = _merge_index(host_index, found_index)
        elif kind == "pyproject":
            from envdoctor.requirements.pyproject import parse_pyproject, requires_python

            text = read_text_input(path)
            requirements += parse_pyproject(text, path, options.extras, options.groups)
            if (pythons := requires_python(text, path)) is not None:
                project_pythons.append(pythons)
            inputs.append(Input(path, kind, _lockfile_beside(path)))
        elif kind == "pylock":
            from envdoctor.requirements.pylock import parse_pylock

            requirements += parse_pylock(read_text_input(path), path)
            inputs.append(Input(path, kind))
        else:
            from envdoctor.requirements.dockerfile import parse_dockerfile

            dockerfile = parse_dockerfile(read_text_input(path), path)
            inputs.append(Input(path, kind))
            inputs += [item._replace(installed_by=path) for item in dockerfile.inputs]
            requirements += dockerfile.requirements
            images += dockerfile.images
            environment += dockerfile.environment
            system_packages += dockerfile.system_packages
            commands += dockerfile.commands
            unread += dockerfile.unread
            index = _merge_index(index, IndexOptions(extra_index_urls=tuple(dockerfile.index_urls)))
    if len(requirements) > MAX_REQUIREMENTS:
        where = inputs[-1].path if inputs else "the inputs"
        raise InputError(where, f"more than {MAX_REQUIREMENTS:,} requirements in all: not judged")
    if options.installed_python is not None:
        from envdoctor.requirements.installed import installed_requirements

        found, _python = installed_requirements(options.installed_python)
        requirements += found
        inputs.append(Input(f"<installed: {options.installed_python}>", "installed"))
    return RequirementSet(
        # A file both named and installed by a named Dockerfile is read twice: it counts once.
        requirements=tuple(dict.fromkeys(requirements)),
        inputs=_unique_inputs(inputs),
        indexes=index,
        host_indexes=host_index,
        requires_python=tuple(project_pythons),
        images=tuple(images),
        environment=tuple(environment),
        system_packages=tuple(system_packages),
        commands=tuple(commands),
        unread=tuple(unread),
    )


# Lockfiles a project keeps beside its pyproject.toml: uv's, PEP 751's, and envdoctor's own folder.
_LOCKFILES = ("uv.lock", "pylock.toml", "poetry.lock", "pdm.lock", "lockfiles")


def _lockfile_beside(path: str) -> str | None:
    """The lockfile kept beside a project file, if any (its name, relative to the project file)."""
    from pathlib import Path

    folder = Path(path).parent
    for name in _LOCKFILES:
        if (folder / name).exists():
            return name
    named = sorted(p.name for p in folder.glob("pylock.*.toml"))
    return named[0] if named else None


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
    )
