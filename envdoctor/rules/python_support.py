"""ED302 python-unsupported: no release the requirement admits has a distribution for the host's
Python (or, for a Dockerfile, the final image's)."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.findings import Finding
from envdoctor.rules import installable
from envdoctor.rules.candidates import Why
from envdoctor.rules.context import AuditContext

CODE = "ED302"


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from installable.check(ctx, CODE, Why.PYTHON)
