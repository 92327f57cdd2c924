"""A Dockerfile as one more layer of the stack: its base images, its installs, its environment.

The text is read as BuildKit reads it (``instructions``: its parser, ported, with continuation
lines, comments, parser directives, heredocs and each instruction's own argument rules), then
built as BuildKit builds it (``parse_dockerfile``): ``ARG`` before and after ``FROM``, ``ENV``,
``WORKDIR``, stages (which one is final, ``FROM stage``, ``COPY --from``, ``RUN --mount``),
``COPY`` from the build context, and in each ``RUN`` the shell script it runs (see ``shell.py``).

Followed in those scripts: ``pip``/``pip3``/``pipX.Y``/``python -m pip`` ``install``, ``wheel`` and
``uninstall``; ``uv pip install``/``sync`` and ``uv sync``; ``conda``/``mamba``/``micromamba``
installs; ``apt-get install``. Their requirements files, constraints and local projects
(``-e .``, ``.[gpu]``) are read where they come from the build context, with the command's own
index options. What cannot be read (a variable without a value, a command substitution, a branch
a test decides) becomes one ``unread`` entry for that command, and reading goes on: a Dockerfile
Docker would build never stops the audit; only text that is not a Dockerfile does.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from packaging.utils import canonicalize_name

from envdoctor.errors import InputError
from envdoctor.fsio import is_inside, project_root, read_text_input
from envdoctor.requirements import shell
from envdoctor.requirements.model import BaseImage, Input, Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text, read_requirements
from envdoctor.safety import UnsafeValue, one_token, quote

if TYPE_CHECKING:
    from envdoctor.requirements.conda import CondaEnvironment

# ---------------------------------------------------------------------------------------------
# The text: BuildKit's parser (moby/buildkit frontend/dockerfile/parser, parser.go,
# line_parsers.go, split_command.go, directives.go)
# ---------------------------------------------------------------------------------------------


class Heredoc(NamedTuple):
    name: str
    content: str
    chomp: bool  # <<-: leading tabs are taken off
    expand: bool  # the delimiter is not quoted: the shell expands the body
    line: int  # the line its content starts on


class Instruction(NamedTuple):
    """One instruction as BuildKit's parser sees it."""

    keyword: str  # as written (RUN, run)
    flags: tuple[str, ...]  # --mount=..., --from=...
    value: tuple[str, ...]  # the arguments, split by the instruction's own rule
    json: bool  # the exec form ["pip", "install"]
    heredocs: tuple[Heredoc, ...]
    line: int
    end_line: int
    # The arguments as one text (after the flags), and the lines its offsets fall on, for RUN.
    arguments: str = ""
    lines: tuple[tuple[int, int], ...] = ((0, 1),)
    sub: Instruction | None = None  # ONBUILD's instruction

    @property
    def command(self) -> str:
        return self.keyword.lower()


_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$", re.DOTALL)
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})
KNOWN_INSTRUCTIONS = frozenset(
    {
        "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
        "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir",
    }
)  # fmt: skip


def instructions(text: str, path: str) -> list[Instruction]:
    """Every instruction of a Dockerfile, as BuildKit's parser splits them; InputError where it
    refuses the text (an unterminated heredoc, a JSON array of other than strings)."""
    lines = _physical_lines(text)
    parser = _TextParser(lines, path)
    found: list[Instruction] = []
    while parser.i < len(lines):
        instruction = parser.next_instruction()
        if instruction is not None:
            found.append(instruction)
    if not found:
        raise InputError(path, "no instructions: not a Dockerfile")
    return found


def _physical_lines(text: str) -> list[str]:
    """Lines split at \\n only, each with its line ending (Go's bufio scanner, not str.splitlines)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return lines


def _lstrip(text: str) -> str:
    position = 0
    while position < len(text) and shell.go_space(text[position]):
        position += 1
    return text[position:]


def _strip(text: str) -> str:
    end = len(text)
    while end > 0 and shell.go_space(text[end - 1]):
        end -= 1
    return _lstrip(text[:end])


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return _lstrip(line).startswith("#")


class _TextParser:
    def __init__(self, lines: list[str], path: str) -> None:
        self.lines = lines
        self.path = path
        self.i = 0
        self.escape = "\\"
        self.directives_done = False
        self.seen: set[str] = set()

    def continuation(self, line: str) -> tuple[str, bool]:
        """The line without a trailing escape character, and whether the instruction ends here."""
        e = re.escape(self.escape)
        match = re.search(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z", line)
        if match is None:
            return line, True
        return line[: match.start()] + (match.group(1) or ""), False

    def directive(self, token: str, number: int) -> None:
        if self.directives_done:
            return
        if not token.startswith("#"):
            self.directives_done = True
            return
        match = _DIRECTIVE.match(_lstrip(token[1:]))
        if match is None or match.group(1).lower() not in _DIRECTIVES:
            self.directives_done = True
            return
        name = match.group(1).lower()
        if name in self.seen:
            raise InputError(self.path, f"only one {name} parser directive can be used", number)
        self.seen.add(name)
        if name == "escape":
            if match.group(2) not in ("\\", "`"):
                raise InputError(
                    self.path, f"invalid escape token {quote(match.group(2))} does not match ` or \\", number
                )
            self.escape = match.group(2)

    def next_instruction(self) -> Instruction | None:
        raw = self.lines[self.i]
        self.i += 1
        number = self.i
        token = _lstrip(_trim_newline(raw))
        self.directive(token, number)
        if _is_comment(token):
            token = ""
        body, ended = self.continuation(token)
        if ended and not body:
            return None
        pieces = [(body, number)]
        while not ended and self.i < len(self.lines):
            raw = self.lines[self.i]
            self.i += 1
            text = _trim_newline(raw)
            if _is_comment(raw) or not _lstrip(text):
                continue
            text, ended = self.continuation(text)
            pieces.append((text, self.i))
        line, offsets = _joined(pieces)
        instruction = _node(line, offsets, self.escape, self.path, number)
        heredocs = self.heredocs(instruction, line) if _can_hold_heredocs(instruction) and "<<" in line else ()
        return instruction._replace(heredocs=heredocs, line=number, end_line=self.i)

    def heredocs(self, instruction: Instruction, line: str) -> tuple[Heredoc, ...]:
        found = []
        for name, chomp, expand in _heredoc_names(line, self.path, instruction.line):
            first = self.i + 1
            content: list[str] = []
            while True:
                if self.i >= len(self.lines):
                    raise InputError(self.path, "unterminated heredoc", instruction.line)
                raw = self.lines[self.i]
                self.i += 1
                candidate = _trim_newline(raw)
                if (candidate.lstrip("\t") if chomp else candidate) == name:
                    break
                content.append(raw)
            found.append(Heredoc(name, "".join(content), chomp, expand, first))
        return tuple(found)


def _joined(pieces: list[tuple[str, int]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A continued instruction's pieces joined as BuildKit joins them (nothing between), with
    the offset each piece starts at and its line."""
    offsets = []
    position = 0
    for text, number in pieces:
        offsets.append((position, number))
        position += len(text)
    return "".join(text for text, _ in pieces), tuple(offsets)


def _can_hold_heredocs(instruction: Instruction) -> bool:
    target = instruction.sub if instruction.command == "onbuild" and instruction.sub else instruction
    return target.command in _HEREDOC_COMMANDS and not target.json


