"""Shell words, as the two readers of a Dockerfile split them.

``BuildKitLex`` is BuildKit's own word lexer (``Lex`` in moby/buildkit,
frontend/dockerfile/shell/lex.go) ported: it expands ``$VAR`` and ``${VAR:-default}`` in FROM, ARG,
ENV, COPY and WORKDIR, and splits a line into words where BuildKit looks for heredocs.

``commands`` reads the POSIX shell that a RUN hands to ``/bin/sh -c``: words and quotes,
parameter expansion, ``&&``/``||``/``;`` lists, pipelines, ``if``/``for``/``while``/``case``,
subshells, functions, heredocs, ``sh -c``, ``eval`` and the wrappers that run another command
(``sudo``, ``env``, ``conda run``...). It yields every simple command the build runs with its
arguments expanded; what cannot be known before the build (a variable without a value, a command
substitution, a branch a test decides) is said as such, never guessed.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Union

# ---------------------------------------------------------------------------------------------
# BuildKit's lexer
# ---------------------------------------------------------------------------------------------


class LexError(ValueError):
    """What BuildKit's lexer refuses (``${}``, a quote left open): the build stops there too."""


class LexResult(NamedTuple):
    result: str
    words: list[str]
    # Names used but not set: what the build would expand to nothing.
    unmatched: frozenset[str]


def go_space(ch: str) -> bool:
    """Go's unicode.IsSpace: Python also counts the separators U+001C..U+001F."""
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


