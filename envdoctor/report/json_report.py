"""The audit report as JSON (schema ``envdoctor.audit/1``): the public contract."""

from __future__ import annotations

import json
from typing import Any

from envdoctor.audit.result import AuditReport
from envdoctor.console import Style
from envdoctor.findings import Finding
from envdoctor.host.profile import profile_to_dict
from envdoctor.safety import json_text

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
    return out


def render(report: AuditReport, style: Style) -> str:
    several = len(report.hosts) > 1
    document: dict[str, Any] = {"schema": SCHEMA, "host": profile_to_dict(report.hosts[0][1]) if report.hosts else {}}
    if several:
        document["hosts"] = [{"name": name, "profile": profile_to_dict(profile)} for name, profile in report.hosts]
    document["inputs"] = [{"path": item.path, "kind": item.kind} for item in report.inputs]
    document["findings"] = [finding_to_dict(finding, several) for finding in report.findings]
    document["summary"] = report.counts()
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