def _heredoc_names(line: str, path: str, number: int) -> list[tuple[str, bool, bool]]:
    """The heredocs a line opens (name, chomp, expand), found as BuildKit finds them: the line's
    words, raw, each matched against ``<<[-]NAME``."""
    lexer = shell.BuildKitLex("\\", raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lexer.process(line, {}).words
    except shell.LexError:
        return []
    found = []
    for word in words:
        match = _HEREDOC.match(word)
        if match is None or not match.group(3):
            continue
        try:
            plain = shell.BuildKitLex("\\", skip_unset=True).process(match.group(3), {}).words
            raw = shell.BuildKitLex("\\", raw_quotes=True, skip_unset=True).process(match.group(3), {}).words
        except shell.LexError as exc:
            raise InputError(path, f"heredoc: {exc}", number) from None
        if len(plain) != 1:
            continue
        if len(raw) != 1:
            raise InputError(path, "internal lexing of heredoc produced inconsistent results", number)
        expand = sum(plain[0].count(q) for q in "'\"") == sum(raw[0].count(q) for q in "'\"")
        found.append((plain[0], match.group(2) == "-", expand))
    return found


def _node(line: str, offsets: tuple[tuple[int, int], ...], escape: str, path: str, number: int) -> Instruction:
    keyword, flags, arguments, start = _split_command(line)
    command = keyword.lower()
    lines = _lines_from(offsets, start)
    base = Instruction(keyword, tuple(flags), (), False, (), number, number, arguments, lines)
    if command == "onbuild":
        if not arguments:
            return base
        sub = _node(arguments, ((0, number),), escape, path, number)
        return base._replace(value=sub.value, json=sub.json, sub=sub)
    value, is_json = _values(command, arguments, escape, path, number)
    return base._replace(value=value, json=is_json)


def _lines_from(offsets: tuple[tuple[int, int], ...], start: int) -> tuple[tuple[int, int], ...]:
    """The line breakpoints of a text that starts at ``start`` of the joined line."""
    found = [(0, offsets[0][1])]
    for offset, number in offsets:
        if offset <= start:
            found[0] = (0, number)
        else:
            found.append((offset - start, number))
    return tuple(found)


def _split_command(line: str) -> tuple[str, list[str], str, int]:
    """The keyword, the builder flags (--mount=...), the arguments, and where they start."""
    lead = len(line) - len(_lstrip(line))
    stripped = _strip(line)
    parts = _WHITESPACE.split(stripped, maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], "", len(line)
    rest_start = lead + stripped.index(parts[1], len(parts[0]))
    flags, used = _builder_flags(parts[1])
    arguments = parts[1][used:]
    trimmed = _lstrip(arguments)
    return parts[0], flags, _strip(arguments), rest_start + used + len(arguments) - len(trimmed)


def _builder_flags(line: str) -> tuple[list[str], int]:
    """BuildKit's extractBuilderFlags (parser/ast/split_command.go): the leading --flag words, and
    where the rest starts."""
    scanner = _FlagScanner(line)
    return scanner.words, scanner.scan()


class _FlagScanner:
    """The word scanner of extractBuilderFlags: ``--flag=value`` words, quoted or not."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.words: list[str] = []
        self.word: list[str] = []
        self.quote = ""
        self.blank_ok = False

    def scan(self) -> int:
        line, position, phase = self.line, 0, "spaces"
        while position < len(line):
            ch = line[position]
            if phase == "spaces":
                if shell.go_space(ch):
                    position += 1
                    continue
                if not line.startswith("--", position):
                    return position
                phase = "word"
            if phase == "word" and shell.go_space(ch):
                text = "".join(self.word)
                if text == "--":
                    return position
                if self.blank_ok or text:
                    self.words.append(text)
                self.word, self.blank_ok, phase = [], False, "spaces"
            elif phase == "word" and ch in "'\"":
                self.quote, self.blank_ok, phase = ch, True, "quote"
            elif phase == "quote" and ch == self.quote:
                phase = "word"
            else:
                if ch == "\\":
                    position += 1
                    if position == len(line):
                        break
                    ch = line[position]
                self.word.append(ch)
            position += 1
        text = "".join(self.word)
        if phase != "spaces" and text != "--" and (self.blank_ok or text):
            self.words.append(text)
        return len(line)


def _values(command: str, rest: str, escape: str, path: str, number: int) -> tuple[tuple[str, ...], bool]:
    """An instruction's arguments, split by its own rule (BuildKit's dispatch table)."""
    if command in ("add", "copy", "volume"):
        parsed = _json_array(rest, path, number)
        return (tuple(parsed), True) if parsed is not None else (_whitespace_split(rest), False)
    if command in ("cmd", "entrypoint", "run", "shell"):
        if not rest:
            return (), False
        parsed = _json_array(rest, path, number)
        return (tuple(parsed), True) if parsed is not None else ((rest,), False)
    if command == "arg":
        return tuple(_parse_words(rest, escape)), False
    if command in ("env", "label"):
        return _name_values(rest, command.upper(), escape, path, number), False
    if command in ("expose", "from"):
        return _whitespace_split(rest), False
    if command in ("maintainer", "stopsignal", "user", "workdir"):
        return ((rest,) if rest else ()), False
    if command == "healthcheck":
        return _healthcheck(rest, path, number)
    return ("",), False  # an instruction BuildKit does not know: its arguments are ignored


def _whitespace_split(rest: str) -> tuple[str, ...]:
    return tuple(_WHITESPACE.split(rest)) if rest else ()


def _json_array(rest: str, path: str, number: int) -> list[str] | None:
    """The exec form's JSON array of strings, as Go's encoding/json reads it; None when the text
    is not a JSON array (a shell command that starts with '[')."""
    text = _lstrip(rest)
    if not text.startswith("["):
        return None
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, list):
        return None
    if not all(isinstance(item, str) for item in parsed):
        raise InputError(path, "when using JSON array syntax, arrays must be comprised of strings only", number)
    return parsed


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")  # Go's encoding/json has no NaN or Infinity


def _parse_words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: words split at blanks, quotes kept, an escaped quote kept escaped."""
    words: list[str] = []
    word: list[str] = []
    phase, quote_char, blank_ok = "spaces", "", False
    position = 0
    while position <= len(rest):
        ch = rest[position] if position < len(rest) else ""
        if phase == "spaces":
            if position == len(rest):
                break
            if shell.go_space(ch):
                position += 1
                continue
            phase = "word"
        if position == len(rest):
            if blank_ok or word:
                words.append("".join(word))
            break
        if phase == "word":
            if shell.go_space(ch):
                phase = "spaces"
                if blank_ok or word:
                    words.append("".join(word))
                word, blank_ok = [], False
                position += 1
                continue
            if ch in "'\"":
                quote_char, blank_ok, phase = ch, True, "quote"
            if ch == escape:
                if position + 1 == len(rest):
                    position += 1
                    continue
                word.append(ch)
                position += 1
                ch = rest[position]
            word.append(ch)
            position += 1
            continue
        if ch == quote_char:
            phase = "word"
        if ch == escape and quote_char != "'":
            if position + 1 == len(rest):
                phase = "word"
                position += 1
                continue
            word.append(ch)
            position += 1
            ch = rest[position]
        word.append(ch)
        position += 1
    return words


def _name_values(rest: str, key: str, escape: str, path: str, number: int) -> tuple[str, ...]:
    """ENV and LABEL: ``name=value ...``, or the old ``name value`` (one pair, the rest its value)."""
    words = _parse_words(rest, escape)
    if not words:
        return ()
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise InputError(path, f"{key} must have two arguments", number)
        return (parts[0], parts[1])
    pairs: list[str] = []
    for word in words:
        if "=" not in word:
            raise InputError(
                path, f"Syntax error - can't find = in {quote(word)}. Must be of the form: name=value", number
            )
        name, _, value = word.partition("=")
        pairs += [name, value]
    return tuple(pairs)


def _healthcheck(rest: str, path: str, number: int) -> tuple[tuple[str, ...], bool]:
    separator = next((n for n, ch in enumerate(rest) if shell.go_space(ch)), len(rest))
    if separator == 0:
        return (), False
    following = separator
    while following < len(rest) and shell.go_space(rest[following]):
        following += 1
    kind, command = rest[:separator], rest[following:]
    if not command:
        return (kind,), False
    parsed = _json_array(command, path, number)
    return ((kind, *parsed), True) if parsed is not None else ((kind, command), False)


# ---------------------------------------------------------------------------------------------
# The build: stages, variables, files from the build context, and what each RUN installs
# ---------------------------------------------------------------------------------------------

# What kept a command (or part of it) from being read, by kind: the figures of benchmarks/dockerfiles.py.
VARIABLE = "a variable without a value"
ENVIRONMENT = "a value only the base image or the running shell knows"
SUBSTITUTION = "a command or process substitution"
PIPED = "arguments read from a pipe (xargs, -r -)"
NOT_HERE = "a file of the build context that is not here"
MADE_IN_BUILD = "a file made during the build"
CONDITION = "a branch a test during the build decides"
CONDA_FILE = "a conda file or spec not read"
NOT_DECLARED = "a project whose dependencies pyproject.toml does not list"
OTHER_INSTALLER = "an installer not read (poetry, pipenv, pdm)"
SHELL_SYNTAX = "shell syntax not followed"
OTHER_LANGUAGE = "a script in another language"
INVALID = "an argument pip would refuse"


class Followed(NamedTuple):
    """An install command the reader followed, and the kinds of what in it was not read."""

    command: str  # pip install, uv sync, conda install...
    location: Location
    unread: tuple[str, ...]  # empty: all of it was read


@dataclass
class Dockerfile:
    images: list[BaseImage] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    environment: list[tuple[str, str, Location]] = field(default_factory=list)
    system_packages: list[tuple[str, Location]] = field(default_factory=list)
    commands: list[tuple[str, Location]] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    # What could not be read, and why (a variable without a value): not judged, never exit 2.
    unread: list[tuple[str, Location]] = field(default_factory=list)
    followed: list[Followed] = field(default_factory=list)
    # The Python a conda install in the Dockerfile puts in the environment every pip of the
    # image installs into (conda create -n env python=3.10, then that env's pip), where it says
    # one: as RequirementSet.interpreters ("" where conda picks it).
    interpreters: list[tuple[str, Location]] = field(default_factory=list)


def parse_dockerfile(text: str, path: str, target: str | None = None) -> Dockerfile:
    """The Dockerfile as ``docker build`` builds it: its last stage, or the stage ``target``
    names (``docker build --target``), and the stages that one is built from or copies from."""
    return _Build(path, instructions(text, path), target).read()


# Docker's grammar for a tag: what the rules read versions from is bounded by it.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TAG_LENGTH = 128
# The platform ARGs BuildKit sets: their values are the build machine's, not known here.
_PLATFORM_ARGS = frozenset(
    {
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETARCH",
        "TARGETVARIANT",
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDARCH",
        "BUILDVARIANT",
    }
)
INHERITED = "$PATH"
_ARCHIVE = re.compile(r"\.(whl|tar\.gz|tar\.bz2|tgz|zip|egg)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^(git|hg|svn|bzr)\+")
_GLOB = re.compile(r"[*?\[]")
_MAX_STAGE_HOPS = 16


class _Copy(NamedTuple):
    """A path of the image that a COPY (or a RUN's bind mount) fills, and from where."""

    destination: str
    source: str  # in the build context, or in the stage ``stage``
    folder: bool  # the destination holds the source folder's contents
    pattern: bool  # the source is a glob: the destination folder holds what it matches
    stage: int | None = None


class _Located(NamedTuple):
    file: Path | None  # in the build context, here
    why: str | None = None  # else why it cannot be read
    kind: str | None = None


@dataclass
class _Installed:
    """What a stage installs."""

    requirements: list[Requirement] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    unread: list[tuple[str, Location]] = field(default_factory=list)
    followed: list[Followed] = field(default_factory=list)
    # For each command that installed packages: the conda Python of the environment it installed
    # into, where the reader can tell (None where it cannot, or where it is no conda environment).
    pythons: list[tuple[str, Location] | None] = field(default_factory=list)

    def copy(self) -> _Installed:
        """What a stage built FROM this one starts with: its own lists, so that an uninstall there
        leaves this stage's image as it was."""
        return _Installed(
            list(self.requirements),
            list(self.inputs),
            list(self.index_urls),
            list(self.find_links),
            list(self.unread),
            list(self.followed),
            list(self.pythons),
        )


@dataclass
class _Stage:
    index: int
    name: str | None
    parent: _Stage | None
    env: dict[str, shell.Value]
    workdir: str
    copies: list[_Copy]
    folders: set[str]
    shell_argv: tuple[str, ...]
    args: dict[str, shell.Value] = field(default_factory=dict)
    uses: set[int] = field(default_factory=set)
    installed: _Installed = field(default_factory=_Installed)
    # The ARGs before the first FROM: a stage that does not declare them again does not see them.
    meta: dict[str, shell.Value] = field(default_factory=dict)
    # pip's own configuration file, as `pip config set global.index-url` writes it.
    pip_config: dict[str, shell.Value] = field(default_factory=dict)
    # What this stage's own instructions set (not its parent's): ENV, RUN, apt-get install.
    environment: list[tuple[str, str, Location]] = field(default_factory=list)
    commands: list[tuple[str, Location]] = field(default_factory=list)
    system_packages: list[tuple[str, Location]] = field(default_factory=list)
    # PATH as ENV sets it, entry by entry; INHERITED stands for the base image's.
    path: tuple[str, ...] = (INHERITED,)
    # The conda environments made or changed here (or in the stages it is built FROM): their
    # key ("base", a name, "prefix:/folder") -> (their Python, "" where conda picks it; where).
    conda_envs: dict[str, tuple[str, Location]] = field(default_factory=dict)
    # conda was run by its bare name: the base image's PATH finds conda's own bin folder.
    conda_on_path: bool = False
    # CMD or ENTRYPOINT: the stage is meant to run something.
    runs: bool = False
    base: str = ""  # its FROM, as expanded (an image, scratch, or a stage's name)

    def variables(self) -> dict[str, shell.Value]:
        undeclared = {
            name: shell.Unknown(
                f"${name} is an ARG before the first FROM that this stage does not declare: its value here is the "
                "base image's, if any"
            )
            for name in self.meta
        }
        return {**undeclared, **self.args, **self.env}  # ENV wins over an ARG of the same name


