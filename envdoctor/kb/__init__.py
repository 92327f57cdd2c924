"""The knowledge base: cited compatibility facts, kept as TOML data files in ``kb/data``.

One topic a file; every row carries ``source`` (the URL it was read from) and ``checked`` (the
date it was read), and fits its table's schema (``kb/schema.py``). Code asks this module for
rows; no version table lives in Python.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, NamedTuple

from envdoctor.kb.schema import TOPIC_BY_NAME, RowError
from envdoctor.tomlcompat import tomllib

DATA_DIR = Path(__file__).parent / "data"
# Every topic file, parsed, in one JSON document: reading it is thirty times faster than parsing
# the TOML, which matters for a command run in every commit hook. ``ci/kb-compile`` writes it;
# a test fails when it no longer matches the TOML files, which remain the source. A large topic
# (one with ``split_by``) is compiled one file per package under COMPILED_DIR/<topic>/ instead,
# so that an audit parses only the packages it judges, each table as a ``Table``.
COMPILED = "compiled.json"
COMPILED_DIR = "compiled"
# The newest ``checked`` date of every row, which each lockfile's header states: reading it from
# one small file spares a lock loading every table for one date.
NEWEST_CHECKED = f"{COMPILED_DIR}/newest-checked.txt"

Row = dict[str, Any]


class Table(NamedTuple):
    """One package's rows of a split topic's table, as its compiled file holds them: each field's
    distinct values once (``values``, by column), and each row as the index of its value in each
    column, None where the row has no such field. Thousands of releases share a few Requires-Python
    texts, platform lists and glibc floors: a reader converts each once, not once a row, and the
    file parses in about half the time of one object a row."""

    columns: tuple[str, ...]
    values: tuple[list[Any], ...]
    rows: list[list[int | None]]

    def column(self, field: str) -> int | None:
        return self.columns.index(field) if field in self.columns else None

    def dicts(self) -> tuple[Row, ...]:
        """The rows as the TOML file writes them (fields in name order)."""
        named = tuple(zip(self.columns, self.values, strict=True))
        return tuple(
            {field: values[index] for (field, values), index in zip(named, row, strict=True) if index is not None}
            for row in self.rows
        )


EMPTY_TABLE = Table((), (), [])


def encode_table(rows: tuple[Row, ...] | list[Row]) -> Table:
    """Rows as a ``Table``: columns in name order, values in the order rows first use them."""
    import json

    columns = tuple(sorted({field for row in rows for field in row}))
    values: tuple[list[Any], ...] = tuple([] for _ in columns)
    seen: tuple[dict[str, int], ...] = tuple({} for _ in columns)
    encoded: list[list[int | None]] = []
    for row in rows:
        indexes: list[int | None] = []
        for field, known, found in zip(columns, values, seen, strict=True):
            if field not in row:
                indexes.append(None)
                continue
            key = f"{type(row[field]).__name__} {json.dumps(row[field], sort_keys=True, default=str)}"
            if key not in found:
                found[key] = len(known)
                known.append(row[field])
            indexes.append(found[key])
        encoded.append(indexes)
    return Table(columns, values, encoded)


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
    if _split_by(topic) is not None and _compiled_folder(topic) is not None:
        # By package name: a set's order would change with each run's string hashing.
        return tuple(row for package in sorted(topic_packages(topic)) for row in package_rows(topic, table, package))
    compiled = _compiled()
    if compiled is not None and topic in compiled:
        if table not in {t.name for t in TOPIC_BY_NAME[topic].tables}:
            raise KnowledgeBaseError(f"{topic}.toml: no table {table!r} in its schema")
        return tuple(compiled[topic].get(table, []))
    return validated_rows(topic, table, read_source(topic))


def _split_by(topic: str) -> str | None:
    return TOPIC_BY_NAME[topic].split_by if topic in TOPIC_BY_NAME else None


@functools.cache
def _compiled_folder(topic: str) -> str | None:
    """COMPILED_DIR/<topic>/ as a path string, or None when the topic is not compiled that way."""
    folder = DATA_DIR / COMPILED_DIR / topic
    return str(folder) if folder.is_dir() else None


@functools.cache
def topic_packages(topic: str) -> frozenset[str]:
    """The packages a split topic has rows for (the names of its compiled files)."""
    folder = _compiled_folder(topic)
    if folder is None:
        tables = TOPIC_BY_NAME[topic].tables
        return frozenset(package for table in tables for package in _source_tables(topic, table.name))
    return frozenset(name.removesuffix(".json") for name in os.listdir(folder) if name.endswith(".json"))


@functools.cache
def package_rows(topic: str, table: str, package: str) -> tuple[Row, ...]:
    """The rows of a split topic's table for one package (canonical name), reading only its file."""
    return package_table(topic, table, package).dicts()


