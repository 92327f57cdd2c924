"""JSON and TOML from files anyone can write: parsed with limits, so that a document nested
thousands deep or holding a number of thousands of digits is a one-line error, not a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from envdoctor.errors import InputError
from envdoctor.tomlcompat import tomllib

# Far deeper than any real profile, pyproject or pylock; shallow enough that no later walk
# over the data (rendering, comparing, dumping) comes near Python's recursion limit.
MAX_DEPTH = 64
# Python 3.11 to 3.13 give a TOML error's place only in its message.
_TOML_POSITION = re.compile(r"\(at line (?P<line>[0-9]+), column [0-9]+\)")


def parse_json(text: str, path: str) -> Any:
    """The JSON value of ``text``; InputError naming ``path`` if it is not JSON or too deep."""
    return _parse(json.loads, json.JSONDecodeError, "JSON", text, path)


def parse_toml(text: str, path: str) -> dict[str, Any]:
    """The table of ``text``; InputError naming ``path`` if it is not TOML or too deep."""
    data: dict[str, Any] = _parse(tomllib.loads, tomllib.TOMLDecodeError, "TOML", text, path)
    return data


def _parse(load: Callable[[str], Any], syntax_error: type[ValueError], kind: str, text: str, path: str) -> Any:
    try:
        data = load(text)
    except syntax_error as exc:
        reason, line = _syntax(exc, text)
        raise InputError(path, f"not valid {kind}: {reason}", line) from None
    except RecursionError:
        raise InputError(path, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise InputError(path, f"not usable {kind}: {_first_words(exc)}") from None
    _check_depth(data, path)
    return data


def _syntax(exc: ValueError, text: str) -> tuple[str, int | None]:
    """A syntax error's reason and line, from the attributes where the parser sets them, else
    from the message."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg, exc.lineno
    line = getattr(exc, "lineno", None)  # Python 3.14 and tomli 2.1
    position = _TOML_POSITION.search(str(exc))
    if line is None and position:
        line = int(position.group("line"))
    elif line is None and "(at end of document)" in str(exc):
        line = text.count("\n") + (0 if text.endswith("\n") else 1) or 1
    return _first_words(exc), line


def _check_depth(data: Any, path: str) -> None:
    """Walk the value without recursion; refuse it past MAX_DEPTH."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack += [(item, depth + 1) for item in value.values()]
        elif isinstance(value, list):
            stack += [(item, depth + 1) for item in value]


def _first_words(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


def mapping_at(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The mapping under ``key`` in parsed data; empty where it is absent or not a mapping."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


_Loaded = TypeVar("_Loaded")


def read_yaml(load: Callable[[], _Loaded], path: str, what: str) -> _Loaded:
    """What ``load`` (a PyYAML safe load or compose of the text) gives; its failures as one
    InputError naming ``path`` and the line: not YAML, nested too deep to be ``what``, or an
    integer past Python's digit limit."""
    import yaml

    try:
        return load()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(
            path, f"not valid YAML: {_snippet(exc.problem or exc.context or 'unreadable')}", line
        ) from None
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise InputError(path, f"not valid YAML: {_snippet(reason)}") from None
    except RecursionError:
        raise InputError(path, f"nested too deep to be {what}") from None
    except ValueError as exc:
        raise InputError(path, f"not usable YAML: {str(exc)[:120]}") from None


def _snippet(text: str) -> str:
    from envdoctor.safety import snippet

    return snippet(text, 120)
