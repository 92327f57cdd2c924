"""``envdoctor kb``: what the knowledge base knows, where each fact comes from, and whether it holds."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.kb import Row, load_topic, package_rows, topic_packages
from envdoctor.kb.schema import TOPIC_BY_NAME, TOPICS, Table, Topic
from envdoctor.safety import quote

EXIT_OK, EXIT_PROBLEMS = 0, 1
# --format json of each action: a "schema" key first, then the fields documented in the README.
SCHEMAS = {"list": "envdoctor.kb-list/1", "show": "envdoctor.kb-show/1", "check": "envdoctor.kb-check/1"}
# Longer than any release number the knowledge base holds, with room to spare.
MAX_VERSION_CHARS = 100


def run(args: argparse.Namespace) -> int:
    style = Style(use_color(args.color, sys.stdout))
    if args.kb_command == "list":
        return _list(args.format)
    if args.kb_command == "show":
        return _show(args.topic, args.key, args.format, style)
    return _check(style, args.format)


def _newest(topic: Topic) -> str:
    """The newest release a topic knows, from the version-valued key of its first table."""
    table = topic.tables[0]
    if table.required.get(table.key) != "version":
        return "-"
    versions = [Version(row[table.key]) for row in load_topic(topic.name, table.name)]
    return str(max(versions)) if versions else "-"


@dataclass(frozen=True)
class _TopicSummary:
    topic: str
    title: str
    rows: int
    newest_checked: str
    newest_release: str


@dataclass(frozen=True)
class _PackageSummary:
    name: str  # as on the index (normalized)
    newest_release: str
    checked: str


def _packages() -> list[_PackageSummary]:
    """Every package the releases topic tracks: the newest final release it knows and the date
    that was read from the index."""
    summary = []
    for name in sorted(topic_packages("releases")):
        rows = package_rows("releases", "release", name)
        newest = max(rows, key=lambda row: Version(str(row["version"])), default=None)
        if newest is not None:
            summary.append(_PackageSummary(name, str(newest["version"]), str(newest["checked"])))
    return summary


def _list(output_format: str) -> int:
    summary = []
    for topic in TOPICS:
        rows = [row for table in topic.tables for row in load_topic(topic.name, table.name)]
        newest_checked = max((str(row["checked"]) for row in rows), default="-")
        summary.append(_TopicSummary(topic.name, topic.title, len(rows), newest_checked, _newest(topic)))
    total = sum(item.rows for item in summary)
    packages = _packages()
    if output_format == "json":
        document = {
            "schema": SCHEMAS["list"],
            "topics": [asdict(item) for item in summary],
            "rows": total,
            "packages": [asdict(item) for item in packages],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return EXIT_OK
    print(f"{'topic':<18} {'rows':>5}  {'checked':<10}  {'newest':<10}  about")
    for item in summary:
        print(f"{item.topic:<18} {item.rows:>5}  {item.newest_checked:<10}  {item.newest_release:<10}  {item.title}")
    print(f"{'total':<18} {total:>5}")
    checked = max((item.checked for item in packages), default="-")
    print(f"{len(packages)} tracked packages, releases read from the index {checked} (--format json lists them)")
    return EXIT_OK


def _as_version(key: str) -> Version | None:
    """``key`` as a version, if it is one; a key too long to be one (5,000 digits would pass
    the grammar and fail in ``int``) is not."""
    if len(key) > MAX_VERSION_CHARS:
        return None
    try:
        return Version(key)
    except (InvalidVersion, ValueError):
        return None


def _matches(table: Table, row: Row, key: str, version: Version | None) -> bool:
    """Whether a row is about ``key``: a field equal to it, a version equal to it, a range
    holding it, or (for the table's key field) text containing it."""
    kinds = {**table.required, **table.optional}
    for name, value in row.items():
        if name in ("source", "checked"):
            continue
        if isinstance(value, list):
            if key in value:
                return True
            continue
        if not isinstance(value, str):
            continue
        if value.lower() == key.lower() or (name == table.key and key.lower() in value.lower()):
            return True
        kind = kinds.get(name)
        if version is not None and kind == "version" and Version(value) == version:
            return True
        if version is not None and kind == "specifier" and SpecifierSet(value).contains(version, prereleases=True):
            return True
    return False


def _show(topic_name: str, key: str | None, output_format: str, style: Style) -> int:
    topic = TOPIC_BY_NAME.get(topic_name)
    if topic is None:
        raise UsageError(f"no topic {quote(topic_name)}; topics: {', '.join(TOPIC_BY_NAME)}")
    version = _as_version(key) if key is not None else None
    shown: list[dict[str, Any]] = []
    for table in topic.tables:
        for row in load_topic(topic.name, table.name):
            if key is None or _matches(table, row, key, version):
                shown.append({"table": table.name, **{k: str(v) if k == "checked" else v for k, v in row.items()}})
    if output_format == "json":
        document = {"schema": SCHEMAS["show"], "topic": topic.name, "key": key, "rows": shown}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return EXIT_OK
    if not shown:
        print(f"{topic.name}: no row matches {quote(key or '', 100)}")
        return EXIT_OK
    for row in shown:
        facts = ", ".join(f"{k}={_value(v)}" for k, v in row.items() if k not in ("table", "source", "checked"))
        print(f"{style(topic.name + '.' + row['table'], 'bold')}: {facts}")
        print(f"  {style('source', 'dim')}: {row['source']} (checked {row['checked']})")
    return EXIT_OK


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _check(style: Style, output_format: str = "text") -> int:
    from envdoctor.kb.check import problems

    found = problems()
    # Rows are counted only in a base that loads (a problem may be a row that does not).
    total = None if found else sum(len(load_topic(t.name, table.name)) for t in TOPICS for table in t.tables)
    if output_format == "json":
        document = {"schema": SCHEMAS["check"], "rows": total, "topics": len(TOPICS), "problems": found}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return EXIT_PROBLEMS if found else EXIT_OK
    if found:
        for problem in found:
            print(f"{style('error', 'red', 'bold')}: {problem}")
        print(f"knowledge base: {len(found)} problem(s)")
        return EXIT_PROBLEMS
    print(f"knowledge base: {total} rows in {len(TOPICS)} topics, every row cited and consistent")
    return EXIT_OK
