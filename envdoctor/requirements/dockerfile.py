"""A Dockerfile as one more layer of the stack: its base images, its installs, its environment.

Reads ``FROM`` (image, tag, digest, stage), ``ENV`` and ``ARG`` defaults, and in ``RUN`` the
``pip install``, ``uv pip install`` and ``apt-get install`` commands. Requirements files that a
``pip install -r`` names are read too when they sit beside the Dockerfile.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from envdoctor.errors import InputError
from envdoctor.fsio import is_inside, project_root
from envdoctor.requirements.model import BaseImage, Input, Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text, parse_requirements
from envdoctor.safety import UnsafeValue, one_token, quote

_INSTRUCTION = re.compile(r"^\s*(?P<name>[A-Za-z]+)(?:\s+(?P<rest>.*))?$")
_VARIABLE = re.compile(r"\$\{?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}?")
_SPLIT_COMMANDS = re.compile(r"&&|\|\||;|\|")
# Docker's grammar for a tag: what the rules read versions from is bounded by it.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TAG_LENGTH = 128
_PIP_OPTIONS_WITH_VALUE = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-c",
        "--constraint",
        "--target",
        "-t",
        "--prefix",
        "--root",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--cache-dir",
        "--trusted-host",
        "--progress-bar",
        "--python",
        "-p",
        "--only-binary",
        "--no-binary",
        "--src",
        "--upgrade-strategy",
        "--config-settings",
        "--index-strategy",
        "--resolution",
        "--prerelease",
    }
)


@dataclass
class Dockerfile:
    images: list[BaseImage] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    environment: list[tuple[str, str, Location]] = field(default_factory=list)
    system_packages: list[tuple[str, Location]] = field(default_factory=list)
    commands: list[tuple[str, Location]] = field(default_factory=list)
    # Files copied from the build context: destination in the image -> path in the context.
    copies: dict[str, str] = field(default_factory=dict)
    index_urls: list[str] = field(default_factory=list)
    # What could not be read, and why (a variable without a value): not judged, never exit 2.
    unread: list[tuple[str, Location]] = field(default_factory=list)


def parse_dockerfile(text: str, path: str) -> Dockerfile:
    result = Dockerfile()
    arguments: dict[str, str] = {}
    stages: set[str] = set()
    for number, line in _logical_lines(text):
        match = _INSTRUCTION.match(line)
        if match is None:
            raise InputError(path, f"not a Dockerfile instruction: {quote(line)}", number)
        name, rest = match.group("name").upper(), (match.group("rest") or "").strip()
        location = Location(path, number)
        if name == "ARG":
            key, has_default, default = rest.partition("=")
            if has_default:  # without one, the value comes from --build-arg: unknown here
                arguments[key.strip()] = _unquote(default.strip())
        elif name == "FROM":
            image = _from(rest, arguments, stages, location)
            if image.stage:
                stages.add(image.stage)
            result.images.append(image)
        elif name == "ENV":
            for key, value in _env_pairs(rest):
                arguments[key] = value
                result.environment.append((key, value, location))
        elif name in ("COPY", "ADD"):
            _copy(rest, result)
        elif name == "RUN":
            flags, shell, argv = _run_form(rest)
            if argv is not None:  # the exec form: no shell splits its words or expands $VARIABLES in them
                result.commands.append((" ".join(flags + argv), location))
                _install(argv, location, path, result)
            else:
                command = _substitute(shell, arguments)
                result.commands.append((" ".join([*flags, command]), location))
                _run(command, location, path, result)
    if result.images:
        last = result.images[-1]
        result.images[-1] = BaseImage(
            last.reference, last.repository, last.tag, last.digest, last.stage, last.location, True
        )
    return result


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions joined across trailing backslashes, each with the number of its first line.

    Docker's rules, not a requirements file's: comment lines are dropped even inside a continued
    instruction, blank lines are skipped, and a leading `# syntax=` directive is kept."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") and (pending or not stripped.startswith("# syntax")):
            continue
        if not pending:
            if not stripped:
                continue
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        lines.append((start, " ".join(pending)))
    return [(number, line) for number, line in lines if not line.startswith("# syntax")]


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def _substitute(text: str, arguments: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        return arguments.get(match.group("name"), match.group("default") or match.group(0))

    return _VARIABLE.sub(replace, text)


def _from(rest: str, arguments: dict[str, str], stages: set[str], location: Location) -> BaseImage:
    words = [word for word in rest.split() if not word.startswith("--")]
    if not words:
        raise InputError(location.path, "FROM without an image", location.line)
    reference = _substitute(words[0], arguments)
    stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    if reference in stages:
        return BaseImage(reference, reference, None, None, stage, location)
    name, _, digest = reference.partition("@")
    repository, tag = name, None
    last_slash = name.rfind("/")
    if name.rfind(":") > last_slash:
        repository, tag = name.rsplit(":", 1)
        # Docker's grammar, or at least its length where an ARG without a value stays as written.
        if not (_TAG.fullmatch(tag) or ("$" in tag and len(tag) <= _TAG_LENGTH)):
            raise InputError(location.path, f"{quote(tag)} is not an image tag", location.line)
    return BaseImage(reference, repository, tag, digest or None, stage, location)


def _env_pairs(rest: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    if words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    return [(key, value) for key, _, value in (word.partition("=") for word in words)]


def _run_form(rest: str) -> tuple[list[str], str, list[str] | None]:
    """A RUN's --mount, --network and --security flags; then its shell command, or, in the exec
    form ``["pip", "install", ...]``, its argument words (``["sh", "-c", "..."]`` is a shell command)."""
    flags = [word for word in rest.split() if word.startswith(("--mount", "--network", "--security"))]
    for word in flags:
        rest = rest.replace(word, "", 1)
    rest = rest.strip()
    if rest.startswith("["):
        try:
            words = json.loads(rest)
        except (ValueError, RecursionError):
            words = None  # Docker runs a RUN that is not a JSON array of strings as a shell command
        if isinstance(words, list) and words and all(isinstance(word, str) for word in words):
            if len(words) >= 3 and Path(words[0]).name in ("sh", "bash", "dash") and words[1] == "-c":
                return flags, words[2], None
            return flags, "", words
    return flags, rest, None


def _run(command: str, location: Location, path: str, result: Dockerfile) -> None:
    for part in _SPLIT_COMMANDS.split(command):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        _install(words, location, path, result)


def _install(words: list[str], location: Location, path: str, result: Dockerfile) -> None:
    """What one command installs: Python packages through pip or uv, system packages through apt."""
    installer = _installer_arguments(words)
    if installer is not None:
        _pip_install(installer, location, path, result)
    elif len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
        packages = words[words.index("install") + 1 :]
        result.system_packages += [(word, location) for word in packages if not word.startswith("-")]


def _installer_arguments(words: list[str]) -> list[str] | None:
    """The arguments after ``pip install`` / ``python -m pip install`` / ``uv pip install``."""
    for start in range(len(words)):
        head = words[start:]
        for prefix in (["pip", "install"], ["pip3", "install"], ["uv", "pip", "install"]):
            if [Path(w).name for w in head[: len(prefix)]] == prefix:
                return head[len(prefix) :]
        if len(head) >= 4 and Path(head[0]).name.startswith("python") and head[1:4] == ["-m", "pip", "install"]:
            return head[4:]
    return None


def _pip_install(arguments: list[str], location: Location, path: str, result: Dockerfile) -> None:
    position = 0
    while position < len(arguments):
        word = arguments[position]
        name, has_value, value = word.partition("=")
        if name in ("-r", "--requirement"):
            target = value if has_value else (arguments[position + 1] if position + 1 < len(arguments) else "")
            position += 1 if has_value else 2
            _included_file(target, location, path, result)
            continue
        if name in ("-i", "--index-url", "--extra-index-url"):
            url = value if has_value else (arguments[position + 1] if position + 1 < len(arguments) else "")
            result.index_urls.append(_token(url, name, location))
        if word.startswith("-"):
            position += 2 if (name in _PIP_OPTIONS_WITH_VALUE and not has_value) else 1
            continue
        if "$" not in word:  # a variable the Dockerfile does not set: unknown until the build
            result.requirements.append(parse_requirement_text(word, location))
        position += 1


def _copy(rest: str, result: Dockerfile) -> None:
    words = rest.split()
    if any(word.startswith("--from") for word in words):
        return  # from another stage or image, not from the build context
    paths = [word for word in words if not word.startswith("--")]
    if len(paths) == 2:
        source, destination = paths
        if destination.endswith("/"):
            destination += Path(source).name
        result.copies[destination] = source


def _token(value: str, option: str, location: Location) -> str:
    """An option's value, one word: in the exec form or in quotes it can hold a space or a newline."""
    try:
        return one_token(value, option)
    except UnsafeValue as exc:
        raise InputError(location.path, str(exc), location.line) from None


