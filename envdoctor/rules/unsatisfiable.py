"""ED204 unsatisfiable: the resolver found no set of versions; its explanation is the message."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.findings import Finding
from envdoctor.resolve.explain import unsatisfiable
from envdoctor.rules.context import AuditContext

CODE = "ED204"


def check(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.resolver_error is None:
        return
    said = unsatisfiable(ctx.resolver_error)
    yield ctx.finding(CODE, said.message, packages=said.packages, fix=said.fix)