class _Words:
    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if go_space(ch):
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def get(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class BuildKitLex:
    """BuildKit's ``shell.Lex``: quotes, escapes and ``$`` expansion over an environment."""

    def __init__(
        self, escape: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False, skip_unset: bool = False
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset

    def process(self, word: str, env: Mapping[str, str]) -> LexResult:
        run = _LexRun(self, word, env)
        try:
            result, words = run.stop_on("", self.raw_escapes)
        except RecursionError:
            raise LexError("expansions nested too deep") from None
        return LexResult(result, words, frozenset(run.unmatched))


class _LexRun:
    """One pass of the lexer over a word (Go's shellWord)."""

    def __init__(self, lex: BuildKitLex, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while self.peek():
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.get()
            if ch == "$" or ch in "'\"":
                text = self.dollar() if ch == "$" else self.single() if ch == "'" else self.double()
                result.append(text)
                if ch == "$":
                    words.add_string(text)
                else:
                    words.add_raw(text)
                continue
            ch = self.next()
            if ch == self.lex.escape:
                if self.raw_escapes:
                    words.add_raw(ch)
                    result.append(ch)
                ch = self.next()
                if not ch:
                    break
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get()

    def single(self) -> str:
        opening = self.next()
        result = [opening] if self.lex.raw_quotes else []
        while True:
            ch = self.next()
            if not ch:
                raise LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def double(self) -> str:
        opening = self.next()
        result = [opening] if self.lex.raw_quotes else []
        while True:
            ch = self.peek()
            if not ch:
                raise LexError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if ch == "$":
                result.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.lex.escape:
                if self.raw_escapes:
                    result.append(ch)
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.lex.escape):
                    ch = self.next()
            result.append(ch)

    def name(self) -> str:
        first = self.peek()
        if first.isdigit():
            digits = []
            while self.peek().isdigit():
                digits.append(self.next())
            return "".join(digits)
        if first and first in "@*#?-$!0":
            return self.next()
        name = []
        while (ch := self.peek()) and (ch.isalnum() or ch == "_"):
            name.append(self.next())
        return "".join(name)

    def get(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.get(name)
            return "$" + name if not found and self.lex.skip_unset else value
        self.next()
        if not self.peek():
            raise LexError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            value, found = self.get(name)
            return f"${{{name}}}" if not found and self.lex.skip_unset else value
        if ch == "/":
            return self.replace(name)
        modifier = ch
        if ch == ":":
            ch = self.next()
            modifier += ch
        elif ch not in ("+", "-", "?", "#", "%"):
            raise LexError(f"unsupported modifier ({modifier}) in substitution")
        return self.modified(name, ch, modifier)

    def modified(self, name: str, ch: str, modifier: str) -> str:
        try:
            word, _ = self.stop_on("}", ch in ("#", "%"))
        except LexError:
            if not self.peek():
                raise LexError("syntax error: missing '}'") from None
            raise
        value, found = self.get(name)
        if self.lex.skip_unset and not found:
            return f"${{{name}{modifier}{word}}}"
        null_is_unset = modifier.startswith(":")
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if empty:
                raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        if ch in ("#", "%"):
            greedy = word.startswith(ch)
            return trim_pattern(value, word[1:] if greedy else word, suffix=ch == "%", greedy=greedy)
        raise LexError(f"unsupported modifier ({modifier}) in substitution")

    def replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern, _ = self.stop_on("/", True)
            replacement, _ = self.stop_on("}", True)
        except LexError:
            if not self.peek():
                raise LexError("syntax error: missing '}'") from None
            raise
        value, found = self.get(name)
        if self.lex.skip_unset and not found:
            return f"${{{name}/{pattern}/{replacement}}}"
        return replace_pattern(value, pattern, replacement, every=replace_all)


# ---------------------------------------------------------------------------------------------
# Patterns (${VAR%pattern}, ${VAR//pattern/replacement}, case), shared by both readers
# ---------------------------------------------------------------------------------------------

# A value longer than this is not matched against a pattern: each match is quadratic.
_MAX_PATTERN_VALUE = 4096


def glob_regex(pattern: str, greedy: bool = True) -> str:
    """A shell pattern (``*``, ``?``, ``[...]``, ``\\x``) as a regular expression."""
    out: list[str] = []
    position = 0
    while position < len(pattern):
        ch = pattern[position]
        position += 1
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and position < len(pattern):
            out.append(re.escape(pattern[position]))
            position += 1
        elif ch == "[" and (end := pattern.find("]", position + 1)) > position:
            body = pattern[position:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            position = end + 1
        else:
            out.append(re.escape(ch))
    return "".join(out)


def trim_pattern(value: str, pattern: str, *, suffix: bool, greedy: bool) -> str:
    """``${value#pattern}`` and its kin: the shortest (or longest) prefix or suffix removed."""
    if len(value) > _MAX_PATTERN_VALUE:
        return value
    try:
        regex = re.compile(glob_regex(pattern), re.DOTALL)
    except re.error:
        return value
    cuts = range(len(value) + 1)
    if suffix:
        order = cuts if greedy else reversed(cuts)
        return next((value[:cut] for cut in order if regex.fullmatch(value[cut:])), value)
    order = reversed(cuts) if greedy else cuts
    return next((value[cut:] for cut in order if regex.fullmatch(value[:cut])), value)


def replace_pattern(value: str, pattern: str, replacement: str, *, every: bool) -> str:
    if len(value) > _MAX_PATTERN_VALUE or not pattern:
        return value
    anchor = ""
    if pattern[0] in "#%" and not every:
        anchor, pattern = pattern[0], pattern[1:]
    try:
        regex = glob_regex(pattern)
        compiled = re.compile(("^" if anchor == "#" else "") + regex + ("$" if anchor == "%" else ""), re.DOTALL)
    except re.error:
        return value
    return compiled.sub(lambda _: replacement, value, count=0 if every else 1)


def glob_match(value: str, pattern: str) -> bool:
    try:
        return re.fullmatch(glob_regex(pattern), value, re.DOTALL) is not None
    except re.error:
        return False


# ---------------------------------------------------------------------------------------------
# POSIX shell: what a RUN runs
# ---------------------------------------------------------------------------------------------


class Unknown(NamedTuple):
    """A value the build decides: why it cannot be read here."""

    why: str
    # The variable is declared but unset (an ARG without a default): ${VAR:-default} gives the default.
    unset: bool = False


Value = Union[str, Unknown]  # noqa: UP007 (a runtime alias: Python 3.10 cannot evaluate str | NamedTuple)


class Word(NamedTuple):
    """One argument after expansion and quote removal."""

    text: str  # the value; an unknown part is kept as written
    unknown: str | None  # why its value cannot be known before the build, if it cannot
    start: int  # offset in its script, for its line


class Script(NamedTuple):
    """A shell script and where its text came from, to give each command its line."""

    text: str
    path: str
    # Offsets where a line starts, and that line's number in ``path`` (parallel, ascending).
    offsets: tuple[int, ...] = (0,)
    lines: tuple[int, ...] = (1,)

    def line_of(self, offset: int) -> int:
        return self.lines[max(0, bisect.bisect_right(self.offsets, offset) - 1)]

    @classmethod
    def of_file(cls, text: str, path: str, first_line: int = 1) -> Script:
        offsets = [0] + [m.end() for m in re.finditer("\n", text)]
        return cls(text, path, tuple(offsets), tuple(range(first_line, first_line + len(offsets))))

    def inner(self, text: str, offset: int) -> Script:
        """``text`` found at ``offset`` of this script (a heredoc's body): its lines follow."""
        if self.text[offset : offset + len(text)] == text:
            starts = [0] + [m.end() for m in re.finditer("\n", text)]
            return Script(text, self.path, tuple(starts), tuple(self.line_of(offset + s) for s in starts))
        return Script(text, self.path, (0,), (self.line_of(offset),))


class Invocation(NamedTuple):
    """A simple command the build runs, wrappers (sudo, env, conda run) taken off."""

    argv: tuple[Word, ...]
    environment: Mapping[str, Value]  # what the command sees: exported variables and prefix assignments
    cwd: Value  # the working folder in the image
    condition: str | None  # why it may not run at all: a test the build decides
    stdin: str | None  # a heredoc or here-string fed to it, as read
    stdin_at: int  # where that heredoc's body starts in the script (-1: not in it)
    piped: bool  # its input comes from another command (xargs, pip -r -)
    script: Script
    line: int
    # A script this command runs (bash install.sh) whose shell this reader does not follow: its
    # path, and why.
    failed: tuple[str, str] | None = None
    # The environment an activation put first on PATH (source activate NAME, conda run -n NAME):
    # a conda environment's name, or "prefix:" and the folder of the one activated by its path.
    python_env: str | None = None


class Hooks(NamedTuple):
    """What the shell asks of the Dockerfile around it."""

    # Whether a path of the image exists before this RUN (test -f): None when not known.
    exists: Callable[[str], bool | None]
    # A shell script the RUN runs by path (bash install.sh), when it comes from the build context.
    script: Callable[[str], Script | None]


class ShellError(Exception):
    """Shell text this reader does not follow (its syntax, or more than it reads)."""


@dataclass
class _State:
    variables: dict[str, Value]
    exported: set[str]
    cwd: Value
    functions: dict[str, _Node] = field(default_factory=dict)
    positional: list[Value] | None = None
    python_env: str | None = None  # see Invocation.python_env

    def copy(self) -> _State:
        return _State(
            dict(self.variables),
            set(self.exported),
            self.cwd,
            dict(self.functions),
            self.positional and list(self.positional),
            self.python_env,
        )


# -- tokens -------------------------------------------------------------------------------------


@dataclass
class _Heredoc:
    """A heredoc's body, read at the end of the line that names it."""

    delimiter: str
    strip_tabs: bool
    body: str = ""
    start: int = 0


class _Tok(NamedTuple):
    kind: str  # word | op | redirect | newline | end
    text: str
    start: int
    heredoc: _Heredoc | None = None


_OPERATORS = ("&&", "||", ";;&", ";;", ";&", "|&", ";", "&", "|", "(", ")")
_REDIRECTS = ("&>>", "&>", "<<<", "<<-", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">")
_META = frozenset(" \t\n;&|()<>")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
# Past these the script is not followed: a real RUN is far smaller.
MAX_COMMANDS = 20_000
_MAX_DEPTH = 64


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.pending: list[_Heredoc] = []

    def tokens(self) -> list[_Tok]:
        found: list[_Tok] = []
        while True:
            token = self.next()
            found.append(token)
            if token.kind == "end":
                return found

    def next(self) -> _Tok:
        s = self.s
        while self.i < len(s):
            ch = s[self.i]
            if ch in " \t\r":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            elif ch == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            else:
                break
        if self.i >= len(s):
            return _Tok("end", "", self.i)
        start = self.i
        if s[start] == "\n":
            self.i += 1
            self.read_heredocs()
            return _Tok("newline", "\n", start)
        if s.startswith(("<(", ">("), start):
            return _Tok("word", self.word(), start)
        number = re.match(r"\d+(?=[<>])", s[start : start + 12])
        after = start + (number.end() if number else 0)
        for op in _REDIRECTS:
            if s.startswith(op, after):
                self.i = after + len(op)
                return self.redirect(op, start)
        for op in _OPERATORS:
            if s.startswith(op, start):
                self.i = start + len(op)
                return _Tok("op", op, start)
        return _Tok("word", self.word(), start)

    def redirect(self, op: str, start: int) -> _Tok:
        if op not in ("<<", "<<-"):
            return _Tok("redirect", op, start)
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1
        heredoc = _Heredoc(_unquote(self.word()), op == "<<-")
        self.pending.append(heredoc)
        return _Tok("redirect", op, start, heredoc)

    def read_heredocs(self) -> None:
        for heredoc in self.pending:
            heredoc.start = self.i
            lines: list[str] = []
            while self.i < len(self.s):
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i : end]
                self.i = min(end + 1, len(self.s))
                if (line.lstrip("\t") if heredoc.strip_tabs else line) == heredoc.delimiter:
                    break
                lines.append(line + "\n")
            heredoc.body = "".join(lines)
        self.pending = []

    def word(self) -> str:
        s = self.s
        start = self.i
        if s.startswith(("<(", ">("), start):
            self.i = _balanced(s, start + 1, "(", ")")
        while self.i < len(s) and s[self.i] not in _META:
            ch = s[self.i]
            if ch == "\\":
                self.i += 2
            elif ch == "'":
                end = s.find("'", self.i + 1)
                self.i = len(s) if end < 0 else end + 1
            elif ch == '"':
                self.i = _double_quoted_end(s, self.i + 1)
            elif ch == "`":
                self.i = _backtick_end(s, self.i + 1)
            elif s.startswith("$(", self.i):
                self.i = _balanced(s, self.i + 1, "(", ")")
            elif s.startswith("${", self.i):
                self.i = _balanced(s, self.i + 1, "{", "}")
            else:
                self.i += 1
        self.i = min(self.i, len(s))
        if s.startswith("(", self.i) and _ASSIGNMENT.fullmatch(s[start : self.i]):
            self.i = _balanced(s, self.i, "(", ")")  # a bash array: name=(a b c)
        return s[start : self.i]


def _balanced(s: str, i: int, open_: str, close: str) -> int:
    """The offset after the ``close`` matching the ``open_`` at ``i``; quotes and escapes skipped."""
    depth = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'" and open_ == "(":
            end = s.find("'", i + 1)
            i = len(s) if end < 0 else end + 1
            continue
        if ch == '"':
            i = _double_quoted_end(s, i + 1)
            continue
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(s)


def _double_quoted_end(s: str, i: int) -> int:
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            i += 2
        elif ch == '"':
            return i + 1
        elif s.startswith("$(", i):
            i = _balanced(s, i + 1, "(", ")")
        elif ch == "`":
            i = _backtick_end(s, i + 1)
        else:
            i += 1
    return len(s)


def _backtick_end(s: str, i: int) -> int:
    while i < len(s):
        if s[i] == "\\":
            i += 2
        elif s[i] == "`":
            return i + 1
        else:
            i += 1
    return len(s)


def _unquote(raw: str) -> str:
    """A word with its quotes and escapes removed, nothing expanded (a heredoc's delimiter)."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
        elif ch in "'\"":
            end = raw.find(ch, i + 1)
            end = len(raw) if end < 0 else end
            out.append(raw[i + 1 : end])
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- syntax tree --------------------------------------------------------------------------------

_Raw = tuple[str, int]  # a word as written, and its offset


class _Redirect(NamedTuple):
    op: str
    target: _Raw | None
    heredoc: _Heredoc | None


class _Simple(NamedTuple):
    assignments: tuple[_Raw, ...]
    words: tuple[_Raw, ...]
    redirects: tuple[_Redirect, ...]


class _Pipeline(NamedTuple):
    negated: bool
    commands: tuple[_Node, ...]


class _AndOr(NamedTuple):
    first: _Pipeline
    rest: tuple[tuple[str, _Pipeline], ...]


class _Sequence(NamedTuple):
    items: tuple[_AndOr, ...]


class _Group(NamedTuple):
    body: _Sequence
    subshell: bool


class _If(NamedTuple):
    arms: tuple[tuple[_Sequence, _Sequence], ...]
    otherwise: _Sequence | None


class _Loop(NamedTuple):
    until: bool
    test: _Sequence
    body: _Sequence


class _For(NamedTuple):
    name: str
    words: tuple[_Raw, ...] | None
    body: _Sequence


class _Case(NamedTuple):
    subject: _Raw
    arms: tuple[tuple[tuple[_Raw, ...], _Sequence], ...]


class _Function(NamedTuple):
    name: str
    body: _Node


_Node = Union[_Simple, _Group, _If, _Loop, _For, _Case, _Function]  # noqa: UP007 (a runtime alias)


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Tok:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Tok:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def at(self, kind: str, *texts: str) -> bool:
        token = self.peek()
        return token.kind == kind and (not texts or token.text in texts)

    def expect(self, word: str) -> None:
        if not self.at("word", word):
            raise ShellError(f"expected '{word}', found '{self.peek().text or 'the end'}'")
        self.take()

    def stop(self, stops: tuple[str, ...]) -> bool:
        return bool(stops) and self.at("word", *stops)

    def skip_newlines(self) -> None:
        while self.at("newline"):
            self.take()

    def program(self) -> _Sequence:
        sequence = self.sequence(())
        if not self.at("end"):
            raise ShellError(f"unexpected '{self.peek().text}'")
        return sequence

    def sequence(self, stops: tuple[str, ...]) -> _Sequence:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ShellError("nested too deep")
        items: list[_AndOr] = []
        while True:
            while self.at("newline") or self.at("op", ";", "&"):
                self.take()
            if self.at("end") or self.at("op", ")", ";;", ";&", ";;&") or self.stop(stops):
                break
            items.append(self.and_or())
            ended = self.at("newline") or self.at("end") or self.at("op", ";", "&", ")", ";;", ";&", ";;&")
            if not ended and not self.stop(stops):
                raise ShellError(f"unexpected '{self.peek().text}'")
        self.depth -= 1
        return _Sequence(tuple(items))

    def and_or(self) -> _AndOr:
        first = self.pipeline()
        rest: list[tuple[str, _Pipeline]] = []
        while self.at("op", "&&", "||"):
            op = self.take().text
            self.skip_newlines()
            rest.append((op, self.pipeline()))
        return _AndOr(first, tuple(rest))

    def pipeline(self) -> _Pipeline:
        negated = False
        while self.at("word", "!"):
            self.take()
            negated = not negated
        commands = [self.command()]
        while self.at("op", "|", "|&"):
            self.take()
            self.skip_newlines()
            commands.append(self.command())
        return _Pipeline(negated, tuple(commands))

    def command(self) -> _Node:
        if self.at("op", "("):
            self.take()
            body = self.sequence(())
            if not self.at("op", ")"):
                raise ShellError("a subshell without its ')'")
            self.take()
            return self.redirected(_Group(body, subshell=True))
        if self.at("word"):
            compound = self.compound()
            if compound is not None:
                return self.redirected(compound)
            if self.peek(1).kind == "op" and self.peek(1).text == "(":
                return self.function(self.take().text)
        return self.simple()

    def compound(self) -> _Node | None:
        word = self.peek().text
        if word == "{":
            self.take()
            body = self.sequence(("}",))
            self.expect("}")
            return _Group(body, subshell=False)
        if word == "if":
            self.take()
            return self.if_()
        if word in ("while", "until"):
            self.take()
            test = self.sequence(("do",))
            return _Loop(word == "until", test, self.do_done())
        if word in ("for", "select"):
            self.take()
            return self.for_()
        if word == "case":
            self.take()
            return self.case()
        if word == "function":
            self.take()
            return self.function(self.take().text)
        return None

    def do_done(self) -> _Sequence:
        self.expect("do")
        body = self.sequence(("done",))
        self.expect("done")
        return body

    def if_(self) -> _If:
        arms: list[tuple[_Sequence, _Sequence]] = []
        while True:
            test = self.sequence(("then",))
            self.expect("then")
            arms.append((test, self.sequence(("elif", "else", "fi"))))
            keyword = self.take().text
            if keyword == "elif":
                continue
            otherwise = None
            if keyword == "else":
                otherwise = self.sequence(("fi",))
                self.expect("fi")
            elif keyword != "fi":
                raise ShellError("an if without its fi")
            return _If(tuple(arms), otherwise)

    def for_(self) -> _For:
        name = self.take()
        if name.kind != "word":
            raise ShellError("an arithmetic for loop")
        self.skip_newlines()
        words: tuple[_Raw, ...] | None = None
        if self.at("word", "in"):
            self.take()
            found = []
            while self.at("word"):
                token = self.take()
                found.append((token.text, token.start))
            words = tuple(found)
        while self.at("newline") or self.at("op", ";"):
            self.take()
        return _For(name.text, words, self.do_done())

    def case(self) -> _Case:
        subject = self.take()
        self.skip_newlines()
        self.expect("in")
        arms: list[tuple[tuple[_Raw, ...], _Sequence]] = []
        while True:
            self.skip_newlines()
            if self.at("word", "esac"):
                self.take()
                return _Case((subject.text, subject.start), tuple(arms))
            if self.at("op", "("):
                self.take()
            patterns = []
            while self.at("word"):
                token = self.take()
                patterns.append((token.text, token.start))
                if self.at("op", "|"):
                    self.take()
            if not self.at("op", ")"):
                raise ShellError("a case pattern without its ')'")
            self.take()
            arms.append((tuple(patterns), self.sequence(("esac",))))
            if self.at("op", ";;", ";&", ";;&"):
                self.take()
            elif not self.at("word", "esac"):
                raise ShellError("a case arm without its ';;'")

    def function(self, name: str) -> _Function:
        if self.at("op", "("):
            self.take()
            if not self.at("op", ")"):
                raise ShellError("a function without its '()'")
            self.take()
        self.skip_newlines()
        return _Function(name, self.command())

    def redirected(self, node: _Node) -> _Node:
        while self.at("redirect"):
            self.redirect()
        return node

    def redirect(self) -> _Redirect:
        token = self.take()
        if token.heredoc is not None:
            return _Redirect(token.text, None, token.heredoc)
        target = self.take()
        if target.kind != "word":
            raise ShellError(f"'{token.text}' without a target")
        return _Redirect(token.text, (target.text, target.start), None)

    def simple(self) -> _Simple:
        assignments: list[_Raw] = []
        words: list[_Raw] = []
        redirects: list[_Redirect] = []
        while True:
            token = self.peek()
            if token.kind == "word":
                self.take()
                if not words and _ASSIGNMENT.match(token.text):
                    assignments.append((token.text, token.start))
                    continue
                words.append((token.text, token.start))
                if token.text == "[[" and len(words) == 1:
                    words += self.test_words()
            elif token.kind == "redirect":
                redirects.append(self.redirect())
            else:
                break
        if not (words or assignments or redirects):
            raise ShellError(f"unexpected '{self.peek().text or 'end of text'}'")
        return _Simple(tuple(assignments), tuple(words), tuple(redirects))

    def test_words(self) -> list[_Raw]:
        """``[[ ... ]]``: its ``&&``, ``||``, ``(`` and ``<`` are its own, not the shell's."""
        words = []
        while not self.at("end"):
            token = self.take()
            words.append((token.text, token.start))
            if token.kind == "word" and token.text == "]]":
                return words
        raise ShellError("a [[ without its ]]")


# -- expansion ----------------------------------------------------------------------------------


class _Piece(NamedTuple):
    text: str
    quoted: bool
    unknown: str | None = None
    expanded: bool = False  # from an expansion: unquoted, it is split into fields


_SPECIAL = frozenset("@*#?-$!")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Expander:
    """Word expansion as sh does it, over the variables the reader knows."""

    def __init__(self, state: _State, missing: Unknown | None = None) -> None:
        self.state = state
        # What a name set nowhere is: by default, what the base image or the shell may set.
        self.missing = missing

    def fields(self, raw: str, start: int) -> list[Word]:
        pieces = self.pieces(raw)
        words: list[Word] = []
        current: list[_Piece] = []
        keep = False
        for piece in pieces:
            if not (piece.expanded and not piece.quoted and piece.unknown is None):
                current.append(piece)
                keep = keep or piece.quoted or bool(piece.text) or piece.unknown is not None
                continue
            chunks = re.split(r"[ \t\n]+", piece.text)
            for n, chunk in enumerate(chunks):
                if n > 0 and (current or keep):
                    words.append(_joined(current, start))
                    current, keep = [], False
                if chunk:
                    current.append(piece._replace(text=chunk))
                    keep = True
        if current or keep:
            words.append(_joined(current, start))
        return words

    def one(self, raw: str, start: int) -> Word:
        """A word not split into fields: an assignment's value, a case subject, a file name."""
        return _joined(self.pieces(raw), start)

    def pieces(self, raw: str) -> list[_Piece]:
        if raw.startswith(("<(", ">(")):
            return [_Piece(raw, False, f"a process substitution {_short(raw)}")]
        pieces: list[_Piece] = []
        i = 0
        total = 0
        while i < len(raw):
            if pieces:
                total += len(pieces[-1].text)
                if total > MAX_VALUE:
                    return [_Piece(raw[:80], False, f"a value longer than {MAX_VALUE:,} characters")]
            ch = raw[i]
            if ch == "\\":
                if raw[i + 1 : i + 2] != "\n":
                    pieces.append(_Piece(raw[i + 1 : i + 2], True))
                i += 2
            elif ch == "'":
                end = raw.find("'", i + 1)
                end = len(raw) if end < 0 else end
                pieces.append(_Piece(raw[i + 1 : end], True))
                i = end + 1
            elif ch == '"':
                end = _double_quoted_end(raw, i + 1)
                pieces += self.double(raw[i + 1 : end - 1] if raw[end - 1 : end] == '"' else raw[i + 1 : end])
                i = end
            elif ch in "$`":
                piece, i = self.dollar(raw, i, quoted=False)
                pieces.append(piece)
            else:
                end = i
                while end < len(raw) and raw[end] not in "\\'\"$`":
                    end += 1
                pieces.append(_Piece(raw[i:end], False))
                i = end
        return pieces

    def double(self, text: str) -> list[_Piece]:
        pieces: list[_Piece] = []
        i = 0
        literal: list[str] = []
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\\n':
                if text[i + 1] != "\n":
                    literal.append(text[i + 1])
                i += 2
            elif ch in "$`":
                piece, after = self.dollar(text, i, quoted=True)
                if piece.expanded or piece.unknown:
                    pieces.append(_Piece("".join(literal), True))
                    literal = []
                    pieces.append(piece)
                else:
                    literal.append(piece.text)
                i = after
            else:
                literal.append(ch)
                i += 1
        pieces.append(_Piece("".join(literal), True))
        return pieces

    def dollar(self, text: str, i: int, quoted: bool) -> tuple[_Piece, int]:
        if text[i] == "`":
            end = _backtick_end(text, i + 1)
            return _Piece(text[i:end], quoted, f"a command substitution {_short(text[i:end])}"), end
        following = text[i + 1 : i + 2]
        if text.startswith("$((", i):
            end = _balanced(text, i + 1, "(", ")")
            return _Piece(text[i:end], quoted, f"arithmetic {_short(text[i:end])}"), end
        if following == "(":
            end = _balanced(text, i + 1, "(", ")")
            return _Piece(text[i:end], quoted, f"a command substitution {_short(text[i:end])}"), end
        if following == "{":
            end = _balanced(text, i + 1, "{", "}")
            return self.braced(text[i:end], text[i + 2 : end - 1], quoted), end
        if following and (following.isdigit() or following in _SPECIAL):
            return self.special(following, quoted), i + 2
        match = _NAME.match(text, i + 1)
        if match is None:
            return _Piece("$", quoted), i + 1
        value = self.lookup(match.group())
        return self.valued(text[i : match.end()], value, quoted), match.end()

    def lookup(self, name: str) -> Value:
        value = self.state.variables.get(name)
        if value is None:
            return self.missing or Unknown(f"${name} is not set in the Dockerfile (it may come from the base image)")
        return value

    def special(self, name: str, quoted: bool) -> _Piece:
        positional = self.state.positional
        if name.isdigit() and positional is not None:
            index = int(name)
            value: Value = positional[index] if index < len(positional) else ""
            return self.valued(f"${name}", value, quoted)
        if name in "@*" and positional is not None and all(isinstance(v, str) for v in positional[1:]):
            return _Piece(" ".join(str(v) for v in positional[1:]), quoted, expanded=True)
        return _Piece(f"${name}", quoted, f"${name}, which the shell sets when it runs")

    def valued(self, written: str, value: Value, quoted: bool) -> _Piece:
        if isinstance(value, Unknown):
            return _Piece(written, quoted, value.why)
        if len(value) > MAX_VALUE:
            return _Piece(written, quoted, f"a value longer than {MAX_VALUE:,} characters")
        return _Piece(value, quoted, expanded=True)

    def braced(self, written: str, inner: str, quoted: bool) -> _Piece:
        """``${...}``: a name, then an operator and its word."""
        if inner.startswith("#") and len(inner) > 1:
            length = self.lookup(inner[1:])
            return self.valued(written, length if isinstance(length, Unknown) else str(len(length)), quoted)
        match = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-]", inner)
        if match is None or inner.startswith("!"):
            return _Piece(written, quoted, f"the expansion {_short(written)}")
        name, rest = match.group(), inner[match.end() :]
        value: Value
        if name.isdigit() or name in _SPECIAL:
            piece = self.special(name, True)
            value = Unknown(piece.unknown) if piece.unknown else piece.text
        else:
            value = self.lookup(name)
        if not rest:
            return self.valued(written, value, quoted)
        result = self.operated(value, rest, name)
        if isinstance(result, Unknown):
            return _Piece(written, quoted, result.why)
        return _Piece(result, quoted, expanded=True)

    def operated(self, value: Value, rest: str, name: str) -> Value:
        operator = re.match(r":?[-=+?]|%%|%|##|#|//|/|\^\^|\^|,,|,|:", rest)
        if operator is None:
            return Unknown(f"the expansion ${{{name}{_short(rest)}}}")
        op, operand = operator.group(), rest[operator.end() :]
        if op.lstrip(":") in ("-", "=", "+", "?"):
            return self.defaulted(value, op, operand, name)
        if isinstance(value, Unknown):
            return value
        word = self.one(operand, 0)
        if word.unknown is not None:
            return Unknown(word.unknown)
        return _string_operation(value, op, word.text, operand)

    def defaulted(self, value: Value, op: str, operand: str, name: str) -> Value:
        unset = isinstance(value, Unknown) and value.unset
        if isinstance(value, Unknown) and not unset:
            return value
        empty = unset or (op.startswith(":") and value == "")
        word = self.one(operand, 0)
        alternative: Value = Unknown(word.unknown) if word.unknown is not None else word.text
        kind = op.lstrip(":")
        if kind == "+":
            return alternative if not empty else ""
        if not empty:
            return value
        if kind == "=":
            self.state.variables[name] = alternative
        if kind == "?":
            return Unknown(f"${name} has no value: the build stops there")
        return alternative


def _string_operation(value: str, op: str, word: str, raw_operand: str) -> Value:
    if op in ("%", "%%", "#", "##"):
        return trim_pattern(value, word, suffix=op.startswith("%"), greedy=len(op) == 2)
    if op in ("/", "//"):
        pattern, _, replacement = raw_operand.partition("/")
        return replace_pattern(value, _unquote(pattern), _unquote(replacement), every=op == "//")
    if op == "^^":
        return value.upper()
    if op == ",,":
        return value.lower()
    if op == "^":
        return value[:1].upper() + value[1:]
    if op == ",":
        return value[:1].lower() + value[1:]
    match = re.fullmatch(r"\s*(\d+)\s*(?::\s*(\d+)\s*)?", word)
    if op == ":" and match:
        offset = int(match.group(1))
        length = int(match.group(2)) if match.group(2) is not None else None
        return value[offset : None if length is None else offset + length]
    return Unknown(f"the expansion {_short(op + raw_operand)}")


# Longer than any real argument: past it a value is not built (each ARG can double the last one's).
MAX_VALUE = 100_000


def _joined(pieces: list[_Piece], start: int) -> Word:
    unknown = next((p.unknown for p in pieces if p.unknown is not None), None)
    if sum(len(p.text) for p in pieces) > MAX_VALUE:
        return Word("".join(p.text for p in pieces)[:80], f"a value longer than {MAX_VALUE:,} characters", start)
    return Word("".join(p.text for p in pieces), unknown, start)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


# -- running ------------------------------------------------------------------------------------

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"})
_FILE_TESTS = frozenset({"-f", "-e", "-d", "-r", "-s", "-x", "-w"})
# Builtins that change nothing this reader follows.
_INERT = frozenset(
    {"source", ".", "set", "shopt", "trap", "ulimit", "umask", "wait", "shift", "hash", "alias", "read", "popd"}
)
_Status = Union[bool, None]  # noqa: UP007 (True: succeeds; False: fails; None: the build decides)


def commands(script: Script, variables: Mapping[str, Value], cwd: Value, hooks: Hooks) -> list[Invocation]:
    """Every simple command ``script`` runs, in order; ShellError where its syntax is not followed."""
    runner = _Runner(hooks)
    try:
        runner.script(_Ctx(script, _State(dict(variables), set(variables), cwd), None))
    except RecursionError:
        raise ShellError("expansions nested too deep") from None
    return runner.found


class _Ctx(NamedTuple):
    """Where a command runs: its script, the shell's state, and why it may not run at all."""

    script: Script
    state: _State
    condition: str | None

    def unless(self, why: str) -> _Ctx:
        """The same, where running depends on something the build decides."""
        return self if self.condition else self._replace(condition=why)


class _Flow(Exception):
    """break, continue, return or exit: leaves the loop, the function or the script."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _NotBuiltin:
    """What ``_Runner.builtin`` answers for a command that is not a builtin."""


_NOT_BUILTIN = _NotBuiltin()


class _Runner:
    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self.found: list[Invocation] = []
        self.count = 0
        self.depth = 0

    def script(self, ctx: _Ctx) -> _Status:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise ShellError("scripts nested too deep")
            tree = _Parser(_Lexer(ctx.script.text).tokens()).program()
            try:
                return self.sequence(tree, ctx)
            except _Flow:
                return True  # exit, or a break outside a loop (which sh ignores)
        finally:
            self.depth -= 1

    def sequence(self, sequence: _Sequence, ctx: _Ctx) -> _Status:
        status: _Status = True
        for item in sequence.items:
            status = self.and_or(item, ctx)
        return status

    def and_or(self, node: _AndOr, ctx: _Ctx) -> _Status:
        status = self.pipeline(node.first, ctx)
        for op, pipeline in node.rest:
            if (op == "&&" and status is False) or (op == "||" and status is True):
                continue  # not run: every command is taken to succeed, as the build needs it to
            if status is None:
                self.pipeline(pipeline, ctx.unless("it runs only if a test the build decides holds"))
                continue
            status = self.pipeline(pipeline, ctx)
        return status

    def pipeline(self, node: _Pipeline, ctx: _Ctx) -> _Status:
        status: _Status = True
        for n, command in enumerate(node.commands):
            local = ctx if len(node.commands) == 1 else ctx._replace(state=ctx.state.copy())
            status = self.command(command, local, piped=n > 0)
        return status if not node.negated or status is None else not status

    def command(self, node: _Node, ctx: _Ctx, piped: bool = False) -> _Status:
        self.count += 1
        if self.count > MAX_COMMANDS:
            raise ShellError(f"more than {MAX_COMMANDS:,} commands")
        if isinstance(node, _Simple):
            return self.simple(node, ctx, piped)
        if isinstance(node, _Group):
            return self.group(node, ctx)
        if isinstance(node, _If):
            return self.if_(node, ctx)
        if isinstance(node, _Loop):
            return self.loop(node, ctx)
        if isinstance(node, _For):
            return self.for_(node, ctx)
        if isinstance(node, _Case):
            return self.case(node, ctx)
        ctx.state.functions[node.name] = node.body
        return True

    def group(self, node: _Group, ctx: _Ctx) -> _Status:
        if not node.subshell:
            return self.sequence(node.body, ctx)
        try:
            return self.sequence(node.body, ctx._replace(state=ctx.state.copy()))
        except _Flow as flow:
            if flow.kind == "exit":
                return True
            raise

    def if_(self, node: _If, ctx: _Ctx) -> _Status:
        decided = ctx
        for test, body in node.arms:
            status = self.sequence(test, ctx)
            if ctx is decided and status is True:
                return self.sequence(body, ctx)
            if ctx is decided and status is False:
                continue
            ctx = ctx.unless("it runs only if a test the build decides holds (an if)")
            self.sequence(body, ctx)
        if node.otherwise is not None:
            self.sequence(node.otherwise, ctx)
        return True if ctx is decided else None

    def loop(self, node: _Loop, ctx: _Ctx) -> _Status:
        status = self.sequence(node.test, ctx)
        if node.until and status is not None:
            status = not status
        if status is False:
            return True
        if status is None:
            ctx = ctx.unless(f"it runs only as a {'until' if node.until else 'while'} loop's test decides")
        try:
            self.sequence(node.body, ctx)  # once: what it runs matters here, not how often
        except _Flow as flow:
            if flow.kind not in ("break", "continue"):
                raise
        return True

    def for_(self, node: _For, ctx: _Ctx) -> _Status:
        values: list[Value] = [Unknown("the arguments the shell runs with ($@)")]
        if node.words is not None:
            expander = _Expander(ctx.state)
            values = [_value(word) for raw, start in node.words for word in expander.fields(raw, start)]
        for value in values[:256]:
            ctx.state.variables[node.name] = value
            try:
                self.sequence(node.body, ctx)
            except _Flow as flow:
                if flow.kind == "break":
                    break
                if flow.kind != "continue":
                    raise
        return True

    def case(self, node: _Case, ctx: _Ctx) -> _Status:
        expander = _Expander(ctx.state)
        subject = expander.one(*node.subject)
        decided = ctx
        for patterns, body in node.arms:
            words = [expander.one(*pattern) for pattern in patterns]
            if ctx is decided and subject.unknown is None and all(w.unknown is None for w in words):
                if any(glob_match(subject.text, w.text) for w in words):
                    return self.sequence(body, ctx)
                continue
            ctx = ctx.unless("it runs only if a case the build decides matches")
            self.sequence(body, ctx)
        return True

    def simple(self, node: _Simple, ctx: _Ctx, piped: bool) -> _Status:
        state = ctx.state
        expander = _Expander(state)
        argv = [word for raw, start in node.words for word in expander.fields(raw, start)]
        assigned = [_assignment(raw, start, expander) for raw, start in node.assignments]
        stdin, stdin_at = _stdin(node.redirects, expander)
        if not argv:
            state.variables.update(assigned)
            return True
        environment: dict[str, Value] = {k: v for k, v in state.variables.items() if k in state.exported}
        environment.update(assigned)
        line = ctx.script.line_of(argv[0].start)
        call = Invocation(
            tuple(argv), environment, state.cwd, ctx.condition, stdin, stdin_at, piped, ctx.script, line,
            python_env=state.python_env,
        )  # fmt: skip
        return self.run(call, ctx)

    def run(self, call: Invocation, ctx: _Ctx) -> _Status:
        if not call.argv:
            return True
        head = call.argv[0]
        if head.unknown is not None:
            self.found.append(call)
            return True
        name = posixpath.basename(head.text)
        builtin = self.builtin(name, call, ctx)
        if not isinstance(builtin, _NotBuiltin):
            return builtin
        if name in ctx.state.functions:
            return self.function(name, call, ctx)
        if name == "env":
            return self.run(_env(call), ctx)
        if name in _CONDA_TOOLS and len(call.argv) > 1 and call.argv[1].text in ("activate", "deactivate"):
            ctx.state.python_env = _activated(call.argv[2:]) if call.argv[1].text == "activate" else None
            return True
        unwrapped = _unwrap(name, list(call.argv))
        if unwrapped is not None:
            if name in _RUNNERS:
                self.found.append(call)  # `uv run` syncs the project before it runs the command
            if name in _CONDA_TOOLS:  # conda run -n NAME pip install: the pip of NAME
                call = call._replace(python_env=_runs_in(call.argv[2:], _RUNNERS[name]) or call.python_env)
            return self.run(call._replace(argv=tuple(unwrapped)), ctx)
        if name in _SHELLS:
            return self.shell(call, ctx)
        if "/" in head.text:
            found = self.hooks.script(joined_path(call.cwd, head.text))
            if found is not None and _runs_in_sh(found.text):
                return self.file_script(found, call, call.argv[1:], ctx)
        self.found.append(call)
        return True

    def file_script(self, found: Script, call: Invocation, args: tuple[Word, ...], ctx: _Ctx) -> _Status:
        """A shell script of the build context the RUN runs: followed; where its shell is not
        followed, the command says so (its ``failed``) and the RUN goes on."""
        local = ctx._replace(state=ctx.state.copy(), condition=call.condition, script=found)
        local.state.positional = [found.path, *[_value(w) for w in args]]
        count = len(self.found)
        try:
            return self.script(local)
        except ShellError as exc:
            del self.found[count:]
            self.found.append(call._replace(failed=(found.path, str(exc))))
            return True

    def builtin(self, name: str, call: Invocation, ctx: _Ctx) -> _Status | _NotBuiltin:
        args, state = call.argv[1:], ctx.state
        if name in ("true", ":", "false"):
            return name != "false"
        if name in ("test", "[", "[["):
            return _test([w for w in args if w.text not in ("]", "]]")], call.cwd, self.hooks)
        if name in ("export", "declare", "typeset", "local", "readonly"):
            _declare(args, state, name == "export" or any(w.text.startswith("-") and "x" in w.text for w in args))
            return True
        if name == "unset":
            for word in args:
                state.variables.pop(word.text, None)
            return True
        if name in ("cd", "pushd"):
            state.cwd = _changed(state.cwd, next((w for w in args if not w.text.startswith("-")), None))
            return True
        if name in ("break", "continue", "exit", "return"):
            raise _Flow(name)
        if name in ("source", ".") and args and posixpath.basename(args[0].text) == "activate":
            # conda's `source activate NAME`, or a virtual environment's `. /venv/bin/activate`
            state.python_env = _sourced(args[0], list(args[1:]), call.cwd)
            return True
        if name == "eval":
            if any(w.unknown for w in args):
                self.found.append(call)
                return True
            text = " ".join(w.text for w in args)
            return self.script(ctx._replace(script=Script(text, call.script.path, (0,), (call.line,))))
        return True if name in _INERT else _NOT_BUILTIN

    def function(self, name: str, call: Invocation, ctx: _Ctx) -> _Status:
        state = ctx.state
        saved = state.positional
        state.positional = [name, *[_value(w) for w in call.argv[1:]]]
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise ShellError("functions nested too deep")
            return self.command(state.functions[name], ctx._replace(condition=call.condition), call.piped)
        except _Flow as flow:
            if flow.kind == "return":
                return True
            raise
        finally:
            self.depth -= 1
            state.positional = saved

    def shell(self, call: Invocation, ctx: _Ctx) -> _Status:
        """``sh -c '...'``, ``bash <<EOF``, ``bash script.sh``: the script it runs, read in turn."""
        args, command_mode = _shell_options(list(call.argv[1:]))
        local = ctx._replace(state=ctx.state.copy(), condition=call.condition)
        if command_mode:
            if not args or args[0].unknown is not None:
                self.found.append(call)
                return True
            local.state.positional = [_value(w) for w in args[1:]] or ["sh"]
            return self.script(local._replace(script=Script(args[0].text, call.script.path, (0,), (call.line,))))
        if args:
            target = args[0]
            found = None if target.unknown else self.hooks.script(joined_path(call.cwd, target.text))
            if found is None:
                return True  # a script made during the build, or not in the build context: not ours to read
            return self.file_script(found, call, tuple(args[1:]), ctx)
        if call.stdin is not None and not call.piped:
            return self.script(local._replace(script=call.script.inner(call.stdin, call.stdin_at)))
        return True


_CONDA_TOOLS = frozenset({"conda", "mamba", "micromamba"})


def _activated(args: tuple[Word, ...] | list[Word]) -> str | None:
    """``conda activate [NAME | PREFIX]``: the environment it puts first on PATH (base without one)."""
    named = [w for w in args if not w.text.startswith("-")]
    if not named:
        return "base"
    if named[0].unknown is not None:
        return None
    text = named[0].text
    return f"prefix:{posixpath.normpath(text)}" if "/" in text else text


def _sourced(script: Word, args: list[Word], cwd: Value) -> str | None:
    """``source activate NAME`` (conda's script, found on PATH), ``source /opt/conda/bin/activate
    [NAME]``, or ``. /venv/bin/activate`` (a virtual environment: its folder)."""
    if script.unknown is not None:
        return None
    if args or script.text == "activate":
        return _activated(args)
    return f"prefix:{posixpath.dirname(posixpath.dirname(joined_path(cwd, script.text)))}"


def _runs_in(options: tuple[Word, ...], with_value: frozenset[str]) -> str | None:
    """The environment ``conda run`` runs its command in: -n NAME, or -p PREFIX; None if not named."""
    words = list(options)
    while words and words[0].text.startswith("-"):
        option, has_value, attached = words.pop(0).text.partition("=")
        if option not in with_value:
            continue
        value = attached if has_value else (words.pop(0).text if words else "")
        if option in ("-n", "--name") and value:
            return value
        if option in ("-p", "--prefix") and value:
            return f"prefix:{posixpath.normpath(value)}"
    return None


def _runs_in_sh(text: str) -> bool:
    """Whether a file run by its path is a shell script: a shell's #! line, or none (sh runs it)."""
    if not text.startswith("#!"):
        return True
    words = text[2:].split("\n", 1)[0].split()
    if words and posixpath.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return bool(words) and posixpath.basename(words[0]) in _SHELLS


def _shell_options(args: list[Word]) -> tuple[list[Word], bool]:
    """A shell's own options taken off its arguments, and whether ``-c`` was among them."""
    command_mode = False
    while args and args[0].text.startswith(("-", "+")) and len(args[0].text) > 1:
        option = args.pop(0).text
        if option == "--":
            break
        if option.startswith("--"):
            continue
        command_mode = command_mode or (option[0] == "-" and "c" in option[1:])
        if option[1:] == "o" and args:
            args.pop(0)
    return args, command_mode


def _value(word: Word) -> Value:
    return Unknown(word.unknown) if word.unknown else word.text


def _assignment(raw: str, start: int, expander: _Expander) -> tuple[str, Value]:
    name, _, value = raw.partition("=")
    if value.startswith("("):
        return name.rstrip("+"), Unknown(f"${name.rstrip('+')} is a bash array")
    return name.rstrip("+"), _value(expander.one(value, start + len(name) + 1))


def _declare(args: tuple[Word, ...], state: _State, export: bool) -> None:
    for word in args:
        if word.text.startswith("-"):
            continue
        name, has_value, value = word.text.partition("=")
        if not _NAME.fullmatch(name):
            continue
        if has_value:
            state.variables[name] = Unknown(word.unknown) if word.unknown else value
        if export:
            state.exported.add(name)


def _env(call: Invocation) -> Invocation:
    """``env [-i] [NAME=value]... command``: the command, with those variables."""
    rest = _options_off(list(call.argv[1:]), frozenset({"-u", "--unset", "-C", "--chdir", "-S"}))
    environment = dict(call.environment)
    while rest and _ASSIGNMENT.match(rest[0].text):
        word = rest.pop(0)
        name, _, value = word.text.partition("=")
        environment[name] = Unknown(word.unknown) if word.unknown else value
    return call._replace(argv=tuple(rest), environment=environment)


def _changed(cwd: Value, target: Word | None) -> Value:
    if target is None:
        return Unknown("the home folder, which the base image decides")
    if target.unknown is not None:
        return Unknown(target.unknown)
    if isinstance(cwd, Unknown) and not target.text.startswith("/"):
        return cwd
    return joined_path(cwd, target.text)


def joined_path(cwd: Value, path: str) -> str:
    """A path of the image, made absolute from the working folder where it is known."""
    if path.startswith("/"):
        return posixpath.normpath(path)
    if isinstance(cwd, Unknown):
        return path
    return posixpath.normpath(posixpath.join(cwd, path))


def _stdin(redirects: tuple[_Redirect, ...], expander: _Expander) -> tuple[str | None, int]:
    for redirect in redirects:
        if redirect.heredoc is not None:
            body = redirect.heredoc.body
            if redirect.heredoc.strip_tabs:
                body = re.sub(r"(?m)^\t+", "", body)
            return body, redirect.heredoc.start
        if redirect.op == "<<<" and redirect.target is not None:
            word = expander.one(*redirect.target)
            return (None if word.unknown else word.text + "\n"), -1
    return None, -1


# Commands that run the command in their arguments, and their options that take a value.
_WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "nohup": frozenset(),
    "time": frozenset({"-f", "-o"}),
    "exec": frozenset({"-a"}),
    "command": frozenset(),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "setsid": frozenset(),
    "timeout": frozenset({"-k", "-s", "--kill-after", "--signal"}),
}
# `conda run -n base pip install`: the options before the command that take a value.
_RUNNERS: dict[str, frozenset[str]] = {
    "conda": frozenset({"-n", "--name", "-p", "--prefix", "--cwd"}),
    "mamba": frozenset({"-n", "--name", "-p", "--prefix", "--cwd"}),
    "micromamba": frozenset({"-n", "--name", "-p", "--prefix", "--cwd", "-r", "--root-prefix", "-a", "--attach"}),
    "poetry": frozenset({"-C", "--directory", "-P", "--project"}),
    "pipenv": frozenset(),
    "pixi": frozenset({"-e", "--environment", "--manifest-path"}),
    "uv": frozenset({"--with", "--with-requirements", "--with-editable", "--python", "-p", "--project", "--directory",
                     "--extra", "--group", "--package", "--env-file", "--index", "--default-index", "--index-url",
                     "--extra-index-url", "-i", "-f", "--find-links", "-w"}),
}  # fmt: skip


def _unwrap(name: str, argv: list[Word]) -> list[Word] | None:
    """The command a wrapper runs (``sudo -H pip install`` runs ``pip install``), else None; an
    empty list where it runs none (``command -v pip``)."""
    if name in _WRAPPERS:
        if name == "command" and any(w.text in ("-v", "-V") for w in argv[1:2]):
            return []
        rest = _options_off(argv[1:], _WRAPPERS[name])
        return rest[1:] if name == "timeout" else rest
    if name in ("gosu", "su-exec", "chpst"):
        return argv[2:]
    if name == "xargs":
        rest = _options_off(argv[1:], frozenset({"-I", "-n", "-P", "-d", "-L", "-s", "-a", "-E"}))
        extra = Word("<its input>", "the arguments xargs reads from its input", argv[0].start)
        return [*rest, extra] if rest else []
    if name in _RUNNERS and len(argv) > 1 and argv[1].text == "run":
        return _options_off(argv[2:], _RUNNERS[name])
    if name in ("su", "runuser"):
        for n, word in enumerate(argv[1:], start=1):
            if word.text in ("-c", "--command") and n + 1 < len(argv):
                return [Word("sh", None, word.start), Word("-c", None, word.start), argv[n + 1]]
            if word.text == "--" and name == "runuser":
                return argv[n + 1 :]
        return []
    return None


def _options_off(words: list[Word], with_value: frozenset[str]) -> list[Word]:
    rest = list(words)
    while rest and rest[0].text.startswith("-") and rest[0].text != "-":
        option = rest.pop(0).text
        if option == "--":
            break
        if option in with_value and rest:
            rest.pop(0)
    return rest


def _test(args: list[Word], cwd: Value, hooks: Hooks) -> _Status:
    """``test``, ``[`` and ``[[`` as far as the values are known; None where the build decides."""
    if any(word.unknown is not None for word in args):
        return None
    words = [word.text for word in args]
    for op in ("||", "-o", "&&", "-a"):
        if op in words and len(words) > 3:
            parts: list[list[str]] = [[]]
            for word in words:
                if word == op:
                    parts.append([])
                else:
                    parts[-1].append(word)
            results = [_test_words(part, cwd, hooks) for part in parts]
            if op in ("||", "-o"):
                return True if True in results else None if None in results else False
            return False if False in results else None if None in results else True
    return _test_words(words, cwd, hooks)


_NUMBERS: dict[str, Callable[[int, int], bool]] = {
    "-eq": lambda a, b: a == b,
    "-ne": lambda a, b: a != b,
    "-lt": lambda a, b: a < b,
    "-le": lambda a, b: a <= b,
    "-gt": lambda a, b: a > b,
    "-ge": lambda a, b: a >= b,
}


def _test_words(words: list[str], cwd: Value, hooks: Hooks) -> _Status:
    if words and words[0] == "!":
        result = _test_words(words[1:], cwd, hooks)
        return None if result is None else not result
    if len(words) == 1:
        return bool(words[0])
    if len(words) == 2:
        op, operand = words
        if op in ("-z", "-n"):
            return (not operand) if op == "-z" else bool(operand)
        if op in _FILE_TESTS and not (isinstance(cwd, Unknown) and not operand.startswith("/")):
            return hooks.exists(joined_path(cwd, operand))
        return None
    if len(words) == 3:
        left, op, right = words
        if op in ("=", "=="):
            return glob_match(left, right)
        if op == "!=":
            return not glob_match(left, right)
        if op in _NUMBERS and re.fullmatch(r"-?\d{1,18}", left) and re.fullmatch(r"-?\d{1,18}", right):
            return _NUMBERS[op](int(left), int(right))
    return None


def expand(raw: str, variables: Mapping[str, Value], only_these: bool = False) -> Word:
    """One word of a Dockerfile instruction (FROM, ENV, COPY) expanded as one value, quotes
    removed: an unknown part is kept as written and the word says why it is unknown.
    ``only_these``: a name not in ``variables`` is unset (FROM sees the ARGs before it, nothing else)."""
    missing = Unknown("a name no ARG before FROM sets", unset=True) if only_these else None
    return _Expander(_State(dict(variables), set(), "/"), missing).one(raw, 0)


# What only a shell would turn into something else: in the exec form, it reaches the program as is.
_SHELL_ONLY = re.compile(r"\$|^[<>]\(|`")


def exec_form(
    argv: list[str], variables: Mapping[str, Value], cwd: Value, hooks: Hooks, script: Script
) -> list[Invocation]:
    """The commands a RUN in the exec form runs: its words as written (no shell expands them,
    so a ``$`` in them reaches the program as is), or, for ``["sh", "-c", "..."]``, its script."""
    literal = bool(argv) and posixpath.basename(argv[0]) in _SHELLS
    words = tuple(
        Word(
            arg, None if literal or not _SHELL_ONLY.search(arg) else f"the exec form passes {_short(arg)} as written", 0
        )
        for arg in argv
    )
    runner = _Runner(hooks)
    state = _State(dict(variables), set(variables), cwd)
    environment = {k: v for k, v in variables.items()}
    call = Invocation(words, environment, cwd, None, None, -1, False, script, script.line_of(0))
    try:
        runner.run(call, _Ctx(script, state, None))
    except RecursionError:
        raise ShellError("expansions nested too deep") from None
    return runner.found
