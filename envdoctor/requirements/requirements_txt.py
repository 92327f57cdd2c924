"""Requirements files, read as pip reads them.

Lines are joined, stripped of comments, have their ``${VARIABLES}`` expanded and are split into a
requirement and options in pip's order (pip/_internal/req/req_file.py: preprocess,
break_args_options); each requirement is read as pip's install_req_from_line reads it (a URL with
a ``; marker``, a local folder or archive with ``[extras]``, a PEP 508 string). Includes (``-r``)
and constraints (``-c``) are followed relative to the including file. ``pip freeze`` output is
the same format. tests/test_requirements_conformance.py checks all this against pip itself on
real files.

Environment variables: pip expands ``${NAME}`` (capitals, digits and ``_`` only; no other form)
from the environment it runs in (https://pip.pypa.io/en/stable/reference/requirements-file-format/,
"Using environment variables"). envdoctor expands them from the environment it is given (its own,
by default), so that an audit in the job that runs pip sees what pip sees. A variable that is not
set there may well be set where the file is installed: its line is not judged, and is reported
as unread instead of failing the audit. A variable inside a URL's credentials
(``https://${USER}:${TOKEN}@host/...``) is left as written: it decides who may download, not what
is installed, and its value is a secret that no report, SARIF upload or lockfile may carry.
"""

from __future__ import annotations

import os
import re
import shlex
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, NormalizedName, canonicalize_name, parse_wheel_filename

from envdoctor.errors import InputError
from envdoctor.fsio import project_root, read_text_input
from envdoctor.kb.facts import normalized
from envdoctor.requirements.model import MAX_REQUIREMENTS, Form, IndexOptions, Input, Location, Requirement
from envdoctor.requirements.versions import check_requirement, check_specifier
from envdoctor.safety import UnsafeValue, one_line, one_token, quote, snippet

# pip's COMMENT_RE and ENV_VAR_RE (req_file.py).
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")
# The credentials of a URL: what lies between "://" and "@".
_USERINFO = re.compile(r"://(?P<userinfo>[^/@\s]*)@")
_IGNORE = re.compile(r"#\s*envdoctor:\s*ignore\[(?P<codes>[A-Z0-9,\s]+)\]")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_URL_SCHEMES = ("http", "https", "file", "ftp")
_EGG = re.compile(r"[#&]egg=(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
# pip's ARCHIVE_EXTENSIONS (utils/filetypes.py).
_ARCHIVE = re.compile(
    r"(\.whl|\.zip|\.tar\.gz|\.tgz|\.tar|\.tar\.bz2|\.tbz|\.tar\.xz|\.txz|\.tlz|\.tar\.lz|\.tar\.lzma)$"
)
_EXTRAS = re.compile(r"^(?P<path>.+)(?P<extras>\[[^\]]+\])$")  # pip's strip_extras
_DIRECT_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_SDIST_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-\d")
# A plain requirement: a name and, maybe, version specifiers, with nothing pip reads apart (no
# whitespace, comment, option, ${VARIABLE}, continuation, marker, extras, URL or path). Most lines
# of a large file are such; they are read without the general path (see _plain_requirement).
_PLAIN = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?P<specifier>(?:===|==|!=|<=|>=|~=|<|>)[A-Za-z0-9.*+!_-]+(?:,(?:===|==|!=|<=|>=|~=|<|>)[A-Za-z0-9.*+!_-]+)*)?"
)
# Specifiers read so far: the same text always reads the same; bounded, as each entry is kept.
_SPECIFIERS: dict[str, SpecifierSet | None] = {}
_SPECIFIERS_KEPT = 4096
# pip's STRONG_HASHES: --hash accepts no other algorithm.
_HASHES = ("sha256", "sha384", "sha512")
# Deeper than any real project nests its requirement files; a chain longer than this is a
# mistake or an attack, and each level costs stack.
MAX_INCLUDE_DEPTH = 32

