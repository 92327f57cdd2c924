"""ED204 unsatisfiable: the resolver found no set of versions; its explanation is the message."""

from __future__ import annotations

import re
from collections.abc import Iterator

from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding
from envdoctor.safety import printable

CODE = "ED204"
_NAME = re.compile(r"\b(nvidia-[a-z0-9-]+-cu\d+|[a-z][a-z0-9._-]*)(?:==|>=|<=|!=|<|>)")


def check(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.resolver_error is None:
        return
    # The resolver's words are quoted: no escape byte of theirs reaches a terminal or a report.
    explanation = printable(" ".join(line.strip() for line in ctx.resolver_error.splitlines() if line.strip()))
    named = list(dict.fromkeys(match.group(1) for match in _NAME.finditer(explanation)))
    clashing = [name for name in named if name.startswith("nvidia-")]
    message = f"no set of versions satisfies the requirements: {explanation}"
    if clashing:
        message = f"the requirements pin conflicting CUDA wheels ({', '.join(clashing)}); " + message
    yield ctx.finding(
        CODE,
        message,
        packages=tuple(named[:8]),
        fix="relax or change the pins the explanation names; for frameworks that pin different nvidia-* wheels, "
        "install them in separate environments",
    )
