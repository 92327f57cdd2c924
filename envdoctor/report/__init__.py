"""Reporters: an audit's findings as text for people, JSON (the contract), SARIF, Markdown, and
GitHub Actions annotations.

A format is an enum member mapped to a function that returns text; only the CLI decides where
the text goes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from envdoctor.audit.result import AuditReport
from envdoctor.console import Style

if TYPE_CHECKING:
    from envdoctor.fix.plan import Outcome

# A reporter: the report, the style, and what --fix did (None: --fix was not given).
Renderer = Callable[[AuditReport, Style, "Sequence[Outcome] | None"], str]


class OutputFormat(enum.Enum):
    """The formats of ``envdoctor.seams.REPORT_FORMATS`` that code names (a test keeps the two alike)."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"
    GITHUB = "github"

    def render(self, report: AuditReport, style: Style, fixes: Sequence[Outcome] | None = None) -> str:
        return _renderer(self)(report, style, fixes)


def _renderer(output_format: OutputFormat) -> Renderer:
    from envdoctor.seams import REPORT_FORMATS, load

    render: Renderer = load(REPORT_FORMATS[output_format.value])
    return render
