"""The checks every value passes where it is written: a lockfile, a Dockerfile, a shell script,
a runner's log, a terminal or Markdown. Input is whatever a pull request proposes, so a value
that would change the meaning of what we write is refused (or, in prose, made harmless) here,
at the writer, whatever reader it came through."""

from __future__ import annotations

import re

from envdoctor.errors import EnvdoctorError

# C0 and C1 control characters, DEL, and the other characters str.splitlines() breaks a line
# at (U+2028, U+2029): any of them can end a line, move a cursor or start an escape sequence.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROL_OR_SPACE = re.compile("[\\s\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# A lone surrogate: what Python makes of a file name's bytes that are not UTF-8. No UTF-8 file
# (JSON, SARIF, a terminal) can carry it.
_SURROGATE = re.compile("[\ud800-\udfff]")
# What CommonMark or HTML would read as markup inside a table cell.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<!|~&])")


class UnsafeValue(EnvdoctorError):
    """A value that cannot be written where it was going without changing what that file says."""


def printable(text: str) -> str:
    """``text`` on one line with every control character shown as an escape (``\\x1b``):
    for terminals and logs, where such a byte could forge a line, a colour or a title."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_text(dumped: str) -> str:
    """JSON text from json.dumps(..., ensure_ascii=False) made encodable as UTF-8: a lone
    surrogate (only ever inside a string) becomes the visible text ``\\udcff``."""
    return _SURROGATE.sub(lambda match: f"\\\\u{ord(match.group()):04x}", dumped)


def printable_lines(text: str) -> str:
    """Multi-line text for a terminal: each line made ``printable``, the line breaks kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def snippet(text: str, limit: int = 40) -> str:
    """A short, printable quotation of input, for error messages that must not echo a file."""
    shown = printable(text[:limit])
    return shown + ("..." if len(text) > limit else "")


def quote(text: str, limit: int = 40) -> str:
    """``snippet`` in quotes, for naming a value in a message."""
    return f"'{snippet(text, limit)}'"


def one_token(value: str, what: str) -> str:
    """``value`` if it is one word with no whitespace or control character, else UnsafeValue.

    For index URLs, paths and anything else written where a space or a line break would start
    another option or another line."""
    if not value or _CONTROL_OR_SPACE.search(value):
        raise UnsafeValue(f"{what} {quote(value)} is not one token: it holds a space or a control character")
    return value


def has_control(text: str) -> bool:
    """Whether ``text`` holds a character ``printable`` would show as an escape."""
    return _CONTROL.search(text) is not None


def one_line(value: str, what: str) -> str:
    """``value`` if it holds no control character (spaces are fine), else UnsafeValue: for text
    written into a comment line of a lockfile or a label, where a line break would end the comment."""
    if has_control(value):
        raise UnsafeValue(f"{what} {quote(value)} holds a line break or a control character")
    return value


def matches(pattern: re.Pattern[str], value: str, what: str) -> str:
    """``value`` if the whole of it (no trailing newline either) matches ``pattern``, else UnsafeValue."""
    if pattern.fullmatch(value) is None:
        raise UnsafeValue(f"{what} {quote(value)} is not valid")
    return value


def markdown(text: str) -> str:
    """``text`` as literal Markdown inline content on one line: markup and HTML escaped, control
    characters (a lone carriage return ends a table row in some renderers) shown as escapes."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))


def markdown_code(text: str) -> str:
    """``text`` as an inline code span: a code span cannot be escaped from inside, so the fence is
    longer than any run of backticks in the text, and pipes (which end a table cell) are escaped."""
    text = printable(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{padding}{text}{padding}{fence}"
