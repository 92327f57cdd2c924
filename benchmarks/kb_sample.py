"""A seeded random sample of knowledge-base rows, for re-checking by hand against their sources.

Reads every topic's TOML as committed at a git revision (default HEAD; ``--worktree`` reads the
files on disk instead), checks each table's rows with the project's own loader
(``envdoctor.kb.validated_rows``), and draws ``--floor`` rows from each topic (all of a smaller
one), so that every topic is represented, and the rest of ``--total`` in proportion to the
topics' sizes (see ``allocation``). Prints one line a row: topic, table, the row's number in its
table (1-based, in file order), its fields (long texts shortened), source and checked date; with
``--json``, one object a row with every field in full. The same seed and revision always give the
same sample.

``--table TOPIC`` or ``--table TOPIC.TABLE`` (repeatable) keeps only those tables' rows;
``--added-since OLD`` keeps only the rows that are not at revision OLD: a row counts as old when the
same table at OLD has a row with the same fields, ``checked`` aside (a re-dated row is not new; a
row whose value or source changed is). Both narrow the population before the floors are applied.

    python benchmarks/kb_sample.py [--seed N] [--total K] [--floor F] [--rev REV | --worktree] [--json]
                                   [--table TOPIC[.TABLE] ...] [--added-since OLD]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envdoctor.kb import DATA_DIR, KnowledgeBaseError, Row, read_source, validated_rows  # noqa: E402
from envdoctor.kb.schema import TOPICS  # noqa: E402
from envdoctor.tomlcompat import tomllib  # noqa: E402

DEFAULT_SEED = 2026120
SHORTEN = 70  # long free-text fields (messages, notes) are cut to this many characters


def committed_topic(topic: str, rev: str) -> dict[str, Any]:
    """A topic's TOML as committed at ``rev`` (empty when the file is not in that commit)."""
    path = (DATA_DIR / f"{topic}.toml").relative_to(ROOT).as_posix()
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True, check=False)
    if shown.returncode != 0:
        return {}
    data: dict[str, Any] = tomllib.loads(shown.stdout.decode("utf-8"))
    return data


def population(rev: str | None) -> dict[str, list[tuple[str, int, Row]]]:
    """Every row of every topic, as (table, number in its table, row), by topic."""
    rows: dict[str, list[tuple[str, int, Row]]] = {}
    for topic in TOPICS:
        data = read_source(topic.name) if rev is None else committed_topic(topic.name, rev)
        rows[topic.name] = [
            (table.name, number, row)
            for table in topic.tables
            for number, row in enumerate(validated_rows(topic.name, table.name, data), start=1)
        ]
    return rows


def selected(rows: dict[str, list[tuple[str, int, Row]]], tables: list[str]) -> dict[str, list[tuple[str, int, Row]]]:
    """Only the rows of the named tables (``topic`` names all of a topic's tables); none named: all."""
    if not tables:
        return rows
    known = {topic.name for topic in TOPICS} | {
        f"{topic.name}.{table.name}" for topic in TOPICS for table in topic.tables
    }
    unknown = sorted(set(tables) - known)
    if unknown:  # a misspelt table would silently sample nothing from it
        raise KnowledgeBaseError(f"no such topic or table: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return {
        name: [entry for entry in found if name in tables or f"{name}.{entry[0]}" in tables]
        for name, found in rows.items()
    }


def _identity(table: str, row: Row) -> str:
    """What makes two rows of a table the same row for ``--added-since``: every field but ``checked``."""
    return table + json.dumps(
        {field: value for field, value in row.items() if field != "checked"}, sort_keys=True, default=str
    )


def added(
    rows: dict[str, list[tuple[str, int, Row]]], old: dict[str, list[tuple[str, int, Row]]]
) -> dict[str, list[tuple[str, int, Row]]]:
    """The rows not in ``old``, matched as a multiset (two equal new rows beside one old one: one is new)."""
    kept: dict[str, list[tuple[str, int, Row]]] = {}
    for name, found in rows.items():
        before = Counter(_identity(table, row) for table, _, row in old.get(name, []))
        kept[name] = []
        for entry in found:
            identity = _identity(entry[0], entry[2])
            if before[identity] > 0:
                before[identity] -= 1
            else:
                kept[name].append(entry)
    return kept


