"""Resolvers behind one interface (``Backend``): uv (the default) and pip-tools. Both answer with
the ``Lock`` of one target, which the lockfile writers, ``lock --check --resolve`` and
``audit --resolve`` read; both run under the same timeout, index options and failure rules."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol

from envdoctor import console
from envdoctor.errors import EnvdoctorError, InputError, UsageError
from envdoctor.lock.model import Lock, option_line, prepare_reading
from envdoctor.lock.steering import Steering, TorchIndex
from envdoctor.requirements.model import Form, IndexOptions, Location, RequirementSet
from envdoctor.requirements.requirements_txt import parse_requirement_text
from envdoctor.resolve import uv
from envdoctor.resolve.target import Target
from envdoctor.safety import snippet

# A requirement written as a bare URL (no "name @"), which a project's dependencies cannot hold.
_BARE_URL = ("http://", "https://", "file:", "git+", "hg+", "svn+", "bzr+")


class LockRequest(NamedTuple):
    requirements: RequirementSet
    target: Target
    steering: Steering
    exclude_newer: str | None = None
    upgrade: tuple[str, ...] = ()
    # The previous pylock of this target: its versions are kept unless upgraded.
    previous_pylock: str | None = None
    # List the files of exactly these requirements, resolving nothing more.
    no_deps: bool = False
    # The inputs' own indexes, a PyTorch index among them: the audit judges what they install
    # (a lock takes the torch family's index from the steering alone).
    as_given: bool = False


class Resolved(NamedTuple):
    """A resolver's answer: the lock, or its explanation of why no set of versions fits."""

    lock: Lock | None = None
    error: str | None = None
    resolver: str = ""


class Backend(Protocol):
    """A resolver: the lock of one target, or why none fits; raises ResolverFailed (exit 2) when
    it gave no answer about the requirements (missing, killed, out of time, no index)."""

    name: str

    def resolve(self, request: LockRequest) -> Resolved: ...


def backend(name: str) -> Backend:
    """The resolver of this name (``envdoctor.seams.RESOLVERS``: uv, pip-tools)."""
    from envdoctor.seams import RESOLVERS, load

    if name not in RESOLVERS:
        raise UsageError(f"--backend {name!r}: expected one of {', '.join(RESOLVERS)}")
    made: Backend = load(RESOLVERS[name])()
    return made


def _resolve(argv: list[str], name: str, folder: Path, output: str) -> uv.Answer:
    """Run the resolver in ``folder``: the text of the file it wrote as ``output``, or why nothing fits."""
    console.detail(f"run: {console.command_line(argv)} (in {folder})")
    answer = uv.resolver_answer(argv, name, timeout=uv.TIMEOUT_S, cwd=folder, meanwhile=prepare_reading)
    if answer.unsatisfiable is not None:
        return answer
    try:
        return uv.Answer((folder / output).read_bytes().decode("utf-8"), None)
    except (OSError, UnicodeDecodeError):
        raise uv.ResolverFailed(f"{name} exited 0 but wrote no readable {output}") from None


class TorchBuildUnreachable(uv.IndexUnreachable):
    """The PyTorch variant index that serves the build a target needs cannot be reached, or is no
    mirror of it: which build, from where, and how to name a mirror (exit 2, never unsatisfiable)."""


# The throwaway project's name, as the resolver's explanations name it, and what they say instead.
_PROJECT = re.compile(r"envdoctor-lock-input(?:==0|:\S+)?(?P<verb> depends on)?")
# How uv and pip say that an index has no torch at all, or not the release asked.
_TORCH_MISSING = re.compile(
    r"torch was not found in the package registry|there is no version of torch\b|"
    r"No matching distribution found for torch\b"
)


def _mapped(request: LockRequest, resolve: Callable[[], uv.Answer]) -> uv.Answer:
    """Run the resolver; its failures said the user's way: a torch variant index that cannot be
    reached (or serves no torch) names the build and the way to a mirror, and an explanation
    names the user's requirements, not the throwaway project they were written into."""
    index = request.steering.torch_index
    try:
        answer = resolve()
    except uv.IndexUnreachable as exc:
        cause = str(exc).removeprefix("cannot reach the package index: ")
        if index is None or _absolute(index.url).rstrip("/") not in cause:
            raise
        raise TorchBuildUnreachable(_needed(index, request.target, f"cannot be reached ({cause})")) from None
    if answer.unsatisfiable is None:
        return answer
    if index is not None and _local(index.url) and _absolute(index.url).rstrip("/") in answer.unsatisfiable:
        # A local folder that is not there: uv cannot read it, which says nothing of the set.
        raise TorchBuildUnreachable(_needed(index, request.target, "cannot be read"))
    if index is not None and _TORCH_MISSING.search(answer.unsatisfiable):
        trouble = "serves no such build of torch (a mirror of PyPI serves PyPI's builds only)"
        raise TorchBuildUnreachable(_needed(index, request.target, trouble))
    said = _PROJECT.sub(
        lambda m: "your requirements ask for" if m["verb"] else "your requirements", answer.unsatisfiable
    )
    return answer._replace(unsatisfiable=said)