# The options pip accepts in a requirements file (req_file.py SUPPORTED_OPTIONS and
# SUPPORTED_OPTIONS_REQ), each spelling with what it sets and whether it takes a value.
_OPTIONS: dict[str, tuple[str, bool]] = {
    "-i": ("index_url", True),
    "--index-url": ("index_url", True),
    "--pypi-url": ("index_url", True),
    "--extra-index-url": ("extra_index_url", True),
    "--no-index": ("no_index", False),
    "-c": ("constraint", True),
    "--constraint": ("constraint", True),
    "-r": ("requirement", True),
    "--requirement": ("requirement", True),
    "-e": ("editable", True),
    "--editable": ("editable", True),
    "-f": ("find_links", True),
    "--find-links": ("find_links", True),
    "--no-binary": ("ignored", True),
    "--only-binary": ("ignored", True),
    "--prefer-binary": ("ignored", False),
    "--require-hashes": ("ignored", False),
    "--no-require-hashes": ("ignored", False),
    "--pre": ("ignored", False),
    "--all-releases": ("ignored", True),
    "--only-final": ("ignored", True),
    "--trusted-host": ("ignored", True),
    "--use-feature": ("ignored", True),
    "--hash": ("hash", True),
    "-C": ("ignored", True),
    "--config-settings": ("ignored", True),
}
# Options older pips accepted, still found in files written for them: read exactly, never as an
# abbreviation, so that they cannot make one of pip's own abbreviations ambiguous.
_OLD_OPTIONS: dict[str, tuple[str, bool]] = {
    "--global-option": ("ignored", True),
    "--install-option": ("ignored", True),
}


class RequirementsFile(NamedTuple):
    """What a requirements file and its includes hold."""

    requirements: list[Requirement]
    inputs: list[Input]
    indexes: IndexOptions
    # Lines not judged, each with why: a ${VARIABLE} the environment does not set.
    unread: list[tuple[str, Location]]


