"""A TOML writer for lockfiles, in the layout uv writes pylock.toml: the top level's values, then
each array of tables as ``[[name]]`` sections whose tables are inline and whose arrays hold one
table on the line or one per line. A pylock read and written again keeps its bytes."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# What a TOML basic string must escape: the quote, the backslash and the control characters.
_ESCAPED = re.compile(r'["\\\x00-\x08\x0a-\x1f\x7f]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def dumps(document: Mapping[str, Any]) -> str:
    """The document as TOML text (a mapping of TOML values: str, int, bool, datetime, lists, mappings)."""
    lines = [f"{_key(key)} = {_value(value)}" for key, value in document.items() if not _is_table_array(value)]
    for key, rows in document.items():
        if _is_table_array(rows):
            for row in rows:
                lines += ["", f"[[{_key(key)}]]"]
                lines += [f"{_key(name)} = {_value(value)}" for name, value in row.items()]
    return "\n".join(lines) + "\n"


def _is_table_array(value: object) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and bool(value)
        and all(isinstance(item, Mapping) for item in value)
    )


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, Sequence):
        items = [_value(item) for item in value]
        if len(items) > 1 and all(isinstance(item, Mapping) for item in value):
            return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
        return "[" + ", ".join(items) + "]"
    raise TypeError(f"no TOML value for {type(value).__name__}")


def _string(text: str) -> str:
    return '"' + _ESCAPED.sub(lambda m: _SHORT_ESCAPES.get(m[0], f"\\u{ord(m[0]):04X}"), text) + '"'