def _needed(index: TorchIndex, target: Target, trouble: str) -> str:
    release = f"torch {index.release}" if index.release else "torch"
    return (
        f"the target ({target.os} {target.arch}, Python {target.python}) needs the {index.variant} build of "
        f"{release} ({index.needed or index.reason}), from {index.url}, which {trouble}: give a mirror of the "
        f"PyTorch wheel index with --pytorch-index URL (URL/{index.variant} must serve its {index.variant} builds; "
        f"a local folder holding {index.variant}/ with its wheels will do too)"
        + (f", or pin torch=={index.pypi_instead}, whose PyPI build runs there" if index.pypi_instead else "")
    )


def _local(url: str) -> bool:
    return not url.startswith(("http://", "https://"))


def _absolute(location: str) -> str:
    """A local index or find-links folder as an absolute path: the resolver runs elsewhere."""
    if not _local(location) or location.startswith("file:"):
        return location
    return str(Path(location).resolve())


def _toml_string(value: str) -> str:
    # A JSON string is a TOML basic string, but for \uD83D-style surrogate pairs: keep non-ASCII as is.
    return json.dumps(value, ensure_ascii=False)


class UvBackend:
    """uv pip compile, given a throwaway project so that the torch family can be bound to the
    PyTorch index alone (an explicit index in [tool.uv.sources])."""

    name = "uv"

    def resolve(self, request: LockRequest) -> Resolved:
        with tempfile.TemporaryDirectory(prefix="envdoctor-lock-") as scratch:
            folder = Path(scratch)
            named, loose, constraints = _split(request)
            (folder / "pyproject.toml").write_text(_project(named, request), encoding="utf-8")
            inputs = ["pyproject.toml"]
            if loose:
                (folder / "requirements.in").write_text(uv.input_file(loose, "requirement"), encoding="utf-8")
                inputs.append("requirements.in")
            argv = [uv.uv_binary(), "pip", "compile", *inputs, "--quiet", "--no-header", "--format", "pylock.toml"]
            argv += ["--python-version", request.target.python, "--python-platform", request.target.platform]
            argv += _index_flags(request.requirements.indexes, request.as_given)
            if constraints:
                (folder / "constraints.txt").write_text(uv.input_file(constraints, "constraint"), encoding="utf-8")
                argv += ["--constraint", "constraints.txt"]
            if request.exclude_newer:
                argv += ["--exclude-newer", request.exclude_newer]
            for name in request.upgrade:
                argv += ["--upgrade-package", name]
            if request.no_deps:
                argv.append("--no-deps")
            output = folder / "pylock.toml"
            if request.previous_pylock:
                output.write_text(request.previous_pylock, encoding="utf-8")
            argv += ["--output-file", "pylock.toml"]
            answer = _mapped(request, lambda: _resolve(argv, "uv", folder, "pylock.toml"))
        if answer.unsatisfiable is not None:
            return Resolved(error=answer.unsatisfiable, resolver=self.name)
        return Resolved(_answer_lock(answer.output), None, self.name)


def _answer_lock(text: str) -> Lock:
    """The lock the resolver wrote, validated: one that does not validate is its failure, not the user's input."""
    try:
        return Lock.read(text, "pylock.toml")
    except InputError as exc:
        raise uv.ResolverFailed(
            f"the resolver wrote a pylock.toml that does not validate: {snippet(str(exc), 120)}"
        ) from None


def _split(request: LockRequest) -> tuple[list[str], list[str], list[str]]:
    """PEP 508 requirements (for the project), the rest (paths, editables), and constraints."""
    named, loose = [], []
    rewritten = {old: new for old, new, _ in request.steering.rewrites}
    for requirement in request.requirements.requirements:
        if requirement.constraint:
            continue
        if requirement.text in rewritten:
            named.append(rewritten[requirement.text])
            continue
        if requirement.form is Form.PATH or requirement.editable or requirement.name is None:
            loose.append(("-e " if requirement.editable else "") + requirement.text)
        elif requirement.form in (Form.URL, Form.VCS) and requirement.text.startswith(_BARE_URL):
            # The marker too: a Windows-only wheel URL must not be locked for Linux.
            marker = f" ; {requirement.marker}" if requirement.marker is not None else ""
            named.append(f"{requirement.name} @ {requirement.url}{marker}")
        else:
            named.append(requirement.text)
    # A torch the set's packages bring, named so that its index binding applies to it.
    named += request.steering.added
    constraints = [r.text for r in request.requirements.requirements if r.constraint]
    constraints += [c.requirement for c in request.steering.constraints]
    return list(dict.fromkeys(named)), list(dict.fromkeys(loose)), list(dict.fromkeys(constraints))