_T = TypeVar("_T")


def _root(stage: _Stage) -> _Stage:
    """The first stage of the FROM chain ``stage`` is built on: its base is an image."""
    while stage.parent is not None:
        stage = stage.parent
    return stage


def _extend(into: list[_T], items: list[_T]) -> None:
    """``items`` not already in ``into`` by identity: a stage built FROM another holds the very
    entries of that one's list, which count once; two commands alike count twice."""
    seen = {id(item) for item in into}
    into += [item for item in items if id(item) not in seen]


def _no_value(name: str) -> shell.Unknown:
    if name in _PLATFORM_ARGS:
        return shell.Unknown(f"${name} is the platform of the build, not known here")
    return shell.Unknown(
        f"${name} has no value (ARG {name} has no default: the build passes it with --build-arg)", True
    )


class _Build:
    """The Dockerfile built instruction by instruction, as far as it can be without building it."""

    def __init__(self, path: str, found: list[Instruction], target: str | None = None) -> None:
        self.path = path
        self.instructions = found
        self.target = target
        self.root = project_root(path)
        folder = Path.cwd() if path == "-" else Path(path).parent
        self.contexts = _contexts(folder, self.root, _context_sources(found))
        self.context = self.contexts[0]
        self.meta: dict[str, shell.Value] = {}
        self.stages: list[_Stage] = []
        self.result = Dockerfile()
        self.scripts: dict[str, str] = {}
        self.pythons: list[tuple[str, Location] | None] = []

    def read(self) -> Dockerfile:
        for instruction in self.instructions:
            self.instruction(instruction)
        if not self.stages:
            raise InputError(self.path, "no FROM: not a Dockerfile Docker can build")
        final = self.target_stage()
        reached = self.reached(final)
        # With --target, docker build builds the target and what it needs, nothing after it; without
        # one, every stage's lines are kept as they were read.
        built = self.built(reached) if self.target is not None else set(range(len(self.stages)))
        result = self.result
        result.images = [image for n, image in enumerate(result.images) if n in built]
        result.images[-1] = result.images[-1]._replace(final=True)
        for stage in self.stages:
            if stage.index in built:
                result.environment += stage.environment
                result.commands += stage.commands
                result.system_packages += stage.system_packages
        for index in reached:
            self.gather(self.stages[index].installed)
        pythons = set(self.pythons)
        if len(pythons) == 1 and None not in pythons:
            result.interpreters = [python for python in pythons if python is not None]
        if self.target is None:
            self.files_only(final)
        return result

    def target_stage(self) -> _Stage:
        """The stage ``docker build --target`` names (by its name, case-insensitive, as BuildKit's
        findStateByName: never by index), or the last one."""
        if self.target is None:
            return self.stages[-1]
        for stage in self.stages:
            if stage.name and stage.name.lower() == self.target.lower():
                return stage
        names = [stage.name for stage in self.stages if stage.name]
        known = f"its stages: {', '.join(quote(n, 30) for n in names[:16])}{', ...' if len(names) > 16 else ''}"
        hint = " (docker build --target takes a stage's name, not its index)" if self.target.isdigit() else ""
        raise InputError(
            self.path,
            f"target stage {quote(self.target)} could not be found{hint}; {known if names else 'no stage is named'}",
        )

    def reached(self, final: _Stage) -> list[int]:
        """The stages whose files end up in the final one: the final stage (which holds what its FROM
        chain installed) and every stage it copies or mounts from, and theirs in turn."""
        seen: list[int] = []
        pending = [final.index]
        while pending:
            index = pending.pop(0)
            if index not in seen:
                seen.append(index)
                pending += sorted(self.stages[index].uses)
        return sorted(seen)

    def built(self, reached: list[int]) -> set[int]:
        """The stages docker build builds for these: each, and the stages each is built FROM."""
        found: set[int] = set()
        for index in reached:
            stage: _Stage | None = self.stages[index]
            while stage is not None and stage.index not in found:
                found.add(stage.index)
                stage = stage.parent
        return found

    def files_only(self, final: _Stage) -> None:
        """A last stage FROM scratch that runs nothing (NeMo-RL's cache export) is what docker build
        builds without --target, and it is judged as such; the note names the stages that run."""
        if len(self.stages) < 2 or final.runs or _root(final).base != "scratch":
            return
        used = {s.parent.index for s in self.stages if s.parent} | {i for s in self.stages for i in s.uses}
        running = [s.name for s in self.stages if s.name and s.index not in used and _root(s).base != "scratch"]
        suggestion = (
            f"envdoctor audit --target {running[-1]} judges the image that runs"
            if len(running) == 1
            else f"envdoctor audit --target STAGE judges an image that runs ({', '.join(running[-4:])})"
            if running
            else "envdoctor audit --target STAGE judges an image that runs"
        )
        name = f" {final.name}" if final.name else ""
        self.result.unread.append(
            (
                f"the last stage{name} is FROM scratch and runs nothing: it holds files a build exports, not an image "
                f"with a Python (docker build builds it when no --target is given); {suggestion}",
                self.result.images[-1].location,
            )
        )

    def gather(self, installed: _Installed) -> None:
        # A stage holds what the stage it is built FROM installed: each item once.
        result = self.result
        result.requirements = list(dict.fromkeys([*result.requirements, *installed.requirements]))
        result.inputs = list(dict.fromkeys([*result.inputs, *installed.inputs]))
        result.index_urls = list(dict.fromkeys([*result.index_urls, *installed.index_urls]))
        result.find_links = list(dict.fromkeys([*result.find_links, *installed.find_links]))
        result.unread = list(dict.fromkeys([*result.unread, *installed.unread]))
        _extend(result.followed, installed.followed)
        self.pythons += installed.pythons

    def instruction(self, instruction: Instruction) -> None:
        command = instruction.command
        location = Location(self.path, instruction.line)
        if command not in KNOWN_INSTRUCTIONS:
            raise InputError(self.path, f"not a Dockerfile instruction: {quote(instruction.keyword)}", instruction.line)
        if command == "from":
            self.stage_from(instruction, location)
            return
        if command == "arg" and not self.stages:
            self.arg(instruction, self.meta, self.meta)
            return
        if not self.stages:
            raise InputError(
                self.path, f"{instruction.keyword} before the first FROM: no stage to run it in", instruction.line
            )
        stage = self.stages[-1]
        if command == "arg":
            self.arg(instruction, stage.args, stage.variables())
        elif command == "env":
            self.env(instruction, stage, location)
        elif command == "workdir" and instruction.value:
            word = shell.expand(instruction.value[0], stage.variables())
            stage.workdir = shell.joined_path(stage.workdir, word.text) if word.unknown is None else stage.workdir
            stage.folders.add(stage.workdir)
        elif command in ("copy", "add"):
            self.copy(instruction, stage)
        elif command == "shell" and instruction.json and instruction.value:
            stage.shell_argv = instruction.value
        elif command in ("cmd", "entrypoint") and instruction.value:
            stage.runs = True
        elif command == "run":
            _Run(self, stage, instruction).read()

    # -- FROM, ARG, ENV, COPY ------------------------------------------------------------------

    def stage_from(self, instruction: Instruction, location: Location) -> None:
        words = instruction.value
        if not words:
            raise InputError(self.path, "FROM without an image", instruction.line)
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise InputError(self.path, "FROM takes an image and, after AS, a stage name", instruction.line)
        reference = shell.expand(words[0], self.meta, only_these=True).text
        name = words[2] if len(words) == 3 else None
        names = {stage.name.lower(): stage for stage in self.stages if stage.name}
        parent = names.get(reference.lower())
        if parent is None and reference.isdigit() and int(reference) < len(self.stages):
            parent = self.stages[int(reference)]
        if parent is not None:
            image = BaseImage(reference, reference, None, None, name, location)
        else:
            image = base_image(reference, name, location)
        self.result.images.append(image)
        stage = _Stage(
            index=len(self.stages),
            name=name,
            parent=parent,
            env=dict(parent.env) if parent else {},
            workdir=parent.workdir if parent else "/",
            copies=list(parent.copies) if parent else [],
            folders=set(parent.folders) if parent else {"/"},
            shell_argv=parent.shell_argv if parent else ("/bin/sh", "-c"),
            meta=self.meta,
            pip_config=dict(parent.pip_config) if parent else {},
            uses=set(parent.uses) if parent else set(),
            installed=parent.installed.copy() if parent else _Installed(),
            path=parent.path if parent else (INHERITED,),
            conda_envs=dict(parent.conda_envs) if parent else {},
            conda_on_path=parent.conda_on_path if parent else False,
            runs=parent.runs if parent else False,
            base=reference,
        )
        self.stages.append(stage)

    def arg(self, instruction: Instruction, into: dict[str, shell.Value], variables: dict[str, shell.Value]) -> None:
        for word in instruction.value:
            name, has_default, default = word.partition("=")
            if has_default:
                # Before the first FROM only those ARGs exist; in a stage, the base image's ENV too.
                expanded = shell.expand(default, variables, only_these=into is self.meta)
                into[name] = shell.Unknown(expanded.unknown) if expanded.unknown else expanded.text
            elif into is self.meta:
                into[name] = _no_value(name)
            else:  # inside a stage, a bare ARG takes the value of the ARG of that name before the first FROM
                global_value = self.meta.get(name)
                into[name] = global_value if global_value is not None else _no_value(name)
            variables[name] = into[name]

    def env(self, instruction: Instruction, stage: _Stage, location: Location) -> None:
        pairs = instruction.value
        for n in range(0, len(pairs) - 1, 2):
            name, raw = pairs[n], pairs[n + 1]
            word = shell.expand(raw, stage.variables())
            stage.env[name] = shell.Unknown(word.unknown) if word.unknown else word.text
            stage.environment.append((name, word.text, location))
            if name == "PATH":
                stage.path = _path_entries(word.text, stage.path)

    def copy(self, instruction: Instruction, stage: _Stage) -> None:
        flags = dict(_flag(flag) for flag in instruction.flags)
        variables = stage.variables()
        words = [shell.expand(word, variables) for word in instruction.value]
        if len(words) < 2 or any(word.unknown for word in words):
            return
        *sources, destination_word = words
        destination = shell.joined_path(stage.workdir, destination_word.text)
        origin = self.stage_named(flags.get("from"))
        if flags.get("from") and origin is None:
            return  # from another image: none of the build context's files
        if origin is not None:
            stage.uses.add(origin.index)
        heredocs = {heredoc.name for heredoc in instruction.heredocs}
        into_folder = len(sources) > 1 or destination_word.text.endswith(("/", "/.")) or destination in stage.folders
        into_folder = into_folder or destination_word.text in (".", "..")
        for source in sources:
            name = source.text.removeprefix("<<-").removeprefix("<<")
            if name in heredocs and source.text.startswith("<<"):
                stage.copies.append(_Copy(_into(destination, name, into_folder), "", False, False, -1))
                continue
            if _SCHEME.match(source.text):
                continue  # ADD from a URL
            stage.copies.append(self.copy_entry(source.text, destination, into_folder, origin))
        if into_folder:
            stage.folders.add(destination)

    def copy_entry(self, source: str, destination: str, into_folder: bool, origin: _Stage | None) -> _Copy:
        cleaned = posixpath.normpath(source.lstrip("/")) if origin is None else posixpath.normpath(source)
        if _GLOB.search(source):
            return _Copy(destination, cleaned, False, True, origin.index if origin else None)
        folder = (
            self.is_folder(cleaned)
            if origin is None
            else not _ARCHIVE.search(cleaned) and "." not in posixpath.basename(cleaned)
        )
        if folder:
            return _Copy(destination, cleaned, True, False, origin.index if origin else None)
        target = _into(destination, posixpath.basename(cleaned), into_folder)
        return _Copy(target, cleaned, False, False, origin.index if origin else None)

    def is_folder(self, source: str) -> bool:
        if source in (".", ""):
            return True
        candidate = self.context / source
        if _readable(candidate, self.root):
            return candidate.is_dir()
        return "." not in posixpath.basename(source)  # not here: a name without a suffix is most often a folder

    def stage_named(self, name: str | None) -> _Stage | None:
        if not name:
            return None
        for stage in self.stages:
            if stage.name and stage.name.lower() == name.lower():
                return stage
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None

    # -- files ---------------------------------------------------------------------------------

    def locate(self, image_path: str, stage: _Stage, overlay: list[_Copy], hops: int = 0) -> _Located:
        """Where a path of the image comes from: the build context (here, or not), another
        stage, or the build itself."""
        if not image_path.startswith("/"):
            return _Located(None, f"{quote(image_path)} is relative to a working folder the build decides", ENVIRONMENT)
        for copy in [*overlay, *reversed(stage.copies)]:
            source = _source_of(image_path, copy)
            if source is None:
                continue
            if copy.stage == -1:
                return _Located(None, f"{quote(image_path)} is written by a heredoc of the Dockerfile", MADE_IN_BUILD)
            if copy.stage is not None:
                if hops >= _MAX_STAGE_HOPS:
                    break
                origin = self.stages[copy.stage]
                return self.locate("/" + source.lstrip("/"), origin, [], hops + 1)
            return self.in_context(source)
        return _Located(
            None,
            f"{quote(image_path)} is made during the build (no COPY brings it from the build context)",
            MADE_IN_BUILD,
        )

    def in_context(self, relative: str) -> _Located:
        """A file of the build context: in the likeliest context, else in another that may be it
        (a Dockerfile that copies only ``.`` says nothing of where its context is)."""
        relative = posixpath.normpath(relative)
        if not relative.startswith(".."):
            for context in self.contexts:
                if _readable(context / relative, self.root):
                    return _Located(context / relative)
        return _Located(None, f"{quote(relative)} comes from the build context, which is not here", NOT_HERE)

    def context_script(self, image_path: str, stage: _Stage, overlay: list[_Copy]) -> shell.Script | None:
        located = self.locate(image_path, stage, overlay)
        if located.file is None or not located.file.is_file():
            return None
        path = str(located.file)
        try:
            text = read_text_input(path, self.root)
        except InputError:
            return None  # not text: not a shell script to follow
        if path not in self.scripts:
            self.scripts[path] = text
            stage.installed.inputs.append(Input(path, "script"))
        return shell.Script.of_file(text, path)

    def exists(self, image_path: str, stage: _Stage, overlay: list[_Copy]) -> bool | None:
        located = self.locate(image_path, stage, overlay)
        return True if located.file is not None else None


