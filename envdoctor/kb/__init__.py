"""The knowledge base: cited compatibility facts, kept as TOML data files in ``kb/data``.

Every row carries ``source`` (the URL it was read from) and ``checked`` (the date it was read).
Code asks this module for rows; no version table lives in Python.
"""

from __future__ import annotations

import datetime
import functools
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

DATA_DIR = Path(__file__).parent / "data"


class KnowledgeBaseError(Exception):
    """The packaged data is broken: a bug in envdoctor, not in the user's input."""


@functools.cache
def load_topic(topic: str, table: str) -> tuple[dict[str, Any], ...]:
    """The rows of array ``table`` in ``data/TOPIC.toml``, each checked for a source and date."""
    path = DATA_DIR / f"{topic}.toml"
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name}: {exc}") from None
    rows = data.get(table, [])
    for number, row in enumerate(rows, start=1):
        _check_citation(path.name, table, number, row)
    return tuple(rows)


def _check_citation(file_name: str, table: str, number: int, row: dict[str, Any]) -> None:
    source = row.get("source")
    if not isinstance(source, str) or not source.startswith("https://"):
        raise KnowledgeBaseError(f"{file_name}: {table} row {number} has no https source")
    checked = row.get("checked")
    if not isinstance(checked, (str, datetime.date)):
        raise KnowledgeBaseError(f"{file_name}: {table} row {number} has no checked date")
    try:
        datetime.date.fromisoformat(str(checked))
    except ValueError:
        raise KnowledgeBaseError(f"{file_name}: {table} row {number}: checked {checked!r} is not a date") from None
