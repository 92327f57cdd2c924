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
    yield from _project_python(ctx)
    yield from installable.check(ctx, CODE, Why.PYTHON)


def _project_python(ctx: AuditContext) -> Iterator[Finding]:
    """The project's own requires-python refuses the Python it would be installed on."""
    python = ctx.facts.python
    if python is None:
        return
    for specifier, location in ctx.requirements.requires_python:
        if specifier.contains(python, prereleases=True):
            continue
        where = f"the image {ctx.facts.image}" if ctx.facts.image else "the host"
        kinds = {item.kind for item in ctx.requirements.inputs if item.path == location.path}
        said, who = (
            ("[metadata] python-versions", "poetry install refuses")
            if "poetrylock" in kinds
            else ("requires-python", "pip and uv refuse")
        )
        yield ctx.finding(
            CODE,
            f"the project requires Python {specifier} ({said}), and {where} has Python {python}: {who} to install it "
            "there",
            location=location,
            fix=f"install it on a Python that {specifier} admits",
        )