def _project(named: list[str], request: LockRequest) -> str:
    lines = ["[project]", 'name = "envdoctor-lock-input"', 'version = "0"', "dependencies = ["]
    lines += [f"    {_toml_string(text)}," for text in named]
    lines.append("]")
    index = request.steering.torch_index
    indexes = request.requirements.indexes
    if index is not None and index.packages:
        lines += ["", "[tool.uv.sources]"]
        lines += [f'{name} = {{ index = "pytorch" }}' for name in index.packages]
        url = _absolute(index.url)
        lines += ["", "[[tool.uv.index]]", 'name = "pytorch"', f"url = {_toml_string(url)}", "explicit = true"]
        if _local(index.url):
            lines.append('format = "flat"')
    if indexes.no_index and indexes.find_links:
        # "Only these local files": a flat default index keeps the explicit PyTorch index usable,
        # which uv's --no-index would switch off too.
        for number, link in enumerate(indexes.find_links):
            lines += ["", "[[tool.uv.index]]", f'name = "local-{number}"', f"url = {_toml_string(_absolute(link))}"]
            lines += ['format = "flat"'] + (["default = true"] if number == 0 else [])
    return "\n".join(lines) + "\n"


def _extra_index_urls(indexes: IndexOptions, as_given: bool) -> list[str]:
    """The extra indexes asked: a lock's torch family takes its index from the steering alone."""
    return [url for url in indexes.extra_index_urls if as_given or "download.pytorch.org" not in url]


def _index_flags(indexes: IndexOptions, as_given: bool = False) -> list[str]:
    flags: list[str] = []
    if indexes.no_index and indexes.find_links:
        return flags  # expressed as flat indexes in the project (see _project)
    if indexes.index_url:
        flags += ["--index-url", indexes.index_url]
    for url in _extra_index_urls(indexes, as_given):
        flags += ["--extra-index-url", url]
    for link in indexes.find_links:
        flags += ["--find-links", _absolute(link)]
    if indexes.no_index:
        flags.append("--no-index")
    return flags


class PipToolsBackend:
    """pip-compile resolves (for the interpreter it runs under); uv then lists the files of the
    exact versions it chose, so that both backends write the same lockfile formats."""

    name = "pip-tools"

    def resolve(self, request: LockRequest) -> Resolved:
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        if request.target.python != running:
            raise EnvdoctorError(
                f"pip-tools resolves for the Python it runs under ({running}), not {request.target.python}: "
                "use --backend uv, or run envdoctor with that Python"
            )
        with tempfile.TemporaryDirectory(prefix="envdoctor-lock-") as scratch:
            folder = Path(scratch)
            named, loose, constraints = _split(request)
            lines = _pip_index_lines(request)
            if constraints:
                (folder / "constraints.txt").write_text(uv.input_file(constraints, "constraint"), encoding="utf-8")
                lines.append("-c constraints.txt")
            # The index lines are ours, each option with one checked token; the rest are requirements.
            (folder / "requirements.in").write_text(
                "\n".join(lines) + "\n" + uv.input_file(named + loose, "requirement"), encoding="utf-8"
            )
            argv = [sys.executable, "-m", "piptools", "compile", "--quiet", "--no-header", "--no-annotate"]
            argv += ["--strip-extras", "--output-file", "pinned.txt", "requirements.in"]
            for name in request.upgrade:
                argv += ["--upgrade-package", name]
            answer = _mapped(request, lambda: _resolve(argv, "pip-compile", folder, "pinned.txt"))
            if answer.unsatisfiable is not None:
                return Resolved(error=answer.unsatisfiable, resolver=self.name)
            pinned = [
                line.strip()
                for line in answer.output.splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "-"))
            ]
        exact = [parse_requirement_text(line, Location("<pip-compile>")) for line in pinned]
        listing = request._replace(
            requirements=request.requirements._replace(requirements=tuple(exact)),
            steering=request.steering._replace(constraints=()),
            previous_pylock=None,
            upgrade=(),
            no_deps=True,
        )
        files = UvBackend().resolve(listing)
        return files._replace(resolver=self.name)


def _pip_index_lines(request: LockRequest) -> list[str]:
    indexes = request.requirements.indexes
    lines = [option_line("--index-url", indexes.index_url)] if indexes.index_url else []
    lines += [option_line("--extra-index-url", url) for url in _extra_index_urls(indexes, request.as_given)]
    lines += [option_line("--find-links", _absolute(link)) for link in indexes.find_links]
    if indexes.no_index:
        lines.append("--no-index")
    if request.steering.torch_index is not None:
        # pip cannot bind an index to some packages; the lockfile's hashes pin every file instead.
        lines.append(_extra_index(request.steering.torch_index.url))
    return lines


def _extra_index(url: str) -> str:
    url = _absolute(url)
    return option_line("--find-links" if _local(url) else "--extra-index-url", url)
