"""The audit report for people: grouped by severity, the fix under each finding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from envdoctor.audit.result import AuditReport
from envdoctor.console import Style
from envdoctor.findings import Finding, Severity
from envdoctor.report.references import readable_all
from envdoctor.safety import printable

if TYPE_CHECKING:
    from envdoctor.fix.plan import Outcome

_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render(report: AuditReport, style: Style, fixes: Sequence[Outcome] | None = None) -> str:
    lines: list[str] = []
    for severity in sorted(Severity, reverse=True):
        group = [f for f in report.findings if f.severity == severity]
        for finding in group:
            lines += _finding(finding, style, len(report.hosts) > 1)
    if fixes:
        from envdoctor.report.fixes import text_lines

        lines += text_lines(fixes)
    lines += _fleet_lines(report)
    counts = report.counts()
    summary = ", ".join(f"{n} {name}{'s' if n != 1 and name != 'info' else ''}" for name, n in counts.items())
    hosts = "; ".join(printable(name) for name, _ in report.hosts)
    lines.append(f"{style(summary, 'bold')} (host: {hosts})" if hosts else style(summary, "bold"))
    return "\n".join(lines) + "\n"


def _fleet_lines(report: AuditReport) -> list[str]:
    """For a cluster: how many node classes (and nodes) run the set, and why each other does not."""
    verdicts = report.node_classes()
    if not verdicts:
        return []
    running = [v for v in verdicts if not v.errors]
    nodes = sum(v.nodes for v in verdicts)
    lines = [
        f"{len(running)} of {len(verdicts)} node classes ({sum(v.nodes for v in running)} of {nodes} nodes) "
        "run this set"
    ]
    for verdict in verdicts:
        if verdict.errors:
            first = verdict.errors[0]
            more = f" (and {len(verdict.errors) - 1} more error(s))" if len(verdict.errors) > 1 else ""
            count = f"{verdict.nodes} node{'s' if verdict.nodes != 1 else ''}"
            lines.append(f"  {printable(verdict.name)} ({count}): {first.code} {printable(first.message)}{more}")
    return lines


def _finding(finding: Finding, style: Style, show_host: bool) -> list[str]:
    """The finding's lines; every value from the input is made printable before colour is added,
    so that only envdoctor's own escape sequences reach the terminal."""
    where = ""
    if finding.location is not None:
        where = printable(finding.location.path) + (f":{finding.location.line}" if finding.location.line else "") + ": "
    label = style(finding.severity.label, _COLOURS[finding.severity], "bold")
    host = f" [{printable(finding.host)}]" if show_host and finding.host else ""
    message = printable(finding.message)
    lines = [f"{where}{label} {style(finding.code, 'bold')} ({finding.category}){host}: {message}"]
    if finding.fix:
        lines.append(f"    {style('fix', 'green')}: {printable(finding.fix)}")
    # The page about each source, not the (possibly 700 MB) file: --format json keeps the exact URL.
    lines += [f"    {style('see', 'dim')}: {printable(reference)}" for reference in readable_all(finding.references)]
    return lines
