"""``envdoctor lock``: hash-pinned lockfiles per target, steered by the knowledge base."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envdoctor import api
from envdoctor.audit.result import AuditReport
from envdoctor.config import load_config
from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.host.select import hosts_from_args
from envdoctor.lock import LockOptions, default_inputs
from envdoctor.report import OutputFormat
from envdoctor.requirements import source_options
from envdoctor.safety import json_text, printable

EXIT_OK, EXIT_STALE = 0, 1


def run(args: argparse.Namespace) -> int:
    if args.resolve and not args.check:
        raise UsageError("--resolve goes with --check (envdoctor lock always resolves)")
    paths = list(args.files) or default_inputs()
    sources = source_options(args)
    options = LockOptions(
        output_dir=Path(args.output_dir),
        backend=args.backend,
        exclude_newer=args.exclude_newer,
        upgrade=tuple(args.upgrade_package or ()),
        pytorch_index=args.pytorch_index,
    )
    hosts = hosts_from_args(args, load_config(Path()).hosts)
    style = Style(use_color(args.color, sys.stdout))
    if args.check:
        checked = api.check_locks(paths, hosts=hosts, options=options, sources=sources, resolve=args.resolve)
        report = AuditReport(checked.targets, checked.inputs, ())
        if checked.refused:
            return _refused(args, report, checked.refused, style)
        return _check(args, report, checked.stale, style)
    result = api.lock(paths, hosts=hosts, options=options, sources=sources)
    if result.refused:
        return _refused(args, AuditReport(result.targets, result.inputs, ()), result.refused, style)
    if result.unresolved:
        findings = tuple(f for failure in result.unresolved for f in failure.findings)
        report = AuditReport(result.targets, result.inputs, findings)
        said = f"no lockfile written: {len(result.unresolved)} target(s) could not be resolved"
        if args.format == OutputFormat.JSON.value:
            unresolved = [failure.plan.host_name for failure in result.unresolved]
            sys.stdout.write(_json(report, style, {"written": [], "unresolved": unresolved}))
            print(said, file=sys.stderr)
            return EXIT_STALE
        sys.stdout.write(OutputFormat(args.format).render(report, style))
        # SARIF on stdout is a document for a machine: the sentence is for the person reading stderr.
        print(said, file=sys.stderr if args.format == OutputFormat.SARIF.value else sys.stdout)
        return EXIT_STALE
    if args.format == OutputFormat.JSON.value:
        report = AuditReport(result.targets, result.inputs, ())
        sys.stdout.write(_json(report, style, {"written": [printable(str(path)) for path in result.written]}))
        return EXIT_OK
    for path in result.written:
        print(f"wrote {printable(str(path))}")
    return EXIT_OK


def _refused(args: argparse.Namespace, report: AuditReport, reasons: tuple[str, ...], style: Style) -> int:
    """The knowledge base says no build works on a target: no lockfile, exit 1."""
    why = "; ".join(reasons)
    if args.format == OutputFormat.JSON.value:
        sys.stdout.write(_json(report, style, {"written": [], "refused": printable(why)}))
    else:
        print(f"{style('refused', 'red', 'bold')}: {printable(why)}")
    return EXIT_STALE


def _json(report: AuditReport, style: Style, outcome: dict[str, object]) -> str:
    """The audit report's JSON (schema envdoctor.audit/1) with what the lock did added as ``lock``."""
    document = json.loads(OutputFormat.JSON.render(report, style))
    document["lock"] = outcome
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _check(args: argparse.Namespace, report: AuditReport, problems: tuple[str, ...], style: Style) -> int:
    if args.format == OutputFormat.JSON.value:
        sys.stdout.write(_json(report, style, {"stale": [printable(problem) for problem in problems]}))
        return EXIT_STALE if problems else EXIT_OK
    for problem in problems:
        print(f"{style('stale', 'yellow', 'bold')}: {printable(problem)}")
    if problems:
        print("run `envdoctor lock` to update the lockfiles")
        return EXIT_STALE
    fresh = " and a fresh resolution" if args.resolve else ""
    print(f"{len(report.hosts)} target(s): lockfiles match their inputs{fresh}")
    return EXIT_OK
