"""The audit report as Markdown, for job summaries and pull-request comments."""

from __future__ import annotations

from envdoctor.console import Style
from envdoctor.findings import Finding
from envdoctor.report import AuditReport

_LABELS = {"error": "**error**", "warning": "**warning**", "info": "info"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: AuditReport, style: Style) -> str:
    counts = report.counts()
    lines = ["## envdoctor audit", ""]
    lines.append(", ".join(f"{n} {_LABELS[name]}" for name, n in counts.items()))
    lines.append("")
    if report.hosts:
        lines.append("Hosts: " + ", ".join(f"`{_cell(name)}`" for name, _ in report.hosts))
        lines.append("")
    if not report.findings:
        lines.append("No findings.")
        return "\n".join(lines) + "\n"
    lines += ["| Severity | Code | Where | Finding | Fix |", "|---|---|---|---|---|"]
    lines += [_row(finding) for finding in report.findings]
    return "\n".join(lines) + "\n"


def _row(finding: Finding) -> str:
    where = ""
    if finding.location is not None:
        where = (
            f"`{_cell(finding.location.path)}" + (f":{finding.location.line}" if finding.location.line else "") + "`"
        )
    message = _cell(finding.message) + (f" ({_cell(finding.host)})" if finding.host else "")
    return (
        f"| {_LABELS[finding.severity.label]} | `{finding.code}` {finding.category} | {where} | {message} | "
        f"{_cell(finding.fix or '')} |"
    )