def _into(destination: str, name: str, into_folder: bool) -> str:
    return posixpath.join(destination, name) if into_folder else destination


def _source_of(image_path: str, copy: _Copy) -> str | None:
    """The source path a copy gives ``image_path``, if it fills it."""
    if copy.pattern:
        folder, name = posixpath.split(image_path)
        pattern_folder, pattern = posixpath.split(copy.source)
        if folder == copy.destination.rstrip("/") and shell.glob_match(name, pattern):
            return posixpath.join(pattern_folder, name)
        return None
    if copy.folder:
        destination = copy.destination.rstrip("/") or "/"
        if image_path == destination:
            return copy.source
        prefix = destination if destination.endswith("/") else destination + "/"
        if image_path.startswith(prefix):
            return posixpath.normpath(posixpath.join(copy.source, image_path[len(prefix) :]))
        return None
    return copy.source if image_path == copy.destination else None


def _flag(flag: str) -> tuple[str, str]:
    name, _, value = flag.partition("=")
    return name.lstrip("-").lower(), value


def _readable(candidate: Path, root: Path) -> bool:
    try:
        return is_inside(Path(os.path.realpath(candidate)), root) and (candidate.is_file() or candidate.is_dir())
    except (OSError, ValueError):  # a name longer than the file system allows, a NUL, a symlink loop
        return False


def _context_sources(found: list[Instruction]) -> list[str]:
    """The build-context paths the Dockerfile names as written (COPY and ADD sources, bind mounts)."""
    sources: list[str] = []
    for instruction in found:
        flags = dict(_flag(flag) for flag in instruction.flags)
        if instruction.command in ("copy", "add") and "from" not in flags:
            sources += [w for w in instruction.value[:-1] if "$" not in w and not w.startswith("<<")]
        if instruction.command == "run":
            for flag in instruction.flags:
                mount = _mount(flag)
                if mount and mount.get("type") == "bind" and "from" not in mount and mount.get("source"):
                    sources.append(mount["source"])
    return [s for s in sources if not _SCHEME.match(s) and not _GLOB.search(s) and s.strip("./")]


# What marks the top of a project: a build context is not above the one the Dockerfile is in.
# What marks the top of a project. Not a requirements.txt: an example's Dockerfile often keeps one
# beside it while its build context is the repository above (openpi's examples/libero).
_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg", ".git", ".dockerignore")


def _contexts(folder: Path, root: Path, sources: list[str]) -> list[Path]:
    """Where the build context may be, the likeliest first: the Dockerfile's folder and the folders
    above it (``docker build -f docker/Dockerfile .``) up to the top of its project (the first
    holding a project file) or the project's root; of those, the one holding most of what the
    Dockerfile copies comes first."""
    candidates = [folder]
    resolved_root = Path(os.path.realpath(root))
    current = folder
    for _ in range(8):
        top = any(_readable(current / name, root) for name in _PROJECT_FILES)
        if top or Path(os.path.realpath(current)) == resolved_root or current.parent == current:
            break
        current = current.parent
        candidates.append(current)
    scores = [sum(_readable(candidate / source.lstrip("/"), root) for source in sources) for candidate in candidates]
    best = max(scores) if scores else 0
    chosen = candidates[scores.index(best)] if best else folder
    return [chosen, *(candidate for candidate in candidates if candidate != chosen)]


def _mount(flag: str) -> dict[str, str] | None:
    """A RUN --mount's fields (type=bind,source=...,target=...), None for other flags."""
    name, _, value = flag.partition("=")
    if name.lower() != "--mount":
        return None
    fields: dict[str, str] = {"type": "bind"}
    for item in value.split(","):
        key, _, found = item.partition("=")
        key = {"src": "source", "dst": "target", "destination": "target"}.get(key.strip().lower(), key.strip().lower())
        fields[key] = found.strip()
    return fields


def base_image(reference: str, stage: str | None, location: Location) -> BaseImage:
    """An image reference as Docker reads it: repository, tag (checked) and digest."""
    name, _, digest = reference.partition("@")
    repository, tag = name, None
    if name.rfind(":") > name.rfind("/"):
        repository, tag = name.rsplit(":", 1)
        # Docker's grammar, or at least its length where an ARG without a value stays as written.
        if not (_TAG.fullmatch(tag) or ("$" in tag and len(tag) <= _TAG_LENGTH)):
            raise InputError(location.path, f"{quote(tag)} is not an image tag", location.line)
    return BaseImage(reference, repository, tag, digest or None, stage, location)


# -- a RUN ------------------------------------------------------------------------------------

_SHELL_NAMES = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"})
_INSTALL_WORDS = re.compile(r"\b(pip[\d.]*|uv|conda|mamba|micromamba)\b.*\b(install|sync|wheel|create)\b")


