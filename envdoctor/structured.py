"""JSON and TOML from files anyone can write: parsed with limits, so that a document nested
thousands deep or holding a number of thousands of digits is a one-line error, not a traceback."""

from __future__ import annotations

import json
from typing import Any

from envdoctor.errors import InputError
from envdoctor.tomlcompat import tomllib

# Far deeper than any real profile, pyproject or pylock; shallow enough that no later walk
# over the data (rendering, comparing, dumping) comes near Python's recursion limit.
MAX_DEPTH = 64


def parse_json(text: str, path: str) -> Any:
    """The JSON value of ``text``; InputError naming ``path`` if it is not JSON or too deep."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise InputError(path, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise InputError(path, f"not usable JSON: {_first_words(exc)}") from None
    _check_depth(data, path)
    return data


def parse_toml(text: str, path: str) -> dict[str, Any]:
    """The table of ``text``; InputError naming ``path`` if it is not TOML or too deep."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(path, f"not valid TOML: {_first_words(exc)}", line) from None
    except RecursionError:
        raise InputError(path, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise InputError(path, f"not usable TOML: {_first_words(exc)}") from None
    _check_depth(data, path)
    return data


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