@dataclass
class _Collected:
    requirements: list[Requirement] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    unread: list[tuple[str, Location]] = field(default_factory=list)
    # Files already read (as requirements or as constraints): one read each, however often included.
    seen: set[tuple[str, bool]] = field(default_factory=set)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    index_unknown: bool = False

    def index(self) -> IndexOptions:
        return IndexOptions(
            self.index_url,
            tuple(dict.fromkeys(self.extra_index_urls)),
            tuple(dict.fromkeys(self.find_links)),
            self.no_index,
            self.index_unknown,
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
    environ: Mapping[str, str]
    # The -r or -c line that named this file, if an include did; and that line as written, where
    # a ${VARIABLE} from the environment made the name (errors quote it, never the value).
    named_at: Location | None = None
    written: str | None = None


class _Options(NamedTuple):
    """The options of one line, gathered as pip's optparse gathers them."""

    index_url: str | None
    extra_index_urls: list[str]
    find_links: list[str]
    no_index: bool
    requirements: list[str]
    constraints: list[str]
    editables: list[str]
    hashes: list[str]


def read_requirements(
    path: str, kind: str = "requirements", root: Path | None = None, environ: Mapping[str, str] | None = None
) -> RequirementsFile:
    """Every requirement in ``path`` and the files it includes, with the index options they set,
    ``${VARIABLES}`` expanded from ``environ`` (default: this process's environment)."""
    collected = _Collected()
    environment = os.environ if environ is None else environ
    _parse_file(_File(path, kind, (), False, root or project_root(path), environment), collected)
    return RequirementsFile(collected.requirements, collected.inputs, collected.index(), collected.unread)


def read_requirement_lines(
    lines: Iterable[tuple[int, str]],
    path: str,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    keep_going: bool = False,
) -> RequirementsFile:
    """Requirements-file lines kept elsewhere (conda's ``pip:`` section, which conda writes into a
    file at ``path`` for pip), each with its line number, read as the lines of a file at ``path``:
    includes and local paths resolve beside it. ``keep_going``: a line that cannot be read is
    unread (with why) rather than an InputError, and the lines after it are read."""
    collected = _Collected()
    environment = os.environ if environ is None else environ
    file = _File(path, "requirements", (), False, root or project_root(path), environment)
    for number, text in lines:
        for line_number, line in _logical_lines(text):
            where = number + line_number - 1
            try:
                _parse_line(file, where, line, collected)
            except InputError as exc:
                if not keep_going:
                    raise
                why = f"{quote(_COMMENT.sub('', line).strip(), 60)}: {exc.message}"
                collected.unread.append((why, Location(exc.path, exc.line)))
    return RequirementsFile(collected.requirements, collected.inputs, collected.index(), collected.unread)


def parse_requirements(
    path: str, kind: str = "requirements", root: Path | None = None
) -> tuple[list[Requirement], list[Input], IndexOptions]:
    """read_requirements for callers that cannot report unread lines: a line whose variable is not
    set is refused (one line, exit 2), never dropped unsaid."""
    found = read_requirements(path, kind, root)
    if found.unread:
        why, location = found.unread[0]
        raise InputError(location.path, why, location.line)
    return found.requirements, found.inputs, found.indexes


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
        raise InputError(file.named_at.path, _include_error(file, exc.message), file.named_at.line) from None
    collected.inputs.append(Input(file.path, "constraints" if file.constraint else file.kind))
    inside = _File(file.path, file.kind, (*file.stack, resolved), file.constraint, file.root, file.environ)
    for line_number, line in _logical_lines(text):
        _parse_line(inside, line_number, line, collected)


def _include_error(file: _File, message: str) -> str:
    """An include that cannot be read, named as written: with its ${VARIABLES}, whose values may be
    secrets, or with a $ pip does not expand."""
    if file.written is not None:
        return f"{snippet(file.written, 80)}: {message} (with its ${{VARIABLES}} expanded from the environment)"
    unexpanded = (
        " (pip expands only ${NAME} of capitals, digits and _, from the environment)" if "$" in file.path else ""
    )
    return f"{snippet(file.path, 80)}: {message}{unexpanded}"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines joined across trailing backslashes, each with the number of its first line, as pip's
    join_lines does it: the parts are joined as written, and a comment line ends a continued line."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        comment = "#" in raw and _COMMENT.match(raw) is not None
        if raw.endswith("\\") and not comment:
            if not pending:
                start = number
            pending.append(raw.strip("\\"))
            continue
        part = " " + raw if comment else raw  # a comment stays a comment once joined
        if pending:
            lines.append((start, "".join([*pending, part])))
            pending = []
        else:
            lines.append((number, part))
    if pending:
        lines.append((start, "".join(pending)))
    return lines


def _parse_line(file: _File, number: int, line: str, collected: _Collected) -> None:
    plain = _plain_requirement(file, number, line)
    if plain is not None:
        _check_count(file, number, collected)
        collected.requirements.append(plain)
        return
    ignore = _IGNORE.search(line)
    ignored = frozenset(code.strip() for code in ignore.group("codes").split(",")) if ignore else frozenset()
    written = _COMMENT.sub("", line).strip()
    if not written:
        return
    line, unset = _expand(written, file.environ)
    if unset:
        collected.unread.append((_unset_reason(written, unset), Location(file.path, number)))
        # An option line (--extra-index-url ${TORCH_INDEX}): which indexes serve the set is unknown.
        collected.index_unknown = collected.index_unknown or written.startswith("-")
        return
    requirement_text, option_text = _split_line(line)
    # As pip does: the options are split as a shell would, so that a quoted value ("a b.txt",
    # "https://...") is one value; the requirement (which may hold a marker's quotes) is not.
    try:
        tokens = shlex.split(option_text)
    except ValueError as exc:
        raise InputError(file.path, f"options: {exc}", number) from None
    options = _read_options(file.path, number, tokens)
    expanded = written if line != written else None
    if requirement_text or options.editables:
        _add_requirement(file, number, requirement_text, options, collected, ignored=ignored)
    else:
        _apply_options(file, number, options, collected, expanded)


def _expand(line: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """``line`` with each ``${NAME}`` the environment sets replaced by its value, as pip does, and
    the names it does not set. A name inside a URL's credentials is left as written."""
    credentials = [match.span("userinfo") for match in _USERINFO.finditer(line)]
    unset: list[str] = []

    def value(match: re.Match[str]) -> str:
        if any(start <= match.start() and match.end() <= end for start, end in credentials):
            return match.group()
        found = environ.get(match.group("name"))
        if not found:  # pip leaves an empty variable as written, too
            unset.append(match.group("name"))
            return match.group()
        return found

    return _ENV_VAR.sub(value, line), list(dict.fromkeys(unset))


def _unset_reason(written: str, names: list[str]) -> str:
    variables = " and ".join(f"${{{name}}}" for name in names)
    verb, pronoun = ("is", "it") if len(names) == 1 else ("are", "them")
    where = f"pip takes {pronoun} from the environment it runs in"
    return f"{quote(written, 60)}: {variables} {verb} not set here, and {where}"


def _split_line(line: str) -> tuple[str, str]:
    """pip's break_args_options: the words (split at spaces) before the first that starts with
    "-" are the requirement, the rest are options."""
    words = line.split(" ")
    first_option = next((n for n, word in enumerate(words) if word.startswith("-")), len(words))
    return " ".join(words[:first_option]).strip(), " ".join(words[first_option:])


def _read_options(path: str, number: int, tokens: list[str]) -> _Options:
    options = _Options(None, [], [], False, [], [], [], [])
    position = 0
    while position < len(tokens):
        what, value, position = _read_option(path, number, tokens, position)
        if what in ("index_url", "extra_index_url", "find_links", "requirement", "constraint", "editable"):
            _check_value(path, number, value, what)
        if what == "index_url":
            options = options._replace(index_url=value)
        elif what == "no_index":
            options = options._replace(no_index=True)
        elif what == "hash":
            options.hashes.append(_check_hash(path, number, value))
        elif what != "ignored":
            getattr(options, _LISTS[what]).append(value)
    return options


_LISTS = {
    "extra_index_url": "extra_index_urls",
    "find_links": "find_links",
    "requirement": "requirements",
    "constraint": "constraints",
    "editable": "editables",
}


def _read_option(path: str, number: int, tokens: list[str], position: int) -> tuple[str, str, int]:
    """One option as optparse reads it: ``--name value``, ``--name=value``, an unambiguous
    abbreviation of a long name, ``-x value`` or ``-xvalue`` (whose value may start with "=")."""
    token = tokens[position]
    if not token.startswith("-") or token in ("-", "--"):
        raise InputError(path, f"{quote(token)} after an option is ignored by pip: give it a line of its own", number)
    if token.startswith("--"):
        name, has_equals, attached = token.partition("=")
        what, takes_value = _long_option(path, number, name)
        if not takes_value:
            if has_equals:
                raise InputError(path, f"{name} takes no value", number)
            return what, "", position + 1
        if has_equals:
            return what, attached, position + 1
    else:
        name, attached = token[:2], token[2:]
        if name not in _OPTIONS:
            raise InputError(path, f"unknown option {quote(token)}", number)
        what, _takes_value = _OPTIONS[name]
        if attached:
            return what, attached, position + 1
    if position + 1 >= len(tokens):
        raise InputError(path, f"{name} needs a value", number)
    return what, tokens[position + 1], position + 2


def _long_option(path: str, number: int, name: str) -> tuple[str, bool]:
    if name in _OPTIONS:
        return _OPTIONS[name]
    if name in _OLD_OPTIONS:
        return _OLD_OPTIONS[name]
    matches = [option for option in _OPTIONS if option.startswith("--") and option.startswith(name)]
    if len(matches) == 1:
        return _OPTIONS[matches[0]]
    kind = f"ambiguous option {quote(name)} ({', '.join(matches)})" if matches else f"unknown option {quote(name)}"
    raise InputError(path, kind, number)


def _check_value(path: str, number: int, value: str, option: str) -> None:
    """An index option's value is one token, since it is written into lockfiles; a file name (-r,
    -c, -e) may hold a space, but no control character."""
    check = one_token if option in ("index_url", "extra_index_url", "find_links", "hash") else one_line
    try:
        check(value, option.replace("_", "-"))
    except UnsafeValue as exc:
        raise InputError(path, str(exc), number) from None


def _check_hash(path: str, number: int, value: str) -> str:
    algorithm, colon, digest = value.partition(":")
    if not colon:
        raise InputError(path, f"--hash {quote(value)}: write it as --hash=sha256:<digest>", number)
    if algorithm not in _HASHES:
        raise InputError(path, f"--hash {quote(algorithm)}: pip accepts only {', '.join(_HASHES)}", number)
    _check_value(path, number, digest, "hash")
    return f"{algorithm}:{digest}"


def _apply_options(file: _File, number: int, options: _Options, collected: _Collected, expanded: str | None) -> None:
    """A line of options only, as pip's handle_option_line applies it. A --hash alone on a line is
    refused, where pip ignores it: it was meant for the requirement above (a lost backslash), and
    would go unchecked."""
    if options.hashes:
        message = "--hash without a requirement: pip ignores it; end the requirement's line with \\ to apply it"
        raise InputError(file.path, message, number)
    if options.no_index:
        collected.no_index = True
        collected.index_url, collected.extra_index_urls = None, []
    if options.index_url and not collected.no_index:
        collected.index_url, collected.extra_index_urls = options.index_url, []  # pip: index_urls = [url]
    if not collected.no_index:
        collected.extra_index_urls += options.extra_index_urls
    if options.find_links:  # pip takes the first of a line's --find-links
        collected.find_links.append(_find_links(file.path, options.find_links[0]))
    # pip follows one include a line: its first -r, else its first -c.
    if options.requirements:
        _include(file, number, options.requirements[0], collected, constraint=file.constraint, expanded=expanded)
    elif options.constraints:
        _include(file, number, options.constraints[0], collected, constraint=True, expanded=expanded)


def _find_links(path: str, value: str) -> str:
    """A --find-links folder named relative to the requirements file, as pip finds it."""
    if path == "-" or "://" in value:
        return value
    beside = os.path.join(os.path.dirname(os.path.abspath(path)), value)
    return beside if os.path.exists(beside) else value


def _add_requirement(
    file: _File, number: int, text: str, options: _Options, collected: _Collected, *, ignored: frozenset[str]
) -> None:
    """A requirement line: of its options pip applies only --hash (and --config-settings)."""
    editable = bool(options.editables)
    if editable and text:
        raise InputError(file.path, f"unexpected {quote(text)} beside -e", number)
    _check_count(file, number, collected)
    location = Location(file.path, number)
    requirement = parse_requirement_text(text or options.editables[0], location, editable=editable)
    collected.requirements.append(
        requirement._replace(hashes=tuple(options.hashes), constraint=file.constraint, ignored=ignored)
    )


def _check_count(file: _File, number: int, collected: _Collected) -> None:
    if len(collected.requirements) >= MAX_REQUIREMENTS:
        raise InputError(file.path, f"more than {MAX_REQUIREMENTS:,} requirements: not judged", number)


def _plain_requirement(file: _File, number: int, line: str) -> Requirement | None:
    """The requirement of a plain line (_PLAIN), as the general path reads it, or None for any other
    line, or one whose specifier is not valid or sane (the general path says why). Such a line has
    no comment, variable, option or marker; it is not a URL (no ":") or a path (no "/" or "\\";
    an archive's name is left to the general path); so pip reads it as PEP 508, and so does
    packaging, whose specifier for it is that of the same text after any name."""
    text = line.strip()
    plain = _PLAIN.fullmatch(text)
    if plain is None or _ARCHIVE.search(text.lower()):
        return None
    specifier = _specifier(plain.group("specifier") or "")
    if specifier is None:
        return None
    name = normalized(plain.group("name"))
    location = Location(file.path, number)
    return Requirement(name, Form.NAMED, location, text, specifier, constraint=file.constraint)


def _specifier(text: str) -> SpecifierSet | None:
    """packaging's SpecifierSet for a plain line's specifier ``text``, read once per text (a
    SpecifierSet is never changed once read), or None where it is not valid or not sane."""
    if text in _SPECIFIERS:
        return _SPECIFIERS[text]
    try:
        specifier: SpecifierSet | None = check_specifier(Pep508(f"name{text}").specifier, "", None)
    except (InvalidRequirement, InputError):
        specifier = None
    if len(_SPECIFIERS) < _SPECIFIERS_KEPT:
        _SPECIFIERS[text] = specifier
    return specifier


def _include(
    file: _File, number: int, target: str, collected: _Collected, *, constraint: bool, expanded: str | None
) -> None:
    if target.startswith(("http://", "https://", "file://", "ftp://")):
        raise InputError(file.path, f"includes from URLs are not followed: {snippet(target)}", number)
    base = Path.cwd() if file.path == "-" else Path(file.path).parent
    included = Path(target) if Path(target).is_absolute() else base / target
    named_at = Location(file.path, number)
    inner = _File(str(included), file.kind, file.stack, constraint, file.root, file.environ, named_at, expanded)
    _parse_file(inner, collected)


def parse_requirement_text(text: str, location: Location, editable: bool = False) -> Requirement:
    """One requirement as written: a PEP 508 string, a URL, a VCS reference or a local path;
    a version of absurd size is refused here, before any rule compares it."""
    requirement = _editable(text, location) if editable else _requirement(text, location)
    return check_requirement(requirement)


def _requirement(text: str, location: Location) -> Requirement:
    """pip's parse_req_from_line: a URL takes its marker after "; ", anything else after ";"."""
    url = _is_url(text)
    written, separator, marker_text = text.partition("; " if url else ";")
    if separator and not url and _DIRECT_REFERENCE.match(text) and not _is_marker(marker_text):
        # name @ URL whose URL holds a ";" (pip would fail on it): PEP 508 reads the URL to the space.
        written, separator, marker_text = text, "", ""
    offset = len(written) + len(separator) + len(marker_text) - len(marker_text.lstrip())
    marker = _marker(marker_text, location, text, offset) if separator else None
    written = written.strip()
    if url:
        return _url_requirement(text, written, location)._replace(marker=marker)
    if _looks_like_path(written):
        return _path_requirement(text, written, location)._replace(marker=marker)
    parsed = _pep508(written, location, text)
    if marker is not None and parsed.marker is not None:
        raise InputError(location.path, f"invalid requirement {quote(text)}: two markers", location.line)
    return _named(text, parsed, location)._replace(marker=marker or parsed.marker)


def _editable(text: str, location: Location) -> Requirement:
    """pip's parse_editable: ``name @ url`` (PEP 508), a local folder with [extras], or a VCS URL
    that names its project with #egg=."""
    if _DIRECT_REFERENCE.match(text):
        try:
            parsed = Pep508(text)
        except InvalidRequirement:
            parsed = None
        if parsed is not None and parsed.url:
            return _named(text, parsed, location)._replace(editable=True)
    if _is_url(text) and not text.startswith("file:"):
        requirement = _url_requirement(text, text, location)
        if requirement.form is not Form.VCS:
            raise InputError(
                location.path, f"-e {quote(text)}: an editable is a local folder or a VCS URL", location.line
            )
        if requirement.name is None:
            raise InputError(
                location.path, f"-e {quote(text)}: name the project (name @ URL, or #egg=name)", location.line
            )
        return requirement._replace(editable=True)
    if not _is_url(text) and not _looks_like_path(text) and not os.path.isdir(_EXTRAS.sub(r"\g<path>", text)):
        raise InputError(location.path, f"-e {quote(text)}: an editable is a local folder or a VCS URL", location.line)
    return _path_requirement(text, text, location)._replace(editable=True)


def _is_url(text: str) -> bool:
    """pip's is_url: a scheme pip downloads from, or a VCS scheme."""
    try:
        scheme = urllib.parse.urlsplit(text).scheme
    except ValueError:
        return False
    return scheme in _URL_SCHEMES or scheme.startswith(_VCS)


def _marker(text: str, location: Location, written: str, offset: int) -> Marker | None:
    """The marker after a requirement's ";"; ``offset``: where it starts in the line, for the column."""
    if not text.strip():
        return None
    try:
        return Marker(text.strip())
    except InvalidMarker as exc:
        reason = _reason(exc, offset)
        raise InputError(location.path, f"invalid requirement {quote(written)}: {reason}", location.line) from None


def _is_marker(text: str) -> bool:
    try:
        Marker(text.strip())
    except InvalidMarker:
        return False
    return True


def _pep508(text: str, location: Location, written: str) -> Pep508:
    try:
        return Pep508(text)
    except InvalidRequirement as exc:
        raise InputError(
            location.path, f"invalid requirement {quote(written)}: {_reason(exc)}", location.line
        ) from None


def _named(text: str, parsed: Pep508, location: Location) -> Requirement:
    extras = frozenset(canonicalize_name(extra) for extra in parsed.extras)
    name = normalized(parsed.name)
    if parsed.url:
        requirement = _url_requirement(text, parsed.url, location)
        return requirement._replace(name=name, extras=extras, marker=parsed.marker)
    return Requirement(
        name=name,
        form=Form.NAMED,
        location=location,
        text=text,
        specifier=parsed.specifier,
        extras=extras,
        marker=parsed.marker,
    )


def _reason(exc: InvalidRequirement | InvalidMarker, offset: int = 0) -> str:
    """packaging's reason, on one line: below it, packaging repeats the text and marks the place
    with a caret; the text is quoted short, so the place is given as a column instead (of the
    line, where the text parsed starts ``offset`` characters in)."""
    reason, *rest = str(exc).splitlines() or [""]
    caret = rest[-1] if len(rest) == 2 else ""
    marks = [caret.find(mark) for mark in "~^" if mark in caret]
    column = f" (column {min(marks) - 3 + offset})" if marks and min(marks) >= 4 else ""
    return snippet(reason, 80) + column


def _looks_like_path(text: str) -> bool:
    """A local folder or archive, as pip tells one from a requirement; a path that does not exist
    here is a path still (the file is audited away from where it is installed)."""
    if _DIRECT_REFERENCE.match(text):
        return False  # name @ url (PEP 508)
    path = _EXTRAS.sub(r"\g<path>", text).rstrip()
    if text.startswith((".", "/", "~")) or "\\" in text or _ARCHIVE.search(path.lower()):
        return True
    return os.sep in path and os.path.isdir(path)


def _url_requirement(text: str, url: str, location: Location) -> Requirement:
    form = Form.VCS if url.startswith(_VCS) else Form.PATH if url.startswith("file:") else Form.URL
    return Requirement(name=_name_from_url(url), form=form, location=location, text=text, url=url)


def _path_requirement(text: str, path: str, location: Location) -> Requirement:
    """A local folder or archive; ``path[extras]`` asks for extras, as pip's strip_extras reads it."""
    extras: frozenset[str] = frozenset()
    found = _EXTRAS.match(path)
    if found:
        path = found.group("path").rstrip()
        asked = _pep508(f"placeholder{found.group('extras')}", location, text).extras
        extras = frozenset(canonicalize_name(extra) for extra in asked)
    return Requirement(name=_name_from_url(path), form=Form.PATH, location=location, text=text, url=path, extras=extras)


def _name_from_url(url: str) -> NormalizedName | None:
    egg = _EGG.search(url)
    if egg:
        return canonicalize_name(egg.group("name"))
    # Unquoted, as pip's Link.filename is: PyTorch's wheel URLs write a local version's "+" as %2B.
    file_name = urllib.parse.unquote(url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])
    if file_name.endswith(".whl"):
        try:
            return parse_wheel_filename(file_name)[0]
        except InvalidWheelFilename:
            return None
    sdist = _SDIST_NAME.match(file_name)
    return canonicalize_name(sdist.group("name")) if sdist and _ARCHIVE.search(file_name) else None
