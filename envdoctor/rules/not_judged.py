"""ED900 not-judged: GPU packages whose version is unknown offline, so their build cannot be judged."""

from __future__ import annotations

import re
from collections.abc import Iterator

from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding
from envdoctor.requirements.model import Form

_GPU_PACKAGES = re.compile(
    r"^(torch|torchvision|torchaudio|tensorflow|jax|jaxlib|cupy-cuda.*|nvidia-.*|onnxruntime-gpu)$"
)


def check(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.resolved or ctx.resolver_error:
        return
    for requirement in ctx.wanted():
        if requirement.form is not Form.NAMED or not _GPU_PACKAGES.match(requirement.name or ""):
            continue
        if ctx.version_of(requirement.name or "") is not None:
            continue
        yield ctx.finding(
            "ED900",
            f"{requirement.describe()} is not pinned: which build it installs, and whether it runs on the host, "
            "cannot be judged offline",
            requirement=requirement,
            fix="pin it, or run envdoctor audit --resolve to judge the version the installer would pick",
        )