class _Run:
    """One RUN instruction: its mounts, its script, and each command it runs."""

    def __init__(self, build: _Build, stage: _Stage, instruction: Instruction) -> None:
        self.build = build
        self.stage = stage
        self.instruction = instruction
        self.location = Location(build.path, instruction.line)
        self.overlay: list[_Copy] = []

    def read(self) -> None:
        self.mounts()
        text = self.command_text()
        self.stage.commands.append((text, self.location))
        hooks = shell.Hooks(
            lambda p: self.build.exists(p, self.stage, self.overlay),
            lambda p: self.build.context_script(p, self.stage, self.overlay),
        )
        try:
            calls = self.calls(hooks)
        except shell.ShellError as exc:
            self.not_followed(text, f"shell syntax envdoctor does not follow ({exc})", SHELL_SYNTAX)
            return
        if calls is None:
            self.not_followed(text, "a script run by another interpreter than sh", OTHER_LANGUAGE)
            return
        for call in calls:
            _Call(self, call).read()

    def not_followed(self, text: str, why: str, kind: str) -> None:
        """A RUN whose commands cannot be told apart: one note, where it seems to install."""
        if _INSTALL_WORDS.search(text):
            installed = self.stage.installed
            installed.unread.append((f"{quote(text, 60)}: {why}", self.location))
            installed.followed.append(Followed("RUN", self.location, (kind,)))

    def mounts(self) -> None:
        for flag in self.instruction.flags:
            mount = _mount(flag)
            if mount is not None and mount.get("from") and mount.get("type") != "bind":
                seed = self.build.stage_named(shell.expand(mount["from"], self.stage.variables()).text)
                if seed is not None:  # a cache seeded from a stage: the build needs that stage
                    self.stage.uses.add(seed.index)
            if mount is None or mount.get("type") != "bind" or not mount.get("target"):
                continue
            variables = self.stage.variables()
            fields = {key: shell.expand(value, variables).text for key, value in mount.items()}
            target = shell.joined_path(self.stage.workdir, fields["target"])
            origin = self.build.stage_named(fields.get("from"))
            if fields.get("from") and origin is None:
                continue  # from another image
            if origin is not None:
                self.stage.uses.add(origin.index)
            source = fields.get("source", ".") or "."
            self.overlay.insert(0, self.build.copy_entry(source, target, False, origin))

    def command_text(self) -> str:
        """The RUN as the image rules read it: its flags and command, known variables put in."""
        instruction = self.instruction
        if instruction.json:
            return " ".join([*instruction.flags, *instruction.value])
        body = _substitute(instruction.arguments, self.stage.variables())
        heredocs = "".join(f"\n{heredoc.content}{heredoc.name}" for heredoc in instruction.heredocs)
        return " ".join([*instruction.flags, body]) + heredocs

    def calls(self, hooks: shell.Hooks) -> list[shell.Invocation] | None:
        instruction, stage = self.instruction, self.stage
        variables = stage.variables()
        if instruction.json:
            script = shell.Script("", self.build.path, (0,), (instruction.line,))
            return shell.exec_form(list(instruction.value), variables, stage.workdir, hooks, script)
        if posixpath.basename(stage.shell_argv[0]) not in _SHELL_NAMES:
            return None  # SHELL ["powershell", ...]
        text = self.script()
        return None if text is None else shell.commands(text, variables, stage.workdir, hooks)

    def script(self) -> shell.Script | None:
        """The script the RUN hands to the shell, each offset with its line in the Dockerfile."""
        instruction = self.instruction
        path = self.build.path
        offsets = tuple(offset for offset, _ in instruction.lines)
        lines = tuple(number for _, number in instruction.lines)
        if not instruction.heredocs:
            return shell.Script(instruction.arguments, path, offsets, lines)
        if _whole_heredoc(instruction.arguments):
            # RUN <<EOF: BuildKit runs the heredoc's text as the script itself.
            heredoc = instruction.heredocs[0]
            content = re.sub(r"(?m)^\t+", "", heredoc.content) if heredoc.chomp else heredoc.content
            if content.startswith("#!") and not _shell_shebang(content):
                return None
            return shell.Script.of_file(content, path, heredoc.line)
        # Other forms: BuildKit gives the shell the line and each heredoc, as sh reads heredocs.
        text = instruction.arguments
        breakpoints = list(instruction.lines)
        for heredoc in instruction.heredocs:
            text += "\n"
            number = heredoc.line
            for piece in heredoc.content.split("\n")[:-1] if heredoc.content else []:
                breakpoints.append((len(text), number))
                text += piece + "\n"
                number += 1
            breakpoints.append((len(text), number))
            text += heredoc.name
        return shell.Script(text, path, tuple(o for o, _ in breakpoints), tuple(n for _, n in breakpoints))


def _whole_heredoc(arguments: str) -> bool:
    """Whether the RUN's command is a heredoc alone (``RUN <<EOF``): BuildKit's MustParseHeredoc."""
    match = _HEREDOC.match(arguments)
    if match is None or not match.group(3):
        return False
    try:
        return len(shell.BuildKitLex("\\", skip_unset=True).process(match.group(3), {}).words) == 1
    except shell.LexError:
        return False


def _shell_shebang(content: str) -> bool:
    words = content[2:].split("\n", 1)[0].split()
    if words and posixpath.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return bool(words) and posixpath.basename(words[0]) in _SHELL_NAMES


_VARIABLE = re.compile(r"\$\{?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}?")


def _substitute(text: str, variables: dict[str, shell.Value]) -> str:
    """The RUN's text with the values the Dockerfile gives put in (short ones: it is read for
    options such as --no-cache-dir, and must not grow past what was written)."""
    budget = [len(text) + 65_536]

    def replace(match: re.Match[str]) -> str:
        value = variables.get(match.group("name"))
        if not isinstance(value, str):
            value = match.group("default")
        if value is None or len(value) > budget[0]:
            return match.group(0)
        budget[0] -= len(value)
        return value

    return _VARIABLE.sub(replace, text)


# -- a command ----------------------------------------------------------------------------------


class _Table(NamedTuple):
    """An installer's options: spelling -> name, for those that take a value and those that do not."""

    values: dict[str, str]
    flags: dict[str, str]
    abbreviations: bool  # pip's optparse takes any unambiguous prefix of a long option


