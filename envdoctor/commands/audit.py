"""``envdoctor audit``: what will break on a host, why, and the exact fix."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.audit.run import AuditOptions, exit_code, run_audit
from envdoctor.config import load_config
from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.findings import Severity
from envdoctor.fsio import atomic_write_text
from envdoctor.host.select import hosts_from_args
from envdoctor.report import OutputFormat
from envdoctor.requirements import load_requirement_set, source_options
from envdoctor.safety import one_token

if TYPE_CHECKING:
    from envdoctor.fix.plan import FixResult

# Looked for in the current folder when no file is named.
DEFAULT_INPUTS = (
    "requirements.txt", "pyproject.toml", "uv.lock", "poetry.lock", "pylock.toml", "environment.yml", "Dockerfile"
)  # fmt: skip
# A project's lockfile is what its installer installs: where one is there, the pyproject it resolves is not read twice.
_LOCKS_OF_PYPROJECT = ("uv.lock", "poetry.lock")


def default_inputs() -> list[str]:
    """The usual files of the current folder, a project's lockfile in place of its pyproject."""
    found = [name for name in DEFAULT_INPUTS if Path(name).is_file()]
    if any(name in found for name in _LOCKS_OF_PYPROJECT):
        return [name for name in found if name != "pyproject.toml"]
    return found


def run(args: argparse.Namespace) -> int:
    config = load_config(Path())
    paths = list(args.files) or default_inputs()
    if not paths and not args.installed:
        raise UsageError("nothing to audit: name requirement files, or use --installed")
    python = args.python_executable or (sys.executable if args.installed else None)
    options = source_options(args, installed_python=python)
    target = args.target or config.target
    if target is not None:  # the stage of each Dockerfile to judge, as docker build --target
        options = options._replace(target=one_token(target, "--target"))
    requirements = load_requirement_set(paths, options)
    hosts = hosts_from_args(args, config.hosts)
    resolver = None
    if args.resolve:
        from envdoctor.audit.resolver import Progress, resolve_for_host

        # Progress goes to stderr, never to stdout: stdout is the report.
        progress = Progress(None if args.quiet else sys.stderr, terminal=sys.stderr.isatty())
        resolver = functools.partial(resolve_for_host, progress=progress)
    audit_options = AuditOptions(ignore=config.ignore | frozenset(args.ignore or ()), resolver=resolver)
    report = run_audit(requirements, hosts, audit_options)
    fixes = None
    if args.fix or args.diff:
        from envdoctor.fix.plan import plan

        if args.installed:
            raise UsageError("--fix and --diff edit files: they do not apply to --installed")
        result = plan(
            report,
            requirements,
            lambda: load_requirement_set(paths, options),
            lambda found, on: run_audit(found, list(on), audit_options),
        )
        if args.diff:
            return _show_diff(result)
        for change in result.changes:
            atomic_write_text(change.path, change.after)
        report, fixes = result.report, result.outcomes
    output_format = OutputFormat(args.format)
    style = Style(args.output is None and output_format is OutputFormat.TEXT and use_color(args.color, sys.stdout))
    text = output_format.render(report, style, fixes)
    if args.output is not None:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    fail_on = Severity.parse(args.fail_on) if args.fail_on else (config.fail_on or Severity.ERROR)
    return exit_code(report, fail_on)


def _show_diff(result: FixResult) -> int:
    """--diff: the diff on stdout, each fix not applied on stderr; exit 1 when there is a diff (as ruff)."""
    from envdoctor.report.fixes import not_applied_lines

    diff = result.diff()
    sys.stdout.write(diff)
    for line in not_applied_lines(result.outcomes):
        print(f"envdoctor: {line}", file=sys.stderr)
    return 1 if diff else 0
