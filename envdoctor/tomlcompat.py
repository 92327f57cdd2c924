"""The TOML reader envdoctor uses: the standard library's tomllib, or its backport on Python 3.10,
with the line of a syntax error as ``TOMLDecodeError.lineno`` on every version.

Python 3.14 and tomli 2.1 set ``lineno``; Python 3.11 to 3.13 only write the position into the
message. Readers report an error's line from ``lineno`` alone, so it is set here, once.
"""

from __future__ import annotations

import re
import sys
from typing import Any, BinaryIO

if sys.version_info >= (3, 11):
    import tomllib as _tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as _tomllib  # type: ignore[import-not-found,unused-ignore]

_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


class _Reader:
    """The tomllib interface (``loads``, ``load``, ``TOMLDecodeError``)."""

    TOMLDecodeError = _tomllib.TOMLDecodeError

    @staticmethod
    def loads(text: str, /) -> dict[str, Any]:
        try:
            data: dict[str, Any] = _tomllib.loads(text)
            return data
        except _tomllib.TOMLDecodeError as exc:
            if getattr(exc, "lineno", None) is None:
                exc.lineno = _line(exc, text)  # type: ignore[attr-defined,unused-ignore]
            raise

    @staticmethod
    def load(handle: BinaryIO, /) -> dict[str, Any]:
        return _Reader.loads(handle.read().decode("utf-8"))


def _line(exc: Exception, text: str) -> int | None:
    message = str(exc)
    position = _POSITION.search(message)
    if position:
        return int(position.group(1))
    if "(at end of document)" in message:
        return text.count("\n") + (0 if text.endswith("\n") else 1) or 1
    return None


tomllib = _Reader()

__all__ = ["tomllib"]