def _table(values: str, flags: str, abbreviations: bool = False) -> _Table:
    def spellings(groups: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for group in groups.split():
            names = group.split(",")
            canonical = next((n for n in names if n.startswith("--")), names[0]).lstrip("-")
            found.update(dict.fromkeys(names, canonical))
        return found

    return _Table(spellings(values), spellings(flags), abbreviations)


_PIP_GENERAL_VALUES = (
    "--log --log-file --local-log --proxy --retries --timeout --exists-action --trusted-host --cert --client-cert "
    "--cache-dir --python --use-feature --use-deprecated --keyring-provider --resume-retries "
)
_PIP_GENERAL_FLAGS = (
    "-h,--help -V,--version -q,--quiet -v,--verbose --debug --isolated --require-virtualenv --no-input --no-cache-dir "
    "--disable-pip-version-check --no-color --no-python-version-warning "
)
_PIP = _table(
    _PIP_GENERAL_VALUES
    + "-r,--requirement -c,--constraint -e,--editable -i,--index-url --extra-index-url -f,--find-links -t,--target "
    "--platform --python-version --implementation --abi --root --prefix --src --upgrade-strategy -C,--config-settings "
    "--global-option --install-option --build-option --no-binary --only-binary --progress-bar --root-user-action "
    "--report --group -w,--wheel-dir -d,--dest",
    _PIP_GENERAL_FLAGS
    + "-U,--upgrade -I,--ignore-installed -y,--yes --no-deps --pre --dry-run --user --force-reinstall "
    "--ignore-requires-python --no-build-isolation --use-pep517 --no-use-pep517 --check-build-dependencies "
    "--break-system-packages --compile --no-compile --no-warn-script-location --no-warn-conflicts --prefer-binary "
    "--require-hashes --no-clean --no-index --no-verify",
    abbreviations=True,
)
_PIP_GENERAL = _table(_PIP_GENERAL_VALUES, _PIP_GENERAL_FLAGS, abbreviations=True)
_UV_GENERAL_VALUES = (
    "--cache-dir --directory --project --config-file --color --python-preference --allow-insecure-host "
)
_UV_GENERAL_FLAGS = (
    "-q,--quiet -v,--verbose -n,--no-cache --offline --native-tls --preview --no-config --no-progress "
    "--no-python-downloads --managed-python --no-managed-python -h,--help "
)
_UV_INDEX_VALUES = (
    "--index --default-index -i,--index-url --extra-index-url -f,--find-links --index-strategy --keyring-provider "
    "--resolution --prerelease --fork-strategy --exclude-newer --exclude-newer-package --link-mode "
    "-C,--config-setting,--config-settings --config-settings-package -P,--upgrade-package --reinstall-package "
    "--refresh-package --no-build-package --no-binary-package --only-binary-package --no-build-isolation-package "
    "--python-platform -p,--python --torch-backend "
)
_UV_PIP = _table(
    _UV_GENERAL_VALUES
    + _UV_INDEX_VALUES
    + "-r,--requirements,--requirement -e,--editable -c,--constraints,--constraint --overrides,--override "
    "--excludes,--exclude -b,--build-constraints,--build-constraint --extra --group --no-binary --only-binary "
    "--target --prefix --python-version --no-editable-package --output-format",
    _UV_GENERAL_FLAGS
    + "--all-extras --no-all-extras --system --no-system --break-system-packages --no-break-system-packages "
    "--no-deps --deps -U,--upgrade --reinstall,--force-reinstall --no-build --build --compile-bytecode,--compile "
    "--strict --no-strict --dry-run --check --no-index --require-hashes --no-require-hashes --verify-hashes "
    "--no-verify-hashes --user --no-sources --no-build-isolation --refresh --exact --inexact --no-editable "
    "--allow-empty-requirements",
)
_UV_GENERAL = _table(_UV_GENERAL_VALUES, _UV_GENERAL_FLAGS)
_UV_SYNC = _table(
    _UV_GENERAL_VALUES
    + _UV_INDEX_VALUES
    + "--extra --no-extra --group --no-group --only-group --package --no-install-package --script --output-format",
    _UV_GENERAL_FLAGS
    + "--all-extras --all-groups --dev --no-dev --only-dev --no-default-groups --all-packages --frozen --locked "
    "--no-install-project --no-install-workspace --inexact --exact --no-editable --active --no-sources "
    "--compile-bytecode -U,--upgrade --reinstall --no-build --no-binary --no-build-isolation --check --dry-run",
)
_CONDA = _table(
    "-c,--channel -n,--name -p,--prefix -f,--file --solver --repodata-fn -r,--root-prefix --platform --subdir",
    "-y,--yes -q,--quiet -v,--verbose -d,--dry-run --override-channels --no-deps --only-deps --freeze-installed "
    "--update-deps --no-update-deps --strict-channel-priority --no-channel-priority --force-reinstall --all "
    "--copy --offline -S,--satisfied-skip-solve --no-pin --clobber --use-local --insecure --json --download-only "
    "--mkdir --no-rc",
)
_PIP_NAME = re.compile(r"pip(\d+(\.\d+)?)?")
_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?[a-z]?")
_PYTHON_VALUE_OPTIONS = frozenset({"-X", "-W", "--check-hash-based-pycs"})
_PYTORCH_FIND_LINKS = re.compile(
    r"^https?://download\.pytorch\.org/whl/(?:(?:nightly|test)/)?(?:(?P<variant>cpu|cu\d{2,3}|rocm[\d.]+)(?:/|$))?"
)


class _Parsed(NamedTuple):
    values: list[tuple[str, shell.Word]]
    flags: set[str]
    positional: list[shell.Word]
    # Positional words right after an option this reader does not know: perhaps its value.
    doubtful: set[int]


def _parse_options(words: list[shell.Word], table: _Table) -> _Parsed:
    found = _Parsed([], set(), [], set())
    values, flags, positional, doubtful = found
    i = 0
    while i < len(words):
        word = words[i]
        text = word.text
        i += 1
        if word.unknown is None and text == "--":
            positional.extend(words[i:])
            break
        if text.startswith("--") and len(text) > 2:
            spelled, has_value, attached = text.partition("=")
            name = _long_option(spelled, table)
            if name in table.values.values() or (name is None and has_value):
                if has_value:
                    values.append((name or spelled, word._replace(text=attached)))
                elif i < len(words):
                    values.append((name or spelled, words[i]))
                    i += 1
            elif name is None:
                doubtful.add(len(positional))
            else:
                flags.add(name)
            continue
        if text.startswith("-") and len(text) > 1 and word.unknown is None:
            i = _short_options(text, words, i, table, found)
            continue
        positional.append(word)
    return found


def _long_option(spelled: str, table: _Table) -> str | None:
    for options in (table.values, table.flags):
        if spelled in options:
            return options[spelled]
    if table.abbreviations:
        matches = {options[o] for options in (table.values, table.flags) for o in options if o.startswith(spelled)}
        if len(matches) == 1:
            return matches.pop()
    return None


def _short_options(text: str, words: list[shell.Word], i: int, table: _Table, found: _Parsed) -> int:
    """A cluster of short options (-Ur requirements.txt, -rreqs.txt, -qq): where the next word is."""
    for position in range(1, len(text)):
        option = "-" + text[position]
        if option in table.values:
            rest = text[position + 1 :]
            if rest:
                found.values.append((table.values[option], words[i - 1]._replace(text=rest)))
            elif i < len(words):
                found.values.append((table.values[option], words[i]))
                i += 1
            return i
        if option in table.flags:
            found.flags.add(table.flags[option])
    return i


def _classify(why: str) -> str:
    if "substitution" in why:
        return SUBSTITUTION
    if "xargs" in why or "its input" in why:
        return PIPED
    if "has no value" in why or "exec form" in why:
        return VARIABLE
    return ENVIRONMENT


class _Call:
    """One command a RUN runs: what it installs, read where it can be."""

    def __init__(self, run: _Run, call: shell.Invocation) -> None:
        self.run = run
        self.build = run.build
        self.stage = run.stage
        self.call = call
        self.where = Location(call.script.path, call.line)
        self.found: list[Requirement] = []
        self.parts: list[tuple[str, str]] = []  # (why, kind) of what was not read
        self.variant: str | None = None
        self.source: str | None = None
        # The environment the command installs into: a conda environment's key where known.
        self.into: str | None = None

    def location_of(self, word: shell.Word) -> Location:
        return Location(self.call.script.path, self.call.script.line_of(word.start))

    def part(self, why: str, kind: str) -> None:
        self.parts.append((why, kind))

    def unknown(self, word: shell.Word) -> None:
        assert word.unknown is not None
        bare = word.text.replace("{", "").replace("}", "")
        why = word.unknown if word.unknown.startswith(bare) else f"{quote(word.text)}: {word.unknown}"
        self.part(why, _classify(word.unknown))

    def read(self) -> None:
        label = self.dispatch()
        if label is None:
            return
        installed = self.stage.installed
        found = [self.indexed(r) for r in self.found]
        self.supersede(found)
        installed.requirements += found
        if any(r.name not in _INSTALLER_TOOLS and not r.constraint for r in found):
            # pip upgrading itself in another environment says nothing of the packages' Python
            installed.pythons.append(self.stage.conda_envs.get(self.into) if self.into else None)
        reasons = list(dict.fromkeys(why for why, _ in self.parts if why))
        if reasons:
            more = f"; and {len(reasons) - 3} more" if len(reasons) > 3 else ""
            summary = quote(" ".join(w.text for w in self.call.argv), 60)
            installed.unread.append((f"{summary}: {'; '.join(reasons[:3])}{more}", self.where))
        kinds = tuple(dict.fromkeys(kind for _, kind in self.parts))
        installed.followed.append(Followed(label, self.where, kinds))

    def supersede(self, found: list[Requirement]) -> None:
        """pip replaces what an earlier command installed when a later one asks another version: an
        earlier requirement the later one contradicts is no longer the image's."""
        later = [r for r in found if r.name is not None and not r.constraint]
        installed = self.stage.installed
        installed.requirements = [r for r in installed.requirements if not any(_contradicts(new, r) for new in later)]

    def dispatch(self) -> str | None:
        """Read the command; its name as an installer (pip install), or None when it installs nothing we read."""
        argv = list(self.call.argv)
        if self.call.failed is not None:
            path, why = self.call.failed
            if not _INSTALL_WORDS.search(self.build.scripts.get(path, "")):
                return None
            self.part(f"{quote(path, 60)}: shell syntax envdoctor does not follow ({why})", SHELL_SYNTAX)
            return "script"
        tool, rest = _installer(argv)
        if tool is None:
            self.system(argv)
            return None
        if tool == "conda" and "/" not in argv[0].text:
            self.stage.conda_on_path = True
        elif tool == "pip" or (tool == "uv" and self.call.python_env is not None):
            self.into = self.pip_environment(tool)
        label = _install_label(tool, argv[0].text, rest)
        if label is None:
            if tool in ("pip", "uv") and self.call.condition is None:
                self.uninstall(rest, tool)
                if tool == "pip":
                    self.pip_config(rest)
            return None
        if self.call.condition is not None:
            self.part(self.call.condition, CONDITION)
            return label
        if tool == "pip":
            self.install(_skip_general(rest, _PIP_GENERAL)[1:], _PIP, "pip")
        elif tool == "uv":
            return self.uv(_skip_general(rest, _UV_GENERAL), label)
        elif tool == "conda":
            self.conda(rest)
        elif tool == "setup.py":
            self.part("the project's dependencies are in setup.py, which is not read", NOT_DECLARED)
        elif tool == "other":
            self.part(f"{quote(label)} installs from its own files, which are not read", OTHER_INSTALLER)
        else:
            self.unknown(argv[0])  # pip named by a variable without a value
        return label

    # -- pip and uv ----------------------------------------------------------------------------

    def uv(self, words: list[shell.Word], label: str) -> str | None:
        if label == "uv sync":
            self.uv_sync(words[1:])
        elif label == "uv run":
            return self.uv_run(words[1:])
        elif label == "uv pip install":
            self.install(words[2:], _UV_PIP, "uv")
        else:
            self.install(words[2:], _UV_PIP, "uv", files=_parse_options(words[2:], _UV_PIP).positional)
        return label

    def install(self, words: list[shell.Word], table: _Table, tool: str, files: list[shell.Word] | None = None) -> None:
        parsed = _parse_options(words, table)
        self.indexes(parsed, tool)
        extras = tuple(w.text for name, w in parsed.values if name == "extra" and not w.unknown)
        groups = tuple(w.text for name, w in parsed.values if name == "group" and not w.unknown)
        every_extra = "all-extras" in parsed.flags
        for name, word in parsed.values:
            if name in ("requirement", "requirements", "constraint", "constraints", "overrides"):
                constraint = name not in ("requirement", "requirements")
                self.requirements_file(word, constraint, extras, groups, every_extra)
            elif name == "editable":
                self.argument(word, editable=True)
        if files is not None:
            for word in files:
                self.requirements_file(word, False, extras, groups, every_extra)
            return
        for n, word in enumerate(parsed.positional):
            self.argument(word, doubtful=n in parsed.doubtful)

    def indexes(self, parsed: _Parsed, tool: str) -> None:
        """The command's index options, its environment's (PIP_EXTRA_INDEX_URL, UV_INDEX) included."""
        environment = dict(self.call.environment)
        names = dict(_ENVIRONMENT_INDEXES[tool])
        if tool == "pip":  # pip's config file, under names no environment variable takes
            for key, value in self.stage.pip_config.items():
                environment[f"pip config {key}"] = value
                names[f"pip config {key}"] = key
        for variable, option in names.items():
            setting = environment.get(variable)
            if isinstance(setting, shell.Unknown):
                if not setting.unset:
                    self.part(f"${variable}: {setting.why}", _classify(setting.why))
            elif setting:
                for item in re.split(r"[\s,]+" if option == "find-links" else r"\s+", setting.strip()):
                    self.index_option(option, item, f"${variable}")
        for name, word in parsed.values:
            if name in ("index-url", "extra-index-url", "index", "default-index", "find-links", "torch-backend"):
                if word.unknown is not None:
                    self.unknown(word)
                else:
                    self.index_option(name, word.text, f"--{name}")

    def index_option(self, name: str, value: str, spelled: str) -> None:
        from envdoctor.kb.facts import pytorch_index_variant

        if name == "torch-backend":
            if value != "auto" and self.variant is None:
                self.variant, self.source = value, f"uv's --torch-backend {value}"
            return
        url = (
            value.partition("=")[2]
            if name == "index" and "=" in value and "://" not in value.partition("=")[0]
            else value
        )
        try:
            one_token(url, spelled)
        except UnsafeValue as exc:
            raise InputError(self.where.path, str(exc), self.where.line) from None
        installed = self.stage.installed
        if name == "find-links":
            installed.find_links.append(url)
            found = _PYTORCH_FIND_LINKS.match(url)
            variant = found.group("variant") if found else None
            if found and self.source is None:
                self.variant, self.source = variant, f"{url} ({spelled})"
            return
        installed.index_urls.append(url)
        variant = pytorch_index_variant(url)
        if variant is not None and self.source is None:
            self.variant, self.source = variant, f"the PyTorch {variant} index ({spelled} {url})"

    def indexed(self, requirement: Requirement) -> Requirement:
        """A requirement of this command, with the build the command's own index fixes."""
        return _from_index(requirement, self.variant, self.source)

    def argument(self, word: shell.Word, editable: bool = False, doubtful: bool = False) -> None:
        if word.unknown is not None:
            self.unknown(word)
            return
        text = word.text
        if not text:
            return
        base, extras = _split_extras(text)
        # pip's -e takes a folder or a VCS URL: a bare name there is a folder.
        local = _is_local(base) or (editable and not _SCHEME.match(base) and not base.startswith("file:"))
        if local and not _ARCHIVE.search(base):
            self.project(base, extras)
            return
        try:
            self.found.append(parse_requirement_text(text, self.location_of(word), editable=editable))
        except InputError as exc:
            if not doubtful:
                self.part(f"{quote(text)} is not a requirement pip reads ({exc.message})", INVALID)

    def requirements_file(
        self, word: shell.Word, constraint: bool, extras: tuple[str, ...], groups: tuple[str, ...], every_extra: bool
    ) -> None:
        if word.unknown is not None:
            self.unknown(word)
            return
        text = word.text
        if text in ("-", "/dev/stdin") or text.startswith(("/dev/fd/", "/proc/self/fd/")):
            self.part(f"{quote(text)}: the requirements come from its input", PIPED)
            return
        if _SCHEME.match(text):
            self.part(f"{quote(text)} is downloaded during the build", MADE_IN_BUILD)
            return
        located = self.build.locate(shell.joined_path(self.call.cwd, text), self.stage, self.run.overlay)
        if located.file is None or not located.file.is_file():
            self.part(located.why or f"{quote(text)} is a folder", located.kind or NOT_HERE)
            return
        if located.file.name == "pyproject.toml":
            self.pyproject(located.file, extras, groups, every_extra)
            return
        self.read_file(located.file, constraint)

    def read_file(self, file: Path, constraint: bool) -> None:
        from envdoctor.kb.facts import pytorch_index_variant

        environ = {k: v for k, v in self.call.environment.items() if isinstance(v, str)}
        read = read_requirements(str(file), root=self.build.root, environ=environ)
        installed = self.stage.installed
        urls = [read.indexes.index_url or "", *read.indexes.extra_index_urls]
        installed.index_urls += [url for url in urls if url]
        installed.find_links += list(read.indexes.find_links)
        variant = next((v for url in urls if (v := pytorch_index_variant(url))), None)
        source = f"the PyTorch {variant} index ({file.name})" if variant else None
        for requirement in read.requirements:
            read_one = requirement._replace(constraint=True) if constraint else requirement
            self.found.append(_from_index(read_one, variant, source))
        kind = "constraints" if constraint else None
        installed.inputs += [
            item._replace(kind=kind) if kind and item.kind == "requirements" else item for item in read.inputs
        ]
        installed.unread += read.unread
        if read.unread:
            self.part("", VARIABLE)  # each line is its own note, at its line: the command counts the kind

    def project(self, base: str, extras: tuple[str, ...]) -> None:
        """``pip install .[gpu]``: the project in that folder, with its extras."""
        folder = shell.joined_path(self.call.cwd, base)
        locate = self.build.locate
        found = locate(posixpath.join(folder, "pyproject.toml"), self.stage, self.run.overlay)
        if found.file is not None and found.file.is_file():
            self.pyproject(found.file, extras, (), False)
            return
        for name in ("setup.py", "setup.cfg"):
            setup = locate(posixpath.join(folder, name), self.stage, self.run.overlay)
            if setup.file is not None and setup.file.is_file():
                self.part(f"{quote(base)}: its dependencies are in {name}, which is not read", NOT_DECLARED)
                return
        where = locate(folder, self.stage, self.run.overlay)
        if where.file is None:
            self.part(where.why or "", where.kind or NOT_HERE)
        else:
            self.part(f"{quote(base)} holds no pyproject.toml here", NOT_HERE)

    def pyproject(self, pyproject: Path, extras: tuple[str, ...], groups: tuple[str, ...], every_extra: bool) -> None:
        from envdoctor.requirements.pyproject import parse_pyproject
        from envdoctor.structured import parse_toml

        path = str(pyproject)
        text = read_text_input(path, self.build.root)
        data = parse_toml(text, path)
        project = data.get("project")
        if not isinstance(project, dict) or "dependencies" in (project.get("dynamic") or ()):
            self.part(f"{quote(path)} does not list the project's dependencies (setup.py, or dynamic)", NOT_DECLARED)
            return
        optional = project.get("optional-dependencies")
        available = {canonicalize_name(name): name for name in (optional if isinstance(optional, dict) else {})}
        chosen = (
            list(available.values())
            if every_extra
            else [available[e] for e in map(canonicalize_name, extras) if e in available]
        )
        groups = tuple(g for g in groups if g in (data.get("dependency-groups") or {}))
        self.found += parse_pyproject(text, path, tuple(chosen), groups)
        lock = "uv.lock" if (pyproject.parent / "uv.lock").is_file() else None
        self.stage.installed.inputs.append(Input(path, "pyproject", lock))

    def uv_sync(self, words: list[shell.Word]) -> None:
        parsed = _parse_options(words, _UV_SYNC)
        self.indexes(parsed, "uv")
        folder_word = next((w for name, w in parsed.values if name in ("project", "directory")), None)
        if folder_word is not None and folder_word.unknown is not None:
            self.unknown(folder_word)
            return
        folder = shell.joined_path(self.call.cwd, folder_word.text if folder_word else ".")
        located = self.build.locate(posixpath.join(folder, "pyproject.toml"), self.stage, self.run.overlay)
        if located.file is None or not located.file.is_file():
            self.part(located.why or "no pyproject.toml", located.kind or NOT_HERE)
            return
        extras = tuple(w.text for name, w in parsed.values if name == "extra" and not w.unknown)
        unknown = [w for name, w in parsed.values if name in ("extra", "group") and w.unknown]
        for word in unknown:
            self.unknown(word)
        groups = _sync_groups(located.file, parsed, self.build.root)
        every_extra = "all-extras" in parsed.flags
        lock = located.file.parent / "uv.lock"
        if _readable(lock, self.build.root) and lock.is_file():
            self.uv_lock(lock, located.file, extras, groups, every_extra)
        else:
            self.pyproject(located.file, extras, groups, every_extra)

    def uv_lock(
        self, lock: Path, pyproject: Path, extras: tuple[str, ...], groups: tuple[str, ...], every: bool
    ) -> None:
        """``uv sync`` beside a uv.lock installs what the lock resolved: read from it, exactly."""
        from envdoctor.requirements.uvlock import parse_uv_lock
        from envdoctor.structured import parse_toml

        if every:
            data = parse_toml(read_text_input(str(pyproject), self.build.root), str(pyproject))
            project = data.get("project")
            optional = project.get("optional-dependencies") if isinstance(project, dict) else None
            extras = tuple(optional) if isinstance(optional, dict) else extras
        path = str(lock)
        self.found += parse_uv_lock(read_text_input(path, self.build.root), path, extras, groups)
        self.stage.installed.inputs.append(Input(path, "uvlock"))

    def uninstall(self, rest: list[shell.Word], tool: str) -> None:
        """``pip uninstall -y torch``: what the stage installed before under those names is gone."""
        general, table = (_PIP_GENERAL, _PIP) if tool == "pip" else (_UV_GENERAL, _UV_PIP)
        words = _skip_general(rest, general)
        if tool == "uv":
            words = words[1:] if words[:1] and words[0].text == "pip" else []
        if not words or words[0].text != "uninstall":
            return
        names = {canonicalize_name(w.text) for w in _parse_options(words[1:], table).positional if not w.unknown}
        installed = self.stage.installed
        installed.requirements = [r for r in installed.requirements if r.constraint or r.name not in names]

    def pip_config(self, rest: list[shell.Word]) -> None:
        """``pip config set global.index-url URL``: every later pip of the stage uses it."""
        words = _skip_general(rest, _PIP_GENERAL)
        texts = [w.text for w in words]
        if texts[:2] not in (["config", "set"], ["config", "unset"]) or len(words) < 3:
            return
        key = texts[2].partition(".")[2]
        if key not in ("index-url", "extra-index-url", "find-links"):
            return
        if texts[1] == "unset":
            self.stage.pip_config.pop(key, None)
        elif len(words) > 3:
            self.stage.pip_config[key] = shell.Unknown(words[3].unknown) if words[3].unknown else words[3].text

    def uv_run(self, words: list[shell.Word]) -> str | None:
        """``uv run``: it syncs the project first (unless --no-sync), as ``uv sync`` with its options."""
        options: list[shell.Word] = []
        for word in words:
            if not word.text.startswith("-") and not (options and _takes_value(options[-1].text, _UV_SYNC)):
                break
            options.append(word)
        if any(w.text in ("--no-sync", "--no-project", "--isolated", "--script") for w in options):
            return None
        folder = shell.joined_path(self.call.cwd, ".")
        located = self.build.locate(posixpath.join(folder, "pyproject.toml"), self.stage, self.run.overlay)
        if located.file is None or not located.file.is_file():
            return None  # no project here to sync
        self.uv_sync(options)
        return "uv run"

    # -- conda --------------------------------------------------------------------------------

    def conda(self, words: list[shell.Word]) -> None:
        parsed = _parse_options(words, _CONDA)
        positional = parsed.positional
        if positional and positional[0].text == "env":
            positional = positional[1:]
        channels = tuple(w.text for name, w in parsed.values if name == "channel" and not w.unknown)
        read: list[CondaEnvironment] = []
        for name, word in parsed.values:
            if name == "file":
                read += self.conda_file(word)
        specs: list[tuple[str, Location]] = []
        for word in positional[1:]:
            if word.unknown is not None:
                self.unknown(word)
            elif word.text:
                specs.append((word.text, self.location_of(word)))
        if specs:
            read.append(self.conda_specs(specs, channels))
        self.conda_environment(parsed, positional[0].text if positional else "", read)

    def conda_environment(self, parsed: _Parsed, subcommand: str, read: list[CondaEnvironment]) -> None:
        """Which environment a conda command installs into, and the Python it gives that one."""
        named = [(name, w) for name, w in parsed.values if name in ("name", "prefix")]
        if any(w.unknown is not None for _, w in named):
            return
        from_file = next((e.name for e in read if e.name), None)
        if named:
            name, word = named[-1]
            self.into = _environment_key(f"prefix:{word.text}" if name == "prefix" else word.text)
        elif subcommand == "create" or (subcommand == "update" and from_file):
            self.into = from_file  # conda env create -f environment.yml: the file names it
        else:  # conda install: the environment the RUN activated, else base
            self.into = _environment_key(self.call.python_env) if self.call.python_env else "base"
        if self.into is None:
            return
        python = next(((e.python or "", e.python_at) for e in read if e.python_at is not None), None)
        if python is not None and python[1] is not None:
            self.stage.conda_envs[self.into] = (python[0], python[1])
        elif subcommand == "create":  # its Python is the one conda picks
            self.stage.conda_envs[self.into] = ("", self.where)

    def conda_specs(self, specs: list[tuple[str, Location]], channels: tuple[str, ...]) -> CondaEnvironment:
        from envdoctor.requirements.conda import read_conda_specs

        environment = read_conda_specs(specs, channels, self.where.path)
        self.found += environment.requirements
        self.stage.installed.unread += environment.unread
        return environment

    def conda_file(self, word: shell.Word) -> list[CondaEnvironment]:
        from envdoctor.requirements.conda import parse_environment_yml

        if word.unknown is not None:
            self.unknown(word)
            return []
        located = self.build.locate(shell.joined_path(self.call.cwd, word.text), self.stage, self.run.overlay)
        if located.file is None or not located.file.is_file():
            self.part(located.why or "", located.kind or NOT_HERE)
            return []
        path = str(located.file)
        if not path.endswith((".yml", ".yaml")):
            self.part(f"{quote(word.text)}: a conda spec list, which is not read", CONDA_FILE)
            return []
        environment = parse_environment_yml(read_text_input(path, self.build.root), path)
        self.found += environment.requirements
        installed = self.stage.installed
        installed.unread += environment.unread
        installed.inputs += environment.inputs
        urls = [environment.indexes.index_url or "", *environment.indexes.extra_index_urls]
        installed.index_urls += [url for url in urls if url]
        return [environment]

    def pip_environment(self, tool: str) -> str | None:
        """The conda environment a pip (or, in an activated one, uv pip) installs into, where the
        reader can tell: the folder of the pip named by its path, the environment the RUN
        activated, or the first folder on PATH; None otherwise (a venv, the system's)."""
        head = self.call.argv[0]
        if tool == "pip" and "/" in head.text:
            if head.unknown is not None:
                return None
            return _environment_of_bin(posixpath.dirname(shell.joined_path(self.call.cwd, head.text)))
        if self.call.python_env is not None:
            return _environment_key(self.call.python_env)
        if tool != "pip":
            return None
        written = self.call.environment.get("PATH")
        if written is not self.stage.variables().get("PATH"):  # the RUN sets PATH itself
            return _environment_of_path(written.split(":"), False) if isinstance(written, str) else None
        return _environment_of_path(list(self.stage.path), self.stage.conda_on_path)

    # -- the system's packages ------------------------------------------------------------------

    def system(self, argv: list[shell.Word]) -> None:
        """apt-get install: the system packages the image gets (a python3.X, a compiler)."""
        if (
            not argv
            or posixpath.basename(argv[0].text) not in ("apt-get", "apt")
            or "install" not in [w.text for w in argv]
        ):
            return
        words = [w.text for w in argv]
        packages = words[words.index("install") + 1 :]
        skip = False
        for package in packages:
            if skip:
                skip = False
            elif package in ("-o", "-t", "-c", "--target-release", "--option", "--config-file"):
                skip = True
            elif not package.startswith("-") and package:
                self.stage.system_packages.append((package, self.where))


_ENVIRONMENT_INDEXES: dict[str, dict[str, str]] = {
    "pip": {"PIP_INDEX_URL": "index-url", "PIP_EXTRA_INDEX_URL": "extra-index-url", "PIP_FIND_LINKS": "find-links"},
    "uv": {
        "UV_INDEX_URL": "index-url",
        "UV_DEFAULT_INDEX": "default-index",
        "UV_EXTRA_INDEX_URL": "extra-index-url",
        "UV_INDEX": "index",
        "UV_FIND_LINKS": "find-links",
        "UV_TORCH_BACKEND": "torch-backend",
    },
}


# What pip, setuptools and wheel upgrade is the installer itself, whichever environment it is in.
_INSTALLER_TOOLS = frozenset({"pip", "setuptools", "wheel"})
# The folders a conda (or mamba, micromamba) installer makes its root in: their bin holds base's pip.
_CONDA_ROOTS = re.compile(r"(mini|ana)conda\d?|miniforge\d?|mambaforge|micromamba|conda|mamba|\.conda")
# PATH folders that hold no Python of their own (the NVIDIA images put them first).
_NO_PYTHON = re.compile(r"/usr/local/(cuda[^/]*|nvidia)/bin|/usr/local/mpi/bin|/opt/hpcx/.*")


def _path_entries(written: str, before: tuple[str, ...]) -> tuple[str, ...]:
    """PATH as ``ENV PATH=/opt/conda/bin:$PATH`` sets it: the earlier value where it names $PATH."""
    entries: list[str] = []
    for part in written.split(":"):
        entries += before if part in ("$PATH", "${PATH}") else [part] if part else []
    return tuple(entries)


def _environment_key(spelled: str) -> str | None:
    """A conda environment's key: its name, or for a folder (-p, activate by path) the name its
    folder says (``.../envs/NAME``, a conda root's base), else the folder."""
    if not spelled.startswith("prefix:"):
        return spelled or None
    folder = posixpath.normpath(spelled.removeprefix("prefix:"))
    parent, name = posixpath.split(folder)
    if posixpath.basename(parent) == "envs" and name:
        return name
    return "base" if _CONDA_ROOTS.fullmatch(name) else f"prefix:{folder}"


def _environment_of_bin(folder: str) -> str | None:
    """The environment whose ``bin`` folder this is (None: not a bin folder)."""
    if posixpath.basename(folder) != "bin" or "$" in folder:
        return None
    return _environment_key(f"prefix:{posixpath.dirname(folder)}")


def _environment_of_path(entries: list[str], conda_on_path: bool) -> str | None:
    """The environment of the first PATH folder that may hold a pip; at the base image's own
    PATH, conda's base where conda itself was found on it."""
    for entry in entries:
        if entry == INHERITED:
            return "base" if conda_on_path else None
        if not _NO_PYTHON.fullmatch(entry):
            return _environment_of_bin(entry)
    return None


def _from_index(requirement: Requirement, variant: str | None, source: str | None) -> Requirement:
    """A requirement with the build a PyTorch index (or find-links page) its command names fixes:
    for the packages that index builds (torch and its companions); the others come from PyPI."""
    from envdoctor.kb import facts

    name = requirement.name
    if source is None or name is None or requirement.variant is not None or requirement.source is not None:
        return requirement
    if name not in ("torch", *facts.TORCH_COMPANIONS) or (variant and not facts.has_variant_builds(name, variant)):
        return requirement
    return requirement._replace(variant=variant, source=source)


def _contradicts(new: Requirement, old: Requirement) -> bool:
    """Whether installing ``new`` replaces ``old`` (same package, versions that cannot both hold)."""
    if old.constraint or old.name != new.name or old.name is None:
        return False
    new_pin, old_pin = new.pinned_version, old.pinned_version
    if old_pin is not None and not new.specifier.contains(old_pin, prereleases=True):
        return True
    return new_pin is not None and not old.specifier.contains(new_pin, prereleases=True)


def _installer(argv: list[shell.Word]) -> tuple[str | None, list[shell.Word]]:
    """Which installer a command runs (pip, uv, conda, setup.py, other), and its arguments."""
    if not argv:
        return None, []
    head = argv[0]
    name = posixpath.basename(head.text)
    if _PIP_NAME.fullmatch(name):
        return "pip", argv[1:]
    if _PYTHON_NAME.fullmatch(name) or (len(argv) > 2 and argv[1].text == "-m"):
        return _python(argv[1:])  # a python, or a wrapper of one (isaac sim's python.sh -m pip)
    if name == "uv":
        return "uv", argv[1:]
    if name in ("conda", "mamba", "micromamba"):
        return "conda", argv[1:]
    if name in ("poetry", "pipenv", "pdm") and len(argv) > 1 and argv[1].text in ("install", "sync", "add"):
        return "other", argv[1:]
    if head.unknown is not None and "pip" in head.text.lower():
        return "variable", argv[1:]
    return None, []


def _python(words: list[shell.Word]) -> tuple[str | None, list[shell.Word]]:
    """``python [options] -m pip ...`` and ``python setup.py install``."""
    i = 0
    while i < len(words) and words[i].text.startswith("-") and words[i].text not in ("-m", "-c", "-"):
        i += 2 if words[i].text in _PYTHON_VALUE_OPTIONS else 1
    rest = words[i:]
    if len(rest) >= 2 and rest[0].text == "-m":
        module = rest[1].text
        if module in ("pip", "pip3"):
            return "pip", rest[2:]
        if module == "uv":
            return "uv", rest[2:]
        return None, []
    if len(rest) >= 2 and posixpath.basename(rest[0].text) == "setup.py" and rest[1].text in ("install", "develop"):
        return "setup.py", rest[1:]
    return None, []


def _install_label(tool: str, head: str, rest: list[shell.Word]) -> str | None:
    """What an installer command does, if it installs (pip install, uv sync, conda create); None
    for the commands that install nothing (pip list, uv venv, conda clean)."""
    if tool == "pip":
        words = [w.text for w in _skip_general(rest, _PIP_GENERAL)[:1]]
        return f"pip {words[0]}" if words and words[0] in ("install", "wheel") else None
    if tool == "uv":
        words = [w.text for w in _skip_general(rest, _UV_GENERAL)[:2]]
        if words[:1] in (["sync"], ["run"]):
            return f"uv {words[0]}"
        return f"uv pip {words[1]}" if words[:1] == ["pip"] and words[1:] in (["install"], ["sync"]) else None
    if tool == "conda":
        positional = [w.text for w in _parse_options(rest, _CONDA).positional]
        words = positional[1:2] if positional[:1] == ["env"] else positional[:1]
        if words and words[0] in ("install", "create", "update", "upgrade"):
            return f"{posixpath.basename(head)} {'env ' if positional[:1] == ['env'] else ''}{words[0]}"
        return None
    if tool == "setup.py":
        return f"python setup.py {rest[0].text}"
    if tool == "other":
        return f"{posixpath.basename(head)} {rest[0].text if rest else 'install'}"
    return "pip install"


def _takes_value(option: str, table: _Table) -> bool:
    spelled, has_value, _ = option.partition("=")
    name = _long_option(spelled, table) if spelled.startswith("--") else table.values.get(spelled)
    return name in table.values.values() and not has_value


def _skip_general(words: list[shell.Word], table: _Table) -> list[shell.Word]:
    """The words after an installer's own options, from its subcommand on."""
    i = 0
    while i < len(words) and words[i].text.startswith("-"):
        spelled, has_value, _ = words[i].text.partition("=")
        name = _long_option(spelled, table) if spelled.startswith("--") else table.values.get(spelled)
        i += 2 if name in table.values.values() and not has_value else 1
    return words[i:]


def _split_extras(text: str) -> tuple[str, tuple[str, ...]]:
    """``./path[gpu,dev]`` -> (``./path``, (gpu, dev))."""
    match = re.fullmatch(r"(?P<base>.*?)\[(?P<extras>[^\[\]]*)\]", text)
    if match is None or not match.group("base"):
        return text, ()
    return match.group("base"), tuple(e.strip() for e in match.group("extras").split(",") if e.strip())


def _is_local(text: str) -> bool:
    """A folder or file on the image's disk, as pip tells one from a requirement."""
    if _SCHEME.match(text) or text.startswith("file:") or "@" in text or ";" in text:
        return False
    return text in (".", "..") or text.startswith(("./", "../", "/", "~")) or "/" in text


def _sync_groups(pyproject: Path, parsed: _Parsed, root: Path) -> tuple[str, ...]:
    """The dependency groups ``uv sync`` installs: the default ones (``dev``, or
    ``tool.uv.default-groups``) unless left out, and those named."""
    from envdoctor.structured import parse_toml

    data = parse_toml(read_text_input(str(pyproject), root), str(pyproject))
    table = data.get("dependency-groups")
    defined = list(table) if isinstance(table, dict) else []
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    uv = uv if isinstance(uv, dict) else {}
    default = uv.get("default-groups", ["dev"])
    groups = (
        list(defined)
        if default == "all"
        else [g for g in default if isinstance(g, str)]
        if isinstance(default, list)
        else []
    )
    if parsed.flags & {"no-dev", "no-default-groups"} or any(name == "only-group" for name, _ in parsed.values):
        groups = []
    if "only-dev" in parsed.flags:
        groups = ["dev"]
    named = [w.text for name, w in parsed.values if name in ("group", "only-group") and not w.unknown]
    left_out = {w.text for name, w in parsed.values if name == "no-group" and not w.unknown}
    chosen = defined if "all-groups" in parsed.flags else [*groups, *named]
    return tuple(g for g in dict.fromkeys(chosen) if g in defined and g not in left_out)
