"""The knowledge base: cited compatibility facts, kept as TOML data files in ``kb/data``.

One topic a file; every row carries ``source`` (the URL it was read from) and ``checked`` (the
date it was read), and fits its table's schema (``kb/schema.py``). Code asks this module for
rows; no version table lives in Python.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

from envdoctor.kb.schema import TOPIC_BY_NAME, RowError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

DATA_DIR = Path(__file__).parent / "data"

Row = dict[str, Any]


class KnowledgeBaseError(Exception):
    """The packaged data is broken: a bug in envdoctor's data, not in the user's input."""


@functools.cache
def _load_file(topic: str) -> dict[str, Any]:
    path = DATA_DIR / f"{topic}.toml"
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name}: {exc}") from None


@functools.cache
def load_topic(topic: str, table: str) -> tuple[Row, ...]:
    """The rows of ``table`` in ``data/TOPIC.toml``, each checked against its schema."""
    if topic not in TOPIC_BY_NAME:
        raise KnowledgeBaseError(f"no topic {topic!r}")
    schema = next((t for t in TOPIC_BY_NAME[topic].tables if t.name == table), None)
    if schema is None:
        raise KnowledgeBaseError(f"{topic}.toml: no table {table!r} in its schema")
    data = _load_file(topic)
    unknown = set(data) - {t.name for t in TOPIC_BY_NAME[topic].tables}
    if unknown:
        raise KnowledgeBaseError(f"{topic}.toml: unknown table(s) {', '.join(sorted(unknown))}")
    rows = data.get(table, [])
    for number, row in enumerate(rows, start=1):
        try:
            schema.check(row)
        except RowError as exc:
            raise KnowledgeBaseError(f"{topic}.toml: [[{table}]] row {number}: {exc}") from None
    return tuple(rows)
