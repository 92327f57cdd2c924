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
# a test fails when it no longer matches the TOML files, which remain the source. A large topic
# (one with ``split_by``) is compiled one file per package under COMPILED_DIR/<topic>/ instead,
# so that an audit parses only the packages it judges.
COMPILED = "compiled.json"
COMPILED_DIR = "compiled"

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
    if _split_by(topic) is not None and (DATA_DIR / COMPILED_DIR / topic).is_dir():
        return tuple(row for package in topic_packages(topic) for row in package_rows(topic, table, package))
    compiled = _compiled()
    if compiled is not None and topic in compiled:
        if table not in {t.name for t in TOPIC_BY_NAME[topic].tables}:
            raise KnowledgeBaseError(f"{topic}.toml: no table {table!r} in its schema")
        return tuple(compiled[topic].get(table, []))
    return validated_rows(topic, table, read_source(topic))


def _split_by(topic: str) -> str | None:
    return TOPIC_BY_NAME[topic].split_by if topic in TOPIC_BY_NAME else None


@functools.cache
def topic_packages(topic: str) -> frozenset[str]:
    """The packages a split topic has rows for (the names of its compiled files)."""
    folder = DATA_DIR / COMPILED_DIR / topic
    if not folder.is_dir():
        return frozenset(str(row[_split_by(topic) or ""]) for row in _all_source_rows(topic))
    return frozenset(path.name.removesuffix(".json") for path in folder.glob("*.json"))


@functools.cache
def package_rows(topic: str, table: str, package: str) -> tuple[Row, ...]:
    """The rows of a split topic's table for one package (canonical name), reading only its file."""
    import json

    path = DATA_DIR / COMPILED_DIR / topic / f"{package}.json"
    if not (DATA_DIR / COMPILED_DIR / topic).is_dir():
        field = _split_by(topic)
        return tuple(row for row in validated_rows(topic, table, read_source(topic)) if row[field or ""] == package)
    if not path.is_file():
        return ()
    document: dict[str, list[Row]] = json.loads(path.read_text(encoding="utf-8"))
    return tuple(document.get(table, []))


def _all_source_rows(topic: str) -> list[Row]:
    data = read_source(topic)
    return [row for table in TOPIC_BY_NAME[topic].tables for row in validated_rows(topic, table.name, data)]


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
    for topic in TOPICS:
        data = read_source(topic.name)
        if topic.split_by is None:
            whole[topic.name] = data
            continue
        by_package: dict[str, dict[str, list[Row]]] = {}
        for table in topic.tables:
            for row in data.get(table.name, []):
                by_package.setdefault(str(row[topic.split_by]), {}).setdefault(table.name, []).append(row)
        for package, document in by_package.items():
            files[f"{COMPILED_DIR}/{topic.name}/{package}.json"] = dump(document)
    files[COMPILED] = dump(whole)
    return files


def compiled_files() -> dict[str, str]:
    """The compiled files as they are on disk, keyed like ``compile_sources``."""
    found = {}
    if (DATA_DIR / COMPILED).is_file():
        found[COMPILED] = (DATA_DIR / COMPILED).read_text(encoding="utf-8")
    for path in sorted((DATA_DIR / COMPILED_DIR).glob("*/*.json")):
        found[path.relative_to(DATA_DIR).as_posix()] = path.read_text(encoding="utf-8")
    return found


def clear_caches() -> None:
    """Forget loaded data (tests point DATA_DIR elsewhere)."""
    _compiled.cache_clear()
    load_topic.cache_clear()
    topic_packages.cache_clear()
    package_rows.cache_clear()
