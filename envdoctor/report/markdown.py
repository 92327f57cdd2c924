"""The audit report as Markdown, for job summaries and pull-request comments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from envdoctor.audit.result import AuditReport
from envdoctor.console import Style
from envdoctor.findings import Finding
from envdoctor.report.references import readable_all
from envdoctor.safety import markdown, markdown_code

if TYPE_CHECKING:
    from envdoctor.fix.plan import Outcome

_LABELS = {"error": "**error**", "warning": "**warning**", "info": "info"}
# A URL that can be written as an autolink (<URL>) as it is: inside one no escape works, so any
# character that could end it, end the cell, or read as markup or an entity sends it to plain text.
_AUTOLINK = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$'*+,;=%-]+")


def render(report: AuditReport, style: Style, fixes: Sequence[Outcome] | None = None) -> str:
    counts = report.counts()
    lines = ["## envdoctor audit", ""]
    lines.append(", ".join(f"{n} {_LABELS[name]}" for name, n in counts.items()))
    lines.append("")
    if report.hosts:
        lines.append("Hosts: " + ", ".join(markdown_code(name) for name, _ in report.hosts))
        lines.append("")
    if not report.findings:
        lines.append("No findings.")
    else:
        lines += ["| Severity | Code | Where | Finding | Fix |", "|---|---|---|---|---|"]
        lines += [_row(finding) for finding in report.findings]
    if fixes:
        from envdoctor.report.fixes import text_lines

        lines += ["", "### Fixes", "", *(f"- {markdown(line)}" for line in text_lines(fixes))]
    return "\n".join(lines) + "\n"


def _row(finding: Finding) -> str:
    """One table row. Every value may come from a hostile file: escaped so that it renders as the
    text it is (no link, image, HTML or cell boundary), and on one line."""
    where = ""
    if finding.location is not None:
        where = markdown_code(finding.location.path + (f":{finding.location.line}" if finding.location.line else ""))
    message = markdown(finding.message) + (f" ({markdown(finding.host)})" if finding.host else "")
    see = ", ".join(_link(url) for url in readable_all(finding.references))
    fix = markdown(finding.fix or "") + (f" (see {see})" if see else "")
    return f"| {_LABELS[finding.severity.label]} | `{finding.code}` {finding.category} | {where} | {message} | {fix} |"


def _link(url: str) -> str:
    """A reference as a link where it can be one safely, else as the text it is."""
    return f"<{url}>" if _AUTOLINK.fullmatch(url) else markdown(url)
