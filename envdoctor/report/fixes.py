"""What ``audit --fix`` did with each fix: applied, or not and why; in words and as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from envdoctor.findings import Edit
from envdoctor.safety import printable

if TYPE_CHECKING:
    from envdoctor.fix.plan import Outcome


def edit_to_dict(edit: Edit) -> dict[str, Any]:
    return {
        "path": edit.path,
        "line": edit.line,
        "replaces": edit.replaces,
        "requirement": edit.requirement,
        "index_url": edit.index_url,
    }


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "applied": outcome.applied,
        "codes": sorted({finding.code for finding in outcome.findings}),
        "edits": [edit_to_dict(edit) for edit in outcome.edits],
        "reason": outcome.reason,
    }


def describe(outcome: Outcome) -> str:
    """One line: where, which findings, and what was (or would have been) written."""
    first = outcome.edits[0]
    where = f"{first.path}:{first.line}" if first.line else first.path
    codes = ", ".join(sorted({finding.code for finding in outcome.findings}))
    wrote = ", ".join(_edit_text(edit) for edit in outcome.edits)
    return printable(f"{where} ({codes}): {wrote}")


def _edit_text(edit: Edit) -> str:
    change = f"{edit.replaces} -> {edit.requirement}" if edit.replaces is not None else f"add {edit.requirement}"
    return f"{change} (from {edit.index_url})" if edit.index_url else change


def text_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """The fixes for the text report: those applied, then those not, each with why."""
    lines = [f"fixed {describe(o)}" for o in outcomes if o.applied]
    return lines + not_applied_lines(outcomes)


def not_applied_lines(outcomes: Sequence[Outcome]) -> list[str]:
    return [f"not fixed {describe(o)}: not applied: {printable(o.reason or '')}" for o in outcomes if not o.applied]
