"""The audit report as GitHub Actions workflow commands (``--format github``, as ruff's
``--output-format github``): one annotation a finding, shown on the pull request's diff.

    ::error file=requirements.txt,line=6,title=ED101 driver-too-old::torch ... needs ...%0Afix: ...

The Action prints the same lines (``envdoctor.github_action`` calls ``annotation``). Every value
may come from a hostile file: it is made printable first (a line break in it becomes the visible
``\\x0a``, so nothing in it can end the command and start another on a new line), then escaped as
the runner reads it (``%``, CR and LF in the message; also ``:`` and ``,`` in a property).
"""

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

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """A command's message as the runner reads it back (its escaping, in its order)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property's value: the message's escapes, and ``:`` and ``,`` that would end the value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, properties: Sequence[tuple[str, str]] = ()) -> str:
    """One workflow command on one line. ``message`` may hold line breaks (shown as such in the
    annotation); every other character that could start a line or an escape is made visible."""
    shown = "\n".join(printable(line) for line in message.split("\n"))
    fields = ",".join(f"{name}={escape_property(printable(value))}" for name, value in properties)
    return f"::{level}{' ' + fields if fields else ''}::{escape_data(shown)}"


def annotation(finding: Finding, show_host: bool = False) -> str:
    """The finding as an annotation at its file and line (host-only findings: on the run), titled
    with its code and category; the fix and the references on lines of their own."""
    properties: list[tuple[str, str]] = []
    if finding.location is not None and not finding.location.path.startswith("<"):  # <stdin> is no file
        properties.append(("file", finding.location.path))
        if finding.location.line:
            properties.append(("line", str(finding.location.line)))
    # The title the Action has always printed (tests and log readers match on it): code, category.
    properties.append(("title", f"{finding.code} {finding.category}"))
    # Each part made one line here, so that the only line breaks are the ones put between parts.
    lines = [printable(finding.message) + (f" [host: {printable(finding.host)}]" if show_host and finding.host else "")]
    if finding.fix:
        lines.append(f"fix: {printable(finding.fix)}")
    lines += [f"see: {printable(reference)}" for reference in readable_all(finding.references)]
    return command(LEVELS[finding.severity], "\n".join(lines), properties)


def render(report: AuditReport, style: Style, fixes: Sequence[Outcome] | None = None) -> str:
    """The annotations, errors first, then by file, line and code (the same findings print the
    same lines, whatever order the rules ran in); with --fix, a notice for each fix applied and a
    warning for each not."""
    several = len(report.hosts) > 1
    ordered = sorted(report.findings, key=lambda finding: (finding.sort_key(), finding.host or ""))
    lines = [annotation(finding, several) for finding in ordered]
    if fixes:
        from envdoctor.report.fixes import describe

        for outcome in fixes:
            if outcome.applied:
                lines.append(command("notice", f"fixed {describe(outcome)}", [("title", "envdoctor --fix")]))
            else:
                why = f"not fixed {describe(outcome)}: {printable(outcome.reason or '')}"
                lines.append(command("warning", why, [("title", "envdoctor --fix")]))
    return "".join(line + "\n" for line in lines)
