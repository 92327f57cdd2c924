"""ED302 python-unsupported: no release the requirement admits has a distribution for the host's
Python (or, for a Dockerfile, the final image's)."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.audit.candidates import Why
from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding
from envdoctor.rules import installable

CODE = "ED302"


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from installable.check(ctx, CODE, Why.PYTHON)
