"""``envdoctor lock``: hash-pinned lockfiles per target, steered by the knowledge base."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envdoctor import console
from envdoctor.audit.result import AuditReport
from envdoctor.config import load_config
from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.host.select import hosts_from_args
from envdoctor.lock import LockOptions, LockPlan, plan_locks, run_locks, stale_locks
from envdoctor.lock.steering import SteeringError
from envdoctor.report import OutputFormat
from envdoctor.requirements import load_requirement_set, source_options
from envdoctor.requirements.model import RequirementSet
from envdoctor.safety import json_text, printable

EXIT_OK, EXIT_STALE = 0, 1


def run(args: argparse.Namespace) -> int:
    if args.resolve and not args.check:
        raise UsageError("--resolve goes with --check (envdoctor lock always resolves)")
    paths = (
        list(args.files)
        or [name for name in ("requirements.in", "requirements.txt", "pyproject.toml") if Path(name).is_file()][:1]
    )
    if not paths:
        raise UsageError("nothing to lock: name requirement files")
    sources = source_options(args)
    requirements = load_requirement_set(paths, sources)
    options = LockOptions(
        output_dir=Path(args.output_dir),
        backend=args.backend,
        exclude_newer=args.exclude_newer,
        upgrade=tuple(args.upgrade_package or ()),
        pytorch_index=args.pytorch_index,
        selection=(
            args.kind or "",
            *sorted(sources.extras),
            *sorted(sources.groups),
            # Only where given, so that a lock made without them keeps its digest.
            *(() if sources.default_groups else ("no-default-groups",)),
            *(f"no-group {name}" for name in sorted(sources.without_groups)),
        ),
    )
    hosts = hosts_from_args(args, load_config(Path()).hosts)
    style = Style(use_color(args.color, sys.stdout))
    try:
        plans = plan_locks(requirements, hosts, options)
    except SteeringError as exc:
        return _refused(args, AuditReport(tuple(hosts), requirements.inputs, ()), str(exc), style)
    if args.check:
        return _check(args, requirements, plans, options, style)
    try:
        written, failures = run_locks(requirements, plans, options)
    except SteeringError as exc:  # a torch the resolution brought that no build of PyPI's runs
        return _refused(args, AuditReport(tuple(hosts), requirements.inputs, ()), str(exc), style)
    if failures:
        findings = tuple(f for failure in failures for f in failure.findings)
        report = AuditReport(tuple((p.host_name, p.host) for p in plans), requirements.inputs, findings)
        said = f"no lockfile written: {len(failures)} target(s) could not be resolved"
        if args.format == OutputFormat.JSON.value:
            unresolved = [failure.plan.host_name for failure in failures]
            sys.stdout.write(_json(report, style, {"written": [], "unresolved": unresolved}))
            print(said, file=sys.stderr)
            return EXIT_STALE
        sys.stdout.write(OutputFormat(args.format).render(report, style))
        # SARIF on stdout is a document for a machine: the sentence is for the person reading stderr.
        print(said, file=sys.stderr if args.format == OutputFormat.SARIF.value else sys.stdout)
        return EXIT_STALE
    if args.format == OutputFormat.JSON.value:
        report = AuditReport(tuple((p.host_name, p.host) for p in plans), requirements.inputs, ())
        sys.stdout.write(_json(report, style, {"written": [printable(str(path)) for path in written]}))
        return EXIT_OK
    for path in written:
        print(f"wrote {printable(str(path))}")
    return EXIT_OK


def _refused(args: argparse.Namespace, report: AuditReport, why: str, style: Style) -> int:
    """The knowledge base says no build works on a target: no lockfile, exit 1."""
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


def _check(
    args: argparse.Namespace, requirements: RequirementSet, plans: list[LockPlan], options: LockOptions, style: Style
) -> int:
    problems = stale_locks(plans, options.output_dir)
    if args.resolve and not problems:
        from envdoctor.lock.drift import drift

        with console.step(f"Resolving {len(plans)} target(s) again to compare with the lockfiles"):
            problems = drift(requirements, plans, options)
    if args.format == OutputFormat.JSON.value:
        report = AuditReport(tuple((p.host_name, p.host) for p in plans), requirements.inputs, ())
        sys.stdout.write(_json(report, style, {"stale": [printable(problem) for problem in problems]}))
        return EXIT_STALE if problems else EXIT_OK
    for problem in problems:
        print(f"{style('stale', 'yellow', 'bold')}: {printable(problem)}")
    if problems:
        print("run `envdoctor lock` to update the lockfiles")
        return EXIT_STALE
    print(f"{len(plans)} target(s): lockfiles match their inputs" + (" and a fresh resolution" if args.resolve else ""))
    return EXIT_OK
