"""The audit report as JSON (schema ``envdoctor.audit/1``): the public contract."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from envdoctor.audit.result import AuditReport
from envdoctor.console import Style
from envdoctor.findings import Finding
from envdoctor.host.profile import profile_to_dict
from envdoctor.safety import json_text

if TYPE_CHECKING:
    from envdoctor.fix.plan import Outcome

SCHEMA = "envdoctor.audit/1"


def finding_to_dict(finding: Finding, with_host: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": finding.code,
        "category": finding.category,
        "severity": finding.severity.label,
        "message": finding.message,
        "packages": list(finding.packages),
        "location": {"path": finding.location.path, "line": finding.location.line} if finding.location else None,
        "fix": finding.fix,
        "references": list(finding.references),
    }
    if with_host:
        out["host"] = finding.host
    if finding.edits:
        from envdoctor.report.fixes import edit_to_dict

        # What --fix writes for the fix (an optional field: only where the fix is a requirement to write).
        out["edits"] = [edit_to_dict(edit) for edit in finding.edits]
    return out


def render(report: AuditReport, style: Style, fixes: Sequence[Outcome] | None = None) -> str:
    several = len(report.hosts) > 1
    document: dict[str, Any] = {"schema": SCHEMA, "host": profile_to_dict(report.hosts[0][1]) if report.hosts else {}}
    if several:
        document["hosts"] = [{"name": name, "profile": profile_to_dict(profile)} for name, profile in report.hosts]
    document["inputs"] = [{"path": item.path, "kind": item.kind} for item in report.inputs]
    document["findings"] = [finding_to_dict(finding, several) for finding in report.findings]
    document["summary"] = report.counts()
    verdicts = report.node_classes()
    if verdicts:
        # A cluster's node classes: whether each runs the set, and the codes of the errors that say not.
        document["node_classes"] = [
            {"name": v.name, "nodes": v.nodes, "runs": not v.errors, "errors": sorted({f.code for f in v.errors})}
            for v in verdicts
        ]
    if fixes is not None:
        from envdoctor.report.fixes import outcome_to_dict

        # With --fix: what became of each fix (the findings above are of the fixed files).
        document["fixes"] = [outcome_to_dict(outcome) for outcome in fixes]
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
