"""The audit report as SARIF 2.1.0, as GitHub code scanning accepts it.

One rule per code with its help text; each result at the file and line of the requirement that
caused it. Findings about the host alone are anchored at the first line of the first input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from envdoctor import __version__
from envdoctor.audit.result import AuditReport
from envdoctor.codes import catalogue
from envdoctor.console import Style
from envdoctor.findings import Finding, Severity
from envdoctor.report.references import readable_all
from envdoctor.safety import json_text

if TYPE_CHECKING:
    from envdoctor.fix.plan import Outcome

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
INFORMATION_URI = "https://github.com/envdoctor/envdoctor"


def _rules() -> list[dict[str, Any]]:
    rules = []
    for doc in catalogue().values():
        rules.append(
            {
                "id": doc.code,
                "name": "".join(word.capitalize() for word in doc.category.split("-")),
                "shortDescription": {"text": doc.title},
                "fullDescription": {"text": doc.summary},
                "help": {
                    "text": f"{doc.summary}\n\nWhy: {doc.why}\n\nFix: {doc.fix}",
                    "markdown": f"{doc.summary}\n\n**Why.** {doc.why}\n\n**Fix.** {doc.fix}",
                },
                "defaultConfiguration": {"level": _LEVELS[doc.severity]},
                "properties": {"category": doc.category, "tags": ["dependencies", doc.category]},
            }
        )
    return rules


def _result(finding: Finding, rule_index: dict[str, int], anchor: str | None) -> dict[str, Any]:
    # The pages about the sources (a release page, not its 700 MB wheel), in the text code scanning shows.
    references = readable_all(finding.references)
    text = finding.message + (f" Fix: {finding.fix}" if finding.fix else "")
    text += f" See: {' '.join(references)}" if references else ""
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index[finding.code],
        "level": _LEVELS[finding.severity],
        "message": {"text": text},
    }
    path = finding.location.path if finding.location else anchor
    line = (finding.location.line if finding.location else None) or 1
    if path is not None and not path.startswith("<"):
        location = {"artifactLocation": {"uri": _uri(path)}, "region": {"startLine": line}}
        result["locations"] = [{"physicalLocation": location}]
    identity = "\x1f".join([finding.code, path or "", *finding.packages, finding.host or ""])
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
    result["partialFingerprints"] = {"envdoctorFinding/v1": digest[:32]}
    if finding.packages or finding.host or references:
        result["properties"] = {
            "packages": list(finding.packages),
            **({"host": finding.host} if finding.host else {}),
            **({"references": list(references)} if references else {}),
        }
    return result


def render(report: AuditReport, style: Style, fixes: Sequence[Outcome] | None = None) -> str:
    rules = _rules()
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    anchor = next((item.path for item in report.inputs if not item.path.startswith("<")), None)
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "envdoctor",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": [_result(finding, rule_index, anchor) for finding in report.findings],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _uri(path: str) -> str:
    """A relative URI reference for a path (SARIF): its bytes percent-encoded, so that a space,
    a '#' or a file name's byte that is not UTF-8 stays part of the path."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")
