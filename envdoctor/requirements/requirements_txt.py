"""Requirements files, with everything pip accepts in them.

Includes (``-r``) and constraints (``-c``) are followed relative to the including file; index
options, ``--hash``, environment markers, URLs, VCS references, editables, line continuations
and comments are understood. ``pip freeze`` output is the same format.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import InvalidWheelFilename, NormalizedName, canonicalize_name, parse_wheel_filename

from envdoctor.errors import InputError
from envdoctor.fsio import project_root, read_text_input
from envdoctor.requirements.model import MAX_REQUIREMENTS, Form, IndexOptions, Input, Location, Requirement
from envdoctor.requirements.versions import check_requirement
from envdoctor.safety import UnsafeValue, one_line, one_token, quote, snippet

_COMMENT = re.compile(r"(^|\s+)#.*$")
_IGNORE = re.compile(r"#\s*envdoctor:\s*ignore\[(?P<codes>[A-Z0-9,\s]+)\]")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_SCHEMES = ("http://", "https://", "file://", "ftp://")
_EGG = re.compile(r"[#&]egg=(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
_ARCHIVE = re.compile(r"(\.whl|\.tar\.gz|\.tar\.bz2|\.tgz|\.zip)$")
_DIRECT_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_SDIST_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-\d")
# Deeper than any real project nests its requirement files; a chain longer than this is a
# mistake or an attack, and each level costs stack.
MAX_INCLUDE_DEPTH = 32

# Options that take a value, by every spelling pip accepts.
_VALUE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
    "-e": "editable",
    "--editable": "editable",
    "-i": "index_url",
    "--index-url": "index_url",
    "--extra-index-url": "extra_index_url",
    "-f": "find_links",
    "--find-links": "find_links",
    "--hash": "hash",
    "--trusted-host": "ignored",
    "--only-binary": "ignored",
    "--no-binary": "ignored",
    "--use-feature": "ignored",
    "--config-settings": "ignored",
    "--global-option": "ignored",
    "--install-option": "ignored",
}
_FLAG_OPTIONS = {
    "--no-index": "no_index",
    "--pre": "ignored",
    "--prefer-binary": "ignored",
    "--require-hashes": "ignored",
}


@dataclass
class _Collected:
    requirements: list[Requirement] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    # Files already read (as requirements or as constraints): one read each, however often included.
    seen: set[tuple[str, bool]] = field(default_factory=set)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False

    def index(self) -> IndexOptions:
        return IndexOptions(
            self.index_url,
            tuple(dict.fromkeys(self.extra_index_urls)),
            tuple(dict.fromkeys(self.find_links)),
            self.no_index,
        )


@dataclass(frozen=True)
class _File:
    """The file being read, and how it was reached."""

    path: str
    kind: str
    stack: tuple[str, ...]
    constraint: bool
    # The project of the file the user named: no include is read from outside it.
    root: Path
    # The -r or -c line that named this file, if an include did.
    named_at: Location | None = None


def parse_requirements(
    path: str, kind: str = "requirements", root: Path | None = None
) -> tuple[list[Requirement], list[Input], IndexOptions]:
    """Every requirement in ``path`` and the files it includes, with the index options they set."""
    collected = _Collected()
    _parse_file(_File(path, kind, (), False, root or project_root(path)), collected)
    return collected.requirements, collected.inputs, collected.index()


def _parse_file(file: _File, collected: _Collected) -> None:
    resolved = file.path if file.path == "-" else os.path.realpath(file.path)
    if resolved in file.stack:
        raise InputError(file.path, "include cycle: the file includes itself through -r or -c")
    if len(file.stack) > MAX_INCLUDE_DEPTH:
        raise InputError(file.path, f"includes nested more than {MAX_INCLUDE_DEPTH} deep")
    if (resolved, file.constraint) in collected.seen:
        return  # read already: a second read would add the same lines again
    collected.seen.add((resolved, file.constraint))
    try:
        text = read_text_input(file.path, file.root)
    except InputError as exc:
        if file.named_at is None:
            raise
        # pip would put an environment variable's value here; envdoctor does not, since in CI the
        # environment holds secrets and the path is quoted in errors.
        unexpanded = " (envdoctor does not expand ${VARIABLES} in an include)" if "${" in file.path else ""
        message = f"{snippet(file.path, 80)}: {exc.message}{unexpanded}"
        raise InputError(file.named_at.path, message, file.named_at.line) from None
    collected.inputs.append(Input(file.path, "constraints" if file.constraint else file.kind))
    inside = _File(file.path, file.kind, (*file.stack, resolved), file.constraint, file.root)
    for line_number, line in _logical_lines(text):
        _parse_line(inside, line_number, line, collected)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines joined across trailing backslashes, each with the number of its first line."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\") and not _COMMENT.search(raw[:-1]):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        lines.append((start, " ".join(part.strip() for part in pending)))
        pending = []
    if pending:
        lines.append((start, " ".join(part.strip() for part in pending)))
    return lines


def _parse_line(file: _File, number: int, line: str, collected: _Collected) -> None:
    path = file.path
    ignore = _IGNORE.search(line)
    ignored = frozenset(code.strip() for code in ignore.group("codes").split(",")) if ignore else frozenset()
    line = _COMMENT.sub("", line).strip()
    if not line:
        return
    words = line.split()
    first_option = next((n for n, word in enumerate(words) if word.startswith("-")), len(words))
    requirement_text = " ".join(words[:first_option])
    # As pip does: the words before the first option are the requirement; the options are split
    # as a shell would, so that a quoted value ("a b.txt", "https://...") is one value.
    try:
        tokens = shlex.split(" ".join(words[first_option:]))
    except ValueError as exc:
        raise InputError(path, f"options: {exc}", number) from None
    position = 0
    hashes: list[str] = []
    editable: str | None = None
    while position < len(tokens):
        option, value, position = _read_option(path, number, tokens, position)
        if option in ("index_url", "extra_index_url", "find_links", "requirement", "constraint", "editable"):
            _check_value(path, number, value, option)
        if option == "hash":
            hashes.append(value)
        elif option == "editable":
            editable = value
        elif option in ("requirement", "constraint"):
            _include(file, number, value, collected, file.constraint or option == "constraint")
        elif option == "index_url":
            collected.index_url = value
        elif option == "extra_index_url":
            collected.extra_index_urls.append(value)
        elif option == "find_links":
            collected.find_links.append(value)
        elif option == "no_index":
            collected.no_index = True
    if editable is not None:
        if requirement_text:
            raise InputError(path, f"unexpected {quote(requirement_text)} beside -e", number)
        requirement_text = editable
    if not requirement_text:
        if hashes:
            raise InputError(path, "--hash without a requirement", number)
        return
    if len(collected.requirements) >= MAX_REQUIREMENTS:
        raise InputError(path, f"more than {MAX_REQUIREMENTS:,} requirements: not judged", number)
    location = Location(path, number)
    requirement = parse_requirement_text(requirement_text, location, editable=editable is not None)
    collected.requirements.append(
        Requirement(
            name=requirement.name,
            form=requirement.form,
            location=location,
            text=requirement.text,
            specifier=requirement.specifier,
            extras=requirement.extras,
            marker=requirement.marker,
            url=requirement.url,
            editable=requirement.editable,
            hashes=tuple(hashes),
            constraint=file.constraint,
            ignored=ignored,
        )
    )


def _read_option(path: str, number: int, tokens: list[str], position: int) -> tuple[str, str, int]:
    token = tokens[position]
    name, has_equals, attached = token.partition("=")
    if name in _FLAG_OPTIONS:
        if has_equals:
            raise InputError(path, f"{name} takes no value", number)
        return _FLAG_OPTIONS[name], "", position + 1
    if name in _VALUE_OPTIONS:
        if has_equals:
            return _VALUE_OPTIONS[name], attached, position + 1
        if position + 1 >= len(tokens):
            raise InputError(path, f"{name} needs a value", number)
        return _VALUE_OPTIONS[name], tokens[position + 1], position + 2
    short = token[:2]
    if short in ("-r", "-c", "-e", "-i", "-f") and len(token) > 2:
        return _VALUE_OPTIONS[short], token[2:], position + 1
    if not token.startswith("-"):
        raise InputError(path, f"{quote(token)} after an option is ignored by pip: give it a line of its own", number)
    raise InputError(path, f"unknown option {quote(token)}", number)


def _check_value(path: str, number: int, value: str, option: str) -> None:
    """An index option's value is one token, since it is written into lockfiles; a file name (-r,
    -c, -e) may hold a space, but no control character."""
    check = one_token if option in ("index_url", "extra_index_url", "find_links") else one_line
    try:
        check(value, option.replace("_", "-"))
    except UnsafeValue as exc:
        raise InputError(path, str(exc), number) from None


def _include(file: _File, number: int, target: str, collected: _Collected, constraint: bool) -> None:
    if target.startswith(_SCHEMES):
        raise InputError(file.path, f"includes from URLs are not followed: {snippet(target)}", number)
    base = Path.cwd() if file.path == "-" else Path(file.path).parent
    included = Path(target) if Path(target).is_absolute() else base / target
    named_at = Location(file.path, number)
    _parse_file(_File(str(included), file.kind, file.stack, constraint, file.root, named_at), collected)


def parse_requirement_text(text: str, location: Location, editable: bool = False) -> Requirement:
    """One requirement as written: a PEP 508 string, a URL, a VCS reference or a local path;
    a version of absurd size is refused here, before any rule compares it."""
    return check_requirement(_requirement(text, location, editable))


def _requirement(text: str, location: Location, editable: bool) -> Requirement:
    if text.startswith(_VCS) or text.startswith(_SCHEMES):
        return _url_requirement(text, text, location, editable)
    if _looks_like_path(text):
        return _path_requirement(text, location, editable)
    try:
        parsed = Pep508(text)
    except InvalidRequirement as exc:
        raise InputError(location.path, f"invalid requirement {quote(text)}: {_reason(exc)}", location.line) from None
    name = canonicalize_name(parsed.name)
    if parsed.url:
        requirement = _url_requirement(text, parsed.url, location, editable)
        return Requirement(
            name=name,
            form=requirement.form,
            location=location,
            text=text,
            extras=frozenset(canonicalize_name(extra) for extra in parsed.extras),
            marker=parsed.marker,
            url=parsed.url,
            editable=editable,
        )
    return Requirement(
        name=name,
        form=Form.NAMED,
        location=location,
        text=text,
        specifier=parsed.specifier,
        extras=frozenset(canonicalize_name(extra) for extra in parsed.extras),
        marker=parsed.marker,
        editable=editable,
    )


def _reason(exc: InvalidRequirement) -> str:
    """packaging's reason, on one line: below it, packaging repeats the text and marks the place
    with a caret; the text is quoted short, so the place is given as a column instead."""
    reason, *rest = str(exc).splitlines() or [""]
    caret = rest[-1] if len(rest) == 2 else ""
    marks = [caret.find(mark) for mark in "~^" if mark in caret]
    column = f" (column {min(marks) - 3})" if marks and min(marks) >= 4 else ""
    return snippet(reason, 80) + column


def _looks_like_path(text: str) -> bool:
    if _DIRECT_REFERENCE.match(text):
        return False  # name @ url (PEP 508)
    target = text.split(";", maxsplit=1)[0].strip()
    return text.startswith((".", "/", "~")) or bool(_ARCHIVE.search(target)) or "\\" in text


def _url_requirement(text: str, url: str, location: Location, editable: bool) -> Requirement:
    form = Form.VCS if url.startswith(_VCS) else Form.PATH if url.startswith("file://") else Form.URL
    return Requirement(name=_name_from_url(url), form=form, location=location, text=text, url=url, editable=editable)


def _path_requirement(text: str, location: Location, editable: bool) -> Requirement:
    return Requirement(
        name=_name_from_url(text), form=Form.PATH, location=location, text=text, url=text, editable=editable
    )


def _name_from_url(url: str) -> NormalizedName | None:
    egg = _EGG.search(url)
    if egg:
        return canonicalize_name(egg.group("name"))
    file_name = url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if file_name.endswith(".whl"):
        try:
            return parse_wheel_filename(file_name)[0]
        except InvalidWheelFilename:
            return None
    sdist = _SDIST_NAME.match(file_name)
    return canonicalize_name(sdist.group("name")) if sdist and _ARCHIVE.search(file_name) else None