def allocation(sizes: dict[str, int], total: int, floor: int) -> dict[str, int]:
    """Rows to draw per topic: ``floor`` from each (all of a smaller topic), then what is left of
    ``total`` shared in proportion to the topics' sizes (largest remainder first, ties in topic
    order), never more than a topic has. So every topic is represented, and the sample is
    ``total`` rows whenever the floors leave room."""
    counts = {name: min(size, floor) for name, size in sizes.items()}
    left = total - sum(counts.values())
    spare = {name: size - counts[name] for name, size in sizes.items()}
    whole = sum(spare.values())
    if left <= 0 or whole == 0:
        return counts
    shares = {name: left * size / whole for name, size in spare.items()}
    for name, share in shares.items():
        counts[name] += min(spare[name], int(share))
    order = sorted(sizes, key=lambda name: -(shares[name] - int(shares[name])))  # stable: ties keep topic order
    while sum(counts.values()) < min(total, sum(sizes.values())):
        grown = False
        for name in order:
            if sum(counts.values()) >= total:
                break
            if counts[name] < sizes[name]:
                counts[name] += 1
                grown = True
        if not grown:
            break
    return counts


def shown(row: Row, key: str) -> str:
    """A row's fields but source and checked, its key first, long texts shortened."""
    parts = []
    for field in [key, *sorted(set(row) - {key, "source", "checked"})]:
        value = row[field]
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > SHORTEN:
            text = text[: SHORTEN - 3] + "..."
        parts.append(f"{field}={text}")
    return " ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--total", type=int, default=60, help="rows to share out by topic size (default 60)")
    parser.add_argument("--floor", type=int, default=3, help="least rows from each topic (default 3)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--rev", default="HEAD", help="git revision whose TOML files are sampled (default HEAD)")
    where.add_argument("--worktree", action="store_true", help="sample the TOML files on disk, not a commit")
    parser.add_argument("--json", action="store_true", help="one JSON object a row, with every field in full")
    parser.add_argument(
        "--table", action="append", default=[], metavar="TOPIC[.TABLE]", help="sample only these (repeatable)"
    )
    parser.add_argument("--added-since", metavar="OLD", help="sample only rows not present at revision OLD")
    arguments = parser.parse_args()
    rev = None if arguments.worktree else _resolved(arguments.rev)
    rows = selected(population(rev), arguments.table)
    since = None if arguments.added_since is None else _resolved(arguments.added_since)
    if since is not None:
        rows = added(rows, population(since))
    counts = allocation({name: len(found) for name, found in rows.items()}, arguments.total, arguments.floor)
    keys = {(topic.name, table.name): table.key for topic in TOPICS for table in topic.tables}
    chooser = random.Random(arguments.seed)
    commit = "worktree" if rev is None else rev
    header = (
        f"# seed {arguments.seed}, revision {commit}, {sum(counts.values())} of {sum(map(len, rows.values()))} rows"
    )
    if arguments.table:
        header += f", tables {' '.join(arguments.table)}"
    if since is not None:
        header += f", only rows added since {since}"
    print(header, file=sys.stderr if arguments.json else sys.stdout)  # --json: every stdout line parses
    number = 0
    for topic in TOPICS:  # in schema order, each topic's rows in file order: stable across runs
        found = rows[topic.name]
        picked = sorted(chooser.sample(range(len(found)), counts[topic.name]))
        for index in picked:
            table, position, row = found[index]
            number += 1
            if arguments.json:
                print(
                    json.dumps({"n": number, "topic": topic.name, "table": table, "row": position, **row}, default=str)
                )
                continue
            print(
                f"{number:3d} {topic.name} [[{table}]] #{position} {shown(row, keys[topic.name, table])}"
                f" | {row['source']} | {row['checked']}"
            )
    return 0


def _resolved(rev: str) -> str:
    """The commit a revision names; an unknown revision is an error, not an empty sample."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise KnowledgeBaseError(f"no commit {rev!r} in {ROOT}")
    return found.stdout.strip()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KnowledgeBaseError, tomllib.TOMLDecodeError) as exc:  # a broken topic file: one line, not a traceback
        print(f"kb_sample: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # piped into head
        sys.exit(0)
