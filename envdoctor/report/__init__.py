"""Reporters: an audit's findings as text for people, JSON (the contract), SARIF, Markdown.

A format is an enum member mapped to a function that returns text; only the CLI decides where
the text goes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from envdoctor.audit.result import AuditReport
from envdoctor.console import Style


class OutputFormat(enum.Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"

    def render(self, report: AuditReport, style: Style) -> str:
        return _renderer(self)(report, style)


def _renderer(output_format: OutputFormat) -> Callable[[AuditReport, Style], str]:
    if output_format is OutputFormat.JSON:
        from envdoctor.report.json_report import render
    elif output_format is OutputFormat.SARIF:
        from envdoctor.report.sarif import render
    elif output_format is OutputFormat.MARKDOWN:
        from envdoctor.report.markdown import render
    else:
        from envdoctor.report.text import render
    return render
