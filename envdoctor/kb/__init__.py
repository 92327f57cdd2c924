"""The knowledge base: cited compatibility facts, kept as TOML data files in ``kb/data``.

One topic a file; every row carries ``source`` (the URL it was read from) and ``checked`` (the
date it was read), and fits its table's schema (``kb/schema.py``). Code asks this module for
rows; no version table lives in Python.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from envdoctor.kb.schema import TOPIC_BY_NAME, RowError
from envdoctor.tomlcompat import tomllib

DATA_DIR = Path(__file__).parent / "data"
# Every topic file, parsed, in one JSON document: reading it is thirty times faster than parsing
# the TOML, which matters for a command run in every commit hook. ``ci/kb-compile`` writes it;
# a test fails when it no longer matches the TOML files, which remain the source.
COMPILED = "compiled.json"

Row = dict[str, Any]


class KnowledgeBaseError(Exception):
    """The packaged data is broken: a bug in envdoctor's data, not in the user's input."""


@functools.cache
def _compiled() -> dict[str, dict[str, Any]] | None:
    path = DATA_DIR / COMPILED
    if not path.is_file():
        return None
    import json

    data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


@functools.cache
def load_topic(topic: str, table: str) -> tuple[Row, ...]:
    """The rows of ``table`` in topic ``topic``.

    From the compiled snapshot when there is one (its agreement with the checked TOML files is
    itself checked by ``kb check`` and the tests), else from the TOML, checked row by row.
    """
    compiled = _compiled()
    if compiled is not None and topic in compiled:
        if table not in {t.name for t in TOPIC_BY_NAME[topic].tables}:
            raise KnowledgeBaseError(f"{topic}.toml: no table {table!r} in its schema")
        return tuple(compiled[topic].get(table, []))
    return validated_rows(topic, table, read_source(topic))


def read_source(topic: str) -> dict[str, Any]:
    """A topic as its TOML file holds it (the compiled snapshot is not consulted)."""
    path = DATA_DIR / f"{topic}.toml"
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name}: {exc}") from None


def source_rows(topic: str, table: str) -> tuple[Row, ...]:
    """Like ``load_topic``, from the TOML file itself (for ``kb check``)."""
    return validated_rows(topic, table, read_source(topic))


def validated_rows(topic: str, table: str, data: dict[str, Any]) -> tuple[Row, ...]:
    if topic not in TOPIC_BY_NAME:
        raise KnowledgeBaseError(f"no topic {topic!r}")
    schema = next((t for t in TOPIC_BY_NAME[topic].tables if t.name == table), None)
    if schema is None:
        raise KnowledgeBaseError(f"{topic}.toml: no table {table!r} in its schema")
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


def compile_sources() -> str:
    """Every topic's TOML as one JSON document, for ``data/compiled.json``."""
    import json

    from envdoctor.kb.schema import TOPICS

    document = {topic.name: read_source(topic.name) for topic in TOPICS}
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def clear_caches() -> None:
    """Forget loaded data (tests point DATA_DIR elsewhere)."""
    _compiled.cache_clear()
    load_topic.cache_clear()