def _copied_from(target: str, copies: dict[str, str]) -> str:
    """Where a path of the image came from in the build context, by the COPY lines seen so far."""
    if target in copies:
        return copies[target]
    for destination, source in sorted(copies.items(), key=lambda item: -len(item[0])):
        folder = destination.rstrip("/") + "/"
        if target.startswith(folder) and destination != "/":
            rest = target[len(folder) :]
            return rest if source in (".", "./") else f"{source.rstrip('/')}/{rest}"
    return target


def _build_contexts(folder: Path, root: Path) -> list[Path]:
    """Where the build context may be: the Dockerfile's folder, then each folder above it up to
    the project's root (docker build -f docker/Dockerfile .)."""
    contexts = [folder]
    resolved_root = Path(os.path.realpath(root))
    current = folder
    for _ in range(8):
        if Path(os.path.realpath(current)) == resolved_root or current.parent == current:
            break
        current = current.parent
        contexts.append(current)
    return contexts


def _readable(candidate: Path, root: Path) -> bool:
    try:
        return is_inside(Path(os.path.realpath(candidate)), root) and candidate.is_file()
    except OSError:  # a name longer than the file system allows, a symlink loop
        return False


def _included_file(target: str, location: Location, path: str, result: Dockerfile) -> None:
    """A requirements file the build installs, read where it comes from the build context: the
    Dockerfile's folder, or a folder above it up to the project's root (``docker build -f
    docker/Dockerfile .``). A file
    inside a copied folder (COPY . /app; -r /app/requirements.txt) comes from that folder's source;
    an absolute path copied from nowhere names a file made inside the image."""
    target = _copied_from(target, result.copies)
    if not target or Path(target).is_absolute():
        return
    root = project_root(path)
    relative = _token(target, "-r", location)
    contexts = _build_contexts(Path(path).parent, root)
    candidate = next((c / relative for c in contexts if _readable(c / relative, root)), None)
    if candidate is None:
        return  # made during the build, or outside the project: nothing of ours to read
    requirements, inputs, index = parse_requirements(str(candidate), root=root)
    result.requirements += requirements
    result.inputs += inputs
    if index.index_url:
        result.index_urls.append(index.index_url)
    result.index_urls += list(index.extra_index_urls)
