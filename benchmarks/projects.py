"""The audit of real public ML projects against five hosts: what it says, per host and per project.

The projects' files are kept as fixtures with their provenance (tests/fixtures/projects/, listed in
its projects.json); the hosts are the profiles in tests/fixtures/projects/hosts/. Every project is
audited against every host with ``envdoctor audit FILES [ARGS] --host HOST --format json``, run
from the project's folder so that the report names files as the project does. Prints:

  (a) per host, per project: the audit's exit status and the number of findings by category;
  (b) how many projects get the same output on every host (the findings and the exit status;
      the report's ``host`` section is left out of the comparison, as it differs by definition);
  (c) totals of compatibility findings (every category but not-reproducible and not-judged)
      against not-reproducible and not-judged, per host and overall;
  (d) with --findings, every compatibility finding in full, to be read as right or wrong.

An audit that exits 2 (unreadable input) or 3 (internal error), or whose report is not the JSON
contract, is a defect of the audit: it is shown in the table and listed with its error line, never
dropped. This script exits 0 whatever the audit says. Only the JSON report (the contract in
DESIGN.md) is read, so the script keeps working while the rules change.

The audit runs in this process by default, through ``envdoctor.cli.main`` (the function the
``envdoctor`` command calls), which takes a few seconds for the whole matrix instead of one
interpreter start per audit; --subprocess runs ``.venv/bin/envdoctor`` instead, each audit in a
fresh process (slower; it also proves the installed entry point). The output is the same either way.

    python benchmarks/projects.py [--findings] [--json FILE] [--subprocess]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "projects"
MANIFEST = FIXTURES / "projects.json"
HOSTS = FIXTURES / "hosts"
ENVDOCTOR = ROOT / ".venv" / "bin" / "envdoctor"

# Categories that say nothing about whether the set works on the host.
NOT_COMPATIBILITY = ("not-reproducible", "not-judged")
# DESIGN.md's order; a category the audit adds later is shown after these, by name.
KNOWN_CATEGORIES = (
    "driver-too-old",
    "gpu-arch-unsupported",
    "cuda-mismatch",
    "companion-mismatch",
    "known-incompatibility",
    "unsatisfiable",
    "platform-unsupported",
    "python-unsupported",
    "gpu-unavailable",
    "image-bloat",
    "unsafe-artifact",
    "not-reproducible",
    "not-judged",
)
# Short column heads for the tables, so that a row fits in 120 columns.
SHORT = {
    "driver-too-old": "drv",
    "gpu-arch-unsupported": "arch",
    "cuda-mismatch": "cuda",
    "companion-mismatch": "comp",
    "known-incompatibility": "incompat",
    "unsatisfiable": "unsat",
    "platform-unsupported": "plat",
    "python-unsupported": "py",
    "gpu-unavailable": "nogpu",
    "image-bloat": "bloat",
    "unsafe-artifact": "unsafe",
    "not-reproducible": "repro",
    "not-judged": "notjdg",
}


class Project(NamedTuple):
    name: str
    files: tuple[str, ...]
    args: tuple[str, ...]


class Outcome(NamedTuple):
    """One audit: its exit status, what it printed, and the report if stdout held one."""

    project: str
    host: str
    exit_code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    @property
    def findings(self) -> list[dict[str, Any]]:
        if self.report is None:
            return []
        found = self.report.get("findings")
        return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []

    @property
    def defect(self) -> str | None:
        """Why this audit is a defect of the audit itself, or None."""
        if self.exit_code not in (0, 1):
            kind = {2: "unreadable input or bad usage", 3: "internal error"}.get(self.exit_code, "unexpected status")
            return f"exit {self.exit_code} ({kind}): {first_line(self.stderr)}"
        if self.report is None:
            return f"exit {self.exit_code} without a JSON report: {first_line(self.stderr or self.stdout)}"
        return None


def first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(nothing printed)"


def load_projects(manifest: Path = MANIFEST) -> list[Project]:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    projects = [Project(p["name"], tuple(p["files"]), tuple(p.get("args", ()))) for p in data["projects"]]
    return sorted(projects, key=lambda project: project.name)


def host_files(folder: Path = HOSTS) -> list[Path]:
    return sorted(folder.glob("*.json"))


def audit_argv(project: Project, host: Path) -> list[str]:
    # The host is named relative to the project's folder, so no absolute path of this checkout
    # can reach the report.
    relative_host = os.path.relpath(host, FIXTURES / project.name)
    return ["audit", *project.files, *project.args, "--host", relative_host, "--format", "json"]


def run_in_process(argv: Sequence[str], cwd: Path) -> tuple[int, str, str]:
    """``envdoctor.cli.main(argv)`` run in ``cwd``: its status, stdout and stderr. An exception that
    escapes main (main turns every one into status 3, so this is itself a defect) is status 3 too."""
    from envdoctor.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 2
            except Exception as exc:  # reported as a defect, not hidden
                print(f"escaped envdoctor.cli.main: {type(exc).__name__}: {exc}", file=sys.stderr)
                code = 3
    finally:
        os.chdir(previous)
    return code, out.getvalue(), err.getvalue()


def run_subprocess(argv: Sequence[str], cwd: Path) -> tuple[int, str, str]:
    """The installed command in a fresh process (``python -m envdoctor`` where this checkout has no
    .venv); one that cannot start or runs past five minutes is a defect with status 3."""
    command = [str(ENVDOCTOR)] if ENVDOCTOR.exists() else [sys.executable, "-m", "envdoctor"]
    try:
        done = subprocess.run([*command, *argv], check=False, cwd=cwd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 3, "", f"could not run {command[0]}: {type(exc).__name__}: {exc}"
    return done.returncode, done.stdout, done.stderr


def audit(project: Project, host: Path, in_process: bool = True) -> Outcome:
    argv = audit_argv(project, host)
    cwd = FIXTURES / project.name
    code, stdout, stderr = run_in_process(argv, cwd) if in_process else run_subprocess(argv, cwd)
    report: dict[str, Any] | None = None
    with contextlib.suppress(ValueError):
        parsed = json.loads(stdout)
        report = parsed if isinstance(parsed, dict) else None
    return Outcome(project.name, host.stem, code, stdout, stderr, report)


def run_matrix(projects: Iterable[Project], hosts: Sequence[Path], in_process: bool = True) -> list[Outcome]:
    return [audit(project, host, in_process) for project in projects for host in hosts]


def is_compatibility(finding: dict[str, Any]) -> bool:
    return finding.get("category") not in NOT_COMPATIBILITY


def categories_seen(outcomes: Iterable[Outcome]) -> list[str]:
    seen = {str(f.get("category")) for outcome in outcomes for f in outcome.findings}
    known = [c for c in KNOWN_CATEGORIES if c in seen]
    return known + sorted(seen - set(KNOWN_CATEGORIES))


def status(outcome: Outcome) -> str:
    if outcome.defect is not None:
        return {2: "EXIT 2", 3: "CRASH 3"}.get(outcome.exit_code, f"BAD {outcome.exit_code}")
    return str(outcome.exit_code)


def table(rows: Sequence[Sequence[str]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        yield "  ".join(cells).rstrip()
        if index == 0:
            yield "  ".join("-" * width for width in widths)


def host_table(host: str, outcomes: Sequence[Outcome]) -> Iterator[str]:
    mine = [o for o in outcomes if o.host == host]
    columns = categories_seen(mine)
    head = ["project", "exit", "err", "warn", "info", *(SHORT.get(c, c) for c in columns), "total"]
    rows: list[list[str]] = [head]
    for outcome in mine:
        by_category = Counter(str(f.get("category")) for f in outcome.findings)
        by_severity = Counter(str(f.get("severity")) for f in outcome.findings)
        counts = [str(by_category[c]) if by_category[c] else "." for c in columns]
        severities = [str(by_severity[s]) for s in ("error", "warning", "info")]
        rows.append([outcome.project, status(outcome), *severities, *counts, str(len(outcome.findings))])
    yield f"## host {host}"
    yield from table(rows)


def comparable(outcome: Outcome) -> str:
    """What "the same output" means: the exit status and the findings (or the error printed)."""
    body: object = outcome.findings if outcome.report is not None else outcome.stderr
    return json.dumps([outcome.exit_code, body], sort_keys=True)


def same_everywhere(outcomes: Sequence[Outcome]) -> tuple[list[str], list[str], list[str]]:
    """Projects with one output on every host, those with several, and those not compared because
    an audit of theirs failed (five identical crashes are no answer)."""
    by_project: dict[str, set[str]] = {}
    failed = sorted({o.project for o in outcomes if o.defect is not None})
    for outcome in outcomes:
        if outcome.project not in failed:
            by_project.setdefault(outcome.project, set()).add(comparable(outcome))
    same = sorted(name for name, outputs in by_project.items() if len(outputs) == 1)
    differ = sorted(name for name, outputs in by_project.items() if len(outputs) > 1)
    return same, differ, failed


def kind_totals(outcomes: Iterable[Outcome]) -> Counter[str]:
    """Findings by kind; image-bloat, a compatibility category by the definition used here, is
    also counted on its own, since it says nothing about the host."""
    totals: Counter[str] = Counter()
    for outcome in outcomes:
        for finding in outcome.findings:
            category = str(finding.get("category"))
            totals[category if category in NOT_COMPATIBILITY else "compatibility"] += 1
            if category == "image-bloat":
                totals[category] += 1
    return totals


def totals_table(hosts: Sequence[str], outcomes: Sequence[Outcome]) -> Iterator[str]:
    kinds = ("compatibility", "image-bloat", *NOT_COMPATIBILITY)
    rows = [["host", "compatibility", "of which image-bloat", *NOT_COMPATIBILITY, "audit defects"]]
    for host in [*hosts, "all"]:
        mine = [o for o in outcomes if host in ("all", o.host)]
        totals = kind_totals(mine)
        defects = sum(1 for o in mine if o.defect is not None)
        rows.append([host, *(str(totals[k]) for k in kinds), str(defects)])
    distinct = {(o.project, finding_key(f)) for o in outcomes for f in o.findings if is_compatibility(f)}
    yield from table(rows)
    yield f"distinct compatibility findings (the same finding on several hosts counted once): {len(distinct)}"


def location_text(finding: dict[str, Any]) -> str:
    location = finding.get("location")
    if not isinstance(location, dict):
        return "-"
    line = location.get("line")
    return f"{location.get('path')}:{line}" if line is not None else str(location.get("path"))


def finding_key(finding: dict[str, Any]) -> str:
    """A finding without the host: the same key on two hosts is the same finding."""
    return json.dumps(finding, sort_keys=True)


def findings_listing(outcomes: Sequence[Outcome], hosts: Sequence[str]) -> Iterator[str]:
    """Every compatibility finding, each distinct one once with the hosts that got it, by project
    and by where it points, so that a reader judges each once."""
    seen: dict[tuple[str, str], list[str]] = {}
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for outcome in outcomes:
        for finding in outcome.findings:
            if is_compatibility(finding):
                key = (outcome.project, finding_key(finding))
                seen.setdefault(key, []).append(outcome.host)
                first.setdefault(key, finding)
    order = sorted(first, key=lambda key: (key[0], location_sort(first[key]), str(first[key].get("code")), key[1]))
    for number, key in enumerate(order, start=1):
        finding = first[key]
        on = seen[key]
        where = f"all {len(hosts)} hosts" if sorted(on) == sorted(hosts) else ", ".join(sorted(on))
        yield (
            f"{number}. {key[0]}: {finding.get('code')} {finding.get('severity')} {finding.get('category')} "
            f"at {location_text(finding)} [{where}]"
        )
        yield f"    message: {finding.get('message')}"
        packages = finding.get("packages")
        if packages:
            yield f"    packages: {', '.join(str(p) for p in packages)}"
        yield f"    fix: {finding.get('fix') or '-'}"


def location_sort(finding: dict[str, Any]) -> tuple[str, int]:
    location = finding.get("location")
    if not isinstance(location, dict):
        return ("", 0)
    line = location.get("line")
    return (str(location.get("path")), line if isinstance(line, int) else 0)


def render(outcomes: Sequence[Outcome], hosts: Sequence[str], with_findings: bool) -> Iterator[str]:
    projects = sorted({o.project for o in outcomes})
    yield f"# {len(projects)} projects x {len(hosts)} hosts ({len(outcomes)} audits)"
    yield "columns: exit status, findings by severity, then by category (. = none)"
    for host in hosts:
        yield ""
        yield from host_table(host, outcomes)
    same, differ, failed = same_everywhere(outcomes)
    yield ""
    yield f"## same output on every host: {len(same)} of {len(projects)} projects"
    yield f"same: {', '.join(same) or '-'}"
    yield f"differ: {', '.join(differ) or '-'}"
    yield f"not compared (an audit failed): {', '.join(failed) or '-'}"
    yield ""
    yield "## findings by kind (compatibility = every category but not-reproducible and not-judged)"
    yield from totals_table(hosts, outcomes)
    defects = [o for o in outcomes if o.defect is not None]
    yield ""
    yield f"## audits that failed (exit 2, exit 3, or no JSON report): {len(defects)}"
    for outcome in defects:
        yield f"[{outcome.host}] {outcome.project}: {outcome.defect}"
    if with_findings:
        yield ""
        yield "## every compatibility finding (each distinct one once, with the hosts that got it)"
        yield from findings_listing(outcomes, hosts)


def raw_results(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [
        {
            "project": o.project,
            "host": o.host,
            "exit_code": o.exit_code,
            "stderr": o.stderr,
            "report": o.report,
            "stdout": None if o.report is not None else o.stdout,
        }
        for o in outcomes
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--findings", action="store_true", help="list every compatibility finding in full")
    parser.add_argument("--json", metavar="FILE", type=Path, help="write the raw results (every report) to FILE")
    parser.add_argument("--subprocess", action="store_true", help=f"run {ENVDOCTOR.relative_to(ROOT)} per audit")
    args = parser.parse_args(argv)
    hosts = host_files()
    outcomes = run_matrix(load_projects(), hosts, in_process=not args.subprocess)
    for line in render(outcomes, [host.stem for host in hosts], args.findings):
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(raw_results(outcomes), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