@functools.cache
def package_table(topic: str, table: str, package: str) -> Table:
    """Like ``package_rows``, as a ``Table``: what a reader of thousands of rows converts once a value."""
    import json

    folder = _compiled_folder(topic)
    if folder is None:
        return _source_tables(topic, table).get(package, EMPTY_TABLE)
    if package not in topic_packages(topic):
        return EMPTY_TABLE  # most packages of a large set are not tracked: no file to try
    # Read as bytes (json reads UTF-8 itself): an audit opens dozens of these, and text decoding
    # costs more than the parse of a small file.
    with open(os.path.join(folder, f"{package}.json"), "rb") as handle:
        document: dict[str, dict[str, Any]] = json.loads(handle.read())
    found = document.get(table)
    if found is None:
        return EMPTY_TABLE
    return Table(tuple(found["columns"]), tuple(found["values"]), found["rows"])


@functools.cache
def _source_tables(topic: str, table: str) -> dict[str, Table]:
    """A split topic's table from its TOML file, by package: parsed and checked once, not once a
    package (without the compiled files, an audit of a dozen packages parsed it a dozen times)."""
    field = _split_by(topic) or ""
    grouped: dict[str, list[Row]] = {}
    for row in validated_rows(topic, table, read_source(topic)):
        grouped.setdefault(str(row[field]), []).append(row)
    return {package: encode_table(rows) for package, rows in grouped.items()}


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


def compile_sources() -> dict[str, str]:
    """Every topic's TOML as the compiled files: COMPILED for most, one file per package under
    COMPILED_DIR/<topic>/ for a split topic. Keys are paths relative to DATA_DIR."""
    import json

    from envdoctor.kb.schema import TOPICS

    def dump(document: object) -> str:
        return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"

    files: dict[str, str] = {}
    whole: dict[str, Any] = {}
    dates = []
    for topic in TOPICS:
        data = read_source(topic.name)
        dates += [_newest_date(data.get(table.name, [])) for table in topic.tables]
        if topic.split_by is None:
            whole[topic.name] = data
            continue
        by_package: dict[str, dict[str, list[Row]]] = {}
        for table in topic.tables:
            for row in data.get(table.name, []):
                by_package.setdefault(str(row[topic.split_by]), {}).setdefault(table.name, []).append(row)
        for package, document in by_package.items():
            tables = {name: encode_table(rows) for name, rows in document.items()}
            files[f"{COMPILED_DIR}/{topic.name}/{package}.json"] = _dump_tables(tables)
    files[COMPILED] = dump(whole)
    files[NEWEST_CHECKED] = max(dates, default="-") + "\n"
    return files


def _newest_date(rows: list[Row]) -> str:
    return max((str(row["checked"]) for row in rows), default="-")


def newest_checked() -> str:
    """The most recent date on which a fact of the base was read from its source."""
    path = DATA_DIR / NEWEST_CHECKED
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    from envdoctor.kb.schema import TOPICS

    return max((_newest_date(list(load_topic(t.name, table.name))) for t in TOPICS for table in t.tables), default="-")


def _dump_tables(tables: dict[str, Table]) -> str:
    """A split topic's file: one line per column's values and per row, so that a change to the
    TOML shows as a change to the lines of the rows it touched."""
    import json

    def line(value: object) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)

    parts = []
    for name in sorted(tables):
        table = tables[name]
        values = ",\n".join(f"   {line(column)}" for column in table.values)
        rows = ",\n".join(f"   {line(row)}" for row in table.rows)
        parts.append(
            f' {line(name)}: {{\n  "columns": {line(list(table.columns))},\n'
            f'  "values": [\n{values}\n  ],\n  "rows": [\n{rows}\n  ]\n }}'
        )
    return "{\n" + ",\n".join(parts) + "\n}\n"


def compiled_files() -> dict[str, str]:
    """The compiled files as they are on disk, keyed like ``compile_sources``."""
    found = {}
    if (DATA_DIR / COMPILED).is_file():
        found[COMPILED] = (DATA_DIR / COMPILED).read_text(encoding="utf-8")
    for path in sorted((DATA_DIR / COMPILED_DIR).glob("*/*.json")):
        found[path.relative_to(DATA_DIR).as_posix()] = path.read_text(encoding="utf-8")
    if (DATA_DIR / NEWEST_CHECKED).is_file():
        found[NEWEST_CHECKED] = (DATA_DIR / NEWEST_CHECKED).read_text(encoding="utf-8")
    return found


def clear_caches() -> None:
    """Forget loaded data (tests point DATA_DIR elsewhere)."""
    _compiled.cache_clear()
    load_topic.cache_clear()
    _compiled_folder.cache_clear()
    topic_packages.cache_clear()
    package_rows.cache_clear()
    package_table.cache_clear()
    _source_tables.cache_clear()
