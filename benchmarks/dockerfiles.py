"""The Dockerfile reader over real Dockerfiles of public ML projects: what it follows, what it cannot.

Every folder of tests/fixtures/dockerfiles/ (listed with its provenance in its PROVENANCE.md) holds
one real Dockerfile and, for some, the files of its build context it installs from. Each is copied
to a temporary folder (so that nothing of this checkout can pass for its build context) and:

  (a) audited against one host, ``envdoctor audit Dockerfile --os linux --arch x86_64 --python 3.11
      --driver 535.104.05 --gpu 8.0 --format json``: its exit status and findings by severity. An
      exit 2 (unreadable input) or 3 (internal error) is a defect of the reader, listed with its line;
  (b) read with ``parse_dockerfile``: the install commands it followed (pip install and wheel, uv pip
      install and sync, uv sync and run, conda/mamba/micromamba installs, setup.py installs), how
      many were read whole, and for those that were not, why, by kind.

Prints a row per Dockerfile, then the totals. Exits 0 whatever the audits say; --strict exits 1
when any audit exits 2 or 3.

    python benchmarks/dockerfiles.py [--json FILE] [--strict]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "dockerfiles"
HOST = ("--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "535.104.05", "--gpu", "8.0")


class Result(NamedTuple):
    name: str
    exit_code: int
    stderr: str
    severities: dict[str, int]
    # (command, location line, kinds of what was not read) per install command followed
    followed: list[tuple[str, int | None, tuple[str, ...]]]
    requirements: int
    unread_notes: int


def folders() -> list[Path]:
    return sorted(path for path in FIXTURES.iterdir() if (path / "Dockerfile").is_file())


def audit(folder: Path) -> Result:
    sys.path.insert(0, str(ROOT))
    from envdoctor.cli import main
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.dockerfile import parse_dockerfile

    with tempfile.TemporaryDirectory() as temporary:
        copy = Path(temporary) / folder.name
        shutil.copytree(folder, copy)
        previous = Path.cwd()
        out, err = io.StringIO(), io.StringIO()
        try:
            os.chdir(copy)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(["audit", "Dockerfile", *HOST, "--format", "json"])
                except Exception as exc:  # main turns every error into a status; one that escapes is a defect
                    print(f"escaped main: {type(exc).__name__}: {exc}", file=sys.stderr)
                    code = 3
            try:
                read = parse_dockerfile(read_text_input("Dockerfile"), "Dockerfile")
                followed = [(f.command, f.location.line, f.unread) for f in read.followed]
                requirements, notes = len(dict.fromkeys(read.requirements)), len(dict.fromkeys(read.unread))
            except Exception:  # the audit above says why
                followed, requirements, notes = [], 0, 0
        finally:
            os.chdir(previous)
    severities: dict[str, int] = {}
    with contextlib.suppress(ValueError, AttributeError):
        severities = dict(json.loads(out.getvalue())["summary"])
    return Result(folder.name, code, err.getvalue(), severities, followed, requirements, notes)


def report(results: list[Result]) -> dict[str, Any]:
    commands: Counter[str] = Counter()
    whole: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for result in results:
        for command, _, unread in result.followed:
            commands[command] += 1
            if not unread:
                whole[command] += 1
            kinds.update(unread)
    followed = sum(commands.values())
    return {
        "dockerfiles": len(results),
        "exits": dict(sorted(Counter(r.exit_code for r in results).items())),
        "defects": [f"{r.name}: exit {r.exit_code}: {r.stderr.strip()[:200]}" for r in results if r.exit_code > 1],
        "commands_followed": followed,
        "commands_read_whole": sum(whole.values()),
        "commands_with_unread_parts": followed - sum(whole.values()),
        "by_command": {name: {"followed": n, "read_whole": whole[name]} for name, n in commands.most_common()},
        "unread_by_kind": dict(kinds.most_common()),
        "requirements_read": sum(r.requirements for r in results),
        "not_judged_notes": sum(r.unread_notes for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures as JSON to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any audit exits 2 or 3")
    args = parser.parse_args(argv)
    results = [audit(folder) for folder in folders()]
    print(f"{'Dockerfile':32} exit  err warn info  commands  read whole  requirements  not-judged")
    for r in results:
        whole = sum(1 for _, _, unread in r.followed if not unread)
        s = r.severities
        print(
            f"{r.name:32} {r.exit_code:>4} {s.get('error', 0):>4} {s.get('warning', 0):>4} {s.get('info', 0):>4}"
            f"  {len(r.followed):>8}  {whole:>10}  {r.requirements:>12}  {r.unread_notes:>10}"
        )
    figures = report(results)
    print()
    print(f"Dockerfiles audited: {figures['dockerfiles']}; exit statuses: {figures['exits']}")
    for defect in figures["defects"]:
        print(f"  DEFECT {defect}")
    print(
        f"install commands followed: {figures['commands_followed']}; read whole: {figures['commands_read_whole']}; "
        f"with a part not read (one not-judged note each): {figures['commands_with_unread_parts']}"
    )
    for name, counts in figures["by_command"].items():
        print(f"  {name:24} followed {counts['followed']:>4}, read whole {counts['read_whole']:>4}")
    print("why a part was not read (a command may have several):")
    for kind, count in figures["unread_by_kind"].items():
        print(f"  {count:>4}  {kind}")
    print(f"requirements read: {figures['requirements_read']}; not-judged notes: {figures['not_judged_notes']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 1 if args.strict and figures["defects"] else 0


if __name__ == "__main__":
    sys.exit(main())
