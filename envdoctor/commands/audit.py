"""``envdoctor audit``: what will break on a host, why, and the exact fix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor import api, console
from envdoctor.audit.result import AuditReport
from envdoctor.audit.run import exit_code
from envdoctor.config import checked_ignore, load_config
from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.findings import Severity
from envdoctor.fsio import atomic_write_text
from envdoctor.host.profile import HostProfile, NoNvidia
from envdoctor.host.select import hosts_from_args
from envdoctor.report import OutputFormat
from envdoctor.requirements import source_options
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
    ignore = config.ignore | checked_ignore(args.ignore)
    paths = list(args.files) or default_inputs()
    if not paths and not args.installed:
        raise UsageError("nothing to audit: name requirement files, or use --installed")
    python = args.python_executable or (sys.executable if args.installed else None)
    options = source_options(args, installed_python=python)
    target = args.target or config.target
    if target is not None:  # the stage of each Dockerfile to judge, as docker build --target
        options = options._replace(target=one_token(target, "--target"))
    hosts = hosts_from_args(args, config.hosts)
    fixes = None
    if args.fix or args.diff:
        if args.installed:
            raise UsageError("--fix and --diff edit files: they do not apply to --installed")
        result = api.fix(paths, hosts=hosts, sources=options, ignore=ignore, resolve=args.resolve, write=args.fix)
        if args.diff:
            return _show_diff(result)
        report, fixes = result.report, result.outcomes
    else:
        # --resolve's progress goes to stderr (console.feedback, set by the command line): stdout is the report.
        report = api.audit(paths, hosts=hosts, sources=options, ignore=ignore, resolve=args.resolve)
    if console.feedback().verbose:
        _details(hosts, report)
    output_format = OutputFormat(args.format)
    style = Style(args.output is None and output_format is OutputFormat.TEXT and use_color(args.color, sys.stdout))
    text = output_format.render(report, style, fixes)
    if args.output is not None:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    fail_on = Severity.parse(args.fail_on) if args.fail_on else (config.fail_on or Severity.ERROR)
    return exit_code(report, fail_on)


def _details(hosts: list[tuple[str, HostProfile]], report: AuditReport) -> None:
    """-v: each host's facts with where they came from, and the sources each finding rests on (stderr)."""
    for name, host in hosts:
        console.detail(f"host {name}: {_facts(host)}")
    for finding in report.findings:
        if finding.references:
            location = finding.location
            where = "" if location is None else location.path + (f":{location.line}" if location.line else "")
            on = f" on {finding.host}" if finding.host else ""
            console.detail(f"{finding.code} {where}{on} rests on: {', '.join(finding.references)}")


def _facts(host: HostProfile) -> str:
    """The facts an audit judges by, each with its source where the profile records one (override, kb...)."""
    facts: list[tuple[str, str | None]] = [("os", host.os), ("arch", host.arch), ("python", host.python)]
    if isinstance(host.nvidia, NoNvidia):
        facts.append(("nvidia", "none"))
    elif host.driver is not None:
        gpus = " ".join(host.driver.capabilities) or None
        facts += [("nvidia.driver", host.driver.driver), ("nvidia.cuda", host.driver.cuda), ("nvidia.gpus", gpus)]
    shown = [
        f"{key} {value}" + (f" ({host.sources[key]})" if key in host.sources else "") for key, value in facts if value
    ]
    return ", ".join(shown) or "no fact known"


def _show_diff(result: FixResult) -> int:
    """--diff: the diff on stdout, each fix not applied on stderr; exit 1 when there is a diff (as ruff)."""
    from envdoctor.report.fixes import not_applied_lines

    diff = result.diff()
    sys.stdout.write(diff)
    for line in not_applied_lines(result.outcomes):
        print(f"envdoctor: {line}", file=sys.stderr)
    return 1 if diff else 0
